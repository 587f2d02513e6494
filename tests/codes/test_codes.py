"""hub/codes.py: the documented structure of dossier and agency codes (§6), the date inside a dossier
code, the real 2026 widths; the canonical models and the mock portal use the same rules."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from connectors.national_portal.mock import create_app
from hub import codes
from hub.canonical import DossierStatusChange
from hub.payments.models import OpenPayment
from tests.factories import payment_request, status_change
from tests.national_portal.test_mock import hoso, login, sync

REAL_2026 = "000.701.18.G12-260331-27110000310611"  # a 2026 personal-income-tax dossier (file id 59390414215)


@pytest.mark.parametrize(
    "code",
    [
        "000.00.00.H56-250225-0001",  # THH's counter
        "000.00.00.H56-250225-12345",  # the sync fallback's 5 random digits
        REAL_2026,  # 3-digit second group, 14-digit counter
        "000.17.22.H56-240229-0001",  # a leap day
        "000.00.00.H22-191231-0007",  # a Hà Giang code kept after the 2025 merger
    ],
)
def test_real_dossier_codes_are_accepted(code: str) -> None:
    assert codes.dossier_code_problem(code) is None
    assert DossierStatusChange.model_validate(status_change(code=code)).dossier_code == code


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("000.00.00.H56-250230-0001", "calendar"),  # 30 February
        ("000.00.00.H56-230229-0001", "calendar"),  # 29 February of a common year
        ("000.00.00.H56-251301-0001", "calendar"),  # month 13
        ("000.00.00.H56-250100-0001", "calendar"),  # day 0
        ("000.00.00.H56-250225-001", "shaped"),  # a 3-digit counter
        ("000.00.00.H56-25022-0001", "shaped"),  # a 5-digit date
        ("H56-250225-0001", "shaped"),  # no agency code
        ("000.00.00.56-250225-0001", "shaped"),  # no level-1 letter
        ("000.00.00.H56_250225_0001", "shaped"),
        ("000.00.00.H56-250225-0001-2", "shaped"),
    ],
)
def test_malformed_codes_and_impossible_dates_are_refused(code: str, why: str) -> None:
    problem = codes.dossier_code_problem(code)
    assert problem is not None and why in problem
    with pytest.raises(ValidationError) as caught:
        DossierStatusChange.model_validate(status_change(code=code))
    assert [e["loc"] for e in caught.value.errors()] == [("dossier_code",)]


def test_payments_use_the_same_rule() -> None:
    assert OpenPayment.model_validate(payment_request(code=REAL_2026)).dossier_code == REAL_2026
    with pytest.raises(ValidationError):
        OpenPayment.model_validate(payment_request(code="000.00.00.H56-250230-0001"))


@pytest.mark.parametrize("agency", ["000.00.00.H56", "000.701.18.G12", "000.17.22.H56", "000.00.00.G17"])
def test_agency_codes_of_every_documented_width_are_accepted(agency: str) -> None:
    assert codes.is_agency_code(agency)
    assert DossierStatusChange.model_validate(status_change(agency_code=agency)).agency_code == agency


@pytest.mark.parametrize("agency", ["H56", "000.00.00.h56", "000.00.00.H5", "0000.00.00.H56", "000.00.00.HH56", ""])
def test_agency_codes_of_another_shape_are_refused(agency: str) -> None:
    assert not codes.is_agency_code(agency)


def test_the_functions_the_agency_binding_calls() -> None:
    assert codes.agency_prefix_of(REAL_2026) == "000.701.18.G12"
    assert codes.unit_of(codes.agency_prefix_of("000.17.22.H56-250225-0001")) == "H56"
    assert codes.dossier_day(REAL_2026) == date(2026, 3, 31)
    with pytest.raises(ValueError):
        codes.agency_prefix_of("000.00.00.H56-250230-0001")
    with pytest.raises(ValueError):
        codes.unit_of("H56")


def test_the_mock_portal_refuses_an_impossible_date_and_takes_a_2026_code() -> None:
    with TestClient(create_app(), base_url="http://testserver") as client:
        session = login(client)
        answer = sync(client, session, [hoso(MaHoSo="000.00.00.H56-250230-0001")])
        assert answer["error_code"] == "1" and "data[0].MaHoSo" in answer["message"]
        assert "calendar" in answer["message"]
        assert sync(client, session, [hoso(MaHoSo=REAL_2026)], madonvi="000.701.18.G12")["error_code"] == "0"
        assert client.get("/_mock/stats").json()["rejected_by_rule"] == {"dossier-code": 1}


@pytest.mark.parametrize(("code", "ok"), [("2.002492", True), ("3.000181.000.00.00.H22", True), ("1.00123", False)])
def test_procedure_codes_may_embed_an_agency_code(code: str, ok: bool) -> None:
    assert codes.is_procedure_code(code) is ok
    if ok:
        assert DossierStatusChange.model_validate(status_change(procedure_code=code)).procedure_code == code
