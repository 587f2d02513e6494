"""Callback verification (each rejection reason, for both profiles) and the reply formats.

Callback bodies are built here with hashlib, independently of the profiles' own signing code."""

from __future__ import annotations

import base64
import hashlib
import json
import unicodedata
from datetime import timedelta
from typing import Any, cast
from urllib.parse import quote

import pytest

from connectors.payment_napas import PROFILES, NapasSettings, PayGovSettings, build_gateway
from hub.payments.port import CALLBACK_ANSWERS, CallbackAnswer, CallbackRejected, PaymentGateway

from .conftest import NAPAS_SECRET, PAYGOV_SECRET, at

REF = "01JDCALLBACK00000000000001"
SETTLED = at("2025-02-25T01:45:00")  # 08:45:00 in Vietnam
NOW = SETTLED + timedelta(minutes=5)


# ------------------------------------------------------------------ NAPAS bodies
def napas_result(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "apiOperation": "PURCHASE",
        "merchantId": "LGSPHUB01",
        "order": {"id": REF, "reference": REF, "amount": 150000, "currency": "VND"},
        "response": {"gatewayCode": "APPROVED", "message": "Approved"},
        "result": "SUCCESS",
        "transaction": {"id": "1", "receipt": "503112345678", "amount": 150000},
        "timeOfRecord": "2025-02-25T01:45:00.000Z",
    }
    return result | overrides


def napas_data(result: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps({"paymentResult": result}).encode()).decode()


def napas_body(data: str, secret: str = NAPAS_SECRET, checksum: str | None = None) -> bytes:
    digest = hashlib.sha256((data + secret).encode()).hexdigest() if checksum is None else checksum
    return json.dumps({"data": data, "checksum": digest}).encode()


# ------------------------------------------------------------------ PayGov bodies
CONFIRM_ORDER = [
    "LoaiBanTin",
    "MaLoi",
    "MaDoiTac",
    "MaThamChieu",
    "SoTien",
    "MaTienTe",
    "MaGiaoDich",
    "MaNganHang",
    "ThoiGianGD",
    "ThongTinGiaoDich",
]


def paygov_body(secret: str = PAYGOV_SECRET, mac: str | None = None, **overrides: Any) -> bytes:
    message: dict[str, Any] = {
        "LoaiBanTin": "CONFIRM",
        "MaLoi": "00",
        "MaDoiTac": "LGSPHUB01",
        "MaThamChieu": REF,
        "SoTien": "150000",
        "MaTienTe": "VND",
        "MaGiaoDich": "TXN0001",
        "MaNganHang": "PAYMENT",
        "ThoiGianGD": "20250225084500",
        "ThongTinGiaoDich": "Lệ phí cấp giấy phép",
    } | overrides
    joined = "|".join([*(str(message[k]) for k in CONFIRM_ORDER), secret])
    message["MaXacThuc"] = hashlib.sha256(joined.encode()).hexdigest() if mac is None else mac
    return json.dumps(message, ensure_ascii=False).encode()


@pytest.fixture
def napas() -> PaymentGateway:
    return build_gateway("napas", NapasSettings())


@pytest.fixture
def paygov() -> PaymentGateway:
    return build_gateway("paygov", PayGovSettings(), clock=lambda: SETTLED + timedelta(minutes=1))


def reason(gateway: PaymentGateway, body: bytes, now: Any = NOW) -> str:
    with pytest.raises(CallbackRejected) as caught:
        gateway.parse_callback(body, now=now)
    return caught.value.reason


# ------------------------------------------------------------------ the port
def test_both_profiles_satisfy_the_port() -> None:
    assert PROFILES == ("napas", "paygov")
    for profile in PROFILES:
        gateway = build_gateway(profile)
        assert isinstance(gateway, PaymentGateway)
        assert (gateway.profile, gateway.merchant) == (profile, "LGSPHUB01")
        gateway.close()
    with pytest.raises(ValueError, match="unknown payment profile"):
        build_gateway("vnpay")
    with pytest.raises(TypeError):
        build_gateway("napas", PayGovSettings())


