"""The ledger's values and its decisions, free of any database: what a batch of deliveries
means for each message (claim it, hold it, take it over, skip it), and what an outcome
makes of a message (delivered, retrying when, or dead why). Both ledger backends call these,
so SQLite and PostgreSQL decide alike."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from hub import resilience
from hub.ports import DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind, OutgoingMessage

TERMINAL = ("delivered", "dead")
OUTBOX_CHANNEL = "lgsp_outbox"  # PostgreSQL NOTIFY channel: "the outbox has rows"
SUPERSEDED = " (superseded: taken over by another worker)"
FACT = " (superseded, recorded all the same: the partner has it)"
ABANDONED = "lease expired: worker lost, paused or cut off from the database"


@dataclass(frozen=True)
class NewMessage:
    type: str
    key: str
    occurred_at: datetime
    natural_key: str
    connector: str
    schema_version: int
    payload: dict[str, Any]
    correlation_id: str
    causation_id: str | None = None
    payload_json: str | None = None  # the payload already as JSON text, if the caller has it


@dataclass(frozen=True)
class Accepted:
    message_id: str
    created: bool  # False: the same change (natural key) was accepted before


@dataclass(frozen=True)
class IdempotencyKey:
    client_id: int
    key: str
    request_hash: str


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]
    replayed: bool  # True: the answer of an earlier request with the same Idempotency-Key
    request_hash: str
    # (outbox row id, broker message) of each message this request created, for the caller to
    # publish right away; the relay publishes whatever is still in the outbox after ``defer``.
    to_publish: list[tuple[int, OutgoingMessage]] = field(default_factory=list)


@dataclass(frozen=True)
class Claim:
    index: int  # position of the delivery in the batch
    item: DeliveryItem
    started_at: datetime | None = None  # when this worker claimed it (the attempt's start)
    budget_attempts: int = 0  # the retry budget in force when it was claimed
    budget_since: datetime | None = None
    worker: str = ""


class NotFound(LookupError):
    pass


class NotReplayable(ValueError):
    pass


def backoff(policy: DeliveryPolicy, attempt: int) -> float:
    """The wait after failed attempt ``attempt`` (1 for the first): the hub's one backoff
    (``hub.resilience.backoff``: exponential, capped at ``backoff_max``, equal jitter)."""
    return resilience.backoff(attempt - 1, policy.backoff_base, policy.backoff_max)


# ------------------------------------------------------------------ claim decisions
class KeyMessage(Protocol):
    """What the claim needs of each message of the batch's ordering keys."""

    @property
    def id(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def state(self) -> str: ...


class Candidate(KeyMessage, Protocol):
    @property
    def connector(self) -> str: ...
    @property
    def lease_until(self) -> datetime | None: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...


@dataclass
class ClaimPlan:
    claims: list[Any] = field(default_factory=list)  # candidate rows this worker delivers now
    held: list[str] = field(default_factory=list)  # wait for an earlier message of their key
    taken_over: list[str] = field(default_factory=list)  # lease expired: last attempt abandoned, in doubt
    foreign: set[str] = field(default_factory=set)  # not this connector's: poison for this queue
    known_keys: set[str] = field(default_factory=set)  # keys the partner has a delivered message of


def plan_claims(
    candidates: Iterable[Candidate],
    key_messages: Sequence[KeyMessage],
    connector: str,
    now: datetime,
    grace: timedelta = timedelta(0),
) -> ClaimPlan:
    """Decide, for each candidate (a message of the batch), whether it is delivered now.

    ``key_messages`` are all messages of this connector with the candidates' ordering keys.
    A message is claimed if it is queued (or due, or its lease ended more than ``grace``
    ago) and every earlier message of its key is delivered or dead; otherwise it is held, or
    skipped as a stale or duplicate copy (delivered, dead, held, or in flight under a lease).

    A broker redelivery proves nothing: the broker redelivers when a live worker's connection
    drops. A message in flight is taken over only once its lease has ended (plus grace), and
    then its worker has stopped calling the partner (``LeaseBudget``)."""
    plan = ClaimPlan()
    state: dict[str, str] = {}
    order: dict[str, tuple[datetime, str]] = {}
    by_key: dict[str, list[str]] = {}
    for p in key_messages:
        if p.state == "delivered":
            plan.known_keys.add(p.key)
        if p.state not in TERMINAL:
            state[p.id] = p.state
            order[p.id] = (p.occurred_at, p.id)
            by_key.setdefault(p.key, []).append(p.id)
    for r in sorted(candidates, key=lambda r: (r.occurred_at, r.id)):
        if r.connector != connector:
            plan.foreign.add(r.id)
            continue
        if r.state == "delivering" and lease_ended(r.lease_until, now, grace):
            plan.taken_over.append(r.id)  # its worker died, hung or lost the database: in doubt
        elif r.state == "retrying" and (r.next_attempt_at or now) <= now:
            pass  # due: the scheduler and this delivery raced; deliver now
        elif r.state != "queued":
            continue  # delivered, dead, held, in flight elsewhere, or a stale copy
        mine = order[r.id]
        if any(o != r.id and order[o] < mine and state[o] not in TERMINAL for o in by_key.get(r.key, [])):
            plan.held.append(r.id)
            state[r.id] = "held"
            continue
        plan.claims.append(r)
        state[r.id] = "delivering"
    return plan


def lease_ended(lease_until: datetime | None, now: datetime, grace: timedelta) -> bool:
    """May a delivery under this lease be taken over at ``now``?"""
    return lease_until is not None and lease_until + grace < now


@dataclass(frozen=True)
class Held:
    """One message of a batch in progress, as a renewal names it: the attempt that holds it."""

    message_id: str
    attempt: int
    worker: str


def may_renew(row: Any, held: Held, now: datetime) -> bool:
    """A lease is renewed only for the attempt that holds it, and only while it has not ended
    (so a renewal and a takeover, which waits for the end plus grace, never meet)."""
    return (
        row.state == "delivering"
        and row.attempts == held.attempt
        and row.claimed_by == held.worker
        and row.lease_until is not None
        and row.lease_until >= now
    )


# ------------------------------------------------------------------ outcome decisions
@dataclass(frozen=True)
class Verdict:
    """What one outcome does to its message."""

    message_id: str
    attempt: int
    state: str  # delivered | retrying | dead
    next_attempt_at: datetime | None = None
    last_error: str | None = None  # None: keep the message's last error
    partner_ref: str | None = None  # set on delivered
    in_doubt: bool = False  # the next attempt must check the partner first


APPLIED, RECORDED_FACT, SUPERSEDED_ONLY = "applied", "fact", "superseded"


def standing(verdict: Verdict, state: str, attempts: int) -> str:
    """What a finished attempt's verdict does, given its message's current state and attempt:
    ``applied`` (the attempt still owns the message), ``fact`` ("delivered" learned by an
    attempt that was taken over: recorded all the same, unless the message is already
    final), or ``superseded`` (only the attempts table keeps it)."""
    if state == "delivering" and attempts == verdict.attempt:
        return APPLIED
    if verdict.state == "delivered" and state not in TERMINAL:
        return RECORDED_FACT
    return SUPERSEDED_ONLY


def judge(claim: Claim, outcome: Outcome, policy: DeliveryPolicy, now: datetime) -> Verdict:
    """The message's next state after this attempt's outcome, within its retry budget."""
    mid, n = claim.item.message_id, claim.item.attempt
    detail = outcome.detail[:2000]
    if outcome.kind is OutcomeKind.DELIVERED:
        return Verdict(mid, n, "delivered", partner_ref=outcome.partner_ref)
    doubt = outcome.in_doubt
    if outcome.kind is OutcomeKind.DEAD:
        return Verdict(mid, n, "dead", last_error=detail, in_doubt=doubt)
    spent = n - claim.budget_attempts >= policy.max_attempts
    since = claim.budget_since or now
    old = now - since > timedelta(seconds=policy.max_age)
    if spent or old:
        why = "retry budget spent" if spent else "too old to retry"
        return Verdict(mid, n, "dead", last_error=f"{why} after {n} attempts: {detail}", in_doubt=doubt)
    delay = timedelta(seconds=backoff(policy, n - claim.budget_attempts))
    return Verdict(mid, n, "retrying", next_attempt_at=now + delay, last_error=detail, in_doubt=doubt)


def attempt_row(claim: Claim, outcome: Outcome, how: str, now: datetime) -> dict[str, Any]:
    """The attempts row of one finished attempt; ``how``: its ``standing``."""
    detail = outcome.detail[:2000]
    note = {APPLIED: "", RECORDED_FACT: FACT, SUPERSEDED_ONLY: SUPERSEDED}[how]
    return {
        "message_id": claim.item.message_id,
        "number": claim.item.attempt,
        "started_at": claim.started_at or now,
        "finished_at": now,
        "outcome": outcome.kind.value,
        "detail": detail + note,
        "partner_ref": outcome.partner_ref,
        "response": (outcome.response or "")[:4000] or None,
        "worker": claim.worker or None,
    }


def first_unfinished(rows: Iterable[KeyMessage]) -> dict[str, KeyMessage]:
    """The earliest unfinished message of each key, from rows in (key, occurred_at, id) order."""
    first: dict[str, KeyMessage] = {}
    for r in rows:
        if r.state not in TERMINAL:
            first.setdefault(r.key, r)
    return first
