"""`lgsp agencies`: the per-agency configuration (add, list, show, set, remove), the same as
``/v1/admin/agencies``. Sections and their fields are those of ``hub.agencies.port``::

    lgsp agencies add 000.00.00.H56 --name "Sở Xây dựng" --province H56 \\
        portal.madonvi=000.00.00.H56 paygov.account=3511.0.1234567 paygov.bank_code=KBNN \\
        paygov.account_name="Sở Xây dựng" paygov.unit_name="Sở Xây dựng"
    lgsp agencies set 000.00.00.H56 paygov.account=3511.0.7654321 --unset postal
    lgsp agencies set 000.00.00.H61 portal.profile=tuyenquang_lgsp payment.profile=paygov \
        portal.madonvi_by_province='{"H22": "000.00.01.H22"}'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from hub.agencies.directory import DbAgencies

agencies_app = typer.Typer(help="Agencies and their per-partner configuration.", no_args_is_help=True)

FieldsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help="section.field=value (portal.madonvi, portal.profile, portal.madonvi_by_province (JSON), "
        "payment.profile, paygov.account, paygov.bank_code, "
        "paygov.account_name, paygov.unit_name, postal.customer_code, postal.variant, postal.name, postal.phone, "
        "postal.email, postal.address, postal.province_id, postal.district_id)"
    ),
]
ProvinceOption = Annotated[
    list[str] | None,
    typer.Option("--province", help="Province prefix its dossier codes may carry (repeatable), e.g. H56, H22"),
]


def _directory() -> DbAgencies:
    from hub.agencies.directory import DbAgencies
    from hub.bootstrap import open_database
    from hub.cli import _settings

    return DbAgencies(open_database(_settings()).engine)


def _sections(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """``section.field=value`` pairs as ``{section: {field: value}}``; an integer field's value as an int."""
    from hub.agencies.directory import SECTION_MODELS, SECTIONS

    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in SECTIONS:
            typer.echo(f"expected section.field=value with a section of {', '.join(SECTIONS)}: {key}", err=True)
            raise typer.Exit(2)
        fields = SECTION_MODELS[section].model_fields
        if name not in fields:
            typer.echo(f"{section} has no field {name}; it has {', '.join(fields)}", err=True)
            raise typer.Exit(2)
        annotation = str(fields[name].annotation)
        is_int = fields[name].annotation is int or "int" in annotation
        try:
            if annotation.startswith("dict"):  # a JSON object, e.g. portal.madonvi_by_province='{"H22": "..."}'
                out.setdefault(section, {})[name] = json.loads(value)
            else:
                out.setdefault(section, {})[name] = int(value) if is_int else value
        except ValueError:
            typer.echo(
                f"{key}: {'a JSON object' if annotation.startswith('dict') else 'a whole number'} expected", err=True
            )
            raise typer.Exit(2) from None
    return out


def _refuse(exc: Exception) -> typer.Exit:
    from hub.agencies.directory import AgencyInvalid

    if isinstance(exc, AgencyInvalid):
        for field, rule, message in exc.errors:
            typer.echo(f"{field}: {message} ({rule})", err=True)
        return typer.Exit(2)
    typer.echo(str(exc), err=True)
    return typer.Exit(1)


def _show(agency: Any) -> None:
    typer.echo(json.dumps(agency.model_dump(mode="json"), ensure_ascii=False))
    _warn_profiles(agency)


def _warn_profiles(agency: Any) -> None:
    """A profile this environment does not define: stored (another process may define it), but said."""
    from hub.bootstrap import partner_profiles

    known = partner_profiles()
    for section in ("portal", "payment"):
        profile = getattr(getattr(agency, section, None), "profile", None)
        if profile is not None and profile not in known[section]:
            typer.echo(
                f"warning: {agency.code}: {section}.profile {profile!r} is not defined here "
                f"(known: {', '.join(sorted(known[section]))}); "
                + (
                    "its dossiers wait until HUB_PORTAL_PROFILES defines it"
                    if section == "portal"
                    else "its payments are refused until it is a gateway of the hub"
                ),
                err=True,
            )


@agencies_app.command("add")
def agencies_add(
    code: Annotated[str, typer.Argument(help="Electronic agency code (mã định danh điện tử), e.g. 000.00.00.H56")],
    fields: FieldsArgument = None,
    name: Annotated[str, typer.Option(help="The agency's name")] = "",
    province: ProvinceOption = None,
    file: Annotated[Path | None, typer.Option(help="A JSON file: one agency object, or a list of them")] = None,
) -> None:
    """Add an agency (or every agency of a JSON file)."""
    from hub.agencies.directory import AgencyExists, AgencyInvalid, validate

    directory = _directory()
    if file is not None:
        loaded = json.loads(file.read_text(encoding="utf-8"))
        items = loaded if isinstance(loaded, list) else [loaded]
    else:
        items = [{"code": code, "name": name or code, "province_codes": province or [], **_sections(fields or [])}]
    for item in items:
        try:
            _show(directory.add(validate(item)))
        except (AgencyExists, AgencyInvalid) as exc:
            if isinstance(exc, AgencyExists):
                exc = AgencyExists(f"agency {exc} exists already: `lgsp agencies set` changes it")
            raise _refuse(exc) from None


@agencies_app.command("list")
def agencies_list() -> None:
    """Every agency and its configuration (JSON lines)."""
    for agency in _directory().all():
        _show(agency)


@agencies_app.command("show")
def agencies_show(code: str) -> None:
    """One agency (JSON)."""
    agency = _directory().get(code)
    if agency is None:
        typer.echo(f"no agency {code}", err=True)
        raise typer.Exit(1)
    _show(agency)


@agencies_app.command("set")
def agencies_set(
    code: str,
    fields: FieldsArgument = None,
    name: Annotated[str | None, typer.Option(help="The agency's name")] = None,
    province: ProvinceOption = None,
    unset: Annotated[list[str] | None, typer.Option(help="Remove a section: portal, payment, paygov or postal")] = None,
) -> None:
    """Change fields of an agency; the result is checked as a whole before it is stored."""
    from hub.agencies.directory import SECTIONS, AgencyInvalid, AgencyNotFound

    values: dict[str, Any] = dict(_sections(fields or []))
    if name is not None:
        values["name"] = name
    if province is not None:
        values["province_codes"] = province
    bad = [s for s in unset or [] if s not in SECTIONS]
    if bad:
        typer.echo(f"--unset takes {', '.join(SECTIONS)}", err=True)
        raise typer.Exit(2)
    try:
        _show(_directory().change(code, values, tuple(unset or ())))
    except AgencyNotFound:
        typer.echo(f"no agency {code}", err=True)
        raise typer.Exit(1) from None
    except AgencyInvalid as exc:
        raise _refuse(exc) from None


@agencies_app.command("remove")
def agencies_remove(code: str) -> None:
    """Remove an agency (clients bound to it keep the binding; its payments refuse until it is back)."""
    from hub.agencies.directory import AgencyNotFound

    try:
        _directory().remove(code)
    except AgencyNotFound:
        typer.echo(f"no agency {code}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{code} removed")
