"""The rules of the codes the partners use, in one place: agency codes, dossier codes, procedure codes.

Used by the canonical models (``hub.canonical``, the payment and postal models) and by the mocks, so
what the hub accepts and what its mock portal refuses cannot differ. ``shared/design/external-systems.md``
§6:

- **Mã định danh điện tử cơ quan** (electronic agency code, QĐ 20/2020/QĐ-TTg) [C]: dotted groups of
  digits and a last group of a letter and two digits, ``000.00.00.H56``; widths vary
  (``000.701.18.G12``), so each group of digits is 2 or 3 wide [I: the widths seen]. The last group is
  the level-1 unit (``Gnn`` a ministry, ``Hnn`` a province).
- **Mã hồ sơ** (dossier code) [C]: ``{agency code}-{yyMMdd}-{counter}``, e.g. ``000.00.00.H56-250225-0001``
  and the 2026 national-portal form ``000.701.18.G12-260331-27110000310611`` (14-digit counter). The
  shape and the **date** are checked, not fixed widths: the counter is 4 to 20 digits [I: 4 is the
  convention's counter, 14 the widest seen], and ``yyMMdd`` must be a day of the calendar (20yy).
- **MaTTHC** (national procedure code) [C]: ``2.002492``, optionally followed by an agency code
  (``3.000181.000.00.00.H22``, a local id).

Functions for the callers that bind codes to agencies and provinces: :func:`agency_prefix_of` (the
agency part of a dossier code), :func:`unit_of` (the level-1 unit of an agency code, e.g. ``H56``),
:func:`dossier_day` (the date inside a dossier code), :func:`dossier_code_problem` (why a code is
refused, or None).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

_AGENCY = r"\d{2,3}(?:\.\d{2,3}){2}\.[A-Z]\d{2}"
AGENCY_CODE_PATTERN = rf"^{_AGENCY}$"
DOSSIER_CODE_PATTERN = rf"^{_AGENCY}-\d{{6}}-\d{{4,20}}$"
PROCEDURE_CODE_PATTERN = rf"^\d\.\d{{6}}(?:\.{_AGENCY})?$"
AGENCY_CODE_MAX = 35  # MaDonVi String(35) [C NDXP-DOC]
DOSSIER_CODE_MAX = AGENCY_CODE_MAX + 1 + 6 + 1 + 20
DOSSIER_CODE_FORM = "{agency code}-{yyMMdd}-{4 to 20 digits}, e.g. 000.00.00.H56-250225-0001"

_AGENCY_RE = re.compile(AGENCY_CODE_PATTERN)
_DOSSIER_RE = re.compile(rf"^({_AGENCY})-(\d{{2}})(\d{{2}})(\d{{2}})-(\d{{4,20}})$")
_PROCEDURE_RE = re.compile(PROCEDURE_CODE_PATTERN)


def is_agency_code(value: object) -> bool:
    return isinstance(value, str) and _AGENCY_RE.fullmatch(value) is not None


def is_procedure_code(value: object) -> bool:
    return isinstance(value, str) and _PROCEDURE_RE.fullmatch(value) is not None


def dossier_code_problem(value: object) -> str | None:
    """Why ``value`` is not a dossier code (a sentence naming the rule), or None when it is one."""
    if not isinstance(value, str):
        return "must be a string: " + DOSSIER_CODE_FORM
    match = _DOSSIER_RE.fullmatch(value)
    if match is None:
        return "not shaped like a dossier code: " + DOSSIER_CODE_FORM
    try:
        date(2000 + int(match.group(2)), int(match.group(3)), int(match.group(4)))
    except ValueError:
        return f"the date part {match.group(2)}{match.group(3)}{match.group(4)} (yyMMdd) is not a day of the calendar"
    return None


def is_dossier_code(value: object) -> bool:
    return dossier_code_problem(value) is None


def agency_prefix_of(dossier_code: str) -> str:
    """The agency code a dossier code starts with: ``000.00.00.H56-250225-0001`` -> ``000.00.00.H56``.
    ``ValueError`` for what is not a dossier code."""
    problem = dossier_code_problem(dossier_code)
    if problem is not None:
        raise ValueError(problem)
    return dossier_code.split("-", 1)[0]


def dossier_day(dossier_code: str) -> date:
    """The day inside a dossier code (its ``yyMMdd``, 20yy)."""
    agency_prefix_of(dossier_code)  # refuses what is not a dossier code
    day = dossier_code.split("-")[1]
    return date(2000 + int(day[:2]), int(day[2:4]), int(day[4:]))


def unit_of(agency_code: str) -> str:
    """The level-1 unit of an agency code (its last group): ``000.17.22.H56`` -> ``H56`` (a province),
    ``000.701.18.G12`` -> ``G12`` (a ministry). ``ValueError`` for what is not an agency code."""
    if not is_agency_code(agency_code):
        raise ValueError("not shaped like an agency code (QĐ 20/2020/QĐ-TTg), e.g. 000.00.00.H56")
    return agency_code.rsplit(".", 1)[1]


def _dossier_code(value: str) -> str:
    problem = dossier_code_problem(value)
    if problem is not None:
        raise PydanticCustomError("dossier_code", problem)
    return value


# Pydantic types: the pattern (also in the exported JSON Schema) and, for dossier codes, the date.
AgencyCode = Annotated[str, Field(pattern=AGENCY_CODE_PATTERN, max_length=AGENCY_CODE_MAX)]
DossierCode = Annotated[
    str, Field(pattern=DOSSIER_CODE_PATTERN, max_length=DOSSIER_CODE_MAX), AfterValidator(_dossier_code)
]
ProcedureCode = Annotated[str, Field(pattern=PROCEDURE_CODE_PATTERN, max_length=80)]

__all__ = [
    "AGENCY_CODE_PATTERN",
    "DOSSIER_CODE_PATTERN",
    "PROCEDURE_CODE_PATTERN",
    "AgencyCode",
    "DossierCode",
    "ProcedureCode",
    "agency_prefix_of",
    "dossier_code_problem",
    "dossier_day",
    "is_agency_code",
    "is_dossier_code",
    "is_procedure_code",
    "unit_of",
]
