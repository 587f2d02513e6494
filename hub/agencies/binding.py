"""Client <-> agency binding: a client system pushes the dossiers and payments of the agencies it is
bound to (``lgsp clients bind``), and a dossier's code must carry its agency's province.

A dossier code (mã hồ sơ, design notes §6) is ``{unit code}-{yyMMdd}-{counter}``: its first part is
the electronic code of the receiving unit, whose last group is the province (``H56``) or ministry
(``G12``). The national portal refuses another province's codes, so the hub refuses them first:

1. ``agency_code`` must be one of the client's agencies (else 403, rule ``agency_not_bound``);
2. the dossier code's province must be one of the agency's: its ``province_codes`` in the directory
   (a province merged in 2025 keeps its predecessors' prefixes, e.g. ``H22`` Hà Giang in Tuyên
   Quang) or, when the directory gives none, the last group of the agency's own code (else 422,
   rule ``dossier_code_province``).

``dossier_unit`` is deliberately small (split at the first ``-``): swap it for the code-structure
parser when one lands (``hub/codes.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hub.agencies.port import AgencyDirectory


def dossier_unit(dossier_code: str) -> str:
    """The unit (agency) prefix of a dossier code: ``000.00.00.H56-250225-0001`` -> ``000.00.00.H56``."""
    return dossier_code.split("-", 1)[0]


def province_of(unit_code: str) -> str:
    """The last group of an electronic unit code: ``000.17.22.H56`` -> ``H56``."""
    return unit_code.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Refusal:
    """Why a client may not push this: ``status`` 403 (not its agency) or 422 (not the agency's code)."""

    status: int
    field: str
    rule: str
    message: str

    @property
    def code(self) -> str:
        return "forbidden" if self.status == 403 else "validation_failed"

    def error(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


def provinces(directory: AgencyDirectory, agency_code: str) -> tuple[str, ...]:
    """The province groups the agency's dossier codes may carry."""
    agency = directory.get(agency_code)
    if agency is not None and agency.province_codes:
        return tuple(agency.province_codes)
    return (province_of(agency_code),)


ASK = "ask"  # ``quick``'s answer when only the directory can tell (a dossier code of another province)


def quick(bound: Collection[str], agency_code: str, dossier_code: str, prefix: str = "") -> Refusal | str | None:
    """``check`` without the directory: None (allowed), a Refusal, or ``ASK`` (read the directory)."""
    if agency_code not in bound:
        listed = ", ".join(sorted(bound)) or "none"
        return Refusal(
            403,
            f"{prefix}agency_code",
            "agency_not_bound",
            f"this client is not bound to the agency it names (bound to: {listed}); "
            "an operator binds it with `lgsp clients bind` or POST /v1/admin/clients/{code}/agencies",
        )
    unit = dossier_unit(dossier_code)
    if unit in bound or province_of(unit) == province_of(agency_code):
        return None
    return ASK


def check(
    bound: Collection[str],
    directory: AgencyDirectory,
    agency_code: str,
    dossier_code: str,
    prefix: str = "",
) -> Refusal | None:
    """None if a client bound to ``bound`` may push this agency's dossier; else the refusal. ``prefix``
    is the fields' path in the body (``"0."`` for a batch item, say). The directory is read only for a
    dossier code of another province than the agency code's own (the 2025 merger)."""
    first = quick(bound, agency_code, dossier_code, prefix)
    if first != ASK:
        return first if isinstance(first, Refusal) else None
    allowed = provinces(directory, agency_code)
    if province_of(dossier_unit(dossier_code)) in allowed:
        return None
    return Refusal(
        422,
        f"{prefix}dossier_code",
        "dossier_code_province",
        "the dossier code's unit prefix must carry a province of its agency "
        f"({', '.join(allowed)}; the agency's province_codes in `lgsp agencies`)",
    )


def portal_unit(directory: AgencyDirectory, agency_code: str, prefix: str = "") -> Refusal | None:
    """None if the agency has a portal unit (``madonvi``) in the directory; else the refusal naming it
    (while the portal connector has no fallback unit: ``HUB_PORTAL_UNIT_FALLBACK=false``)."""
    agency = directory.get(agency_code)
    if agency is not None and agency.portal is not None:
        return None
    return Refusal(
        422,
        f"{prefix}agency_code",
        "agency_not_configured",
        f"agency {agency_code} has no portal unit (madonvi) in the agency directory, and the hub has no fallback "
        f"unit: an operator sets it (`lgsp agencies set {agency_code} portal.madonvi=...`, /v1/admin/agencies)",
    )
