"""Answer bodies of the trace and operator endpoints (``hub/api/trace.py``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

STATES = "queued|delivering|held|retrying|delivered|dead"
MESSAGE_ID = r"^[0-9A-Za-z]{1,26}$"


class MessageSummary(BaseModel):
    id: str
    type: str = Field(description="e.g. dossier.status.changed")
    source: str = Field(description="The client (or `hub`) that produced it.")
    key: str = Field(description="Ordering key (the dossier code, MaHoSo).")
    status: int | None = Field(default=None, description="The dossier status (TrangThaiHoSo), for status changes.")
    occurred_at: str | None
    state: str = Field(description=STATES.replace("|", ", "))
    attempts: int
    accepted_at: str | None
    delivered_at: str | None
    next_attempt_at: str | None
    last_error: str | None
    partner_ref: str | None


class Attempt(BaseModel):
    attempt: int
    started_at: str | None
    finished_at: str | None
    outcome: str | None = Field(description="delivered, retry, dead, taken_over; null while in progress.")
    detail: str | None
    partner_ref: str | None
    response: str | None = Field(description="The partner's answer (the portal's), when kept.")
    worker: str | None


class MessageDetail(MessageSummary):
    connector: str
    correlation_id: str
    updated_at: str | None
    payload: dict[str, Any] = Field(description="The message as accepted, personal data masked.")
    history: list[Attempt]


class PaymentEvent(BaseModel):
    at: str | None
    kind: str = Field(description="open, callback, query, announce")
    outcome: str
    detail: str | None


class TimelinePayment(BaseModel):
    id: str
    state: str
    amount: int
    currency: str
    profile: str
    created_at: str | None
    settled_at: str | None
    history: list[PaymentEvent]


class ParcelEvent(BaseModel):
    occurred_at: str | None = Field(description="EventTime.")
    status: str | None = Field(description="Canonical status (null: a code not in the variant's table).")
    raw_status: str
    verdict: str = Field(description="applied, stale, after_final, unknown_status (duplicates are not kept)")
    source: str = Field(description="poll or push")


class TimelineParcel(BaseModel):
    id: str = Field(description="The postal order (GET /v1/postal/orders/{id}).")
    kind: str = Field(description="pickup or delivery")
    item_code: str | None
    status: str | None
    created_at: str | None
    history: list[ParcelEvent]


class Timeline(BaseModel):
    dossier_code: str
    messages: list[MessageSummary]
    payments: list[TimelinePayment]
    parcels: list[TimelineParcel] = Field(default_factory=list, description="Its postal orders (VNPost parcels).")


class MessageList(BaseModel):
    messages: list[MessageSummary]


class Replayed(BaseModel):
    id: str
    state: str = Field(description="The message's state after the replay (queued).")
