"""The mock VNPost's state: customers, waybill pools, orders, the tracking feed and the parcel
simulator, behind one lock. Variant-neutral: ``mock.py`` renders it in each variant's shapes.

The simulator walks each order through a scenario of canonical statuses, one step every
``step_seconds`` of the mock's clock (real time for demos, or frozen and moved only by
``advance`` in tests). Events are written to the feed lazily, whenever anyone looks (``tick``), in
event-time order, each under a new, increasing ObjectId-like ``_id`` — unless the feed faults say
otherwise: ``reorder_rate`` swaps adjacent events (out of order), ``duplicate_rate`` writes a copy
under a new ``_id``.
"""

from __future__ import annotations

import heapq
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field

from hub.mockkit import FaultSettings
from hub.postal.port import s10
from hub.postal.rules import NEXT, ParcelStatus, can_follow, cancel_decision

S = ParcelStatus
SCENARIOS: dict[str, tuple[ParcelStatus, ...]] = {
    "delivered": (S.ACCEPTED, S.PICKED_UP, S.IN_TRANSIT, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED),
    "returned": (
        S.ACCEPTED,
        S.PICKED_UP,
        S.IN_TRANSIT,
        S.OUT_FOR_DELIVERY,
        S.DELIVERY_FAILED,
        S.OUT_FOR_DELIVERY,
        S.DELIVERY_FAILED,
        S.RETURNING,
        S.RETURNED,
    ),
    "pickup_failed": (S.ACCEPTED, S.PICKUP_FAILED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED),
    "second_attempt": (
        S.ACCEPTED,
        S.PICKED_UP,
        S.IN_TRANSIT,
        S.OUT_FOR_DELIVERY,
        S.DELIVERY_FAILED,
        S.OUT_FOR_DELIVERY,
        S.DELIVERED,
    ),
}
POST_OFFICES = ("100000", "110000", "440000", "700000")  # [I] POSID values (bưu cục)
assert all(can_follow(a, b) for steps in SCENARIOS.values() for a, b in zip((None, *steps), steps, strict=False))


class Faults(FaultSettings):
    """Fault injection. Rates are probabilities per call or per event; ``/_mock/*`` is never faulted."""

    error_5xx_rate: float = Field(
        default=0.0, ge=0, le=1, description="Partner calls answered 502 (before any change)."
    )
    latency_ms: int = Field(default=0, ge=0, le=60_000, description="Added to every partner call.")
    token_latency_ms: int = Field(
        default=0, ge=0, le=60_000, description="Added to token calls (a slow token endpoint)."
    )
    outage_seconds: float = Field(
        default=0.0, ge=0, description="Every partner call answers 503 for this long, from now."
    )
    duplicate_rate: float = Field(
        default=0.0, ge=0, le=1, description="Feed events also written again under a new _id."
    )
    reorder_rate: float = Field(default=0.0, ge=0, le=1, description="Adjacent feed events written in swapped order.")
    lose_page_rate: float = Field(
        default=0.0, ge=0, le=1, description="Feed pages computed, then the answer lost (502)."
    )
    one_as_object: bool = Field(default=False, description="A one-entry page renders rh:doc as an object, not a list.")


@dataclass(frozen=True)
class MockOptions:
    customers: tuple[str, ...] = ("BCCI_H56", "BCCI_H22", "BCCI_H01")
    step_seconds: float = 30.0  # simulated time between two statuses of a parcel
    realtime: bool = True  # False: the clock moves only by advance() (tests)
    token_ttl_seconds: float = 3600.0  # mock-clock seconds a token lives
    accept_district_zero: bool = False  # public samples send district 0; whether VNPost accepts it is unknown
    default_scenario: str = "delivered"
    waybill_prefix: str = "EB"
    max_page_size: int = 100


class Clock:
    """The mock's clock: real time plus an offset, or frozen (moved only by ``advance``)."""

    def __init__(self, realtime: bool, start: datetime | None = None) -> None:
        self.realtime, self._base, self._mono, self.offset = realtime, start or datetime.now(UTC), time.monotonic(), 0.0

    def now(self) -> datetime:
        running = time.monotonic() - self._mono if self.realtime else 0.0
        return self._base + timedelta(seconds=running + self.offset)

    def advance(self, seconds: float) -> datetime:
        self.offset += seconds
        return self.now()