# ------------------------------------------------------------------ NAPAS
def test_napas_valid_notifications(napas: PaymentGateway) -> None:
    paid = napas.parse_callback(napas_body(napas_data(napas_result())), now=NOW)
    assert (paid.profile, paid.merchant, paid.reference, paid.outcome) == ("napas", "LGSPHUB01", REF, "paid")
    assert (paid.amount, paid.currency, paid.gateway_txn_id, paid.occurred_at) == (
        150000,
        "VND",
        "503112345678",
        SETTLED,
    )
    declined = napas_result(result="FAILURE", response={"gatewayCode": "DECLINED"}, transaction={"id": "1"})
    failed = napas.parse_callback(napas_body(napas_data(declined)), now=NOW)
    assert (failed.outcome, failed.code, failed.gateway_txn_id) == ("failed", "DECLINED", "1")


def test_napas_form_encoded_notification_is_read(napas: PaymentGateway) -> None:
    body = b"napasResult=" + quote(napas_body(napas_data(napas_result())).decode()).encode()
    assert napas.parse_callback(body, now=NOW).outcome == "paid"


def test_napas_tampered_data_keeps_no_signature(napas: PaymentGateway) -> None:
    genuine = napas_data(napas_result())
    tampered = napas_data(napas_result(order={"id": REF, "amount": 1, "currency": "VND"}))
    checksum = hashlib.sha256((genuine + NAPAS_SECRET).encode()).hexdigest()
    assert reason(napas, napas_body(tampered, checksum=checksum)) == "bad_signature"
    assert reason(napas, napas_body(genuine[:-4] + "AAA=", checksum=checksum)) == "bad_signature"


@pytest.mark.parametrize(
    "body",
    [
        napas_body(napas_data(napas_result()), checksum="0" * 64),
        napas_body(napas_data(napas_result()), secret="another-merchant-secret"),
        napas_body(napas_data(napas_result()), checksum=""),
    ],
    ids=["zeros", "other-secret", "empty"],
)
def test_napas_wrong_checksum(napas: PaymentGateway, body: bytes) -> None:
    assert reason(napas, body) == "bad_signature"


def test_napas_stale_and_future_notifications(napas: PaymentGateway) -> None:
    body = napas_body(napas_data(napas_result()))
    assert reason(napas, body, now=SETTLED + timedelta(seconds=901)) == "stale"
    assert napas.parse_callback(body, now=SETTLED + timedelta(seconds=899)).outcome == "paid"
    assert reason(napas, body, now=SETTLED - timedelta(seconds=301)) == "stale"  # 5 min of clock skew at most
    strict = build_gateway("napas", NapasSettings(callback_max_age_seconds=60))
    assert reason(strict, body, now=SETTLED + timedelta(seconds=61)) == "stale"


def test_napas_other_merchant(napas: PaymentGateway) -> None:
    body = napas_body(napas_data(napas_result(merchantId="OTHERSHOP")))
    assert reason(napas, body) == "wrong_merchant"


def signed_text(text: str) -> bytes:
    return napas_body(text)  # a correct checksum over garbage: only decoding can refuse it


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"data": "abc"}',
        b'{"data": 1, "checksum": "x"}',
        signed_text("***not base64***"),
        signed_text(base64.b64encode(b"not json").decode()),
        signed_text(base64.b64encode(b'{"other": {}}').decode()),
        signed_text(base64.b64encode(b'{"paymentResult": []}').decode()),
        signed_text(napas_data(napas_result(order={"id": REF, "amount": "12.5", "currency": "VND"}))),
        signed_text(napas_data(napas_result(order={"amount": 150000}))),
        signed_text(napas_data(napas_result(order="x"))),
        signed_text(napas_data(napas_result(timeOfRecord="yesterday"))),
        signed_text(napas_data(napas_result(response={"gatewayCode": "PENDING"}))),
    ],
    ids=[
        "text",
        "not-utf8",
        "array",
        "no-checksum",
        "data-not-string",
        "not-base64",
        "base64-not-json",
        "no-paymentResult",
        "paymentResult-list",
        "fractional-amount",
        "no-order-id",
        "order-not-object",
        "bad-time",
        "not-final",
    ],
)
def test_napas_malformed(napas: PaymentGateway, body: bytes) -> None:
    assert reason(napas, body) == "malformed"


