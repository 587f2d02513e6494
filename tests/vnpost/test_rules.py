"""The postal rules: examples, properties over every journey, and a stateful test in which an
unreliable feed delivers a parcel's events late, out of order and more than once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count, pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hub.postal.rules import (
    FINAL,
    NEXT,
    PHASE,
    CancelDecision,
    ParcelState,
    ParcelStatus,
    apply,
    can_follow,
    cancel_decision,
    fold,
)

S = ParcelStatus
T0 = datetime(2025, 11, 24, 8, 0, tzinfo=UTC)
_ids = count(1)


@dataclass(frozen=True)
class Ev:
    feed_id: str
    status: ParcelStatus | None
    occurred_at: datetime


def ev(status: ParcelStatus | None, minute: int, feed_id: str | None = None) -> Ev:
    return Ev(feed_id or f"{next(_ids):024x}", status, T0 + timedelta(minutes=minute))


@st.composite
def journeys(draw: st.DrawFn) -> list[Ev]:
    """A journey that follows NEXT from "accepted", with increasing event times."""
    status, minute = S.ACCEPTED, draw(st.integers(0, 10))
    events = [ev(status, minute)]
    for _ in range(draw(st.integers(0, 12))):
        options = sorted(NEXT[status])
        if not options:
            break
        status = draw(st.sampled_from(options))
        minute += draw(st.integers(1, 600))
        events.append(ev(status, minute))
    return events


# ------------------------------------------------------------------ examples
def test_a_late_in_transit_never_overwrites_delivered() -> None:
    state = fold([ev(S.ACCEPTED, 0), ev(S.DELIVERED, 90), ev(S.IN_TRANSIT, 30)])
    assert state is not None and state.status is S.DELIVERED
    assert apply(state, ev(S.IN_TRANSIT, 200)).verdict == "after_final"  # even with a later time


def test_a_skewed_scan_of_an_earlier_phase_does_not_move_the_parcel_back() -> None:
    state = fold([ev(S.OUT_FOR_DELIVERY, 10), ev(S.IN_TRANSIT, 12)])  # a transit scan uploaded late, clock ahead
    assert state is not None and state.status is S.OUT_FOR_DELIVERY


def test_verdicts() -> None:
    accepted = ev(S.ACCEPTED, 0)
    state = apply(None, accepted).state
    assert apply(state, accepted, seen={accepted.feed_id}).verdict == "duplicate"
    assert apply(state, ev(S.ACCEPTED, 0)).verdict == "duplicate"  # a copy under another feed id
    assert apply(state, ev(None, 5)).verdict == "unknown_status"
    moved = apply(state, ev(S.IN_TRANSIT, 20))
    assert moved.verdict == "applied" and moved.status_changed
    assert apply(moved.state, ev(S.PICKED_UP, 10)).verdict == "stale"  # a lower phase
    again = apply(moved.state, ev(S.IN_TRANSIT, 25))  # another post office: same status, later
    assert again.verdict == "applied" and not again.status_changed


def test_repeated_delivery_attempts_are_followed() -> None:
    events = [ev(S.OUT_FOR_DELIVERY, 10), ev(S.DELIVERY_FAILED, 20), ev(S.OUT_FOR_DELIVERY, 30)]
    state = fold(events)
    assert state is not None and state.status is S.OUT_FOR_DELIVERY and state.feed_id == events[2].feed_id
    assert fold([events[0], events[2], events[1]]) == state  # the earlier failure arrives late: ignored


def test_at_the_same_instant_failed_outranks_trying() -> None:
    state = fold([ev(S.DELIVERY_FAILED, 10), ev(S.OUT_FOR_DELIVERY, 10)])
    assert state is not None and state.status is S.DELIVERY_FAILED


def test_cancel_is_refused_once_picked_up() -> None:
    assert cancel_decision(None) is CancelDecision.ALLOWED
    assert cancel_decision(S.ACCEPTED) is CancelDecision.ALLOWED
    assert cancel_decision(S.PICKUP_FAILED) is CancelDecision.ALLOWED
    assert cancel_decision(S.CANCELLED) is CancelDecision.ALREADY_CANCELLED
    refused = {s for s in S if cancel_decision(s) is CancelDecision.REFUSED}
    assert refused == {s for s in S if PHASE[s] >= 2} - {S.CANCELLED}


def test_journeys_start_accepted_and_finals_end_them() -> None:
    assert can_follow(None, S.ACCEPTED) and not can_follow(None, S.PICKED_UP)
    assert all(not NEXT[s] for s in FINAL) and all(NEXT[s] for s in S if s not in FINAL)


# ------------------------------------------------------------------ properties
@settings(max_examples=300, deadline=None)
@given(journey=journeys(), data=st.data())
def test_any_order_and_any_copies_end_in_the_journeys_last_status(journey: list[Ev], data: st.DataObject) -> None:
    copies = [Ev(f"{next(_ids):024x}", e.status, e.occurred_at) for e in data.draw(st.lists(st.sampled_from(journey)))]
    repeats = data.draw(st.lists(st.sampled_from(journey)))  # the same entries again (same feed id)
    delivered = data.draw(st.permutations(journey + copies + repeats))
    state = fold(delivered)
    assert state is not None and state.status is journey[-1].status
    assert state.occurred_at == journey[-1].occurred_at
    assert fold(journey) == ParcelState(journey[-1].status, journey[-1].occurred_at, journey[-1].feed_id)


@settings(max_examples=300, deadline=None)
@given(journey=journeys(), data=st.data())
def test_the_phase_never_goes_back_and_a_final_status_never_changes(journey: list[Ev], data: st.DataObject) -> None:
    """Even when post offices' clocks disagree (event times in any order)."""
    skewed = [Ev(e.feed_id, e.status, T0 + timedelta(minutes=data.draw(st.integers(0, 50)))) for e in journey]
    state: ParcelState | None = None
    for event in data.draw(st.permutations(skewed)):
        result = apply(state, event)
        if state is not None:
            assert result.state is not None and PHASE[result.state.status] >= PHASE[state.status]
            if state.final:
                assert result.state == state
        assert result.status_changed == (
            result.state is not None and (state is None or result.state.status != state.status)
        )
        state = result.state


