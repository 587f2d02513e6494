"""The postal domain's rules, free of any I/O: the canonical parcel statuses, which follow which,
how a tracking event applies to what the hub knows of a parcel, and whether an order may still be
cancelled. The hub's poller, its callback route and the mock's simulator all use these.

How an event applies (``apply``), precisely:

1. An event whose partner status code has no canonical status (``status is None``) changes nothing
   (``unknown_status``).
2. An event whose feed id was seen before changes nothing (``duplicate``); so does one with the
   same status and event time as the current state (a copy under another feed id).
3. Once the parcel is in a final status (delivered, returned, cancelled) nothing changes it
   (``after_final``).
4. Otherwise events are ordered by the key (phase of the status, event time, tie rank of the status)
   and an event applies only if its key is greater than the current state's (``applied``), else
   it is ``stale``. The phase is the step of the journey (1 accepted / pickup failed, 2 picked up,
   3 in transit, 4 out for delivery / delivery failed, 5 returning, 6 final); within one phase the
   later event wins, so repeated delivery attempts (out for delivery → failed → out for delivery)
   are followed, and at the same instant "failed" outranks "trying".

For any journey that follows ``NEXT`` with increasing event times, the key strictly increases along
it, so the last event has the greatest key: whatever order and however many copies the feed
delivers its events in, the parcel ends in the journey's last status, and a late "in transit"
never overwrites "delivered". ``status_changed`` is true only when the status itself changed (a
second "in transit" from another post office updates the time, not the status).
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Literal, Protocol


class ParcelStatus(StrEnum):
    ACCEPTED = "accepted"  # VNPost registered the order
    PICKUP_FAILED = "pickup_failed"  # the postman could not collect it (will try again or be cancelled)
    PICKED_UP = "picked_up"  # collected from the sender (citizen, or the agency for a delivery)
    IN_TRANSIT = "in_transit"  # between post offices
    OUT_FOR_DELIVERY = "out_for_delivery"  # with the postman on the way to the receiver
    DELIVERY_FAILED = "delivery_failed"  # an attempt failed (nobody home, refused...)
    RETURNING = "returning"  # on its way back to the sender
    DELIVERED = "delivered"  # final: handed to the receiver
    RETURNED = "returned"  # final: back with the sender
    CANCELLED = "cancelled"  # final: cancelled before pickup


S = ParcelStatus
FINAL: frozenset[ParcelStatus] = frozenset({S.DELIVERED, S.RETURNED, S.CANCELLED})
PHASE: dict[ParcelStatus, int] = {
    S.ACCEPTED: 1,
    S.PICKUP_FAILED: 1,
    S.PICKED_UP: 2,
    S.IN_TRANSIT: 3,
    S.OUT_FOR_DELIVERY: 4,
    S.DELIVERY_FAILED: 4,
    S.RETURNING: 5,
    S.DELIVERED: 6,
    S.RETURNED: 6,
    S.CANCELLED: 6,
}
_TIE: dict[ParcelStatus, int] = {S.PICKUP_FAILED: 1, S.DELIVERY_FAILED: 1}
# The journeys a parcel can take: status -> the statuses that may follow it.
NEXT: dict[ParcelStatus, frozenset[ParcelStatus]] = {
    S.ACCEPTED: frozenset({S.PICKUP_FAILED, S.PICKED_UP, S.CANCELLED}),
    S.PICKUP_FAILED: frozenset({S.PICKUP_FAILED, S.PICKED_UP, S.CANCELLED}),
    S.PICKED_UP: frozenset({S.IN_TRANSIT}),
    S.IN_TRANSIT: frozenset({S.IN_TRANSIT, S.OUT_FOR_DELIVERY}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.DELIVERY_FAILED}),
    S.DELIVERY_FAILED: frozenset({S.OUT_FOR_DELIVERY, S.RETURNING}),
    S.RETURNING: frozenset({S.RETURNING, S.RETURNED}),
    S.DELIVERED: frozenset(),
    S.RETURNED: frozenset(),
    S.CANCELLED: frozenset(),
}
CANCELLABLE: frozenset[ParcelStatus] = frozenset({S.ACCEPTED, S.PICKUP_FAILED})

Verdict = Literal["applied", "duplicate", "stale", "after_final", "unknown_status"]


class StatusEvent(Protocol):
    """What the rules need of a tracking event (``port.TrackingEvent`` has it)."""

    @property
    def feed_id(self) -> str: ...
    @property
    def status(self) -> ParcelStatus | None: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True)
class ParcelState:
    """What the hub knows of a parcel: its status, when that was, and the event that said so."""

    status: ParcelStatus
    occurred_at: datetime
    feed_id: str

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True)
class Applied:
    state: ParcelState | None  # the state after the event (unchanged unless ``verdict == "applied"``)
    verdict: Verdict
    status_changed: bool = False  # a new status to announce (postal.status.changed)


def order_key(status: ParcelStatus, occurred_at: datetime) -> tuple[int, datetime, int]:
    """The key events are ordered by: phase, then event time, then the tie rank."""
    return PHASE[status], occurred_at, _TIE.get(status, 0)


def apply(current: ParcelState | None, event: StatusEvent, seen: Container[str] = ()) -> Applied:
    """Apply one tracking event to the current state (see the module docstring for the rule)."""
    status = event.status
    if status is None:
        return Applied(current, "unknown_status")
    if event.feed_id in seen or (
        current is not None and current.status is status and current.occurred_at == event.occurred_at
    ):
        return Applied(current, "duplicate")
    if current is not None and current.final:
        return Applied(current, "after_final")
    if current is not None and order_key(status, event.occurred_at) <= order_key(current.status, current.occurred_at):
        return Applied(current, "stale")
    new = ParcelState(status, event.occurred_at, event.feed_id)
    return Applied(new, "applied", current is None or current.status is not status)


def fold(events: Iterable[StatusEvent], current: ParcelState | None = None) -> ParcelState | None:
    """Apply events in the order given, ignoring feed ids seen earlier in the same run."""
    seen: set[str] = set()
    for event in events:
        current = apply(current, event, seen).state
        seen.add(event.feed_id)
    return current


def can_follow(previous: ParcelStatus | None, status: ParcelStatus) -> bool:
    """Whether ``status`` may come next on a parcel's journey (None: a new order, which is accepted)."""
    return status is S.ACCEPTED if previous is None else status in NEXT[previous]


class CancelDecision(Enum):
    ALLOWED = "allowed"
    ALREADY_CANCELLED = "already_cancelled"  # idempotent: nothing to do, and not an error
    REFUSED = "refused"  # picked up (or finished): the parcel is on its way


def cancel_decision(status: ParcelStatus | None) -> CancelDecision:
    """May an order whose parcel is in ``status`` (None: no tracking yet) still be cancelled?
    Only before the parcel is picked up."""
    if status is S.CANCELLED:
        return CancelDecision.ALREADY_CANCELLED
    if status is None or status in CANCELLABLE:
        return CancelDecision.ALLOWED
    return CancelDecision.REFUSED
