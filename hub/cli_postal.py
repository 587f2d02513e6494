"""`lgsp postal waybills`: the hub's waybill pool (add, list), the same as ``/v1/admin/postal/waybills``::

lgsp postal waybills add --agency 000.00.00.H56 --prefix EB --first 10000001 --count 100
lgsp postal waybills add --customer-code BCCI_H56 EB100000015VN EB100000029VN
lgsp postal waybills list --agency 000.00.00.H56 --state free
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

postal_app = typer.Typer(help="The postal service (VNPost).", no_args_is_help=True)
waybills_app = typer.Typer(
    help="The waybill pool: ItemCode numbers VNPost allocated, each used once.", no_args_is_help=True
)
postal_app.add_typer(waybills_app, name="waybills")

AgencyOption = Annotated[str | None, typer.Option("--agency", help="The agency whose postal.customer_code it is")]
CustomerOption = Annotated[str | None, typer.Option("--customer-code", help="VNPost CustomerCode")]


def _customer(customer_code: str | None, agency: str | None) -> str:
    from hub.bootstrap import agency_directory, open_database
    from hub.cli import _settings

    if (customer_code is None) == (agency is None):
        typer.echo("give --customer-code or --agency (one of them)", err=True)
        raise typer.Exit(2)
    if customer_code is not None:
        return customer_code
    settings = _settings()
    found = agency_directory(settings, open_database(settings).engine).get(agency or "")  # HUB_AGENCIES_FILE too
    if found is None or found.postal is None:
        where = f"the file {settings.agencies_file}" if settings.agencies_file else "the database's directory"
        typer.echo(
            f"no agency {agency} with a VNPost configuration (postal.customer_code) in {where} "
            "(the hub's HUB_AGENCIES_FILE, if it has one, must be set here too): or give --customer-code",
            err=True,
        )
        raise typer.Exit(1)
    return found.postal.customer_code


def _pool() -> object:
    from hub.bootstrap import open_database
    from hub.cli import _settings
    from hub.postal.waybills import Waybills

    return Waybills(open_database(_settings()).engine)


@waybills_app.command("add")
def waybills_add(
    item_codes: Annotated[list[str] | None, typer.Argument(help="Waybill numbers (S10: EB100000015VN)")] = None,
    customer_code: CustomerOption = None,
    agency: AgencyOption = None,
    prefix: Annotated[str | None, typer.Option(help="A range: its two letters, e.g. EB")] = None,
    first: Annotated[int | None, typer.Option(help="A range: the first 8-digit serial")] = None,
    count: Annotated[int, typer.Option(help="A range: how many numbers")] = 0,
) -> None:
    """Load numbers VNPost allocated to a customer code (a list, or a range; check digits computed)."""
    import re

    from hub.envelope import utcnow
    from hub.postal.port import ITEM_CODE_PATTERN, s10
    from hub.postal.waybills import MAX_ADD, Waybills, WaybillTaken

    codes = list(item_codes or [])
    bad = [c for c in codes if not re.fullmatch(ITEM_CODE_PATTERN, c)]
    if bad:
        typer.echo(f"not a waybill number (2 letters, 9 digits, VN): {bad[0]}", err=True)
        raise typer.Exit(2)
    if prefix is not None or first is not None or count:
        if prefix is None or not re.fullmatch(r"[A-Z]{2}", prefix) or first is None or not 1 <= count <= MAX_ADD:
            typer.echo(f"a range is --prefix XX --first SERIAL --count 1..{MAX_ADD}", err=True)
            raise typer.Exit(2)
        if first < 0 or first + count - 1 > 99_999_999:
            typer.echo("--first and --count: the serials must stay within 8 digits", err=True)
            raise typer.Exit(2)
        codes += [s10(prefix, n) for n in range(first, first + count)]
    if not codes:
        typer.echo("give waybill numbers, or a range (--prefix, --first, --count)", err=True)
        raise typer.Exit(2)
    customer = _customer(customer_code, agency)
    pool = _pool()
    assert isinstance(pool, Waybills)
    try:
        added = pool.add(customer, codes, utcnow())
    except (WaybillTaken, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(added.as_dict()))


@waybills_app.command("list")
def waybills_list(
    customer_code: CustomerOption = None,
    agency: AgencyOption = None,
    state: Annotated[str | None, typer.Option(help="free, assigned, used or released")] = None,
    limit: Annotated[int, typer.Option(help="How many numbers to list (0: the counts only)")] = 100,
) -> None:
    """The counts per customer code and state (first line), then the numbers (JSON lines)."""
    from hub.postal.waybills import STATES, Waybills

    if state is not None and state not in STATES:
        typer.echo(f"--state takes {', '.join(STATES)}", err=True)
        raise typer.Exit(2)
    customer = None if customer_code is None and agency is None else _customer(customer_code, agency)
    pool = _pool()
    assert isinstance(pool, Waybills)
    typer.echo(json.dumps({"counts": pool.counts(customer)}))
    for row in pool.list(customer, state, limit) if limit else []:
        typer.echo(json.dumps(row))


@waybills_app.command("release")
def waybills_release(item_code: Annotated[str, typer.Argument(help="The waybill number")]) -> None:
    """Take back the number of an order VNPost never took (its order dead, no parcel reported)."""
    from hub.envelope import utcnow
    from hub.postal.waybills import RevokeRefused, Waybills

    pool = _pool()
    assert isinstance(pool, Waybills)
    try:
        done = pool.revoke(item_code, utcnow())
    except RevokeRefused as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if done is None:
        typer.echo(f"no waybill number {item_code} in the pool", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(done))
