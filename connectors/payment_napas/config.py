"""Settings of the two gateway profiles: ``HUB_NAPAS_*`` and ``HUB_PAYGOV_*`` variables.

Defaults point at the mock gateway (``python -m connectors.payment_napas.mock``, 127.0.0.1:8102,
NAPAS under ``/napas``, PayGov under ``/paygov``) with development credentials the mock shares,
and at the hub's callback route ``/v1/callbacks/payment/<profile>`` on 127.0.0.1:8000.
Values marked [I] are inferred (the gateways' guides are not public) and can be changed here.
Tuple values are JSON lists in the environment, e.g. ``HUB_NAPAS_PAID_CODES='["APPROVED"]'``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MOCK_URL = "http://127.0.0.1:8102"
HUB_CALLBACK_URL = "http://127.0.0.1:8000/v1/callbacks/payment/{profile}"


class _Common(BaseSettings):
    timeout: float = Field(default=10.0, gt=0, description="Seconds per gateway call (connect, read, write).")
    callback_max_age_seconds: float = Field(
        default=900.0, gt=0, description="A callback whose transaction time is older than this is stale."
    )
    callback_max_skew_seconds: float = Field(
        default=300.0, ge=0, description="[I] How far in the future a callback's time may be (clock skew)."
    )
    query_attempts: int = Field(default=3, ge=1, le=10, description="Tries of a status query on retryable errors.")
    query_backoff_seconds: float = Field(default=0.5, ge=0, description="First wait between query tries (jittered).")
    query_backoff_max_seconds: float = Field(default=5.0, ge=0)


class NapasSettings(_Common):
    """NAPAS Payment v3 (via intermediary): OAuth2 token, PUT order/transaction, GET order status,
    result notification ``{data: base64(JSON), checksum}``."""

    model_config = SettingsConfigDict(env_prefix="HUB_NAPAS_", extra="ignore")

    base_url: str = Field(default=MOCK_URL + "/napas", description="Gateway root, no trailing slash.")
    token_path: str = Field(default="/api/oauth/token", description="[C] OAuth2 token endpoint (…/api/oauth/token).")
    api_path: str = Field(default="/api/rest/version/1/merchant", description="[I] Prefix of /{merchantId}/order/…")
    merchant_id: str = Field(default="LGSPHUB01", description="Merchant id (merchantId in the path and notifications).")
    client_id: str = "lgsp-hub"
    client_secret: SecretStr = Field(
        default=SecretStr("napas-dev-client-secret"),
        description="OAuth2 client secret; [C] also the key of the notification checksum (clientSecret).",
    )
    grant_type: str = "client_credentials"
    token_renew_margin_seconds: float = Field(
        default=60.0, ge=0, description="Renew a cached token this long before it expires."
    )
    api_operation: str = Field(
        default="PURCHASE", description="[I] apiOperation of a hosted-page order ([C] PURCHASE_OTP is card-direct)."
    )
    transaction_id: str = Field(default="1", description="[I] transId in …/order/{orderId}/transaction/{transId}.")
    channel: str = Field(default="WEB", description="[I] channel of the order.")
    currency: str = "VND"
    checksum_scheme: Literal["sha256", "hmac-sha256"] = Field(
        default="sha256",
        description="[C] sha256: hex SHA-256 of data + clientSecret (himlam NapasPayV3Security.checksumSha256); "
        "hmac-sha256: hex HMAC-SHA256(clientSecret, data), for intermediaries that use it [I].",
    )
    paid_codes: tuple[str, ...] = Field(default=("APPROVED", "APPROVED_AUTO"), description="[I] gatewayCode = paid.")
    pending_codes: tuple[str, ...] = Field(
        default=("PENDING", "SUBMITTED", "AUTHENTICATION_IN_PROGRESS"), description="[I] gatewayCode = not final yet."
    )
    retryable_causes: tuple[str, ...] = Field(default=("SERVER_BUSY",), description="[I] error.cause to retry.")
    in_doubt_causes: tuple[str, ...] = Field(default=("SERVER_FAILED",), description="[I] error.cause = in doubt.")
    callback_url: str = Field(default=HUB_CALLBACK_URL.format(profile="napas"), description="order.notificationUrl.")

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


class PayGovSettings(_Common):
    """PayGov / DvcPayment message format v1.0.6: INIT and QUERY with ``MaXacThuc``, callback with ``MaLoi``.

    Keys of the field configuration [C THH DvcPaymentSettings]: ``InitUrl, CheckConfirmUrl, AccessToken,
    InitPaymentSecretKey, InitPayMentParnerCode`` = ``base_url + init_path``, ``base_url + query_path``,
    ``access_token``, ``secret_key``, ``partner_code``.
    """

    model_config = SettingsConfigDict(env_prefix="HUB_PAYGOV_", extra="ignore")

    base_url: str = Field(default=MOCK_URL + "/paygov", description="Gateway root, no trailing slash.")
    init_path: str = "/init"
    query_path: str = "/query"
    access_token: SecretStr = Field(
        default=SecretStr("paygov-dev-access-token"), description="[C] Static token, sent as Authorization: Bearer."
    )
    partner_code: str = Field(default="LGSPHUB01", description="MaDoiTac (partner code).")
    secret_key: SecretStr = Field(
        default=SecretStr("paygov-dev-secret-key"), description="Shared secret appended last in MaXacThuc."
    )
    version: str = Field(default="1.0.6", description="PhienBan (message format version).")
    client_ip: str = Field(default="127.0.0.1", description="Ip sent in INIT (THH sends the server's IPv4).")
    service_code: str = Field(default="2", description='MaDichVu: "2" = fees and charges of a procedure [C].')
    fee_type: str = Field(default="Phi", description='[I] LoaiPhiLePhi of each fee item (THH sends "Phi").')
    # TKThuHuong, MaNHThuHuong, TenTKThuHuong and TenDonVi are per agency, not settings: the agency
    # directory's PayGov section (`lgsp agencies`), handed in on each order (PaymentOrder.beneficiary).
    anonymous_payer_id: str = Field(
        default="000000000",
        description="[C] SoCMNDNguoiNop when the payer's ID number is not given (THH sends 000000000).",
    )
    procedure_name_limit: int = Field(
        default=250, ge=10, description="[C] TenTTHC longer than this is cut to its first 200 characters + '...' (THH)."
    )
    send_return_url: bool = Field(default=True, description="[I] Send UrlTraVe (return URL; unsigned) in INIT.")
    paid_codes: tuple[str, ...] = Field(default=("00",), description='[C] MaLoi "00" = paid.')
    query_ok_codes: tuple[str, ...] = Field(default=("00",), description='[C] QUERY MaLoi "00": the query succeeded.')
    query_paid_states: tuple[str, ...] = Field(default=("1",), description="[C] TrangThaiGD 1 = paid.")
    query_failed_states: tuple[str, ...] = Field(default=("4",), description="[C] TrangThaiGD 4 = failed.")
    query_pending_states: tuple[str, ...] = Field(
        default=("3",), description="[C] TrangThaiGD 3 = pending (the platform does not know the final state yet)."
    )
    query_not_found_codes: tuple[str, ...] = Field(default=("01",), description="[I] MaLoi of QUERY = unknown order.")
    callback_max_age_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="[I] Freshness window of a confirm, judged on the ThoiGianGD it signs, which may be the "
        "opening (INIT) time: it covers the citizen's time on the payment page and the gateway's resends "
        "(THH relies on the signature and idempotency alone; a replay of a settled payment changes nothing).",
    )
    reply_echo: bool = Field(
        default=True,
        description="[C] Answer an accepted confirm by echoing its MaLoi, ThoiGianGD and MaXacThuc (THH), MoTaLoi "
        "empty; false: a reply signed by the hub with its own codes (reply_codes).",
    )
    retryable_codes: tuple[str, ...] = Field(default=(), description="[I] INIT error_code values to retry.")
    reply_codes: dict[str, str] = Field(
        default={
            "ok": "00",
            "already_settled": "02",
            "unknown_order": "01",
            "amount_mismatch": "04",
            "wrong_merchant": "03",
            "bad_signature": "97",
            "stale": "98",
            "malformed": "99",
            "unavailable": "96",
        },
        description="[I] MaLoi of the hub's reply per answer (VNPay-style IPN codes; PayGov's are not public).",
    )
    callback_url: str = Field(
        default=HUB_CALLBACK_URL.format(profile="paygov"),
        description="The hub's confirm URL; [I] registered with PayGov (INIT carries none), used by the mock.",
    )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path


Settings = NapasSettings | PayGovSettings
