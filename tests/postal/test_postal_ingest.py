"""Tracking events brought by several appliers at once (two pollers, a poller and a push) are
recorded and announced once each: the unique (customer code, feed id) and the order's row lock
decide, and a batch that loses the race is applied again event by event."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from hub.agencies.port import StaticAgencies
from hub.bootstrap import bootstrap
from hub.clients import create_client
from hub.db.schema import messages, postal_events
from hub.envelope import utcnow
from hub.postal.models import PostalOrderIn
from hub.postal.port import TrackingEvent
from hub.postal.rules import ParcelStatus
from hub.settings import Settings
from tests.factories import dossier_code
from tests.postal.conftest import AGENCIES, AGENCY, CITIZEN, CUSTOMER

S = ParcelStatus
JOURNEY = (S.ACCEPTED, S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED)


def test_the_same_events_from_four_appliers_at_once_are_applied_once(db_url: str) -> None:
    s = Settings(database_url=db_url, api_publishes=False, postal_unit_placeholders=True, postal_poll=False)
    hub = bootstrap(s, agencies=StaticAgencies(AGENCIES))
    try:
        client = create_client(hub.engine, "ONEGATE", "one-stop", ["postal.order"])
        assert client
        codes = [dossier_code() for _ in range(3)]
        for code in codes:
            req = PostalOrderIn.model_validate(
                {"dossier_code": code, "agency_code": AGENCY, "kind": "delivery", "receiver": CITIZEN}
                | {"description": "Kết quả"}
            )
            hub.postal.order(1, "ONEGATE", req)
        start = utcnow()
        events = [
            TrackingEvent(
                feed_id=f"{n:08x}{i:016x}",
                customer_code=CUSTOMER,
                order_number=code,
                raw_status=str(i),
                status=status,
                occurred_at=start + timedelta(minutes=i),
            )
            for n, code in enumerate(codes)
            for i, status in enumerate(JOURNEY)
        ]
        verdicts: list[Counter[str]] = []
        barrier = threading.Barrier(4)

        def apply_all() -> None:
            barrier.wait()
            verdicts.append(hub.postal.ingest(events, "poll"))

        threads = [threading.Thread(target=apply_all) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(verdicts) == 4
        total = sum(verdicts, Counter())
        assert total["applied"] == len(events) and total["duplicate"] == 3 * len(events), total
        with hub.engine.connect() as c:
            recorded = c.execute(select(func.count()).select_from(postal_events)).scalar_one()
            steps = c.execute(
                select(func.count()).select_from(messages).where(messages.c.type == "dossier.postal.step")
            ).scalar_one()
        assert recorded == len(events) and steps == len(events)  # each status announced once
        for code in codes:
            (order,) = [o for o in [hub.postal._find(code, "delivery")] if o]
            assert order["status"] == "delivered"
    finally:
        hub.close()


def test_a_page_applied_at_once_gives_what_event_by_event_gives(db_url: str) -> None:
    """The poller's batched page (``batch_ingest``) and the per-event path agree on every verdict,
    status and announcement: duplicates within a page and across pages, events out of order, a
    late event after the final one, an unknown status, an order the hub does not know."""
    s = Settings(database_url=db_url, api_publishes=False, postal_unit_placeholders=True, postal_poll=False)
    hub = bootstrap(s, agencies=StaticAgencies(AGENCIES))
    try:
        create_client(hub.engine, "ONEGATE", "one-stop", ["postal.order"])
        start = utcnow()
        outcome: dict[bool, tuple[list[Counter[str]], list[str | None], int]] = {}
        for batch in (False, True):
            hub.postal.batch_ingest = batch
            codes = [dossier_code() for _ in range(3)]
            for code in codes:
                req = PostalOrderIn.model_validate(
                    {"dossier_code": code, "agency_code": AGENCY, "kind": "delivery", "receiver": CITIZEN}
                    | {"description": "Kết quả"}
                )
                hub.postal.order(1, "ONEGATE", req)

            def event(n: int, code: str, i: int, status: S | None, tag: int = 0, b: bool = batch) -> TrackingEvent:
                return TrackingEvent(
                    feed_id=f"{int(b):02x}{tag:06x}{n:08x}{i:08x}",
                    customer_code=CUSTOMER,
                    order_number=code,
                    raw_status=str(i) if status else "99",
                    status=status,
                    occurred_at=start + timedelta(minutes=i),
                )

            first = [event(n, c, i, st) for n, c in enumerate(codes) for i, st in enumerate(JOURNEY[:3])]
            first += [first[0], event(9, codes[0], 1, S.PICKED_UP, tag=1)]  # a copy of the same status
            first += [event(8, "000.00.00.H56-250101-9999", 0, S.ACCEPTED), event(7, codes[1], 9, None)]
            second = [event(n, c, i, st, tag=2) for n, c in enumerate(codes) for i, st in enumerate(JOURNEY)]
            second += [event(6, codes[2], 0, S.IN_TRANSIT, tag=3)]  # late, after the rest
            verdicts = [hub.postal.ingest(first[::-1], "poll"), hub.postal.ingest(second, "poll")]
            final = [event(5, codes[0], 1, S.IN_TRANSIT, tag=4)]  # after delivered
            verdicts.append(hub.postal.ingest(final, "push"))
            statuses = [(hub.postal._find(c, "delivery") or {}).get("status") for c in codes]
            with hub.engine.connect() as c:
                steps = c.execute(
                    select(func.count())
                    .select_from(messages)
                    .where(messages.c.type == "dossier.postal.step", messages.c.key.in_(codes))
                ).scalar_one()
            outcome[batch] = (verdicts, statuses, steps)
        assert outcome[True] == outcome[False]
        verdicts, statuses, steps = outcome[True]
        assert statuses == ["delivered"] * 3 and steps == 3 * len(JOURNEY)
        assert verdicts[0]["unknown_order"] == 1 and verdicts[0]["unknown_status"] == 1
        assert verdicts[0]["duplicate"] >= 1 and verdicts[2] == Counter(after_final=1)
    finally:
        hub.close()
