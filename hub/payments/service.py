"""Fee payments: opened through a gateway profile, settled exactly once by a callback or a
query, announced as ``payment.status.changed`` through the ledger and outbox.

States: ``opening`` (the gateway has not answered yet, or could not be reached) ->
``pending`` (the citizen can pay at ``payment_url``) | ``in_doubt`` (the create call may
have reached the gateway: only a query settles it, never a guess) | ``refused`` (the gateway
refused the order). ``pending`` | ``in_doubt`` -> ``paid`` | ``failed``, once, in the same
transaction as the events that announce it. ``in_doubt`` -> ``not_opened`` when the gateway
says it never saw the order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

import connectors
from connectors.payment_napas import (
    GatewayError,
    GatewayTimeout,
    PaymentGateway,
    PaymentOrder,
    PaymentResult,
    PermanentGatewayError,
)
from hub import metrics
from hub.canonical import MAX_AMOUNT_VND, MAX_TIMESTAMP_YEAR, MIN_TIMESTAMP_YEAR, DossierFeePaid, PaymentStatusChanged
from hub.db.schema import messages, payment_events, payments, subscriptions
from hub.envelope import new_id, utcnow
from hub.ledger import Ledger, NewMessage
from hub.messages import DOSSIER_FEE_PAID, DOSSIER_STATUS_CHANGED, PAYMENT_STATUS_CHANGED, version
from hub.resilience import CallBreaker

log = structlog.get_logger("hub.payments")

FINAL = ("paid", "failed", "refused", "not_opened")
UNSETTLED = ("pending", "in_doubt")
PAYMENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a ULID: payments.id
MAX_TXN_ID = 100  # payments.gateway_txn_id, DossierFeePaid.gateway_txn_id
MAX_CODE = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def unstorable(result: PaymentResult) -> str | None:
    """What of a verified gateway result the hub cannot store (the field and the rule, never the
    value), or None. Every field a result writes (the payment's transaction id, its history, the
    events announcing it) is bounded here, before anything is written: a result refused now is
    refused on every retry, in the gateway's format, instead of failing on a column."""
    if not 0 < result.amount <= MAX_AMOUNT_VND:
        return f"amount: must be between 1 and {MAX_AMOUNT_VND} VND"
    if not re.fullmatch(r"[A-Z]{3}", result.currency):
        return "currency: three capital letters (ISO 4217) expected"
    if len(result.gateway_txn_id) > MAX_TXN_ID or _CONTROL.search(result.gateway_txn_id):
        return f"transaction id: at most {MAX_TXN_ID} characters, no control characters"
    if len(result.code) > MAX_CODE or _CONTROL.search(result.code):
        return f"result code: at most {MAX_CODE} characters, no control characters"
    if not MIN_TIMESTAMP_YEAR <= result.occurred_at.year <= MAX_TIMESTAMP_YEAR:
        return f"time: between the years {MIN_TIMESTAMP_YEAR} and {MAX_TIMESTAMP_YEAR}"
    return None


def _text(value: str, limit: int) -> str:
    """A partner's text for the history: control characters dropped, bounded."""
    return _CONTROL.sub("", value)[:limit]


class PaymentConflict(Exception):
    """The client reference was used before for a different payment request."""


