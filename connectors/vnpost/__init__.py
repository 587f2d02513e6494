"""VNPost — bưu chính công ích (BCCI): pickup of dossiers, delivery of results. Implements the postal
port (``hub.postal.port.PostalGateway``) and the ledger connector for postal commands.

Capability card
---------------
- **Protocol**: REST/JSON (PascalCase ``MOrder``), three variants (``HUB_VNPOST_VARIANT``):
  ``direct`` MITC "VNPost NGSP" (``/apiVNPostNGSP/p1.0/order/{post,cancel,tracking}``), ``lgsp`` a
  province LGSP in front (``{HUB_VNPOST_LGSP_PATH}?service=<operation>``, operation names
  ``HUB_VNPOST_LGSP_OP_ORDER/_CANCEL/_TRACKING``, body adds ``ItemCode`` and ``FlagConfig``),
  ``myvnpost`` the MyVNPost-style API (paths ``HUB_VNPOST_MYVNPOST_*_PATH``, [I]).
- **Auth** (``auth.py``): direct = OAuth2 client credentials with HTTP Basic, token cached until
  ``expires_in`` less ``token_skew``; lgsp = static ``access_token`` header or the LGSP's token service
  (``HUB_VNPOST_LGSP_AUTH``); myvnpost = ``GetAccessToken {TenDangNhap, MatKhau}`` -> ``h-token``
  (lifetime ``myvnpost_token_ttl`` [I]). A 401 renews the token once and repeats the call once.
- **Operations**: create order (``OrderNumber`` = MaHoSo; sender/receiver from the kind: delivery
  agency -> citizen, pickup citizen -> agency), cancel (refused once picked up), the tracking feed by
  cursor ``lastId`` (24 zeros first; HAL ``_embedded["rh:doc"]``, ``_id.$oid``).
- **Messages** (``connector.py``): ``postal.order.requested``, ``postal.order.cancel_requested``.
- **Idempotency key**: (CustomerCode, OrderNumber). A repeated order is answered ``Status "101"``
  (already registered, [C] for the LGSP; [I] and configurable, ``HUB_VNPOST_ALREADY_CODES``, for the
  others) and is DELIVERED, so a redelivery in doubt is harmless; ``partner_ref`` is the ItemCode or
  the OrderNumber.
- **Answers** (``errors.classify``, one function, per variant): ``Status "100"`` success [C LGSP],
  ``IsSuccess`` for MyVNPost, codes in ``HUB_VNPOST_RETRYABLE_CODES`` retried; 401 renew; 403, 408,
  425, 429, 5xx, no answer, unreadable body retry; other refusals permanent.
- **Status tables** (``config.py``, ``HUB_VNPOST_STATUS_TABLE``): direct and lgsp use the MITC feed's
  codes ([I] except 4 = delivered, read from OpenCPS); myvnpost the commercial 0-22 table (14 =
  delivered; names [C], mapping [I]). Unknown codes map to no status and change nothing.
- **Not done here** (the hub's side): unit codes -> VNPost ids (``hub.postal.units``), the waybill
  pool, the poller and its durable cursor, the push callback.
- **Mock** (``mock.py``, ``python -m connectors.vnpost.mock --port 8104``): all three variants at
  once; refuses a missing, wrong or expired token, invalid orders (required fields, non-integer or
  unknown unit ids, district 0 unless ``--accept-district-zero``), an unknown or reused waybill, a
  second order (``101``), cancel after pickup (``104``); pages the feed; simulates parcels (delivered,
  returned after failed attempts, pickup failed then collected, second attempt) on a clock tests
  move; faults: duplicated and out-of-order events, a lost feed page, 5xx rate, latency, slow token
  endpoint, outage window; waybill pools (``/_mock/waybills``). **It cannot know**: VNPost's real
  province/district ids (it accepts the hub's table, placeholders included), the real refusal codes
  other than 100/101, the direct feed's status codes, whether district 0 is accepted, token lifetimes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.agencies.port import Agency
from hub.postal.port import INITIAL_CURSOR, TrackingEvent

from . import translate
from .client import VnpostClient
from .config import VARIANTS, VnpostSettings
from .connector import MESSAGE_TYPES, NAME, VnpostConnector

KIND = "delivery"  # a hub.ports.Connector (its queue once the postal service is wired in)

__all__ = [
    "KIND",
    "MESSAGE_TYPES",
    "NAME",
    "VARIANTS",
    "VnpostClient",
    "VnpostConnector",
    "VnpostSettings",
    "build_connector",
    "build_gateways",
    "parse_push",
]


def build_connector(settings: VnpostSettings | None = None, **deps: Any) -> VnpostConnector:
    """The connector for the composition root; opens no connection until the first delivery.
    ``deps`` may hand ``gateways`` (customer code -> ``PostalGateway``) for per-agency partners."""
    return VnpostConnector(settings or VnpostSettings(), gateways=deps.get("gateways"))


def build_gateways(settings: VnpostSettings | None, agencies: Iterable[Agency]) -> dict[str, VnpostClient]:
    """One client per VNPost customer code: the default customer's (``settings``), and each agency's
    with its own variant (``PostalSender.variant``); other settings shared. No connection yet."""
    base = settings or VnpostSettings()
    out: dict[str, VnpostClient] = {base.customer_code: VnpostClient(base)}
    for agency in agencies:
        sender = agency.postal
        if sender is None or sender.customer_code in out:
            continue
        variant = sender.variant if sender.variant in VARIANTS else base.variant
        own = base.model_copy(update={"customer_code": sender.customer_code, "variant": variant})
        out[sender.customer_code] = VnpostClient(own)
    return out


def parse_push(settings: VnpostSettings | None, body: Any) -> tuple[TrackingEvent, ...]:
    """Tracking events an LGSP pushes: a feed page (HAL ``_embedded["rh:doc"]``), one entry, or a list
    of entries, read as the feed is (``translate.parse_feed``) with the variant's status table."""
    s = settings or VnpostSettings()
    if isinstance(body, list):
        body = {"_embedded": {"rh:doc": body}}
    elif isinstance(body, dict) and "_embedded" not in body:
        body = {"_embedded": {"rh:doc": [body]}}
    if not isinstance(body, dict):
        raise ValueError("a push is a JSON object or a list of entries")
    return translate.parse_feed(body, s.table(), INITIAL_CURSOR, s.customer_code).events
