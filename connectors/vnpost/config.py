"""Settings of the VNPost connector, read from ``HUB_VNPOST_*`` variables.

Three ways a province reaches VNPost (``variant``; see external-systems.md §3):

- ``direct``: MITC's "VNPost NGSP" API behind a WSO2 API manager. OAuth2 client credentials:
  ``POST {token_path}`` form ``grant_type=client_credentials`` with ``Authorization: Basic
  base64(consumer_key:consumer_secret)``; calls send ``Authorization: <token_type> <access_token>``.
- ``lgsp``: the province's LGSP in front (Thanh Hóa 2024-25; OCPS ``lgspActive``). One URL,
  ``{lgsp_path}?service=<operation>`` with the operation names as settings; auth either a static
  ``access_token`` header (``lgsp_auth="static"``) or the LGSP's token service (``"token_service"``:
  client credentials as above, then ``Authorization: Bearer``). Order body adds ``ItemCode`` and
  ``FlagConfig``.
- ``myvnpost``: the MyVNPost-style API: ``POST {myvnpost_token_path}`` JSON ``{TenDangNhap,
  MatKhau}`` -> ``{IsSuccess, Token}``; calls send the ``h-token`` header; answers carry ``IsSuccess``.

Answer codes and the status table are configuration: [I] marks inferences (VNPost's guides are not
public). Environment values of tuples and mappings are JSON (``HUB_VNPOST_ALREADY_CODES='["101"]'``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.ports import DeliveryPolicy
from hub.postal.rules import ParcelStatus

Variant = Literal["direct", "lgsp", "myvnpost"]
VARIANTS: tuple[Variant, ...] = ("direct", "lgsp", "myvnpost")
S = ParcelStatus

# The MITC / LGSP feed's StatusCode -> canonical status. [I] except "4": OCPS marks a dossier
# "viaPostal=4" on StatusCode 4, read as delivered; the full table is not public.
MITC_STATUS_TABLE: dict[str, ParcelStatus | None] = {
    "1": S.ACCEPTED,
    "2": S.PICKED_UP,
    "3": S.IN_TRANSIT,
    "4": S.DELIVERED,
    "5": S.OUT_FOR_DELIVERY,
    "6": S.DELIVERY_FAILED,
    "7": S.RETURNING,
    "8": S.RETURNED,
    "9": S.CANCELLED,
    "10": S.PICKUP_FAILED,
}
# VNPost's commercial 0-22 table [C] (names from the MYVNP client's state data); the mapping to
# canonical statuses is ours [I]. None: not a parcel status (draft, COD paid, partial return).
COMMERCIAL_STATUS_TABLE: dict[str, ParcelStatus | None] = {
    "0": None,  # Save draft
    "1": S.ACCEPTED,  # Created
    "2": S.ACCEPTED,  # Deliver the message to the postman
    "3": S.ACCEPTED,  # Processing
    "4": S.ACCEPTED,  # Receiving goods (postman on the way to collect)
    "5": S.PICKUP_FAILED,  # Retrieving goods failed
    "6": S.PICKED_UP,  # Received goods successfully
    "7": S.PICKED_UP,  # The post office has received the goods
    "8": S.PICKUP_FAILED,  # Retrieve failed
    "9": S.CANCELLED,  # Cancel collection
    "10": S.IN_TRANSIT,  # Being transported
    "11": S.IN_TRANSIT,  # Arrived at the post office
    "12": S.OUT_FOR_DELIVERY,  # Delivering
    "13": S.IN_TRANSIT,  # Forward
    "14": S.DELIVERED,  # Delivered
    "15": S.DELIVERY_FAILED,  # Delivery failed
    "16": S.RETURNING,  # Wait for the transfer (return) to complete
    "17": S.RETURNING,  # Completely approved (return approved)
    "18": S.RETURNING,  # Start transferring (return)
    "19": S.RETURNED,  # Completed successfully (returned)
    "20": None,  # 1 part has been returned
    "21": None,  # Paid COD
    "22": S.CANCELLED,  # Cancel delivery
}
DEFAULT_TABLES: dict[Variant, dict[str, ParcelStatus | None]] = {
    "direct": MITC_STATUS_TABLE,
    "lgsp": MITC_STATUS_TABLE,
    "myvnpost": COMMERCIAL_STATUS_TABLE,
}


class VnpostSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_VNPOST_", extra="ignore")

    variant: Variant = Field(default="lgsp", description="direct (MITC) | lgsp (province LGSP) | myvnpost.")
    base_url: str = Field(default="http://127.0.0.1:8104", description="Partner base URL, no trailing slash.")
    customer_code: str = Field(default="BCCI_H56", description="Default VNPost customer code (CustomerCode).")
    page_size: int = Field(default=50, ge=1, le=100, description="Tracking feed page size (pagesize).")

    timeout: float = Field(default=10.0, gt=0, description="Seconds per partner call.")
    max_attempts: int = Field(default=12, ge=1)
    max_age: float = Field(default=48 * 3600.0, gt=0)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=600.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset: float = Field(default=15.0, gt=0)
    batch_size: int = Field(default=20, ge=1, le=500, description="Items per deliver() (one call each).")
    token_skew: float = Field(default=30.0, ge=0, description="Renew a token this many seconds before it expires.")

    # direct: MITC VNPost NGSP (prod: api.mitc.vn/token, /apiVNPostNGSP/p1.0/order/{post,cancel,tracking})
    token_path: str = "/token"  # noqa: S105 - a path
    order_path: str = "/apiVNPostNGSP/p1.0/order/post"
    cancel_path: str = "/apiVNPostNGSP/p1.0/order/cancel"
    tracking_path: str = "/apiVNPostNGSP/p1.0/order/tracking"
    consumer_key: str = "lgsp-dev-consumer-key"
    consumer_secret: SecretStr = SecretStr("lgsp-dev-consumer-secret")

    # lgsp: {lgsp_path}?service=<operation>
    lgsp_path: str = "/lgsp/vnpost"
    lgsp_auth: Literal["static", "token_service"] = "static"
    lgsp_access_token: SecretStr = SecretStr("lgsp-dev-access-token")
    lgsp_token_path: str = "/lgsp/token"  # noqa: S105 - a path
    lgsp_consumer_key: str = "lgsp-dev-lgsp-key"
    lgsp_consumer_secret: SecretStr = SecretStr("lgsp-dev-lgsp-secret")
    lgsp_op_order: str = Field(default="OrderPost", description="[I] operation name (lgspVnpostOrderPost).")
    lgsp_op_cancel: str = Field(default="OrderCancel", description="[I] operation name (lgspVnpostOrderCancel).")
    lgsp_op_tracking: str = Field(default="OrderTracking", description="[I] (lgspVnpostOrderTracking).")
    flag_config: int = Field(default=2, ge=0, le=99, description="FlagConfig sent by Thanh Hóa's LGSP client.")

    # myvnpost: GetAccessToken -> h-token
    myvnpost_token_path: str = "/api/api/MobileAuthentication/GetAccessToken"  # noqa: S105
    myvnpost_order_path: str = "/api/api/BCCI/CreateOrder"  # [I]
    myvnpost_cancel_path: str = "/api/api/BCCI/CancelOrder"  # [I]
    myvnpost_tracking_path: str = "/api/api/BCCI/OrderTracking"  # [I]
    myvnpost_username: str = "lgsp"
    myvnpost_password: SecretStr = SecretStr("lgsp-dev-myvnpost-password")
    myvnpost_token_ttl: float = Field(default=3600.0, gt=0, description="[I] h-token lifetime (not in the answer).")

    # answers ([I]: Status "100" success and "101" already registered are [C] for the LGSP variant)
    success_codes: tuple[str, ...] = ("100",)
    already_codes: tuple[str, ...] = Field(default=("101",), description="Already registered: idempotent success.")
    retryable_codes: tuple[str, ...] = Field(default=(), description="Partner codes to retry (e.g. a busy code).")
    status_table: dict[str, ParcelStatus | None] | None = Field(
        default=None, description="StatusCode -> canonical status; default: the variant's table."
    )

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def table(self) -> dict[str, ParcelStatus | None]:
        return dict(self.status_table) if self.status_table is not None else dict(DEFAULT_TABLES[self.variant])

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy.of(self)