class GatewayUnavailable(Exception):
    """The gateway could not be reached (or its circuit is open); nothing was opened. Retry
    after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Opened:
    created: bool  # False: the client reference was seen before; this is that payment
    payment: dict[str, Any]


class Payments:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        gateway: Callable[[str], PaymentGateway],
        clock: Callable[[], datetime] = utcnow,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
    ):
        self.engine, self.ledger, self.gateway, self.now = engine, ledger, gateway, clock
        self.breaker_failures, self.breaker_reset = breaker_failures, breaker_reset
        self._breakers: dict[str, CallBreaker] = {}

    def breaker(self, profile: str) -> CallBreaker:
        """One circuit breaker per gateway: after ``breaker_failures`` calls in a row that got
        no answer, calls are refused at once for ``breaker_reset`` seconds, then one probes."""
        if profile not in self._breakers:
            self._breakers[profile] = CallBreaker(f"payment_{profile}", self.breaker_failures, self.breaker_reset)
        return self._breakers[profile]

    # ------------------------------------------------------------------ open
    def open(self, client_id: int, order: PaymentOrder, client_reference: str, profile: str, digest: str) -> Opened:
        """Open a payment at the gateway; the same client reference returns the same payment
        (re-asking the gateway only if it never answered: orders are keyed by our id)."""
        try:
            pid, created, done = self._record_request(client_id, order, client_reference, profile, digest)
        except IntegrityError:  # the same reference, sent twice at once: the other one inserted it
            pid, created, done = self._record_request(client_id, order, client_reference, profile, digest)
        if done:
            return Opened(False, self.get(pid) or {})
        order = _with_reference(order, pid)
        breaker = self.breaker(profile)
        wait = breaker.admit()
        if wait is not None:  # the gateway has been failing: do not call it; nothing opened
            self._after_open(pid, "opening", "unavailable", f"circuit open for {wait} s")
            raise GatewayUnavailable(f"the {profile} gateway is failing; circuit open", retry_after=wait)
        try:
            opened = self.gateway(profile).create_order(order)
        except GatewayTimeout as exc:
            breaker.failed()
            self._after_open(pid, "in_doubt", "in_doubt", f"the gateway did not answer in time: {exc}")
        except PermanentGatewayError as exc:
            breaker.succeeded()  # it answered
            self._after_open(pid, "refused", "refused", str(exc))
        except GatewayError as exc:  # surely not reached: the payment stays "opening"
            opened_for = breaker.failed()
            self._after_open(pid, "opening", "unavailable", str(exc))
            raise GatewayUnavailable(str(exc), retry_after=opened_for or 30) from exc
        else:
            breaker.succeeded()
            self._after_open(pid, "pending", "pending", None, url=opened.payment_url, ref=opened.gateway_ref)
        return Opened(created, self.get(pid) or {})

    def _record_request(
        self, client_id: int, order: PaymentOrder, client_reference: str, profile: str, digest: str
    ) -> tuple[str, bool, bool]:
        """(payment id, created now, nothing left to do) for this client reference."""
        now = self.now()
        with self.engine.begin() as c:
            row = c.execute(
                select(payments)
                .where(payments.c.client_id == client_id, payments.c.client_reference == client_reference)
                .with_for_update()
            ).first()
            if row is not None and row.request_hash != digest:
                raise PaymentConflict(client_reference)
            if row is not None:
                return row.id, False, row.state != "opening"
            pid = new_id()
            c.execute(
                insert(payments).values(
                    id=pid,
                    client_id=client_id,
                    client_reference=client_reference,
                    request_hash=digest,
                    profile=profile,
                    dossier_code=order.dossier_code,
                    amount=order.amount,
                    currency="VND",
                    details=_details(order),
                    state="opening",
                    created_at=now,
                    updated_at=now,
                )
            )
            _event(c, pid, now, "open", "requested", None)
        return pid, True, False

    def _after_open(
        self, pid: str, state: str, outcome: str, detail: str | None, url: str | None = None, ref: str | None = None
    ) -> None:
        now = self.now()
        with self.engine.begin() as c:
            values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": detail}
            if url is not None:
                values |= {"payment_url": url, "gateway_ref": ref}
            c.execute(update(payments).where(payments.c.id == pid).values(**values))
            _event(c, pid, now, "open", outcome, detail)
        log.info("payment.open", payment_id=pid, state=state)

    # ------------------------------------------------------------------ settle
    def settle(self, result: PaymentResult, source: str) -> str:
        """Apply a verified gateway result once. Returns the callback answer: ok,
        unknown_order, amount_mismatch, already_settled, or malformed (a result the hub cannot
        store: refused and recorded in the payment's history); only ``ok`` changed anything."""
        now = self.now()
        if not PAYMENT_ID.fullmatch(result.reference):  # not an id the hub gave: no payment to look up
            metrics.PAYMENT_SETTLEMENTS.labels(result.profile, source, "unknown_order").inc()
            return "unknown_order"
        refused = unstorable(result)
        with self.engine.begin() as c:
            row = c.execute(select(payments).where(payments.c.id == result.reference).with_for_update()).first()
            if row is None or row.profile != result.profile:
                answer = "unknown_order"
            elif refused is not None:
                answer = "malformed"
                _event(c, row.id, now, source, "unstorable", f"refused, cannot be stored: {refused}")
            elif result.amount != row.amount or result.currency != row.currency:
                answer = "amount_mismatch"
                _event(c, row.id, now, source, answer, f"gateway says {result.amount} {result.currency}")
            elif row.state not in UNSETTLED:
                answer = "already_settled"
                _event(c, row.id, now, source, answer, f"result {result.outcome}; payment is {row.state}")
            else:  # the one change, with its history and its events: one transaction
                answer = "ok"
                c.execute(
                    update(payments)
                    .where(payments.c.id == row.id)
                    .values(
                        state=result.outcome,
                        gateway_txn_id=result.gateway_txn_id,
                        settled_at=now,
                        updated_at=now,
                        last_error=None,
                    )
                )
                detail = f"code {result.code}, transaction {result.gateway_txn_id}"
                announced = self._announce(c, {**row._mapping, "state": result.outcome, "settled_at": now}, result)
                c.execute(
                    insert(payment_events),
                    [
                        _event_row(row.id, now, source, result.outcome, detail),
                        # the trace finds the messages of a payment through this event
                        *([_event_row(row.id, now, "announce", "queued", json.dumps(announced))] if announced else []),
                    ],
                )
        metrics.PAYMENT_SETTLEMENTS.labels(result.profile, source, answer).inc()
        log.info("payment.settle", payment_id=result.reference, source=source, answer=answer, outcome=result.outcome)
        return answer

    def _announce(self, c: Connection, payment: dict[str, Any], result: PaymentResult) -> list[dict[str, str]]:
        """In the settling transaction: ``payment.status.changed`` for every subscription to it,
        and, when paid, ``dossier.fee.paid`` for the national portal. Returns what it queued."""
        event = event_payload(payment)
        subs = c.execute(  # only the opening client's subscriptions: a client hears of its own payments
            select(subscriptions.c.id, subscriptions.c.event_types).where(
                subscriptions.c.client_id == payment["client_id"], subscriptions.c.disabled_at.is_(None)
            )
        )
        items = [
            NewMessage(
                type=PAYMENT_STATUS_CHANGED,
                key=f"{sub.id}:{payment['dossier_code']}",  # one receiver gets one dossier's events in order
                occurred_at=result.occurred_at,
                natural_key=f"{payment['id']}:{payment['state']}:{sub.id}",
                connector="webhooks",
                schema_version=version(PAYMENT_STATUS_CHANGED),
                payload={"subscription_id": sub.id, "event": event},
                correlation_id=payment["id"],
            )
            for sub in subs
            if PAYMENT_STATUS_CHANGED in sub.event_types
        ]
        if payment["state"] == "paid":
            items.append(self._fee_paid(c, payment, result))
        if not items:
            return []
        accepted, _ = self.ledger.add(c, "hub", items)
        return [{"type": it.type, "message_id": a.message_id} for it, a in zip(items, accepted, strict=True)]

    def _fee_paid(self, c: Connection, payment: dict[str, Any], result: PaymentResult) -> NewMessage:
        """The portal follow-up: a progress entry for the payment, and the dossier marked paid
        online when the hub knows it (its latest status change, delivered or not)."""
        latest = c.execute(
            select(messages.c.payload)
            .where(messages.c.key == payment["dossier_code"], messages.c.type == DOSSIER_STATUS_CHANGED)
            .order_by(messages.c.occurred_at.desc(), messages.c.id.desc())
            .limit(1)
        ).scalar()
        details = payment["details"]
        fact = DossierFeePaid(
            dossier_code=payment["dossier_code"],
            agency_code=details["agency_code"],
            payment_id=payment["id"],
            paid_at=result.occurred_at,
            amount=payment["amount"],
            profile=payment["profile"],
            gateway_txn_id=result.gateway_txn_id,
            fee_items=details["fee_items"],
            dossier=latest,
        )
        return NewMessage(
            type=DOSSIER_FEE_PAID,
            key=fact.dossier_code,  # the dossier's ordering key: in order with its status changes
            occurred_at=fact.paid_at,
            natural_key=fact.natural_key(),
            connector=connectors.connector_for(DOSSIER_FEE_PAID),
            schema_version=version(DOSSIER_FEE_PAID),
            payload=fact.model_dump(mode="json"),
            correlation_id=payment["id"],
        )

    # ------------------------------------------------------------------ reconcile
    def reconcile(self, older_than: float, limit: int = 100) -> int:
        """Ask the gateway about payments left pending or in doubt for ``older_than`` seconds
        (a callback missed or never sent) and settle them the way a callback would."""
        cutoff = self.now() - timedelta(seconds=older_than)
        with self.engine.connect() as c:
            due = c.execute(
                select(payments.c.id, payments.c.profile, payments.c.state)
                .where(payments.c.state.in_(UNSETTLED), payments.c.updated_at < cutoff)
                .order_by(payments.c.updated_at)
                .limit(limit)
            ).all()
        settled = 0
        for p in due:
            breaker = self.breaker(p.profile)
            if breaker.admit() is not None:
                continue  # the gateway is failing: ask again on a later run
            try:
                status = self.gateway(p.profile).query(p.id)
            except GatewayError as exc:
                breaker.failed()
                log.warning("payment.query_failed", payment_id=p.id, error=type(exc).__name__)
                continue
            breaker.succeeded()
            if status.state in ("paid", "failed") and status.amount is not None:
                result = PaymentResult(
                    profile=p.profile,
                    merchant=self.gateway(p.profile).merchant,
                    reference=p.id,
                    outcome=status.state,
                    amount=status.amount,
                    currency=status.currency or "VND",
                    gateway_txn_id=status.gateway_txn_id or "",
                    occurred_at=self.now(),
                    code=status.code,
                )
                settled += self.settle(result, "query") == "ok"
                continue
            self._touch(p.id, p.state, status.state, status.code)
        return settled

    def _touch(self, pid: str, state: str, gateway_state: str, code: str) -> None:
        now = self.now()
        new_state = "not_opened" if state == "in_doubt" and gateway_state == "unknown" else state
        with self.engine.begin() as c:
            c.execute(
                update(payments)
                .where(payments.c.id == pid, payments.c.state == state)
                .values(state=new_state, updated_at=now)
            )
            _event(c, pid, now, "query", gateway_state, f"code {_text(code, MAX_CODE)}")

    # ------------------------------------------------------------------ read
    def get(self, pid: str) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            row = c.execute(select(payments).where(payments.c.id == pid)).first()
            if row is None:
                return None
            events = c.execute(
                select(payment_events).where(payment_events.c.payment_id == pid).order_by(payment_events.c.id)
            ).all()
        return {**row._mapping, "events": [dict(e._mapping) for e in events]}


def event_payload(p: dict[str, Any]) -> dict[str, Any]:
    """The ``payment.status.changed`` event (hub.canonical.PaymentStatusChanged) of a payment."""
    return PaymentStatusChanged(
        payment_id=p["id"],
        client_reference=p["client_reference"],
        dossier_code=p["dossier_code"],
        state=p["state"],
        amount=p["amount"],
        currency=p["currency"],
        profile=p["profile"],
        settled_at=p["settled_at"],
    ).model_dump(mode="json")


def _event_row(pid: str, at: datetime, kind: str, outcome: str, detail: str | None) -> dict[str, Any]:
    return {"payment_id": pid, "at": at, "kind": kind, "outcome": outcome, "detail": detail}


def _event(c: Connection, pid: str, at: datetime, kind: str, outcome: str, detail: str | None) -> None:
    c.execute(insert(payment_events).values(**_event_row(pid, at, kind, outcome, detail)))


def _details(order: PaymentOrder) -> dict[str, Any]:
    return {
        "procedure_code": order.procedure_code,
        "agency_code": order.agency_code,
        "description": order.description,
        "fee_items": [{"code": f.code, "name": f.name, "amount": f.amount} for f in order.fee_items],
        "return_url": order.return_url,
    }


def _with_reference(order: PaymentOrder, reference: str) -> PaymentOrder:
    return replace(order, reference=reference)


def reconcile_forever(payments: Payments, every: float, older_than: float, stop: Any) -> None:
    """The reconciliation job (run by the relay process): settle what callbacks missed."""
    while not stop.wait(every):
        try:
            n = payments.reconcile(older_than)
        except SQLAlchemyError as exc:
            log.warning("payment.reconcile_failed", error=type(exc).__name__)
            continue
        if n:
            log.info("payment.reconciled", settled=n)
