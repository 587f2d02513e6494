"""The mock portal's strict mode (the default): every rule of ``mock_rules.RULES`` refuses a call that breaks
it with the portal's own answer (``error_code``, the field named), lenient mode keeps only the protocol's
rules, and the capability card lists what it enforces and what it cannot know. Limits are settings."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.national_portal import NationalPortalSettings
from connectors.national_portal import translate as tr
from connectors.national_portal.limits import PortalLimits
from connectors.national_portal.mock import create_app
from connectors.national_portal.mock_rules import CANNOT_KNOW, RULES, STRICT_ONLY

from .conftest import change
from .test_mock import DST, MADONVI, call, login, sync


def hoso(**over: Any) -> dict[str, Any]:
    return tr.to_hoso(change()) | over


def entry(payload: dict[str, Any] | None = None, **over: Any) -> dict[str, Any]:
    return tr.to_progress(payload or change()) | over


def without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def progress_call(client: TestClient, session: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    return call(client, session, tr.PROGRESS_SERVICE, data=entries)


def _progress_for_a_known_dossier(client: TestClient, session: str, **over: Any) -> dict[str, Any]:
    payload = change()
    assert sync(client, session, [tr.to_hoso(payload)])["error_code"] == "0"
    return progress_call(client, session, [entry(payload, **over)])


def _lacking(client: TestClient, session: str, key: str) -> dict[str, Any]:
    answer = sync(client, session, [without(hoso(), key)])
    assert answer["error_code"] == "0" or f"data[0].{key}:" in answer["message"], answer
    return answer


def _eleven_progress_entries(client: TestClient, session: str) -> dict[str, Any]:
    payloads = [change() for _ in range(11)]
    assert sync(client, session, [tr.to_hoso(p) for p in payloads])["error_code"] == "0"
    return progress_call(client, session, [entry(p) for p in payloads])  # 10 per call [C THH chunks]


# rule -> the calls that break it; each returns the mock's answer
Breach = Callable[[TestClient, str], dict[str, Any]]
STRICT_BREACHES: dict[str, list[Breach]] = {
    "required": [
        functools.partial(_lacking, key=key)
        for key in (*tr.ALWAYS_SENT[1:], *tr.V2_ALWAYS_SENT)
        if key not in ("TrangThaiHoSo",)
    ]
    + [lambda c, s: _progress_for_a_known_dossier(c, s, NoiDungXuLy="")],
    "codes": [
        lambda c, s: sync(c, s, [hoso(KenhThucHien="4")]),
        lambda c, s: sync(c, s, [hoso(LoaiDoiTuong="0")]),
        lambda c, s: sync(c, s, [hoso(HinhThuc="2")]),
    ],
    "dossier-code": [
        lambda c, s: sync(c, s, [hoso(MaHoSo="000.00.00.H56-250230-0001")]),
        lambda c, s: sync(c, s, [hoso(MaHoSo="HS-0001")]),
    ],
    "procedure-code": [lambda c, s: sync(c, s, [hoso(MaTTHC="TTHC-1")])],
    "status-dates": [lambda c, s: sync(c, s, [hoso(TrangThaiHoSo="9")])],
    "limit": [
        lambda c, s: sync(c, s, [hoso(TrichYeuHoSo="x" * 1001)]),
        lambda c, s: _progress_for_a_known_dossier(c, s, NguoiXuLy="x" * 51),
        lambda c, s: _eleven_progress_entries(c, s),
    ],
    "unit-province": [  # [I] §6: a dossier code of another province than the call's unit code (H56)
        lambda c, s: sync(c, s, [hoso(), hoso(MaHoSo="000.00.00.H22-250225-0001")]),
    ],
    "text-nfc": [
        lambda c, s: sync(c, s, [hoso(DonViXuLy=unicodedata.normalize("NFD", "UBND tỉnh Thanh Hóa"))]),
        lambda c, s: _progress_for_a_known_dossier(c, s, NguoiXuLy=unicodedata.normalize("NFD", "Lê Thị Bình")),
    ],
}
STRICT_CASES = [(rule, i) for rule, breaches in STRICT_BREACHES.items() for i in range(len(breaches))]


@pytest.mark.parametrize(("rule", "i"), STRICT_CASES, ids=[f"{r}-{i}" for r, i in STRICT_CASES])
def test_strict_rules_refuse_with_the_portals_answer_and_lenient_mode_drops_them(rule: str, i: int) -> None:
    breach = STRICT_BREACHES[rule][i]
    with TestClient(create_app(), base_url="http://testserver") as strict:
        answer = breach(strict, login(strict))
        assert answer["error_code"] == "1" and ("data[" in answer["message"] or "data:" in answer["message"])
        stats = strict.get("/_mock/stats").json()
        assert stats["rejected_by_rule"].get(rule), stats
    with TestClient(create_app(strict=False), base_url="http://testserver") as lenient:
        session = login(lenient)
        answer = breach(lenient, session)
        assert answer["error_code"] == "0", answer
        assert not lenient.get("/_mock/stats").json()["rejected_by_rule"]


def test_every_strict_rule_has_a_breach_here() -> None:
    assert set(STRICT_BREACHES) == STRICT_ONLY


def test_a_hoso_lacking_only_optional_fields_is_accepted() -> None:
    """ChuHoSo and the other "ko bb" fields are not required (OCPS); Email and SoDienThoai may be empty."""
    with TestClient(create_app(), base_url="http://testserver") as client:
        record = hoso(Email="", SoDienThoai="")
        for key in ("ChuHoSo", "SoBienNhan", "MaDoiTuong", "ThongTinKhac", "Fax", "NgayTra", "GhiChu"):
            record.pop(key, None)
        assert sync(client, login(client), [record])["error_code"] == "0"


def test_the_capability_card_lists_what_it_enforces_and_cannot_know() -> None:
    with TestClient(create_app(), base_url="http://testserver") as client:
        card = client.get("/_mock/card").json()
    assert card["mode"] == "strict" and card["variant"] == "adapter"
    assert [r["id"] for r in card["enforces"]] == [r.id for r in RULES]
    assert card["cannot_know"] == list(CANNOT_KNOW) and card["not_enforced_in_this_mode"] == []
    with TestClient(create_app(strict=False), base_url="http://testserver") as client:
        card = client.get("/_mock/card").json()
    assert card["mode"] == "lenient" and set(card["not_enforced_in_this_mode"]) == STRICT_ONLY


def test_limits_are_settings_shared_by_the_connector_and_the_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PORTAL_LIMITS__PROGRESS_PER_CALL", "20")
    monkeypatch.setenv("HUB_PORTAL_LIMITS__NGUOIXULY", "80")
    settings = NationalPortalSettings(base_url="http://testserver")
    assert settings.limits == PortalLimits(progress_per_call=20, NguoiXuLy=80)
    with TestClient(create_app(settings=settings), base_url="http://testserver") as client:
        session = login(client)
        payloads = [change() for _ in range(20)]
        assert sync(client, session, [tr.to_hoso(p) for p in payloads])["error_code"] == "0"
        entries = [entry(p, NguoiXuLy="x" * 80) for p in payloads]
        assert progress_call(client, session, entries)["error_code"] == "0"
        answer = progress_call(client, session, [entry(payloads[0], NguoiXuLy="x" * 81)])
        assert answer["error_code"] == "1" and "NguoiXuLy" in answer["message"] and "80" in answer["message"]


def test_protocol_rules_hold_in_lenient_mode_too() -> None:
    with TestClient(create_app(strict=False), base_url="http://testserver") as client:
        session = login(client)
        assert sync(client, session, [hoso(TrangThaiHoSo="11")])["error_code"] == "1"
        assert sync(client, session, [hoso(NgayTiepNhan="2025-02-25")])["error_code"] == "1"
        body = {"session": session, "madonvi": "H56", "service": tr.SYNC_SERVICE, "isUpdating": "False", "data": []}
        assert client.post("/integration", json=body, headers=DST).json()["error_code"] == "1"
        good = body | {"madonvi": MADONVI, "isUpdating": "yes"}
        assert client.post("/integration", json=good, headers=DST).json()["error_code"] == "1"
