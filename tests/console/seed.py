"""A small, realistic ledger for the console's tests: messages accepted through the real
Ledger API (tests/factories.py payloads), delivered or failed by a fake connector (the
connector port with scripted outcomes), a dossier with a whole journey and a payment."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import insert

from hub.canonical import DossierStatusChange
from hub.db.schema import payment_events, payments
from hub.envelope import new_id, utcnow
from hub.ledger import Ledger
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind
from tests.factories import create_client, dossier_code, model, new_message
from tests.fakes import FakeConnector

PORTAL = "national_portal"
POLICY = DeliveryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.002)
VALIDATION = "DongBoHoSoMC: error_code 1: Thiếu trường MaTTHC"
VALIDATION_ANSWER = '{"error_code": "1", "message": "Thiếu trường MaTTHC"}'
OUTAGE = "DongBoHoSoMC: HTTP 503"
TIMEOUT = "DongBoHoSoMC: ReadTimeout"


@dataclass
class Seeded:
    journey: str = ""  # a dossier with three delivered status changes and a paid fee
    journey_messages: list[str] = field(default_factory=list)
    validation_dead: list[str] = field(default_factory=list)  # rejected by the partner (error_code 1)
    outage_dead: list[str] = field(default_factory=list)  # retry budget spent on HTTP 503
    retrying: list[str] = field(default_factory=list)  # a timeout, retry scheduled
    agency_of: dict[str, str] = field(default_factory=dict)


def _accept(ledger: Ledger, source: str, *models: DossierStatusChange) -> list[str]:
    got, _ = ledger.accept(source, [new_message(m, correlation_id=new_id()) for m in models])
    return [a.message_id for a in got]


def _deliver(ledger: Ledger, ids: list[str], decide: Callable[[DeliveryItem], Outcome]) -> None:
    connector = FakeConnector(POLICY, decide)
    claims, _ = ledger.claim(list(ids), PORTAL, "test-worker")
    ledger.record(claims, connector.deliver([c.item for c in claims]), POLICY, PORTAL)


def seed(ledger: Ledger) -> Seeded:
    s = Seeded()
    engine = ledger.engine
    ok = lambda item: Outcome(OutcomeKind.DELIVERED, "DongBoHoSoMC + CapNhatTienDoHoSoMC", "P-" + item.message_id[-6:])  # noqa: E731

    code = s.journey = dossier_code()
    for status, minutes in ((2, 300), (4, 200), (9, 100)):
        mid = _accept(ledger, "ONEGATE-H56", model(code=code, status=status, minutes_ago=minutes))[0]
        _deliver(ledger, [mid], ok)
        s.journey_messages.append(mid)
    create_client(engine, "PAYER-" + new_id()[-6:], "payer", ["payment.open"])
    _payment(engine, code)

    for i in range(6):
        agency = "000.00.00.H56" if i % 2 else "000.00.00.H57"
        m = model(code=dossier_code(agency), agency_code=agency)
        mid = _accept(ledger, "ONEGATE-H56" if i < 4 else "ONEGATE-H57", m)[0]
        s.agency_of[mid] = agency
        _deliver(ledger, [mid], lambda _item: Outcome(OutcomeKind.DEAD, VALIDATION, response=VALIDATION_ANSWER))
        s.validation_dead.append(mid)
    for _ in range(3):
        mid = _accept(ledger, "ONEGATE-H56", model(code=dossier_code()))[0]
        for _attempt in range(POLICY.max_attempts):
            _deliver(ledger, [mid], lambda _item: Outcome(OutcomeKind.RETRY, OUTAGE, response="Service Unavailable"))
            time.sleep(0.01)  # the next attempt is due
        s.outage_dead.append(mid)
    for _ in range(2):
        mid = _accept(ledger, "ONEGATE-H56", model(code=dossier_code()))[0]
        slow = DeliveryPolicy(max_attempts=5, backoff_base=3600, backoff_max=3600)
        claims, _ = ledger.claim([mid], PORTAL, "test-worker")
        ledger.record(claims, [Outcome(OutcomeKind.RETRY, TIMEOUT)], slow, PORTAL)
        s.retrying.append(mid)
    return s


def _payment(engine: object, code: str) -> None:
    from sqlalchemy import Engine, select

    from hub.db.schema import clients

    assert isinstance(engine, Engine)
    now = utcnow()
    pid = new_id()
    with engine.begin() as c:
        client_id = c.execute(select(clients.c.id).order_by(clients.c.id.desc()).limit(1)).scalar_one()
        c.execute(
            insert(payments).values(
                id=pid,
                client_id=client_id,
                client_reference=f"REF-{code}",
                request_hash="0" * 64,
                profile="napas",
                dossier_code=code,
                amount=150_000,
                currency="VND",
                details={"fee_items": []},
                state="paid",
                payment_url="http://127.0.0.1/pay",
                created_at=now - timedelta(minutes=150),
                updated_at=now - timedelta(minutes=140),
                settled_at=now - timedelta(minutes=140),
            )
        )
        for minutes, kind, outcome in ((150, "open", "pending"), (140, "callback", "paid")):
            c.execute(
                insert(payment_events).values(
                    payment_id=pid,
                    at=now - timedelta(minutes=minutes),
                    kind=kind,
                    outcome=outcome,
                    detail=json.dumps({"gateway": "napas"}),
                )
            )