# ------------------------------------------------------------------ PayGov
def test_paygov_valid_callbacks(paygov: PaymentGateway) -> None:
    paid = paygov.parse_callback(paygov_body(), now=NOW)
    assert (paid.profile, paid.reference, paid.outcome, paid.amount, paid.code) == ("paygov", REF, "paid", 150000, "00")
    assert (paid.currency, paid.gateway_txn_id, paid.occurred_at) == ("VND", "TXN0001", SETTLED)
    failed = paygov.parse_callback(paygov_body(MaLoi="24"), now=NOW)
    assert (failed.outcome, failed.code) == ("failed", "24")


def test_paygov_callback_is_verified_over_the_text_as_signed(paygov: PaymentGateway) -> None:
    """A gateway that signs NFD text (decomposed tones) is verified over what it signed; the hub
    normalises to NFC only after the check (checking the NFC form would refuse it as forged)."""
    nfd = unicodedata.normalize("NFD", "Thanh toán lệ phí hồ sơ")
    assert nfd != unicodedata.normalize("NFC", nfd)
    paid = paygov.parse_callback(paygov_body(ThongTinGiaoDich=nfd), now=NOW)
    assert paid.outcome == "paid"


def test_paygov_default_clock_is_used_without_now(paygov: PaymentGateway) -> None:
    assert paygov.parse_callback(paygov_body()).outcome == "paid"  # the fixture's clock: one minute later


def test_paygov_tampered_fields_and_wrong_mac(paygov: PaymentGateway) -> None:
    genuine = json.loads(paygov_body())
    for field, value in (("SoTien", "1500000"), ("MaLoi", "00 "), ("MaThamChieu", REF[:-1] + "2")):
        assert reason(paygov, json.dumps(genuine | {field: value}).encode()) == "bad_signature"
    assert reason(paygov, paygov_body(mac="0" * 64)) == "bad_signature"
    assert reason(paygov, paygov_body(secret="another-partner-secret")) == "bad_signature"


def test_paygov_stale_callback(paygov: PaymentGateway) -> None:
    assert reason(paygov, paygov_body(), now=SETTLED + timedelta(seconds=86_401)) == "stale"
    assert reason(paygov, paygov_body(ThoiGianGD="20250223084500")) == "stale"  # a two-day-old replay


def test_paygov_accepts_a_confirm_signing_the_opening_time_of_a_slow_payer(paygov: PaymentGateway) -> None:
    """The confirm's ThoiGianGD (the one time it signs) may be the INIT time: a citizen who took twenty
    minutes on the payment page must not be refused as stale (the old 15-minute window did)."""
    twenty_minutes_later = SETTLED + timedelta(minutes=20)
    assert paygov.parse_callback(paygov_body(), now=twenty_minutes_later).outcome == "paid"
    assert PayGovSettings().callback_max_age_seconds == 86_400  # documented: HUB_PAYGOV_CALLBACK_MAX_AGE_SECONDS


def test_paygov_accepted_confirms_are_answered_with_their_own_fields_echoed(paygov: PaymentGateway) -> None:
    for code in ("00", "24"):  # a failed payment is answered with its own code
        body = paygov_body(MaLoi=code)
        result = paygov.parse_callback(body, now=NOW)
        sent = json.loads(body)
        for answer in ("ok", "already_settled"):
            status, reply = paygov.callback_reply(answer, result)
            assert status == 200 and reply == {
                "MaLoi": code,
                "MoTaLoi": "",
                "MaDoiTac": "LGSPHUB01",
                "ThoiGianGD": sent["ThoiGianGD"],
                "MaXacThuc": sent["MaXacThuc"],
            }
        assert paygov.callback_reply("amount_mismatch", result)[1]["MaLoi"] == "04"  # refusals: the hub's own code
    echo_off = build_gateway("paygov", PayGovSettings(reply_echo=False))
    assert echo_off.callback_reply("ok", result)[1]["MaXacThuc"] != sent["MaXacThuc"]


