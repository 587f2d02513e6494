"""``lgsp reports <name>``: the province's and the ministry's reports as CSV or JSON (``hub/reports.py``)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer

app = typer.Typer(help="Reports: exchanges, portal sync KPI, payments settled (CSV or JSON).", no_args_is_help=True)


def _command(name: str, title: str) -> None:
    def run(
        since: Annotated[str, typer.Option(help="From (ISO 8601 with zone), inclusive")],
        until: Annotated[str, typer.Option(help="Before (ISO 8601 with zone)")],
        format: Annotated[str, typer.Option(help="csv or json")] = "csv",
    ) -> None:
        from hub import reports
        from hub.db.engine import make_engine
        from hub.settings import Settings

        try:
            window = reports.Window.of(datetime.fromisoformat(since), datetime.fromisoformat(until))
        except ValueError as exc:
            typer.echo(f"invalid window: {exc}", err=True)
            raise typer.Exit(2) from None
        if format not in ("csv", "json"):
            typer.echo("format: csv or json", err=True)
            raise typer.Exit(2)
        s = Settings()
        table = reports.run(make_engine(s.database_url), name, window, s.report_timezone)
        sys.stdout.write(reports.to_csv(table) if format == "csv" else reports.to_json(table))

    run.__doc__ = title
    app.command(name)(run)


def _register() -> None:
    from hub.reports import REPORTS

    for name, report in REPORTS.items():
        _command(name, report.title)


_register()
