"""Validation errors as the API answers them: ``{field, rule, message}`` per problem, the field
named as a dotted path in the request body, cross-field rules split per field, and the submitted
values never echoed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError


def describe(
    errors: Iterable[Mapping[str, Any]], partner_names: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Pydantic / FastAPI error dicts -> ``[{field, rule, message}]``. A model-level rule raised as
    ``ValueError("field: message; other: message")`` is reported under each field it names. A missing
    field whose path is in ``partner_names`` says, beside ours, the partner's name for it (the mapping's
    value, e.g. "the national portal's TenTTHC")."""
    out: list[dict[str, str]] = []
    for e in errors:
        loc = [str(p) for p in e["loc"]]
        if loc[:1] == ["body"]:  # FastAPI prefixes request-body fields
            loc = loc[1:]
        field, msg = ".".join(loc), str(e["msg"])
        if e["type"] == "value_error" and ": " in msg:  # cross-field rules name their fields
            prefix = field + "." if field else ""
            for part in msg.removeprefix("Value error, ").split("; "):
                name, _, text = part.partition(": ")
                out.append({"field": prefix + name, "rule": "consistency", "message": text or part})
            continue
        if e["type"] == "missing" and partner_names:
            bare = ".".join(p for p in loc if not p.isdigit())  # a batch item's index is not part of the name
            partner = partner_names.get(bare) or partner_names.get(bare.split(".", 1)[-1])
            if partner:
                msg = f"Field required ({partner})"
        out.append({"field": field or "(body)", "rule": str(e["type"]), "message": msg})
    return out


def field_errors(exc: ValidationError, partner_names: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    return describe(exc.errors(include_input=False, include_url=False), partner_names)
