"""Reconciliation: settle what the gateways' callbacks missed, by asking the gateways.

A payment left ``pending`` or ``in_doubt`` for ``older_than`` seconds (a callback lost, late, or
never sent; a create call that timed out) is queried at its gateway, under the gateway's circuit
breaker, and settled exactly as a callback would settle it (``Payments.settle``); an ``in_doubt``
payment the gateway never saw becomes ``not_opened``. The job runs beside the relay.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from hub.db.schema import payments
from hub.payments.port import GatewayError, PaymentResult
from hub.payments.rules import MAX_CODE, UNSETTLED, partner_text
from hub.payments.service import Payments, record_event

log = structlog.get_logger("hub.payments")


def reconcile(service: Payments, older_than: float, limit: int = 100) -> int:
    """Ask the gateway about payments left pending or in doubt for ``older_than`` seconds
    (a callback missed or never sent) and settle them the way a callback would."""
    cutoff = service.now() - timedelta(seconds=older_than)
    with service.engine.connect() as c:
        due = c.execute(
            select(
                payments.c.id,
                payments.c.profile,
                payments.c.state,
                payments.c.amount,
                payments.c.opened_at,
                payments.c.created_at,
            )
            .where(payments.c.state.in_(UNSETTLED), payments.c.updated_at < cutoff)
            .order_by(payments.c.updated_at)
            .limit(limit)
        ).all()
    settled = 0
    for p in due:
        breaker = service.breaker(p.profile)
        if breaker.admit() is not None:
            continue  # the gateway is failing: ask again on a later run
        try:
            # the transaction time the gateway was given at opening (PayGov looks the order up by it)
            status = service.gateway(p.profile).query(p.id, p.opened_at or p.created_at)
        except GatewayError as exc:
            breaker.failed()
            log.warning("payment.query_failed", payment_id=p.id, error=type(exc).__name__)
            with service.engine.begin() as c:  # a query that got no answer is an exchange too
                service.query_fact(c, p.id, p.profile, "error", "", "unchanged", service.now(), type(exc).__name__)
            continue
        breaker.succeeded()
        # a failure the gateway reports without an amount is still final (PayGov TrangThaiGD 4): it must
        # not stay pending; a payment is settled paid only with the gateway's amount (checked against ours)
        amount = status.amount if status.amount is not None else (p.amount if status.state == "failed" else None)
        if status.state in ("paid", "failed") and amount is not None:
            result = PaymentResult(
                profile=p.profile,
                merchant=service.gateway(p.profile).merchant,
                reference=p.id,
                outcome=status.state,
                amount=amount,
                currency=status.currency or "VND",
                gateway_txn_id=status.gateway_txn_id or "",
                occurred_at=service.now(),
                code=status.code,
            )
            settled += service.settle(result, "query") == "ok"
            continue
        _touch(service, p.id, p.profile, p.state, status.state, status.code)
    return settled


def _touch(service: Payments, pid: str, profile: str, state: str, gateway_state: str, code: str) -> None:
    now = service.now()
    new_state = "not_opened" if state == "in_doubt" and gateway_state == "unknown" else state
    with service.engine.begin() as c:
        at = payments.c.id == pid, payments.c.state == state
        c.execute(update(payments).where(*at).values(state=new_state, updated_at=now))
        record_event(c, pid, now, "query", gateway_state, f"code {partner_text(code, MAX_CODE)}")
        answer = "unchanged" if new_state == state else new_state  # what the hub did with the answer
        service.query_fact(c, pid, profile, gateway_state, partner_text(code, MAX_CODE), answer, now)


def reconcile_forever(service: Payments, every: float, older_than: float, stop: threading.Event) -> None:
    """The reconciliation job (run by the relay process): settle what callbacks missed."""
    while not stop.wait(every):
        try:
            n = reconcile(service, older_than)
        except SQLAlchemyError as exc:
            log.warning("payment.reconcile_failed", error=type(exc).__name__)
            continue
        if n:
            log.info("payment.reconciled", settled=n)