def test_paygov_other_partner(paygov: PaymentGateway) -> None:
    assert reason(paygov, paygov_body(MaDoiTac="OTHERPARTNER")) == "wrong_merchant"


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'"CONFIRM"',
        json.dumps({"MaLoi": "00"}).encode(),
        json.dumps(json.loads(paygov_body()) | {"SoTien": None}).encode(),
        json.dumps(json.loads(paygov_body()) | {"MaLoi": True}).encode(),
        paygov_body(SoTien="abc"),
        paygov_body(ThoiGianGD="2025-02-25 08:45"),
        paygov_body(ThoiGianGD="20251345084500"),
    ],
    ids=["broken", "string", "missing-fields", "null-amount", "bool-code", "amount", "time-format", "time-calendar"],
)
def test_paygov_malformed(paygov: PaymentGateway, body: bytes) -> None:
    assert reason(paygov, body) == "malformed"


# ------------------------------------------------------------------ replies
def test_napas_replies() -> None:
    gateway = build_gateway("napas")
    assert gateway.callback_reply("ok") == (200, {"result": "SUCCESS", "message": "accepted"})
    assert gateway.callback_reply("already_settled")[0] == 200
    expected: dict[CallbackAnswer, tuple[int, str]] = {
        "unknown_order": (404, "ORDER_NOT_FOUND"),
        "amount_mismatch": (409, "AMOUNT_MISMATCH"),
        "bad_signature": (401, "INVALID_CHECKSUM"),
        "stale": (401, "EXPIRED"),
        "malformed": (400, "INVALID_REQUEST"),
        "wrong_merchant": (403, "MERCHANT_MISMATCH"),
        "unavailable": (503, "SERVER_BUSY"),
    }
    for answer, (status, cause) in expected.items():
        got_status, body = gateway.callback_reply(answer)
        assert (got_status, body["result"], body["error"]["cause"]) == (status, "ERROR", cause)


def test_paygov_replies_are_signed_with_their_codes(paygov: PaymentGateway) -> None:
    codes = {}
    for answer in CALLBACK_ANSWERS:
        status, body = paygov.callback_reply(answer)
        assert status == 200 and set(body) == {"MaLoi", "MoTaLoi", "MaDoiTac", "ThoiGianGD", "MaXacThuc"}
        joined = f"{body['MaLoi']}|LGSPHUB01|{body['ThoiGianGD']}|{PAYGOV_SECRET}"
        assert body["MaXacThuc"] == hashlib.sha256(joined.encode()).hexdigest()
        assert body["ThoiGianGD"] == "20250225084600"
        codes[answer] = body["MaLoi"]
    assert codes == {
        "ok": "00",
        "already_settled": "02",
        "unknown_order": "01",
        "amount_mismatch": "04",
        "bad_signature": "97",
        "stale": "98",
        "malformed": "99",
        "wrong_merchant": "03",
        "unavailable": "96",
    }


def test_reply_codes_are_configurable_and_unknown_answers_refused() -> None:
    settings = PayGovSettings(reply_codes=PayGovSettings().reply_codes | {"already_settled": "00"})
    assert build_gateway("paygov", settings).callback_reply("already_settled")[1]["MaLoi"] == "00"
    for profile in PROFILES:
        with pytest.raises(ValueError):
            build_gateway(profile).callback_reply(cast(CallbackAnswer, "maybe"))  # not an answer, on purpose


def test_rejections_carry_no_secret() -> None:
    gateway = build_gateway("napas")
    with pytest.raises(CallbackRejected) as caught:
        gateway.parse_callback(napas_body(napas_data(napas_result()), checksum="0" * 64), now=NOW)
    assert NAPAS_SECRET not in str(caught.value)
    assert hashlib.sha256((napas_data(napas_result()) + NAPAS_SECRET).encode()).hexdigest() not in str(caught.value)