@dataclass
class Order:
    customer: str
    number: str
    body: dict[str, Any]
    variant: str
    created_at: datetime
    scenario: str
    item_code: str | None = None
    step: int = 0  # index in the scenario of the last status written to the feed
    status: ParcelStatus = S.ACCEPTED

    @property
    def steps(self) -> tuple[ParcelStatus, ...]:
        return SCENARIOS[self.scenario]

    def view(self) -> dict[str, Any]:
        return {
            "CustomerCode": self.customer,
            "OrderNumber": self.number,
            "ItemCode": self.item_code,
            "variant": self.variant,
            "scenario": self.scenario,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class Event:
    oid: str
    customer: str
    number: str
    item_code: str | None
    status: ParcelStatus
    at: datetime
    post_office: str
    copy: bool = False


@dataclass
class Pool:
    issued: set[str] = field(default_factory=set)
    in_use: dict[str, str] = field(default_factory=dict)  # item code -> order number


class MockState:
    def __init__(self, options: MockOptions, faults: Faults | None = None) -> None:
        self.options = options
        self.lock = threading.RLock()
        self.reset(faults)

    def reset(self, faults: Faults | None = None) -> None:
        with self.lock:
            self.clock = Clock(self.options.realtime)
            self.set_faults(faults or Faults(), changed=Faults.model_fields)
            self.orders: dict[tuple[str, str], Order] = {}
            self.feed: list[Event] = []
            self.by_customer: dict[str, tuple[list[str], list[Event]]] = {}  # ids (ascending) and events
            self.due: list[tuple[datetime, int, Order]] = []  # (next step time, seq, order): a heap
            self.pools: dict[str, Pool] = {c: Pool() for c in self.options.customers}
            self.tokens: dict[str, float] = {}  # token -> expiry (mock-clock timestamp)
            self.counter = 0
            self.serial = 10_000_000
            self.calls: dict[str, int] = {}
            self.injected: dict[str, int] = {}

    def set_faults(self, faults: Faults, changed: Collection[str]) -> None:
        self.faults = faults
        if "seed" in changed:
            self.rng = random.Random(faults.seed)
        if "outage_seconds" in changed:
            self.outage_until = time.monotonic() + faults.outage_seconds

    def count(self, what: str, into: str = "calls") -> None:
        bucket = self.calls if into == "calls" else self.injected
        bucket[what] = bucket.get(what, 0) + 1

    def roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    # ---------------------------------------------------------------- tokens (on the mock clock)
    def issue_token(self, prefix: str) -> str:
        self.counter += 1
        token = f"{prefix}-{self.counter}-{self.rng.getrandbits(64):016x}"
        self.tokens[token] = self.clock.now().timestamp() + self.options.token_ttl_seconds
        return token

    def token_valid(self, token: str | None) -> bool:
        return token is not None and self.tokens.get(token, 0.0) > self.clock.now().timestamp()

    # ---------------------------------------------------------------- waybills
    def allocate(self, customer: str, count: int) -> list[str]:
        pool = self.pools[customer]
        codes = []
        for _ in range(count):
            self.serial += 1
            codes.append(s10(self.options.waybill_prefix, self.serial))
        pool.issued.update(codes)
        return codes

    # ---------------------------------------------------------------- orders
    def _oid(self) -> str:
        """An ObjectId-like feed id: insertion time (never the event's time) and a counter, so ids
        only grow, whatever the order events are written in."""
        self.counter += 1
        return f"{int(self.clock.now().timestamp()) & 0xFFFFFFFF:08x}{self.counter:016x}"

    def _append(self, event: Event) -> None:
        self.feed.append(event)
        ids, events = self.by_customer.setdefault(event.customer, ([], []))
        ids.append(event.oid)
        events.append(event)

    def _write(self, order: Order, status: ParcelStatus, at: datetime) -> None:
        event = Event(self._oid(), order.customer, order.number, order.item_code, status, at, POST_OFFICES[0])
        self._append(event)
        if self.roll(self.faults.duplicate_rate):
            self.count("duplicate", "injected")
            copy = Event(self._oid(), event.customer, event.number, event.item_code, status, at, event.post_office)
            copy.copy = True
            self._append(copy)

    def _schedule(self, order: Order) -> None:
        if order.status is not S.CANCELLED and order.step + 1 < len(order.steps):
            at = order.created_at + timedelta(seconds=self.options.step_seconds) * (order.step + 1)
            self.counter += 1
            heapq.heappush(self.due, (at, self.counter, order))

    def create(self, customer: str, number: str, body: dict[str, Any], variant: str, item_code: str | None) -> Order:
        now = self.clock.now()
        if not item_code:  # VNPost numbers a parcel ordered without a waybill number (…WithoutItemCode, §3.2)
            (item_code,) = self.allocate(customer, 1)
        order = Order(customer, number, body, variant, now, self.options.default_scenario, item_code)
        self.orders[(customer, number)] = order
        self.pools[customer].in_use[item_code] = number
        self._write(order, S.ACCEPTED, now)
        self._schedule(order)
        return order

    def cancel(self, order: Order) -> str:
        """ "cancelled", "already" or "refused" (after pickup)."""
        self.tick()
        decision = cancel_decision(order.status).value
        if decision == "allowed":
            order.status, order.step = S.CANCELLED, len(order.steps)
            if order.item_code:  # [I] a cancelled order's waybill may be used again
                self.pools[order.customer].in_use.pop(order.item_code, None)
            self._write(order, S.CANCELLED, self.clock.now())
            return "cancelled"
        return "already" if decision == "already_cancelled" else "refused"

    def tick(self) -> None:
        """Write to the feed every status that is due by now, in event-time order (or faulted)."""
        now = self.clock.now()
        due: list[tuple[datetime, int, Order, ParcelStatus]] = []
        while self.due and self.due[0][0] <= now:
            at, seq, order = heapq.heappop(self.due)
            if order.status is S.CANCELLED or self.orders.get((order.customer, order.number)) is not order:
                continue  # cancelled, or replaced by a new order of the same number
            order.step += 1
            previous, order.status = order.status, order.steps[order.step]
            assert order.status in NEXT[previous]
            due.append((at, seq, order, order.status))
            self._schedule(order)
        due.sort(key=lambda d: (d[0], d[1]))
        held: dict[int, tuple[datetime, Order, ParcelStatus]] = {}  # out of order: written after the next one
        for at, _, order, status in due:
            n = id(order)
            if n not in held and self.roll(self.faults.reorder_rate):
                self.count("reorder", "injected")
                held[n] = (at, order, status)
                continue
            self._write(order, status, at)
            if n in held:
                late_at, late_order, late_status = held.pop(n)
                self._write(late_order, late_status, late_at)
        for late_at, late_order, late_status in held.values():
            self._write(late_order, late_status, late_at)

    def page(self, customer: str, last_id: str, size: int, order_number: str | None) -> tuple[list[Event], int]:
        self.tick()
        ids, events = self.by_customer.get(customer, ([], []))
        if order_number is None:
            start = bisect_right(ids, last_id)
            return events[start : start + size], len(events)
        mine = [e for e in events if e.number == order_number]
        return [e for e in mine if e.oid > last_id][:size], len(mine)

    def set_scenario(self, customer: str, number: str, scenario: str) -> Order:
        order = self.orders[(customer, number)]
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
        self.tick()
        if order.step != 0 or order.status is not S.ACCEPTED:
            raise ValueError("the parcel has moved already: a scenario is chosen before its first step")
        order.scenario = scenario
        return order

    def view(self) -> dict[str, Any]:
        self.tick()
        return {
            "clock": self.clock.now().isoformat(),
            "orders": [o.view() for o in self.orders.values()],
            "events": [
                {
                    "_id": e.oid,
                    "OrderNumber": e.number,
                    "status": e.status.value,
                    "at": e.at.isoformat(),
                    "copy": e.copy,
                }
                for e in self.feed
            ],
            "waybills": {c: {"issued": len(p.issued), "in_use": len(p.in_use)} for c, p in self.pools.items()},
            "calls": dict(self.calls),
            "faults_injected": dict(self.injected),
        }
