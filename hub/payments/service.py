"""Fee payments: opened through a gateway profile, settled exactly once by a callback or a
query (``reconcile.py``), announced through the ledger and outbox in the settling transaction:
``payment.status.changed`` to the opening client's subscribers (it asks the subscriptions domain
who they are) and, when paid, ``dossier.fee.paid`` to the national portal (with the dossier's
latest status change, read from the ledger). The states and the storable-result rule are in
``rules.py``; the gateways behind ``port.PaymentGateway`` are handed in by the composition root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import metrics
from hub.agencies.port import AgencyDirectory, AgencyNotConfigured, StaticAgencies, require
from hub.canonical import DossierFeePaid, DossierStatusChange
from hub.db.schema import payment_events, payments
from hub.envelope import new_id, utcnow
from hub.evidence import facts as evidence
from hub.evidence.model import Fact
from hub.ledger import Ledger, NewMessage, UnitOfWork
from hub.messages import DOSSIER_FEE_PAID, DOSSIER_STATUS_CHANGED, PAYMENT_STATUS_CHANGED, new_message
from hub.payments.port import (
    CallbackAnswer,
    GatewayError,
    GatewayTimeout,
    PaymentGateway,
    PaymentOrder,
    PaymentResult,
    PermanentGatewayError,
)
from hub.payments.rules import PAYMENT_ID, UNSETTLED, event_payload, unstorable
from hub.resilience import CallBreaker
from hub.subscriptions import subscribed

log = structlog.get_logger("hub.payments")


class PaymentConflict(Exception):
    """The client reference was used before for a different payment request."""


class ProfileNotOfAgency(Exception):
    """The request names another gateway profile than its agency's (``lgsp agencies``: ``payment.profile``),
    or the agency names a profile the hub has no gateway for."""

    def __init__(self, agency: str, profile: str, requested: str | None, known: tuple[str, ...]) -> None:
        if profile not in known:
            what = f"agency {agency}'s payment profile {profile!r} is not a gateway of the hub ({', '.join(known)})"
        else:
            what = f"agency {agency} pays through the {profile} profile, not {requested}"
        super().__init__(what)
        self.agency, self.profile, self.requested = agency, profile, requested


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


@dataclass(frozen=True)
class Routes:
    """The connectors that deliver what a settled payment announces (the composition root reads
    them from the connectors' own message types)."""

    events: str  # ``payment.status.changed`` to webhook subscribers
    fee_paid: str  # ``dossier.fee.paid`` to the national portal


class Payments:
    def __init__(
        self,
        engine: Engine,
        ledger: Ledger,
        gateways: Mapping[str, PaymentGateway],
        routes: Routes,
        clock: Callable[[], datetime] = utcnow,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
        default_profile: str = "napas",
        agencies: AgencyDirectory | None = None,
    ):
        self.engine, self.ledger, self.gateways, self.routes, self.now = engine, ledger, dict(gateways), routes, clock
        self.agencies: AgencyDirectory = agencies if agencies is not None else StaticAgencies()
        self.default_profile = default_profile  # HUB_PAYMENT_PROFILE: for a request that names none
        self.breaker_failures, self.breaker_reset = breaker_failures, breaker_reset
        self._breakers: dict[str, CallBreaker] = {}

    def gateway(self, profile: str) -> PaymentGateway:
        """The gateway of a profile (``KeyError`` for a profile the hub was not given)."""
        return self.gateways[profile]

    def close(self) -> None:
        for gateway in self.gateways.values():
            gateway.close()

    def breaker(self, profile: str) -> CallBreaker:
        """One circuit breaker per gateway: after ``breaker_failures`` calls in a row that got
        no answer, calls are refused at once for ``breaker_reset`` seconds, then one probes."""
        if profile not in self._breakers:
            self._breakers[profile] = CallBreaker(f"payment_{profile}", self.breaker_failures, self.breaker_reset)
        return self._breakers[profile]

    # ------------------------------------------------------------------ open
    def profile_for(self, agency_code: str, requested: str | None) -> str:
        """The gateway profile of a payment: its agency's (``payment.profile`` in the directory), else the
        request's, else ``HUB_PAYMENT_PROFILE``. ``ProfileNotOfAgency`` when the request names another
        than its agency's, or the agency's is not a gateway of the hub."""
        agency = self.agencies.get(agency_code)
        own = agency.payment.profile if agency is not None and agency.payment is not None else None
        if own is None:
            return requested or self.default_profile
        if own not in self.gateways or (requested is not None and requested != own):
            raise ProfileNotOfAgency(agency_code, own, requested, tuple(sorted(self.gateways)))
        return own

    def beneficiary(self, order: PaymentOrder, profile: str) -> PaymentOrder:
        """The order with its agency's PayGov beneficiary (``hub.agencies``) for the paygov profile;
        ``AgencyNotConfigured`` naming the agency and the section when it has none."""
        if profile != "paygov":
            return order
        return replace(order, beneficiary=require(self.agencies, order.agency_code, "paygov").paygov)

    def open(self, client_id: int, order: PaymentOrder, client_reference: str, profile: str, digest: str) -> Opened:
        """Open a payment at the gateway; the same client reference returns the same payment
        (re-asking the gateway only if it never answered: orders are keyed by our id). The
        transaction time given to the gateway is recorded (``opened_at``) before it is called: a
        status query sends it again. ``AgencyNotConfigured`` (nothing recorded) for a paygov payment
        of an agency without its PayGov configuration."""
        try:
            order = self.beneficiary(order, profile)
        except AgencyNotConfigured:  # a repeat of a payment opened before its agency changed is still that payment
            known = self._opened_before(client_id, client_reference, digest)
            if known is None:
                raise
            return Opened(False, known)
        try:
            pid, created, done, opened_at = self._record_request(client_id, order, client_reference, profile, digest)
        except IntegrityError:  # the same reference, sent twice at once: the other one inserted it
            pid, created, done, opened_at = self._record_request(client_id, order, client_reference, profile, digest)
        if done:
            return Opened(False, self.get(pid) or {})
        order = replace(order, reference=pid, opened_at=opened_at)
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

    def _opened_before(self, client_id: int, client_reference: str, digest: str) -> dict[str, Any] | None:
        """The payment this same request opened before (past ``opening``), or None."""
        with self.engine.connect() as c:
            row = c.execute(
                select(payments.c.id, payments.c.state, payments.c.request_hash).where(
                    payments.c.client_id == client_id, payments.c.client_reference == client_reference
                )
            ).first()
        if row is None or row.request_hash != digest or row.state == "opening":
            return None
        return self.get(row.id)

    def _record_request(
        self, client_id: int, order: PaymentOrder, client_reference: str, profile: str, digest: str
    ) -> tuple[str, bool, bool, datetime]:
        """(payment id, created now, nothing left to do, the transaction time to give the gateway)
        for this client reference; a payment still ``opening`` gets a new transaction time."""
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
                if row.state == "opening":
                    c.execute(update(payments).where(payments.c.id == row.id).values(opened_at=now))
                return row.id, False, row.state != "opening", now
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
                    opened_at=now,
                )
            )
            record_event(c, pid, now, "open", "requested", None)
        return pid, True, False, now

    def _after_open(
        self, pid: str, state: str, outcome: str, detail: str | None, url: str | None = None, ref: str | None = None
    ) -> None:
        now = self.now()
        with self.engine.begin() as c:
            values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": detail}
            if url is not None:
                values |= {"payment_url": url, "gateway_ref": ref}
            c.execute(update(payments).where(payments.c.id == pid).values(**values))
            record_event(c, pid, now, "open", outcome, detail)
        log.info("payment.open", payment_id=pid, state=state)

    # ------------------------------------------------------------------ settle
    def settle(self, result: PaymentResult, source: str, raw: bytes | None = None) -> CallbackAnswer:
        """Apply a verified gateway result once. Returns the callback answer: ok,
        unknown_order, amount_mismatch, already_settled, or malformed (a result the hub cannot
        store: refused and recorded in the payment's history); only ``ok`` changed anything.
        A callback (``source`` "callback", ``raw`` its body) is a ``callback.received`` evidence
        fact, written in the same transaction."""
        now = self.now()
        if not PAYMENT_ID.fullmatch(result.reference):  # not an id the hub gave: no payment to look up
            if source == "callback":
                with self.engine.begin() as c:
                    self._callback_fact(c, result, "unknown_order", raw, now)
            metrics.PAYMENT_SETTLEMENTS.labels(result.profile, source, "unknown_order").inc()
            return "unknown_order"
        refused = unstorable(result)
        answer: CallbackAnswer
        with self.ledger.unit_of_work() as uow:  # the payment's rows and the ledger's messages together
            c = uow.connection
            row = c.execute(select(payments).where(payments.c.id == result.reference).with_for_update()).first()
            if row is None or row.profile != result.profile:
                answer = "unknown_order"
            elif refused is not None:
                answer = "malformed"
                record_event(c, row.id, now, source, "unstorable", f"refused, cannot be stored: {refused}")
            elif result.amount != row.amount or result.currency != row.currency:
                answer = "amount_mismatch"
                record_event(c, row.id, now, source, answer, f"gateway says {result.amount} {result.currency}")
            elif row.state not in UNSETTLED:
                answer = "already_settled"
                record_event(c, row.id, now, source, answer, f"result {result.outcome}; payment is {row.state}")
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
                announced = self._announce(uow, {**row._mapping, "state": result.outcome, "settled_at": now}, result)
                c.execute(
                    insert(payment_events),
                    [
                        _event_row(row.id, now, source, result.outcome, detail),
                        # the trace finds the messages of a payment through this event
                        *([_event_row(row.id, now, "announce", "queued", json.dumps(announced))] if announced else []),
                    ],
                )
            if source == "callback":
                self._callback_fact(c, result, answer, raw, now)
            elif source == "query":
                self.query_fact(c, result.reference, result.profile, result.outcome, result.code, answer, now)
        metrics.PAYMENT_SETTLEMENTS.labels(result.profile, source, answer).inc()
        log.info("payment.settle", payment_id=result.reference, source=source, answer=answer, outcome=result.outcome)
        return answer

    def _callback_fact(
        self, c: Connection, result: PaymentResult, answer: str, raw: bytes | None, at: datetime
    ) -> None:
        """A verified callback: ``verified`` true, the hub's ``answer`` (ok is the only one that changed
        anything) and why it refused otherwise; the body as a keyed digest."""
        ev = evidence.of(c)
        subject = f"payment:{result.reference}" if PAYMENT_ID.fullmatch(result.reference) else "payment:unknown"
        details = {"verified": True, "answer": answer, "outcome": result.outcome, "code": result.code[:40]}
        if answer != "ok":
            details["reason"] = answer
        digests = {"body": ev.digest(raw)} if raw is not None else {}
        ev.stage(c, [Fact("callback.received", subject, f"partner:{result.profile}", digests, details, at=at)])

    def query_fact(
        self,
        c: Connection,
        pid: str,
        profile: str,
        state: str,
        code: str,
        answer: str,
        at: datetime,
        error: str | None = None,
    ) -> None:
        """A reconciliation query the hub made of the gateway: ``payment.query``, the gateway's answer
        (``state``: paid, failed, pending, unknown...; ``error`` for a query that got none) and what the
        hub did with it (``answer``: ok = settled, or why not; ``unchanged``)."""
        details = {"profile": profile, "state": state, "code": code[:40], "answer": answer}
        if error is not None:
            details["error"] = error[:60]
        evidence.of(c).stage(c, [Fact("payment.query", f"payment:{pid}", "hub:reconciler", {}, details, at=at)])

    def refused_callback(self, profile: str, reason: str, raw: bytes | None) -> None:
        """A callback refused before it was verified (bad signature, stale, malformed, too large):
        a ``callback.received`` fact with ``verified`` false and the reason, in its own transaction."""
        ev = evidence.of(self.engine)
        digests = {"body": ev.digest(raw)} if raw is not None else {}
        details = {"verified": False, "reason": reason[:60]}
        fact = Fact("callback.received", f"callback:{profile}", f"partner:{profile}", digests, details, at=self.now())
        with self.engine.begin() as c:
            ev.stage(c, [fact])

    def _announce(self, uow: UnitOfWork, payment: dict[str, Any], result: PaymentResult) -> list[dict[str, str]]:
        """In the settling transaction: ``payment.status.changed`` for every subscription to it,
        and, when paid, ``dossier.fee.paid`` for the national portal. Returns what it queued."""
        event = event_payload(payment)
        # only the opening client's subscriptions: a client hears of its own payments
        subs = subscribed(uow.connection, payment["client_id"], PAYMENT_STATUS_CHANGED)
        items = [
            new_message(
                PAYMENT_STATUS_CHANGED,
                key=f"{sub}:{payment['dossier_code']}",  # one receiver gets one dossier's events in order
                occurred_at=result.occurred_at,
                natural_key=f"{payment['id']}:{payment['state']}:{sub}",
                connector=self.routes.events,
                payload={"subscription_id": sub, "event": event},
                correlation_id=payment["id"],
            )
            for sub in subs
        ]
        if payment["state"] == "paid":
            items.append(self._fee_paid(uow, payment, result))
        if not items:
            return []
        accepted = uow.add("hub", items)
        return [{"type": it.type, "message_id": a.message_id} for it, a in zip(items, accepted, strict=True)]

    def _fee_paid(self, uow: UnitOfWork, payment: dict[str, Any], result: PaymentResult) -> NewMessage:
        """The portal follow-up: a progress entry for the payment, and the dossier marked paid
        online when the hub knows it (its latest status change, delivered or not)."""
        # the stored JSON payload: DossierFeePaid validates it as the dossier's DossierStatusChange
        latest: Any = uow.latest_payload(payment["dossier_code"], DOSSIER_STATUS_CHANGED)
        if latest is not None:
            try:
                DossierStatusChange.model_validate(latest)
            except ValidationError as exc:  # stored before the portal's fields were required: progress entry only
                fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
                log.warning("payment.fee_paid.dossier_incomplete", payment_id=payment["id"], fields=fields)
                latest = None
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
        return new_message(
            DOSSIER_FEE_PAID,
            key=fact.dossier_code,  # the dossier's ordering key: in order with its status changes
            occurred_at=fact.paid_at,
            natural_key=fact.natural_key(),
            connector=self.routes.fee_paid,
            payload=fact.model_dump(mode="json"),
            correlation_id=payment["id"],
        )

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


def _event_row(pid: str, at: datetime, kind: str, outcome: str, detail: str | None) -> dict[str, Any]:
    return {"payment_id": pid, "at": at, "kind": kind, "outcome": outcome, "detail": detail}


def record_event(c: Connection, pid: str, at: datetime, kind: str, outcome: str, detail: str | None) -> None:
    c.execute(insert(payment_events).values(**_event_row(pid, at, kind, outcome, detail)))


def _details(order: PaymentOrder) -> dict[str, Any]:
    return {
        "procedure_code": order.procedure_code,
        "agency_code": order.agency_code,
        "description": order.description,
        "fee_items": [{"code": f.code, "name": f.name, "amount": f.amount} for f in order.fee_items],
        "return_url": order.return_url,
    }
