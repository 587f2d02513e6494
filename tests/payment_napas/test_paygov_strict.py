"""PayGov as it behaves (design notes §2.1): the receipt as THH fills it, queries with the original
transaction time, the real state codes, and the strict mock that refuses what PayGov would."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.payment_napas import PayGovGateway, build_gateway
from connectors.payment_napas.mock import create_app
from connectors.payment_napas.mock_rules import CANNOT_KNOW, RULES
from connectors.payment_napas.signing import PAYGOV_INIT_FIELDS, PAYGOV_QUERY_FIELDS
from hub.payments.port import FeeItem, PermanentGatewayError

from .conftest import BASE, BENEFICIARY, OPENED, FakeHub, Rig, order, paygov_settings, reference


def post(http: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = http.post(f"/paygov{path}", json=body, headers={"Authorization": "Bearer paygov-dev-access-token"})
    return dict(r.json())


def signed_init(rig: Rig, **bill: Any) -> dict[str, Any]:
    assert isinstance(rig.paygov, PayGovGateway)
    body = rig.paygov.format.init_body(order(), OPENED)
    body["ThongTinBienLai"] = body["ThongTinBienLai"] | bill
    return body


# ------------------------------------------------------------------ the connector honours the facts
def test_the_receipt_carries_the_agencys_account_the_payer_the_procedure_and_the_unit() -> None:
    fmt = build_gateway("paygov", paygov_settings()).format  # type: ignore[attr-defined]
    decomposed = unicodedata.normalize("NFD", "Cấp giấy phép xây dựng")
    bill = fmt.init_body(order(procedure_name=decomposed), OPENED)["ThongTinBienLai"]
    assert (bill["TKThuHuong"], bill["MaNHThuHuong"], bill["TenTKThuHuong"], bill["TenDonVi"]) == (
        BENEFICIARY.account,
        BENEFICIARY.bank_code,
        BENEFICIARY.account_name,
        BENEFICIARY.unit_name,
    )
    assert bill["SoCMNDNguoiNop"] == "038090001234" and bill["HoTenNguoiNop"] == "Nguyễn Văn An"
    assert bill["TenTTHC"] == bill["TenDVC"] == "Cấp giấy phép xây dựng"  # NFC: PayGov signs bytes
    assert (bill["MaTTHC"], bill["MaDVC"], bill["MaDonVi"]) == ("2.002492", "2.002492.01", "000.00.00.H56")
    anonymous = fmt.init_body(order(payer_id_number="", procedure_name="T" * 251), OPENED)["ThongTinBienLai"]
    assert anonymous["SoCMNDNguoiNop"] == "000000000"  # as THH sends when the ID number is unknown
    assert anonymous["TenTTHC"] == "T" * 200 + "..."


def test_the_connector_refuses_to_send_a_receipt_the_gateway_would_refuse() -> None:
    fmt = build_gateway("paygov", paygov_settings()).format  # type: ignore[attr-defined]
    with pytest.raises(PermanentGatewayError, match="TKThuHuong"):
        fmt.init_body(order(beneficiary=None), OPENED)
    with pytest.raises(PermanentGatewayError, match="sum of the PhiLePhi"):
        fmt.init_body(order(fee_items=(FeeItem("LP01", "Lệ phí", 1),)), OPENED)


def test_init_and_query_carry_the_opening_time_not_now() -> None:
    fmt = build_gateway("paygov", paygov_settings()).format  # type: ignore[attr-defined]
    later = OPENED + timedelta(hours=5)
    init = fmt.init_body(order(), later)
    assert init["ThoiGianGD"] == fmt.query_body("X", OPENED)["ThoiGianGD"] != fmt.query_body("X", later)["ThoiGianGD"]


# ------------------------------------------------------------------ the strict mock refuses a breach
def test_the_mock_refuses_an_amount_that_is_not_the_sum_of_the_fee_lines(rig: Rig) -> None:
    lines = [{"LoaiPhiLePhi": "Phi", "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "SoTien": "100000"}]
    answer = post(rig.http, "/init", signed_init(rig, PhiLePhi=lines))
    assert answer["error_code"] == "1" and "SoTien (must be the sum of PhiLePhi[].SoTien)" in answer["message"]
    answer = post(rig.http, "/init", signed_init(rig, DSKhoanNop=[{"NoiDung": "x", "SoTien": "1"}]))
    assert answer["error_code"] == "1" and "DSKhoanNop" in answer["message"]


@pytest.mark.parametrize("field", ["TKThuHuong", "MaNHThuHuong", "TenTKThuHuong", "TenDonVi"])
def test_the_mock_refuses_an_empty_beneficiary(rig: Rig, field: str) -> None:
    answer = post(rig.http, "/init", signed_init(rig, **{field: " "}))
    assert answer["error_code"] == "1" and f"{field} (empty)" in answer["message"]
    assert "3511" not in answer["message"]  # fields and rules, never values


def test_the_mock_refuses_a_query_whose_time_is_not_the_opening(rig: Rig) -> None:
    ref = reference()
    rig.paygov.create_order(order(ref))
    assert isinstance(rig.paygov, PayGovGateway)
    now = rig.paygov.format.query_body(ref, OPENED + timedelta(minutes=30))
    answer = post(rig.http, "/query", now)
    assert answer["MaLoi"] == "99" and "INIT ThoiGianGD" in answer["MoTaLoi"]
    with pytest.raises(PermanentGatewayError, match="MaLoi 99"):
        rig.paygov.query(ref)  # without the opening time: "now", refused, never read as a state
    assert rig.paygov.query(ref, OPENED).state == "pending"


def test_the_mock_emits_the_real_state_codes(rig: Rig) -> None:
    states = {}
    for action in ("pay", "decline", None):
        ref = reference()
        rig.paygov.create_order(order(ref))
        if action:
            rig.act(ref, action)
        assert isinstance(rig.paygov, PayGovGateway)
        answer = post(rig.http, "/query", rig.paygov.format.query_body(ref, OPENED))
        states[action] = (answer["MaLoi"], answer["TrangThaiGD"], answer["ThoiGianGD"])
    assert isinstance(rig.paygov, PayGovGateway)
    opened = rig.paygov.format.query_body("x", OPENED)["ThoiGianGD"]
    assert states == {"pay": ("00", "1", opened), "decline": ("00", "4", opened), None: ("00", "3", opened)}


def test_the_mocks_confirm_signs_the_opening_time_and_records_whether_the_reply_echoed(rig: Rig) -> None:
    ref = reference()
    rig.paygov.create_order(order(ref))
    rig.clock.offset = timedelta(minutes=20)  # the citizen took twenty minutes on the payment page
    rig.act(ref, "pay")
    [sent] = rig.callbacks(ref)
    assert isinstance(rig.paygov, PayGovGateway)
    assert sent["body"]["ThoiGianGD"] == rig.paygov.format.query_body(ref, OPENED)["ThoiGianGD"]
    assert [r.reference for r in rig.hub.results] == [ref] and sent["echoed"] is True
    assert sent["answer"]["MaXacThuc"] == sent["body"]["MaXacThuc"]


def test_lenient_mode_drops_the_strict_rules_only() -> None:
    hub = FakeHub()
    with TestClient(create_app(public_url=BASE, http_factory=hub.client, strict=False), base_url=BASE) as http:
        gateway = build_gateway("paygov", paygov_settings(), http=http)
        assert isinstance(gateway, PayGovGateway)
        body = gateway.format.init_body(replace(order(), beneficiary=BENEFICIARY), OPENED)
        body["ThongTinBienLai"] |= {"TKThuHuong": "", "PhiLePhi": []}
        assert post(http, "/init", body)["error_code"] == "0"
        query = gateway.format.query_body(body["MaThamChieu"], OPENED + timedelta(hours=1))
        assert post(http, "/query", query)["MaLoi"] == "00"
        wrong = gateway.format.sign(body | {"PhienBan": "1.0.5"}, PAYGOV_INIT_FIELDS)
        assert post(http, "/init", wrong)["error_code"] == "1"  # not strict-only: still refused
        other = gateway.format.sign(query | {"MaDoiTac": "OTHER"}, PAYGOV_QUERY_FIELDS)
        assert post(http, "/query", other)["MaLoi"] == "99"
        assert http.get("/_mock/card").json()["strict"] is False


def test_the_capability_card_lists_what_it_enforces_and_what_it_cannot_know(rig: Rig) -> None:
    card = rig.http.get("/_mock/card").json()
    assert card["strict"] is True and card["paygov_callback_time"] == "opening"
    assert [r["id"] for r in card["rules"]] == [r.id for r in RULES] and len({r.id for r in RULES}) == len(RULES)
    assert {r["id"] for r in card["rules"] if r["strict_only"]} == {"amount-is-fee-sum", "beneficiary", "query-time"}
    assert card["cannot_know"] == list(CANNOT_KNOW) and len(CANNOT_KNOW) >= 5