# ------------------------------------------------------------------ stateful
class UnreliableFeed(RuleBasedStateMachine):
    """The partner moves a parcel along a journey; its feed hands the hub the events late, shuffled
    and duplicated; the hub applies each with ``apply``."""

    def __init__(self) -> None:
        super().__init__()
        self.truth: list[Ev] = [ev(S.ACCEPTED, 0)]
        self.in_flight: list[Ev] = [self.truth[0]]
        self.seen: set[str] = set()
        self.hub: ParcelState | None = None
        self.announced: list[ParcelStatus] = []

    @precondition(lambda self: bool(NEXT[self.truth[-1].status]))
    @rule(data=st.data(), gap=st.integers(1, 300))
    def partner_moves(self, data: st.DataObject, gap: int) -> None:
        last = self.truth[-1]
        assert last.status is not None  # the truth holds known statuses only
        status = data.draw(st.sampled_from(sorted(NEXT[last.status])))
        event = Ev(f"{next(_ids):024x}", status, last.occurred_at + timedelta(minutes=gap))
        self.truth.append(event)
        self.in_flight.append(event)

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data(), keep_copy=st.booleans())
    def feed_delivers(self, data: st.DataObject, keep_copy: bool) -> None:
        event = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        if keep_copy:  # the feed will hand it over again, under another id
            self.in_flight.append(Ev(f"{next(_ids):024x}", event.status, event.occurred_at))
        before = self.hub
        result = apply(self.hub, event, self.seen)
        self.seen.add(event.feed_id)
        self.hub = result.state
        if before is not None and self.hub is not None:
            assert PHASE[self.hub.status] >= PHASE[before.status]
        if result.status_changed:
            assert self.hub is not None
            self.announced.append(self.hub.status)

    @rule(data=st.data())
    def feed_repeats_an_old_entry(self, data: st.DataObject) -> None:
        """The same entry (same feed id) again, e.g. after a lost page: nothing changes."""
        delivered = [e for e in self.truth if e.feed_id in self.seen]
        if delivered:
            before = self.hub
            result = apply(self.hub, data.draw(st.sampled_from(delivered)), self.seen)
            assert result.verdict == "duplicate" and result.state == before

    @invariant()
    def the_hub_never_knows_more_than_happened(self) -> None:
        if self.hub is not None:
            truth = self.truth[-1]
            assert truth.status is not None
            assert PHASE[self.hub.status] <= PHASE[truth.status]
            if self.hub.final:
                assert self.hub.status is truth.status
            if cancel_decision(self.hub.status) is CancelDecision.REFUSED:
                assert cancel_decision(truth.status) is not CancelDecision.ALLOWED

    def teardown(self) -> None:
        while self.in_flight:  # everything arrives in the end
            event = self.in_flight.pop()
            self.hub = apply(self.hub, event, self.seen).state
            self.seen.add(event.feed_id)
        assert self.hub is not None and self.hub.status is self.truth[-1].status
        pairs = list(pairwise(self.announced))
        assert all(a is not b and PHASE[a] <= PHASE[b] for a, b in pairs)  # each new status once, never back


UnreliableFeed.TestCase.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
TestUnreliableFeed = UnreliableFeed.TestCase
