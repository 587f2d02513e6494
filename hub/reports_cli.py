"""``lgsp reports <name>``: the province's and the ministry's reports as CSV or JSON (``hub/reports.py``).

``hub/reports.py`` is imported only when a report runs (``lgsp`` must start fast); :data:`NAMES` lists
its registry for the help text (a test keeps them equal)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

NAMES = ("exchanges", "portal_sync", "payments", "parcels")


def reports(
    name: Annotated[str, typer.Argument(help="One of: " + ", ".join(NAMES))],
    since: Annotated[str, typer.Option(help="From (ISO 8601 with zone), inclusive")],
    until: Annotated[str, typer.Option(help="Before (ISO 8601 with zone)")],
    format: Annotated[str, typer.Option(help="csv or json")] = "csv",
) -> None:
    """Reports over [since, until): exchanges per day, agency, client, partner and type; portal_sync (dossiers
    synced to the national portal, finished on time); payments settled per day and profile; parcels that reached a
    final status per day, agency and kind. CSV or JSON."""
    from hub import reports as r
    from hub.db.engine import make_engine
    from hub.settings import Settings

    if name not in r.REPORTS:
        typer.echo(f"name: one of {', '.join(r.REPORTS)}", err=True)
        raise typer.Exit(2)
    try:
        window = r.Window.of(datetime.fromisoformat(since), datetime.fromisoformat(until))
    except ValueError as exc:
        typer.echo(f"invalid window: {exc}", err=True)
        raise typer.Exit(2) from None
    if format not in ("csv", "json"):
        typer.echo("format: csv or json", err=True)
        raise typer.Exit(2)
    s = Settings()
    table = r.run(make_engine(s.database_url), name, window, s.report_timezone)
    sys.stdout.write(r.to_csv(table) if format == "csv" else r.to_json(table))
