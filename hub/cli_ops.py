"""`lgsp partners list|hold|resume`, `lgsp messages edit-replay`: an operator's actions from the
command line, the same as the console's and the admin API's (``hub.console.operations``). Each is
audited as ``cli:<user>``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from hub.console.operations import Actor
    from hub.services import Hub

partners_app = typer.Typer(help="Partners: health, hold and resume deliveries.", no_args_is_help=True)
T = TypeVar("T")
ReasonOption = Annotated[str, typer.Option("--reason", "-r", help="Why (3 to 500 characters; written to the audit)")]


@contextmanager
def _hub() -> Iterator[Hub]:
    from hub.bootstrap import bootstrap
    from hub.cli import _settings
    from hub.transports.inprocess import InProcessTransport

    hub = bootstrap(_settings(), transport=InProcessTransport())  # no broker needed: only the ledger is used
    try:
        yield hub
    finally:
        hub.close()


def _actor() -> Actor:
    from hub.cli_clients import _actor as user
    from hub.console.operations import Actor

    return Actor(user())


def _refusable(fn: Callable[[], T]) -> T:
    from hub.console.operations import ActionRefused

    try:
        return fn()
    except ActionRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None


@partners_app.command("list")
def partners_list() -> None:
    """Each partner's hold, circuit state, backlog and last success (one JSON line each)."""
    from hub.console import operations

    with _hub() as hub:
        for p in operations.partners(hub.ledger, list(hub.routing.names)):
            typer.echo(json.dumps(operations.as_dict(p), ensure_ascii=False))


@partners_app.command("hold")
def partners_hold(connector: str, reason: ReasonOption) -> None:
    """Hold a partner: its deliveries pause (nothing is lost, no attempt is counted)."""
    from hub.console import operations

    with _hub() as hub:
        names, actor = list(hub.routing.names), _actor()
        held = _refusable(lambda: operations.hold(hub.ledger, names, connector, actor, reason))
    typer.echo(f"{connector} held since {held.held_at.isoformat()} by {held.held_by}")


@partners_app.command("resume")
def partners_resume(connector: str, reason: ReasonOption) -> None:
    """Resume a held partner: its waiting messages are queued again, oldest change first."""
    from hub.console import operations

    with _hub() as hub:
        names, actor = list(hub.routing.names), _actor()
        n = _refusable(lambda: operations.resume(hub.ledger, names, connector, actor, reason))
    typer.echo(f"{connector} resumed: {n} waiting messages queued again")


def edit_replay(message_id: str, payload_file: Path, reason: str) -> None:
    """``lgsp messages edit-replay``: replay a dead message with the payload in a JSON file."""
    from hub.console import operations
    from hub.ledger import NotFound
    from hub.ledger.edits import InvalidPayload

    text = payload_file.read_text(encoding="utf-8")
    with _hub() as hub:
        try:
            new = _refusable(lambda: operations.edit_replay(hub.ledger, message_id, text, _actor(), reason))
        except InvalidPayload as exc:
            for p in exc.problems:
                typer.echo(f"invalid: {p.field}: {p.message}", err=True)
            raise typer.Exit(2) from None
        except NotFound:
            typer.echo(f"no message {message_id}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"{message_id} replayed, corrected, queued as {new}")


def bulk_replay(selection: dict[str, str | None], reason: str | None, dry: bool) -> None:
    """``lgsp messages bulk-replay``: the dry run (``--dry-run``), or the run, here, with progress."""
    from datetime import datetime

    from hub.console import bulk

    try:
        since, until = (datetime.fromisoformat(v) if v else None for v in (selection["since"], selection["until"]))
    except ValueError as exc:
        typer.echo(f"invalid --since/--until: {exc}", err=True)
        raise typer.Exit(2) from None
    if (since and since.tzinfo is None) or (until and until.tzinfo is None):
        typer.echo("--since/--until need a time zone (e.g. 2026-12-01T08:00+07:00)", err=True)
        raise typer.Exit(2)
    sel = bulk.Selection(
        selection["connector"],
        selection["type"],
        selection["source"],
        selection["agency"],
        since,
        until,
        selection["class_id"],
    )
    with _hub() as hub:
        if dry:
            d = _refusable(lambda: bulk.dry_run(hub.engine, sel))
            typer.echo(json.dumps({**d.__dict__, "replayable": d.replayable}, ensure_ascii=False))
            return
        bid, ids = _refusable(lambda: bulk.start(hub.ledger, sel, _actor(), reason))
        typer.echo(f"bulk replay {bid}: {len(ids)} messages", err=True)
        counts = bulk.run(hub.ledger, bid, _actor())
    typer.echo(json.dumps({"id": bid, **counts}))


def bulk_unfinished() -> None:
    from hub.console import bulk

    with _hub() as hub:
        for r in bulk.unfinished(hub.engine):
            typer.echo(json.dumps({**r, "created_at": r["created_at"].isoformat()}, ensure_ascii=False))


def bulk_resume(bulk_id: str, reason: str | None) -> None:
    """``lgsp messages bulk-replay --resume ID``: an interrupted bulk replay's items not done, here."""
    from hub.console import bulk

    with _hub() as hub:
        left = _refusable(lambda: bulk.resume(hub.ledger, bulk_id, _actor(), reason))
        typer.echo(f"bulk replay {bulk_id} resumed: {left} messages left", err=True)
        counts = bulk.run(hub.ledger, bulk_id, _actor())
    typer.echo(json.dumps({"id": bulk_id, **counts}))
