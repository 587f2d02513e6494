"""The ledger's rules (claim, renew, record, take-over, promote_due) tested by machine: a
hypothesis state machine drives the real ledger -- the portable one on SQLite (the rules in
Python, ``hub.ledger.model``) and the PostgreSQL one (the same rules in PL/pgSQL) -- with
simulated workers (each with a real ``LeaseBudget``), a simulated clock, a broker that
redelivers (to another worker too, while the first is still at work) and a partner that
records every call it processes and when.

Invariants: nothing accepted is lost (once time passes and workers finish, every change is
delivered, nothing is left delivering); nothing is processed twice by the partner unless one of
the copies was processed after its caller's timeout (the window docs/architecture.md
describes); each dossier's changes reach the partner in order.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from hub.ledger import Claim, Held, Ledger, make_ledger
from hub.ports import NOT_ATTEMPTED, DeliveryPolicy, LeaseBudget, Outcome, OutcomeKind, OutgoingMessage
from tests.factories import dossier_code, model, new_message

LEASE, GRACE, MARGIN, TIMEOUT = 10.0, 1.0, 1.0, 2.0
POLICY = DeliveryPolicy(timeout=TIMEOUT, max_attempts=10_000, backoff_base=0.5, backoff_max=2.0)
PORTAL, KEYS, CHANGES, WORKERS = "national_portal", 2, 3, 2
T0 = datetime(2026, 1, 1, tzinfo=UTC)
W = st.integers(0, WORKERS - 1)
DTS = (0.3, 1.0, 2.5, 6.0, 12.0)  # seconds a step lets pass


@dataclass
class Call:
    """A request the partner got; it processes it at some time (or never)."""

    mid: str
    sent_at: float
    processed: bool = False
    answered: bool = False  # processed within the caller's timeout and the answer came back


@dataclass
class Item:
    claim: Claim
    doubt: bool
    outcome: Outcome | None = None


@dataclass
class SimWorker:
    name: str
    unacked: list[str] = field(default_factory=list)
    items: list[Item] | None = None  # the batch in progress
    budget: LeaseBudget | None = None
    call: tuple[Item, Call] | None = None


class LeaseRules(RuleBasedStateMachine):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        random.seed(0)  # the retries' jitter (hub.ledger.model.backoff): the same run every time
        with engine.begin() as c:
            c.execute(text("DELETE FROM attempts"))
            c.execute(text("DELETE FROM outbox"))
            c.execute(text("DELETE FROM messages"))
        self.t = 0.0
        self.ledger: Ledger = make_ledger(
            engine, lease_seconds=LEASE, clock=lambda: T0 + timedelta(seconds=self.t), grace_seconds=GRACE
        )
        self.codes = [dossier_code() for _ in range(KEYS)]
        self.next_change = [0] * KEYS
        self.order: dict[str, tuple[int, int]] = {}  # message id -> (key, its change's rank)
        self.ready: list[str] = []  # the broker queue
        self.workers = [SimWorker(f"w{n}") for n in range(WORKERS)]
        self.restarts = 0
        self.pending: list[Call] = []  # at the partner, not processed yet
        self.processed: list[tuple[str, bool]] = []  # (message id, after its caller's timeout)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One thing happens, picked among what is possible now. (One rule rather than one per
        action: hypothesis's swarm testing switches rules off for whole runs, and a run without,
        say, the partner or the workers' next step tests little.)"""
        self.relay()  # the relay runs all the time: due retries and ended leases queued, outbox published
        actions = self.possible()
        name = data.draw(st.sampled_from(list(actions)), label="action")
        actions[name](data)

    def possible(self) -> dict[str, Callable[[st.DataObject], None]]:
        def able(test: Callable[[SimWorker], bool]) -> bool:
            return any(test(wk) for wk in self.workers)

        def w(d: st.DataObject) -> int:
            return d.draw(W, label="worker")

        # the order matters: hypothesis draws the first choices more often than the last
        acts: dict[str, Callable[[st.DataObject], None]] = {}
        if able(lambda wk: self.can_work(wk) or wk.call is not None):
            acts["work"] = lambda d: self.work(w(d), d.draw(st.booleans(), label="refused / then send"))
        if self.pending:
            acts["partner_processes"] = lambda d: self.partner_processes(
                d.draw(st.integers(0, 7), label="call"), d.draw(st.booleans(), label="answer lost")
            )
        if able(self.can_consume):
            acts["consume"] = lambda d: self.consume(w(d), d.draw(st.integers(1, 4), label="n"))
        if able(self.can_record):
            acts["record"] = lambda d: self.record(w(d))
        if min(self.next_change) < CHANGES:
            acts["accept"] = lambda d: self.accept(d.draw(st.integers(0, KEYS - 1), label="key"))
        if able(lambda wk: wk.items is not None):
            acts["renew"] = lambda d: self.renew(w(d))
        if able(lambda wk: bool(wk.unacked)):
            acts["connection_drops"] = lambda d: self.connection_drops(w(d))
        if able(lambda wk: wk.items is not None):
            acts["crash"] = lambda d: self.crash(w(d))
        acts["advance"] = lambda d: self.advance(d.draw(st.sampled_from(DTS), label="dt"))
        return acts

    def clock(self) -> float:  # the workers' monotonic clock
        return self.t

    # -------------------------------------------------------------- the world
    @initialize()
    def first_changes(self) -> None:
        for k in range(KEYS):
            self.accept(k)

    def accept(self, k: int) -> None:
        open_keys = [j for j in range(KEYS) if self.next_change[j] < CHANGES]
        k = open_keys[k % len(open_keys)]
        n = self.next_change[k]
        self.next_change[k] += 1
        # minutes apart, so no two changes tie on occurred_at (ties fall to the random ids)
        m = model(code=self.codes[k], status=(2, 4, 9)[n], minutes_ago=60 - 10 * n - k)
        got, _ = self.ledger.accept("model", [new_message(m)])
        self.order[got[0].message_id] = (k, n)

    def relay(self) -> None:
        self.ledger.promote_due()
        self.ledger.drain_outbox(self.publish)

    def publish(self, out: list[OutgoingMessage]) -> list[bool]:
        # in the order of the changes (PostgreSQL returns rows in no set order; the ids are random,
        # and hypothesis needs every run of an example to see the same world)
        self.ready += sorted((m.message_id for m in out), key=self.order.__getitem__)
        return [True] * len(out)

    def advance(self, dt: float) -> None:
        self.t += dt

    def partner_processes(self, i: int, lose_answer: bool) -> None:
        call = self.pending.pop(i % len(self.pending))
        late = self.t > call.sent_at + TIMEOUT
        call.processed = True
        call.answered = not late and not lose_answer
        self.processed.append((call.mid, late))

    # -------------------------------------------------------------- workers
    def pick(self, able: Callable[[SimWorker], bool], w: int) -> SimWorker:
        able_ones = [wk for wk in self.workers if able(wk)]
        return able_ones[w % len(able_ones)]

    def can_consume(self, wk: SimWorker) -> bool:
        return wk.items is None and bool(self.ready)

    def can_work(self, wk: SimWorker) -> bool:
        return wk.items is not None and wk.call is None and any(it.outcome is None for it in wk.items)

    def can_record(self, wk: SimWorker) -> bool:
        if wk.items is None or wk.call is not None or wk.budget is None:
            return False
        return all(it.outcome for it in wk.items) or not wk.budget.allows(TIMEOUT)

    def consume(self, w: int, n: int) -> None:
        self.consume_on(self.pick(self.can_consume, w), n)

    def consume_on(self, wk: SimWorker, n: int) -> None:
        taken, self.ready = self.ready[:n], self.ready[n:]
        wk.unacked += taken
        sent = self.t  # the budget counts from before the claim is sent
        claims, _unknown = self.ledger.claim(taken, PORTAL, wk.name)
        if not claims:
            wk.unacked = []  # skipped copies are acked
            return
        wk.items = [Item(c, c.item.in_doubt) for c in sorted(claims, key=lambda c: self.order[c.item.message_id])]
        wk.budget = LeaseBudget(sent + LEASE, MARGIN, self.clock)

    def work(self, w: int, refused: bool) -> None:
        """A worker's next step: its call in flight ends (if it can), or its next call starts
        (``refused``: the call ends with a definite "no"; after a lookup: the send follows at once)."""
        wk = self.pick(lambda wk: self.can_work(wk) or wk.call is not None, w)
        if wk.call is not None:
            self.end_call(wk, refused)
        else:
            self.work_on(wk, then_send=refused)

    def work_on(self, wk: SimWorker, then_send: bool = False) -> None:
        """The next partner call of a worker's batch: a lookup if in doubt, else the change."""
        assert wk.items is not None and wk.budget is not None
        todo = [it for it in wk.items if it.outcome is None]
        it = todo[0]
        if not wk.budget.allows(TIMEOUT):
            for it in todo:
                it.outcome = Outcome(OutcomeKind.RETRY, NOT_ATTEMPTED, in_doubt=it.doubt)
            return
        mid = it.claim.item.message_id
        if it.doubt:  # a lookup, answered at once
            if any(m == mid for m, _ in self.processed):
                it.outcome = Outcome(OutcomeKind.DELIVERED, "already at the partner")
            it.doubt = False
            if it.outcome or not then_send or not wk.budget.allows(TIMEOUT):
                return
        call = Call(mid, self.t)
        self.pending.append(call)
        wk.call = (it, call)

    def end_call(self, wk: SimWorker, refused: bool) -> None:
        assert wk.call is not None
        it, call = wk.call
        if call.answered:
            it.outcome = Outcome(OutcomeKind.DELIVERED, "ok", partner_ref=call.mid)
        elif refused and not call.processed:  # a definite "no" (503): nothing happened
            self.pending.remove(call)
            it.outcome = Outcome(OutcomeKind.RETRY, "HTTP 503", in_doubt=it.doubt)
        elif self.t >= call.sent_at + TIMEOUT:  # no answer in time: it may land later
            it.doubt = True
            it.outcome = Outcome(OutcomeKind.RETRY, "timeout", in_doubt=True)
        else:
            return  # still waiting
        wk.call = None

    def renew(self, w: int) -> None:
        wk = self.pick(lambda wk: wk.items is not None, w)
        assert wk.items is not None and wk.budget is not None
        sent = self.t
        held = [Held(it.claim.item.message_id, it.claim.item.attempt, it.claim.worker) for it in wk.items]
        owned = self.ledger.renew(held)
        if all(h.message_id in owned for h in held):
            wk.budget.extend(sent + LEASE)
        else:
            wk.budget.revoke()

    def record(self, w: int) -> None:
        self.record_batch(self.pick(self.can_record, w))

    def record_batch(self, wk: SimWorker) -> None:
        assert wk.items is not None
        outcomes = [it.outcome or Outcome(OutcomeKind.RETRY, NOT_ATTEMPTED, in_doubt=it.doubt) for it in wk.items]
        self.ledger.record([it.claim for it in wk.items], outcomes, POLICY, PORTAL)
        wk.items, wk.budget, wk.unacked = None, None, []  # recorded, then acked

    def connection_drops(self, w: int) -> None:
        """The broker hands a worker's unacked deliveries to another worker at once, marked
        redelivered, while the first one goes on with them."""
        wk = self.pick(lambda wk: bool(wk.unacked), w)
        dropped, wk.unacked = wk.unacked, []
        self.ready = dropped + self.ready
        idle = [o for o in self.workers if o is not wk and self.can_consume(o)]
        if idle:
            self.consume_on(idle[w % len(idle)], len(dropped))

    def crash(self, w: int) -> None:
        """A worker dies in the middle of a batch (its calls stay at the partner); a new one
        starts in its place."""
        wk = self.pick(lambda wk: wk.items is not None, w)
        self.ready += wk.unacked
        self.restarts += 1
        self.workers[self.workers.index(wk)] = SimWorker(f"w{self.restarts}")

    # -------------------------------------------------------------- invariants
    @invariant()
    def nothing_twice_outside_the_window(self) -> None:
        seen: dict[str, list[bool]] = {}
        for mid, late in self.processed:
            seen.setdefault(mid, []).append(late)
        twice = {m: lates for m, lates in seen.items() if len(lates) > 1 and not any(lates)}
        assert not twice, f"processed twice, each copy in time: {twice}"

    @invariant()
    def each_dossier_in_order(self) -> None:
        first: dict[int, list[int]] = {}
        for mid, _late in self.processed:
            k, n = self.order[mid]
            if n not in first.setdefault(k, []):
                first[k].append(n)
        for k, ranks in first.items():
            assert ranks == sorted(ranks) == list(range(len(ranks))), f"key {k}: {ranks}"

    def teardown(self) -> None:
        """Time passes and the workers finish: everything accepted ends delivered, once."""
        self.t += TIMEOUT + 1
        for wk in self.workers:  # calls in flight end, each batch is recorded
            if wk.call is not None:
                self.end_call(wk, refused=False)
            if wk.items is not None:
                self.record_batch(wk)
        closer = self.workers[0]
        for _ in range(10 * KEYS * CHANGES):
            while self.pending:  # the partner processes what it still holds (late)
                self.partner_processes(0, lose_answer=False)
            self.t += LEASE + GRACE + 1
            self.relay()
            while self.ready:
                self.consume_on(closer, 10)
                while self.can_work(closer):
                    self.work_on(closer)
                    if closer.call is not None:
                        self.partner_processes(len(self.pending) - 1, lose_answer=False)
                        self.end_call(closer, refused=False)
                if closer.items is not None:
                    self.record_batch(closer)
            with self.ledger.engine.connect() as c:
                left = c.execute(text("SELECT count(*) FROM messages WHERE state <> 'delivered'")).scalar_one()
            if not left:
                break
        self.nothing_twice_outside_the_window()
        self.each_dossier_in_order()
        with self.ledger.engine.connect() as c:
            states: dict[str, int] = dict(c.execute(text("SELECT state, count(*) FROM messages GROUP BY state")).all())
        assert states in ({}, {"delivered": len(self.order)}), states
        assert {m for m, _ in self.processed} == set(self.order), "a change never reached the partner"


@pytest.mark.timeout(900)  # a failure shrinks its example, which takes minutes on a database
def test_the_lease_rules_hold(engine: Engine) -> None:
    """Against SQLite (Python rules) and PostgreSQL (PL/pgSQL rules): see the module docstring."""

    class Rules(LeaseRules):
        def __init__(self) -> None:
            super().__init__(engine)

    run_state_machine_as_test(
        Rules,
        settings=settings(
            max_examples=int(os.environ.get("HUB_MODEL_EXAMPLES", "40")),
            stateful_step_count=50,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
