"""`lgsp clients`: client systems and their API keys (create, list, rotate, disable, enable,
grant, revoke-grant, bind, unbind, history). Each change is recorded with ``cli:<user>`` as who made it,
in the client's history and in the operators' audit (with ``--reason``: why)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from hub.messages import DOSSIER_STATUS_CHANGED
from hub.settings import Settings

clients_app = typer.Typer(help="Client systems and their API keys.", no_args_is_help=True)


def _settings() -> Settings:
    from hub.cli import _settings as configured

    return configured()


def _actor() -> str:
    import getpass

    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "cli:unknown"


def _checked_grants(grants: list[str]) -> list[str]:
    from hub.citizens.grants import GrantError, check_grants

    try:
        check_grants(grants)
    except GrantError as exc:
        typer.echo(f"invalid grant: {exc}", err=True)
        raise typer.Exit(2) from None
    return grants


def _checked_agencies(codes: list[str]) -> list[str]:
    import re

    from hub.agencies.port import AGENCY_CODE

    bad = [c for c in codes if not re.fullmatch(AGENCY_CODE, c)]
    if bad:
        typer.echo(f"invalid agency code (expected e.g. 000.00.00.H56): {', '.join(bad)}", err=True)
        raise typer.Exit(2)
    return codes


AgencyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--agency",
        help="Agency code the client is bound to (repeatable), e.g. 000.00.00.H56: it pushes dossiers and "
        "payments of these agencies only",
    ),
]


ReasonOption = Annotated[
    str | None, typer.Option(help="Why: written to the operators' audit with who and what (the console's Audit page)")
]


def _why(reason: str | None) -> Any:
    from hub.clients import Why

    said = " ".join((reason or "").split())
    if said and not 3 <= len(said) <= 500:
        typer.echo("--reason: 3 to 500 characters", err=True)
        raise typer.Exit(2)
    return Why(said or None)


def _client_change(fn: Any, *args: Any) -> Any:
    """Run a lifecycle change; an unknown client is one line on stderr and exit 1."""
    from hub.bootstrap import open_database
    from hub.clients import ClientNotFound

    hub = open_database(_settings())
    try:
        return fn(hub.engine, *args)
    except ClientNotFound as exc:
        typer.echo(f"no client {exc}", err=True)
        raise typer.Exit(1) from None


GrantOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Message type it may publish (repeatable); 'admin' for operators; 'payment.open', 'subscribe'; "
        "'citizen.verify' and 'citizen.lookup:<field>,...' for the population database (see README)"
    ),
]


@clients_app.command("create")
def clients_create(
    code: Annotated[str, typer.Argument(help="Client system code, e.g. ONEGATE-H56")],
    name: Annotated[str, typer.Option(help="Display name")] = "",
    grant: GrantOption = None,
    agency: AgencyOption = None,
    reason: ReasonOption = None,
) -> None:
    """Register a client system and print its API key (shown once; only its hash is stored)."""
    from hub.bootstrap import open_database
    from hub.clients import ClientExists, create_client

    why = _why(reason)
    grants = _checked_grants(grant or [DOSSIER_STATUS_CHANGED])
    agencies = _checked_agencies(agency or [])
    hub = open_database(_settings())
    try:
        key = create_client(hub.engine, code, name or code, grants, actor=_actor(), agencies=agencies, why=why)
    except ClientExists:
        typer.echo(f"client {code} exists already: `lgsp clients rotate {code}` gives it a new key", err=True)
        raise typer.Exit(1) from None
    typer.echo(key)
    if not agencies:
        typer.echo(f"{code} is bound to no agency: `lgsp clients bind {code} <agency code>`", err=True)


@clients_app.command("list")
def clients_list() -> None:
    """Every client: code, grants, created, disabled, and until when a rotated-out key still works (JSON lines)."""
    from hub.clients import list_clients

    for row in _client_change(list_clients):
        typer.echo(json.dumps(row, ensure_ascii=False))


@clients_app.command("rotate")
def clients_rotate(
    code: str,
    grace: Annotated[
        int | None,
        typer.Option(
            min=0, max=30 * 86_400, help="Seconds the current key keeps working (default HUB_KEY_ROTATION_GRACE)"
        ),
    ] = None,
    reason: ReasonOption = None,
) -> None:
    """Issue a new API key (printed once); the current key keeps working for the grace period."""
    from hub.clients import rotate

    seconds = Settings().key_rotation_grace if grace is None else grace
    key, view = _client_change(rotate, code, _actor(), seconds, _why(reason))
    typer.echo(key)
    until = view["old_key_valid_until"]
    typer.echo(f"the previous key works until {until}" if until else "the previous key no longer works", err=True)


@clients_app.command("disable")
def clients_disable(code: str, reason: ReasonOption = None) -> None:
    """Disable a client: every key of it stops working (within HUB_AUTH_CACHE_SECONDS on running apis)."""
    from hub.clients import set_disabled

    _client_change(set_disabled, code, True, _actor(), _why(reason))
    typer.echo(f"{code} disabled")


@clients_app.command("enable")
def clients_enable(code: str, reason: ReasonOption = None) -> None:
    """Enable a disabled client again."""
    from hub.clients import set_disabled

    _client_change(set_disabled, code, False, _actor(), _why(reason))
    typer.echo(f"{code} enabled")


@clients_app.command("grant")
def clients_grant(
    code: str, grants: Annotated[list[str], typer.Argument(help="Grants to give")], reason: ReasonOption = None
) -> None:
    """Give grants to a client."""
    from hub.clients import change_grants

    view = _client_change(change_grants, code, _checked_grants(grants), [], _actor(), _why(reason))
    typer.echo(f"{code}: {', '.join(view['grants']) or '(no grants)'}")


@clients_app.command("revoke-grant")
def clients_revoke_grant(
    code: str, grants: Annotated[list[str], typer.Argument(help="Grants to revoke")], reason: ReasonOption = None
) -> None:
    """Revoke grants of a client (effective within HUB_AUTH_CACHE_SECONDS on running apis)."""
    from hub.clients import change_grants

    view = _client_change(change_grants, code, [], grants, _actor(), _why(reason))
    typer.echo(f"{code}: {', '.join(view['grants']) or '(no grants)'}")


@clients_app.command("bind")
def clients_bind(
    code: str, agencies: Annotated[list[str], typer.Argument(help="Agency codes to bind")], reason: ReasonOption = None
) -> None:
    """Bind a client to agencies: it may push their dossiers and payments (recorded in its history)."""
    from hub.clients import change_agencies

    view = _client_change(change_agencies, code, _checked_agencies(agencies), [], _actor(), _why(reason))
    typer.echo(f"{code}: {', '.join(view['agencies']) or '(no agencies)'}")


@clients_app.command("unbind")
def clients_unbind(
    code: str,
    agencies: Annotated[list[str], typer.Argument(help="Agency codes to unbind")],
    reason: ReasonOption = None,
) -> None:
    """Unbind a client from agencies (effective within HUB_AUTH_CACHE_SECONDS on running apis)."""
    from hub.clients import change_agencies

    view = _client_change(change_agencies, code, [], agencies, _actor(), _why(reason))
    typer.echo(f"{code}: {', '.join(view['agencies']) or '(no agencies)'}")


@clients_app.command("history")
def clients_history(code: str, limit: Annotated[int, typer.Option(min=1, max=1000)] = 100) -> None:
    """Every change to a client, newest first: when, who, what (JSON lines)."""
    from hub.clients import history

    for row in _client_change(history, code, limit):
        typer.echo(json.dumps(row, ensure_ascii=False))
