"""Golden files: canonical JSON in (``*.in.json``) -> partner JSON out (``*.out.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.national_portal import translate as tr
from hub.canonical import DossierFeePaid, DossierStatusChange

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name.removesuffix(".in.json") for p in GOLDEN.glob("*.in.json"))


def _load(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def test_the_golden_cases_are_all_there() -> None:
    assert CASES == ["minimal_no_optional", "received_one_fee", "utc_returned"]


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str) -> None:
    # Inputs go through the canonical model first: the connector receives model_dump(mode="json").
    payload = DossierStatusChange.model_validate(_load(f"{case}.in.json")).model_dump(mode="json")
    produced = {
        "DongBoHoSoMC": tr.sync_envelope("test-session", "000.00.00.H56", [tr.to_hoso(payload)], is_updating=False),
        "CapNhatTienDoHoSoMC": tr.progress_envelope("test-session", "000.00.00.H56", [tr.to_progress(payload)]),
    }
    assert produced == _load(f"{case}.out.json")


def test_one_fee_is_a_one_element_list() -> None:
    payload = DossierStatusChange.model_validate(_load("received_one_fee.in.json")).model_dump(mode="json")
    fees = tr.to_hoso(payload)["DanhSachLePhi"]
    assert isinstance(fees, list) and len(fees) == 1


def test_no_optional_field_is_sent_empty_or_null() -> None:
    payload = DossierStatusChange.model_validate(_load("minimal_no_optional.in.json")).model_dump(mode="json")
    for record in (tr.to_hoso(payload), tr.to_progress(payload)):
        assert all(value not in (None, "") for key, value in record.items() if key not in tr.MAY_BE_EMPTY)
        assert all(isinstance(value, str | list) for value in record.values())


def test_every_field_the_public_integrations_always_send_is_sent() -> None:
    """OCPS's always-sent HoSo fields (HinhThuc included) are all there, for every status; Email and
    SoDienThoai as "" when the applicant has none; NgayTiepNhan / NgayHenTra where the status has them."""
    for case in CASES:
        payload = DossierStatusChange.model_validate(_load(f"{case}.in.json")).model_dump(mode="json")
        hoso = tr.to_hoso(payload)
        absent = {"NgayTiepNhan", "NgayHenTra"} if payload["status"] == 1 else set()
        assert set(tr.ALWAYS_SENT) - absent <= set(hoso), case
        assert set(tr.PROGRESS_ALWAYS_SENT) <= set(tr.to_progress(payload)), case


def test_officer_names_are_cut_to_the_limit_as_thh_cuts_them() -> None:
    from connectors.national_portal.limits import PortalLimits

    payload = DossierStatusChange.model_validate(_load("received_one_fee.in.json")).model_dump(mode="json")
    payload["handler"]["name"] = "Nguyễn " * 20
    entry = tr.to_progress(payload)
    assert entry["NguoiXuLy"] == payload["handler"]["name"][:46] + "..."  # 46 + "...", as THH
    assert len(tr.to_progress(payload, PortalLimits(NguoiXuLy=80))["NguoiXuLy"]) == 79
    assert len(tr.to_hoso(payload, PortalLimits(TrichYeuHoSo=10))["TrichYeuHoSo"]) == 10  # summaries too


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-02-25T17:30:00Z", "20250226003000"),  # UTC crosses midnight in Vietnam
        ("2025-02-25T17:30:00+00:00", "20250226003000"),
        ("2025-02-25T10:30:00-05:00", "20250225223000"),
        ("2025-02-25T08:30:00+07:00", "20250225083000"),
        ("2025-02-25T08:30:00", "20250225083000"),  # naive = Vietnam time
        ("2024-12-31T17:00:00.999Z", "20250101000000"),  # fractions dropped
        (None, None),
        ("", None),
    ],
)
def test_portal_time(value: str | None, expected: str | None) -> None:
    assert tr.portal_time(value) == expected


def test_received_change_without_received_at_uses_the_change_time() -> None:
    payload = DossierStatusChange.model_validate(
        {
            **_load("minimal_no_optional.in.json"),
            "status": 2,
            "occurred_at": "2025-02-26T02:00:00Z",
            "appointment_at": "2025-03-05T17:00:00+07:00",
        }
    ).model_dump(mode="json")
    assert tr.to_hoso(payload)["NgayTiepNhan"] == "20250226090000"


def test_update_and_lookup_envelopes() -> None:
    assert tr.sync_envelope("s", "000.00.00.H56", [], is_updating=True)["isUpdating"] == "True"
    assert tr.lookup_envelope("s", "000.00.00.H56", "000.00.00.H56-250225-0001") == {
        "session": "s",
        "madonvi": "000.00.00.H56",
        "service": "TraCuuHoSo",
        "mahoso": "000.00.00.H56-250225-0001",
    }


def test_progress_key_matches_the_canonical_natural_key() -> None:
    model = DossierStatusChange.model_validate(_load("utc_returned.in.json"))
    entry = tr.to_progress(model.model_dump(mode="json"))
    assert "|".join(tr.progress_key(entry)) == model.natural_key()


def test_translation_does_not_mutate_its_input() -> None:
    payload = DossierStatusChange.model_validate(_load("received_one_fee.in.json")).model_dump(mode="json")
    before = json.dumps(payload, sort_keys=True)
    tr.to_hoso(payload)
    tr.to_progress(payload)
    assert json.dumps(payload, sort_keys=True) == before


FEE_PAID_CASES = ["known_dossier", "unknown_dossier"]


@pytest.mark.parametrize("case", FEE_PAID_CASES)
def test_fee_paid_golden(case: str) -> None:
    """A paid fee: the progress entry, and the dossier marked paid online when the hub knows it."""
    payload = DossierFeePaid.model_validate(_load(f"fee_paid/{case}.in.json")).model_dump(mode="json")
    hoso = tr.fee_paid_hoso(payload)
    produced = {
        "DongBoHoSoMC": tr.sync_envelope("test-session", "000.00.00.H56", [hoso], is_updating=True) if hoso else None,
        "CapNhatTienDoHoSoMC": tr.progress_envelope("test-session", "000.00.00.H56", [tr.fee_paid_progress(payload)]),
    }
    assert produced == _load(f"fee_paid/{case}.out.json")


def test_fee_paid_cases_are_all_there() -> None:
    assert sorted(p.name.removesuffix(".in.json") for p in (GOLDEN / "fee_paid").glob("*.in.json")) == FEE_PAID_CASES
