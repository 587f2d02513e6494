"""The hub's waybill pool (hub/postal/waybills.py), on SQLite and PostgreSQL: each number assigned to
one order (also under concurrent claims), released exactly once on cancellation, never once used."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from hub.db.schema import postal_waybills
from hub.envelope import new_id
from hub.postal import waybills as wb
from hub.postal.port import s10

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
CUSTOMER = "BCCI_H56"


def load(engine: Engine, n: int, customer: str = CUSTOMER, first: int = 10_000_001) -> list[str]:
    codes = [s10("EB", first + i) for i in range(n)]
    added = wb.Waybills(engine).add(customer, codes, NOW)
    assert added.added == n and added.existing == 0
    return codes


def state_of(engine: Engine, code: str) -> tuple[str, str | None]:
    with engine.connect() as c:
        row = c.execute(
            select(postal_waybills.c.state, postal_waybills.c.order_id).where(postal_waybills.c.item_code == code)
        ).one()
    return row.state, row.order_id


def claim(engine: Engine, order_id: str, customer: str = CUSTOMER) -> str | None:
    with engine.begin() as c:
        return wb.claim_next(c, customer, order_id, NOW)


def test_no_pool_means_vnpost_numbers_the_parcel(engine: Engine) -> None:
    assert claim(engine, new_id()) is None
    with engine.begin() as c:  # a caller's own number is not the hub's to check
        wb.claim_given(c, CUSTOMER, s10("EB", 5), new_id(), NOW)


def test_each_number_goes_to_one_order_then_the_pool_is_exhausted(engine: Engine) -> None:
    codes = load(engine, 3)
    orders = [new_id() for _ in range(3)]
    got = [claim(engine, o) for o in orders]
    assert got == codes  # in number order
    assert [state_of(engine, c) for c in codes] == [("assigned", o) for o in orders]
    with pytest.raises(wb.PoolExhausted, match=CUSTOMER):
        claim(engine, new_id())
    assert wb.Waybills(engine).counts() == {CUSTOMER: {"free": 0, "assigned": 3, "used": 0, "released": 0}}


def test_a_claim_in_a_transaction_that_fails_keeps_no_number(engine: Engine) -> None:
    (code,) = load(engine, 1)
    with pytest.raises(RuntimeError), engine.begin() as c:
        assert wb.claim_next(c, CUSTOMER, new_id(), NOW) == code
        raise RuntimeError("the order was not recorded")
    assert state_of(engine, code) == ("free", None)


def test_release_is_exactly_once_and_a_used_number_is_never_released(engine: Engine) -> None:
    a_code, b_code, c_code = load(engine, 3)
    a, b = new_id(), new_id()
    assert claim(engine, a) == a_code and claim(engine, b) == b_code
    with engine.begin() as c:
        assert wb.release(c, a, NOW) == 1
        assert wb.release(c, a, NOW) == 0  # a second release: nothing
        assert wb.mark_used(c, b, NOW) == 1
        assert wb.release(c, b, NOW) == 0  # picked up: used for good
    assert state_of(engine, a_code) == ("released", a) and state_of(engine, b_code) == ("used", b)
    # a released number goes again, after the free ones; once another order's, the first cannot release it
    c1, c2 = new_id(), new_id()
    assert claim(engine, c1) == c_code and claim(engine, c2) == a_code
    with engine.begin() as c:
        assert wb.release(c, a, NOW) == 0
    assert state_of(engine, a_code) == ("assigned", c2)


def test_a_callers_number_must_be_a_free_one_of_the_pool(engine: Engine) -> None:
    mine, taken = load(engine, 2)
    theirs = load(engine, 1, customer="BCCI_H22", first=20_000_001)[0]
    assert claim(engine, new_id()) == mine
    with engine.begin() as c:
        wb.claim_given(c, CUSTOMER, taken, "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5", NOW)
    assert state_of(engine, taken) == ("assigned", "01KAQ3Z5X7E8R9T0Y1V2W3X4Y5")
    for code, rule in (
        (mine, "waybill_in_use"),
        (s10("EB", 77), "waybill_not_in_pool"),
        (theirs, "waybill_not_in_pool"),
    ):
        with pytest.raises(wb.WaybillRefused) as refused, engine.begin() as c:
            wb.claim_given(c, CUSTOMER, code, new_id(), NOW)
        assert refused.value.rule == rule


def test_loading_again_changes_nothing_and_another_customers_number_is_refused(engine: Engine) -> None:
    codes = load(engine, 2)
    assert claim(engine, new_id()) == codes[0]
    again = wb.Waybills(engine).add(CUSTOMER, [*codes, s10("EB", 3)], NOW)
    assert (again.added, again.existing) == (1, 2)
    assert state_of(engine, codes[0])[0] == "assigned"  # left as it was
    with pytest.raises(wb.WaybillTaken):
        wb.Waybills(engine).add("BCCI_H22", codes[:1], NOW)
    listed = wb.Waybills(engine).list(CUSTOMER, state="free")
    assert [r["item_code"] for r in listed] == sorted([codes[1], s10("EB", 3)])


@pytest.mark.parametrize("threads", [8])
def test_concurrent_claims_never_share_a_number(engine: Engine, threads: int) -> None:
    """Claims racing in as many transactions at once (PostgreSQL: row locks, SKIP LOCKED; SQLite:
    serial transactions): every number to one order, the pool exhausted exactly when it is empty."""
    per_thread, size = 12, 80  # 96 claims for 80 numbers
    load(engine, size)
    start = threading.Barrier(threads)
    got: list[str] = []
    exhausted: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            try:
                item = claim(engine, new_id())
            except wb.PoolExhausted:
                with lock:
                    exhausted.append(1)
                continue
            except BaseException as exc:
                errors.append(exc)
                return
            assert item is not None
            with lock:
                got.append(item)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert not errors, errors
    assert len(got) == size and len(set(got)) == size  # each number once
    assert len(exhausted) == threads * per_thread - size
    with engine.connect() as c:
        owners = c.execute(select(postal_waybills.c.order_id)).scalars().all()
    assert len(set(owners)) == size


def test_an_agency_on_the_direct_api_takes_no_pool_number(db_url: str) -> None:
    """MITC's MOrder has no ItemCode: a direct-variant agency's orders leave its pool alone."""
    from hub.agencies.port import StaticAgencies
    from hub.bootstrap import bootstrap
    from hub.clients import create_client
    from hub.postal.models import PostalOrderIn
    from hub.settings import Settings
    from tests.factories import dossier_code
    from tests.postal.conftest import AGENCIES, AGENCY, CITIZEN

    postal: dict[str, Any] = dict(AGENCIES[0]["postal"])  # type: ignore[arg-type]
    direct = [{**AGENCIES[0], "postal": {**postal, "variant": "direct"}}]
    s = Settings(database_url=db_url, api_publishes=False, postal_unit_placeholders=True, postal_poll=False)
    hub = bootstrap(s, agencies=StaticAgencies(direct))
    try:
        create_client(hub.engine, "ONEGATE", "one-stop", ["postal.order"])
        codes = load(hub.engine, 1)
        body = {"agency_code": AGENCY, "kind": "delivery", "receiver": CITIZEN, "description": "K"}
        placed = hub.postal.order(1, "ONEGATE", PostalOrderIn.model_validate({"dossier_code": dossier_code(), **body}))
        assert placed.order["item_code"] is None and state_of(hub.engine, codes[0]) == ("free", None)
        hub.postal.agencies = StaticAgencies(AGENCIES)  # the same customer code on the LGSP: numbered
        placed = hub.postal.order(1, "ONEGATE", PostalOrderIn.model_validate({"dossier_code": dossier_code(), **body}))
        assert placed.order["item_code"] == codes[0]
    finally:
        hub.close()
