"""Pure translation between the postal port's models and VNPost's JSON; golden-file tested.

- ``order_body``: the ``MOrder`` fields (PascalCase) of MITC's ``postOrder``; the sender and the
  receiver follow from the order's kind (delivery: agency -> citizen; pickup: citizen -> agency,
  ``CODAmount`` 0). The LGSP variant adds ``ItemCode`` (when pre-allocated) and ``FlagConfig``; the
  MyVNPost variant adds ``ItemCode`` when given; the direct MITC API has no ``ItemCode`` field.
- ``cancel_body``, ``tracking_params``: ``cancelOrder(CustomerCode, OrderNumber)`` and the feed's
  query (``CustomerCode``, ``pagesize``, ``lastId``).
- ``parse_feed``: a HAL/RESTHeart page ``{_embedded: {"rh:doc": [...]}}`` into a ``TrackingPage``.
  ``rh:doc`` may be a list, a single object (the one-element case of JSON-XML bridges), empty or
  absent. ``_id`` is ``{"$oid": hex}`` or a plain string. ``StatusCode`` may be a number or a string.
  An entry with no readable ``_id`` makes the page unreadable (``ValueError``); an entry with an id
  but no readable order number or ``EventTime`` is passed over (its id in ``skipped``), so one bad
  entry cannot stop the feed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hub.canonical import VN_TZ
from hub.postal.port import ITEM_CODE_PATTERN, CancelRequest, PostalOrderRequest, TrackingEvent, TrackingPage
from hub.postal.rules import ParcelStatus

from .errors import normalise_code, scrub

_HEX24 = re.compile(r"[0-9a-fA-F]{24}")
_S10 = re.compile(ITEM_CODE_PATTERN)
_COMPACT = re.compile(r"\d{14}")
_DMY = re.compile(r"(\d{2})/(\d{2})/(\d{4})[ T](\d{2}):(\d{2})(?::(\d{2}))?")


def order_body(order: PostalOrderRequest, variant: str, flag_config: int = 2) -> dict[str, Any]:
    s, r = order.sender, order.receiver
    body: dict[str, Any] = {
        "CustomerCode": order.customer_code,
        "OrderNumber": order.order_number,
        "CODAmount": order.cod_amount,
        "SenderProvince": s.province_id,
        "SenderDistrict": s.district_id,
        "SenderAddress": s.address,
        "SenderName": s.name,
        "SenderEmail": s.email,
        "SenderTel": s.phone,
        "SenderDesc": order.note,
        "Description": order.description,
        "ReceiverName": r.name,
        "ReceiverAddress": r.address,
        "ReceiverTel": r.phone,
        "ReceiverProvince": r.province_id,
        "ReceiverDistrict": r.district_id,
        "ReceiverEmail": r.email,
    }
    if variant == "lgsp":
        if order.item_code:
            body["ItemCode"] = order.item_code
        body["FlagConfig"] = flag_config
    elif variant == "myvnpost" and order.item_code:
        body["ItemCode"] = order.item_code
    return body


def answer_item_code(body: Any) -> str | None:
    """The waybill number VNPost gave an order sent without one, if its answer names it (``ItemCode``,
    the field of the feed and of the LGSP body, §3.1/§3.2 [I]: the answers of the public samples
    carry only ``Status``/``Message``; the feed's entries carry it whatever the answer says)."""
    item = body.get("ItemCode") if isinstance(body, dict) else None
    return item if isinstance(item, str) and _S10.fullmatch(item) else None


def cancel_body(request: CancelRequest) -> dict[str, Any]:
    return {"CustomerCode": request.customer_code, "OrderNumber": request.order_number}


def tracking_params(customer_code: str, cursor: str, page_size: int) -> dict[str, str]:
    return {"CustomerCode": customer_code, "pagesize": str(page_size), "lastId": cursor}


def parse_time(raw: Any) -> datetime | None:
    """EventTime as VNPost may send it: ISO 8601, ``yyyyMMddHHmmss``, ``dd/MM/yyyy HH:mm[:ss]``, or
    epoch milliseconds. Naive times are Asia/Ho_Chi_Minh. None when unreadable."""
    try:
        if isinstance(raw, int) and not isinstance(raw, bool):
            return datetime.fromtimestamp(raw / 1000, UTC)
        if not isinstance(raw, str):
            return None
        text = raw.strip()
        if _COMPACT.fullmatch(text):
            value = datetime.strptime(text, "%Y%m%d%H%M%S")
        elif m := _DMY.fullmatch(text):
            d, mo, y, h, mi, sec = m.groups()
            value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec or 0))
        else:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value


def _feed_id(doc: Mapping[str, Any]) -> str | None:
    raw = doc.get("_id")
    if isinstance(raw, dict):
        raw = raw.get("$oid")
    return raw.lower() if isinstance(raw, str) and _HEX24.fullmatch(raw) else None


def _text(value: Any, limit: int) -> str | None:
    text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    return text[:limit] or None


def parse_feed(
    body: Mapping[str, Any], table: Mapping[str, ParcelStatus | None], cursor: str, customer_code: str
) -> TrackingPage:
    embedded = body.get("_embedded")
    docs: Any = embedded.get("rh:doc") if isinstance(embedded, dict) else None
    if isinstance(docs, dict):
        docs = [docs]
    if docs is None:
        docs = []
    if not isinstance(docs, list):
        raise ValueError("_embedded.rh:doc is neither a list nor an object")
    events: list[TrackingEvent] = []
    skipped: list[str] = []
    next_cursor = cursor
    for doc in docs:
        feed_id = _feed_id(doc) if isinstance(doc, dict) else None
        if feed_id is None:
            raise ValueError("a feed entry without a readable _id.$oid")
        next_cursor = max(next_cursor, feed_id)  # hex of one width: text order is numeric order
        order_number, when = _text(doc.get("OrderNumber"), 100), parse_time(doc.get("EventTime"))
        raw = normalise_code(doc.get("StatusCode"))
        if order_number is None or when is None or raw is None:
            skipped.append(feed_id)
            continue
        notes = [scrub(doc.get(k)) for k in ("StatusMessage", "Notes")]
        events.append(
            TrackingEvent(
                feed_id=feed_id,
                customer_code=_text(doc.get("CustomerCode"), 50) or customer_code,
                order_number=order_number,
                item_code=_text(doc.get("ItemCode"), 20),
                raw_status=raw,
                status=table.get(raw),
                occurred_at=when,
                post_office=_text(doc.get("POSID"), 50),
                note=" — ".join(n for n in notes if n)[:500] or None,
            )
        )
    return TrackingPage(events=tuple(events), next_cursor=next_cursor, skipped=tuple(skipped))
