"""Known-answer vectors: fixed inputs and the exact signature, computed once by hand with hashlib/hmac
(the computation is in each comment), so a change of field order, separator, encoding or key fails here."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

from connectors.payment_napas import NapasSettings, PayGovSettings
from connectors.payment_napas.napas import NapasProfile
from connectors.payment_napas.paygov import PayGovProfile
from connectors.payment_napas.signing import napas_checksum_hmac, napas_checksum_sha256, paygov_mac, same_digest

from .conftest import NAPAS_SECRET, PAYGOV_SECRET, at, order

REF = "01JDKAT0000000000000000001"
T0 = at("2025-02-25T01:30:00")  # 08:30:00 in Vietnam (UTC+7)

# hashlib.sha256("INIT|1.0.6|LGSPHUB01|01JDKAT0000000000000000001|150000|PAY|1|1|vi-VN|VND|PAYMENT|"
#                "Lệ phí cấp giấy phép|20250225083000|127.0.0.1|paygov-dev-secret-key".encode()).hexdigest()
INIT_MAC = "b04c5c499ee9c68d4c895d63b391c94838725fb75e38d2fe8b311a8d25e5bd4a"
# hashlib.sha256("QUERY|1.0.6|LGSPHUB01|01JDKAT0000000000000000001|20250225083000|paygov-dev-secret-key"
#                .encode()).hexdigest()
QUERY_MAC = "f48e25339fbe4f1092e49534f840ef8a37bd22ab90160ee82b5abe4d00f5a01d"
# hashlib.sha256("CONFIRM|00|LGSPHUB01|01JDKAT0000000000000000001|150000|VND|TXN0001|PAYMENT|20250225084500|"
#                "Lệ phí cấp giấy phép|paygov-dev-secret-key".encode()).hexdigest()
CONFIRM_MAC = "5c03a9f5bc4afa2aea0bd87eb4201a948c5ad39e539c655701d76ad16bf50017"
# hashlib.sha256("00|LGSPHUB01|20250225084600|paygov-dev-secret-key".encode()).hexdigest()
REPLY_OK_MAC = "8d36dd0f324fce6f037f0b4dbedf2b7df5863ea8d6744ea986e66d913d3b9464"

# base64.b64encode(b'{"paymentResult":{"merchantId":"LGSPHUB01","order":{"id":"01JDKAT0000000000000000001",'
#   b'"amount":"150000","currency":"VND"},"response":{"gatewayCode":"APPROVED"},"result":"SUCCESS",'
#   b'"transaction":{"id":"1","receipt":"503112345678"},"timeOfRecord":"2025-02-25T01:45:00.000Z"}}')
NAPAS_DATA = (
    "eyJwYXltZW50UmVzdWx0Ijp7Im1lcmNoYW50SWQiOiJMR1NQSFVCMDEiLCJvcmRlciI6eyJpZCI6IjAxSkRLQVQwMDAwMDAwMDAwMDAwMDAw"
    "MDAxIiwiYW1vdW50IjoiMTUwMDAwIiwiY3VycmVuY3kiOiJWTkQifSwicmVzcG9uc2UiOnsiZ2F0ZXdheUNvZGUiOiJBUFBST1ZFRCJ9LCJy"
    "ZXN1bHQiOiJTVUNDRVNTIiwidHJhbnNhY3Rpb24iOnsiaWQiOiIxIiwicmVjZWlwdCI6IjUwMzExMjM0NTY3OCJ9LCJ0aW1lT2ZSZWNvcmQi"
    "OiIyMDI1LTAyLTI1VDAxOjQ1OjAwLjAwMFoifX0="
)
# hashlib.sha256((NAPAS_DATA + "napas-dev-client-secret").encode()).hexdigest()
NAPAS_SHA = "d2ebfc1f7112a8af7b55a75cd5ca2bcf70c84172be12f7809d300a9b285cca81"
# hmac.new(b"napas-dev-client-secret", NAPAS_DATA.encode(), hashlib.sha256).hexdigest()
NAPAS_HMAC = "4fe33483eeaed5f297bcbef15807a0776c4025c15c3cd91bcf44c860bb036ba0"

PAYGOV_CONFIRM = {
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
    "MaXacThuc": CONFIRM_MAC,
}


def paygov() -> PayGovProfile:
    return PayGovProfile(PayGovSettings())


def test_the_vectors_use_the_default_development_secrets() -> None:
    assert PayGovSettings().secret_key.get_secret_value() == PAYGOV_SECRET
    assert NapasSettings().client_secret.get_secret_value() == NAPAS_SECRET


def test_paygov_init_mac_known_answer() -> None:
    body = paygov().init_body(order(REF, opened_at=T0), T0)
    assert body["MaXacThuc"] == INIT_MAC
    assert body["ThoiGianGD"] == "20250225083000"  # Vietnam time, 24-hour clock
    assert (body["LoaiBanTin"], body["PhienBan"], body["SoTien"], body["Ip"]) == (
        "INIT",
        "1.0.6",
        "150000",
        "127.0.0.1",
    )


def test_paygov_query_mac_known_answer() -> None:
    body = paygov().query_body(REF, T0)
    assert body == {
        "LoaiBanTin": "QUERY",
        "PhienBan": "1.0.6",
        "MaDoiTac": "LGSPHUB01",
        "MaThamChieu": REF,
        "ThoiGianGD": "20250225083000",
        "MaXacThuc": QUERY_MAC,
    }


def test_paygov_confirm_mac_known_answer_is_accepted() -> None:
    result = paygov().parse_callback(json.dumps(PAYGOV_CONFIRM).encode(), at("2025-02-25T01:50:00"))
    assert (result.reference, result.outcome, result.amount, result.gateway_txn_id) == (REF, "paid", 150000, "TXN0001")
    assert result.occurred_at == at("2025-02-25T01:45:00") and result.occurred_at.utcoffset() is not None


def test_paygov_reply_mac_known_answer() -> None:
    profile = paygov()
    status, body = profile.callback_reply("ok", at("2025-02-25T01:46:00"))
    assert status == 200
    assert body == {
        "MaLoi": "00",
        "MoTaLoi": "Thành công (success)",
        "MaDoiTac": "LGSPHUB01",
        "ThoiGianGD": "20250225084600",
        "MaXacThuc": REPLY_OK_MAC,
    }


def test_paygov_mac_depends_on_order_and_separator() -> None:
    assert paygov_mac(["INIT", "1.0.6"], "s") == hashlib.sha256(b"INIT|1.0.6|s").hexdigest()
    assert paygov_mac(["INIT", "1.0.6"], "s") != paygov_mac(["INIT1.0.6"], "s")
    assert paygov_mac(["INIT", "1.0.6"], "s") != paygov_mac(["1.0.6", "INIT"], "s")


def test_napas_checksum_known_answers() -> None:
    assert napas_checksum_sha256(NAPAS_DATA, NAPAS_SECRET) == NAPAS_SHA
    assert napas_checksum_hmac(NAPAS_DATA, NAPAS_SECRET) == NAPAS_HMAC
    assert NapasProfile(NapasSettings()).checksum(NAPAS_DATA) == NAPAS_SHA  # the default scheme
    assert NapasProfile(NapasSettings(checksum_scheme="hmac-sha256")).checksum(NAPAS_DATA) == NAPAS_HMAC


def test_napas_known_notification_is_accepted_with_either_scheme() -> None:
    now = at("2025-02-25T01:50:00")
    for scheme, checksum in (("sha256", NAPAS_SHA), ("hmac-sha256", NAPAS_HMAC.upper())):
        # the loop's names are the two schemes the Literal allows
        profile = NapasProfile(NapasSettings(checksum_scheme=scheme))  # type: ignore[arg-type]
        body = json.dumps({"data": NAPAS_DATA, "checksum": checksum}).encode()
        result = profile.parse_callback(body, now)
        assert (result.reference, result.outcome, result.amount, result.currency) == (REF, "paid", 150000, "VND")
        assert (result.gateway_txn_id, result.code, result.occurred_at) == (
            "503112345678",
            "APPROVED",
            T0.replace(minute=45),
        )


def test_napas_encode_notification_round_trips() -> None:
    profile = NapasProfile(NapasSettings())
    decoded = json.loads(base64.b64decode(NAPAS_DATA))["paymentResult"]
    body = profile.encode_notification(decoded)
    assert body["checksum"] == napas_checksum_sha256(body["data"], NAPAS_SECRET)
    assert json.loads(base64.b64decode(body["data"])) == {"paymentResult": decoded}


def test_same_digest_is_case_insensitive_and_rejects_non_strings() -> None:
    assert same_digest(NAPAS_SHA, NAPAS_SHA.upper())
    assert not same_digest(NAPAS_SHA, NAPAS_SHA[:-1] + "0")
    assert not same_digest(NAPAS_SHA, None)
    assert not same_digest(NAPAS_SHA, "")


def test_times_are_vietnam_local_on_a_24_hour_clock() -> None:
    afternoon = datetime.fromisoformat("2025-02-25T08:05:09+00:00")  # 15:05:09 in Vietnam
    assert paygov().query_body(REF, afternoon)["ThoiGianGD"] == "20250225150509"
