"""Where the hub writes its evidence: one :class:`EvidenceLog` per database, and the facts of each seam.

Every seam stages its facts with one call, in the transaction that makes the change:

==================================  ==================================================================
seam                                call
==================================  ==================================================================
ledger accept (SQLite / PostgreSQL) ``log.stage(c, log.accepted(source, rows))`` / the accept statement
                                    carries them (``hub/ledger/postgres.py``, :func:`gated_arrays`)
ledger record (outcomes)            ``log.stage(c, log.outcomes(claims, outcomes, applied))`` / the
                                    ``lgsp_record`` statement carries them (:data:`PG_GATED_INSERT`)
ledger replay                       ``log.stage(c, [log.operator(actor, "message.replay", ...)])``
abandoned attempts (takeovers)      ``log.stage(c, log.abandoned(rows, now))`` (``ledger.delivery.abandon``) /
                                    ``lgsp_claim`` stages them (migration 0017)
payment callbacks                   ``Payments.settle`` (verified) and ``Payments.refused_callback``
payment reconciliation queries      ``Payments.query_fact`` (``hub/payments/reconcile.py``)
citizen queries                     ``hub.citizens.audit.record``
operator / admin actions            ``hub.console.audit.record``, ``hub.clients._record``
==================================  ==================================================================

Facts staged by one call become batch records, one per chain, actor and time (``store.batched`` on the
portable path, the grouping of :func:`gated_insert` on PostgreSQL: the same records either way).

The log of an engine is the one the composition root attached (:func:`attach`, from the settings:
``HUB_EVIDENCE_ENABLED``, ``HUB_EVIDENCE_CHAINS``, the keyring of ``HUB_AUDIT_HASH_KEYS``); an
engine built elsewhere (a script, a test) gets one from ``Settings()``. Personal data never enters
a fact in clear: payloads, requests, answers, free texts, officer codes and addresses are keyed
digests (:class:`hub.evidence.keyring.Keyring`); details hold codes, states, counts and names.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine

from hub.envelope import utcnow
from hub.evidence.keyring import Keyring
from hub.evidence.model import BATCH, Fact, chain_of, entry_text
from hub.evidence.store import DEFAULT_CHAINS, record_batched
from hub.ports import OutcomeKind

if TYPE_CHECKING:
    from hub.ledger.model import Claim
    from hub.ports import Outcome
    from hub.settings import Settings

FINAL_KINDS = {"delivered": "message.delivered", "dead": "message.dead"}

# The PostgreSQL form: facts ride in the statement that makes the change, each with a gate: ''
# (always), ``+<message id>`` (only if that id is among the rows of ``{source}``: the messages the
# statement inserted or whose outcome it applied) or ``-<message id>`` (only if it is not). The facts
# that pass are grouped as ``store.batched`` does: one batch record per chain, actor and time (a fact
# alone in its group stays a plain record), their entries (``model.entry_text``) in the order given.
# ``{p}`` is the parameter style's prefix.
_GATED = (
    "INSERT INTO evidence_staged (chain, at, kind, actor, subject, digests, details) "
    "SELECT c, a, CASE WHEN n = 1 THEN e1::json->>'kind' ELSE 'batch' END, ac, "
    "CASE WHEN n = 1 THEN e1::json->>'subject' ELSE 'batch' END, "
    "CASE WHEN n = 1 THEN e1::json->'digests' ELSE '{{}}'::json END, "
    "CASE WHEN n = 1 THEN e1::json->'details' ELSE ('{{\"facts\":[' || es || ']}}')::json END "
    "FROM (SELECT c, a, ac, count(*) AS n, min(e) AS e1, string_agg(e, ',' ORDER BY o) AS es, min(o) AS o1 "
    "FROM unnest({p}ev_gate)b::varchar[], {p}ev_chain)b::smallint[], {p}ev_at)b::timestamptz[], "
    "{p}ev_actor)b::text[], {p}ev_entry)b::text[]) WITH ORDINALITY AS u(g, c, a, ac, e, o) "
    "WHERE u.g = '' OR (left(u.g, 1) = '+' AND substr(u.g, 2) IN (SELECT id FROM {source})) "
    "OR (left(u.g, 1) = '-' AND substr(u.g, 2) NOT IN (SELECT id FROM {source})) "
    "GROUP BY c, a, ac) AS grouped ORDER BY o1"
)


assert BATCH == "batch"  # the literal in _GATED


def gated_insert(source: str) -> str:
    """The gated insert of staged facts (named parameters ``ev_*``), for a CTE over ``source``."""
    return _GATED.format(p="%(", source=source)


def gated_arrays(facts: Sequence[tuple[str, Fact]], chains: int, *, trusted: bool = False) -> dict[str, list[Any]]:
    """The ``ev_*`` parameters of :func:`gated_insert` for (gate, fact) pairs. ``trusted``: facts built
    by this module's builders (valid by construction: not checked again, on the hot path)."""
    now = None
    ats: list[datetime] = []
    entries: list[str] = []
    for _, f in facts:
        if f.at is None:
            now = now or utcnow()
        ats.append(f.at or now)  # type: ignore[arg-type]  # now is set when f.at is None
        entries.append(entry_text(f, check=not trusted))
    return {
        "ev_gate": [g for g, _ in facts],
        "ev_chain": [chain_of(f.subject, chains) for _, f in facts],
        "ev_at": ats,
        "ev_actor": [f.actor for _, f in facts],
        "ev_entry": entries,
    }


class EvidenceLog:
    """The evidence settings of one database and the facts of each seam (pure builders + ``stage``)."""

    def __init__(self, keyring: Keyring, chains: int = DEFAULT_CHAINS, enabled: bool = True) -> None:
        self.keyring = keyring
        self.chains = chains
        self.enabled = enabled

    @classmethod
    def from_settings(cls, s: Settings) -> EvidenceLog:
        return cls(Keyring.from_settings(s), s.evidence_chains, s.evidence_enabled)

    # ---------------------------------------------------------------- writing
    def stage(self, c: Connection, facts: Iterable[Fact]) -> int:
        """Stage facts in ``c``'s transaction (nothing when the evidence log is off)."""
        if not self.enabled:
            return 0
        return record_batched(c, facts, chains=self.chains)

    def on_accept(self, c: Connection, source: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """The ledger's accept seam: ``message.accepted`` for each new message row."""
        if self.enabled:
            record_batched(c, self.accepted(source, rows), chains=self.chains)

    def on_record(
        self,
        c: Connection,
        claims: Sequence[Claim],
        outcomes: Sequence[Outcome],
        applied: Mapping[str, str],
        at: datetime,
    ) -> None:
        """The ledger's record seam (portable path): the attempts, and the outcomes it applied."""
        if self.enabled:
            gated = self.outcomes(claims, outcomes, applied, at)
            record_batched(c, [f for gate, f in gated if passes(gate, applied)], chains=self.chains)

    def digest(self, value: Any) -> str:
        """A keyed digest of a JSON value, or of bytes / text as sent or received."""
        if isinstance(value, bytes | bytearray | memoryview):
            return self.keyring.bytes(bytes(value))
        if isinstance(value, str):
            return self.keyring.bytes(value.encode("utf-8", "surrogatepass"))
        return self.keyring.json(value)

    # ---------------------------------------------------------------- ledger
    def accepted(self, source: str, rows: Iterable[Mapping[str, Any]]) -> list[Fact]:
        """``message.accepted`` for new message rows (``hub.ledger.core.message_row``)."""
        return [
            Fact(
                "message.accepted",
                f"message:{r['id']}",
                f"client:{source}"[:100],
                {"payload": self.keyring.json(r["payload"])},
                {"type": r["type"], "connector": r["connector"], "key": r["key"][:200]},
                at=r["accepted_at"],
            )
            for r in rows
        ]

    def outcomes(
        self, claims: Sequence[Claim], outcomes: Sequence[Outcome], states: Mapping[str, str], at: datetime
    ) -> list[tuple[str, Fact]]:
        """(gate, fact), one fact per finished attempt: an attempt whose verdict ends its message is
        ``message.delivered`` / ``message.dead`` if the ledger applies it (gate ``+id``) and a plain
        ``delivery.attempt`` if not (superseded: gate ``-id``); any other is ``delivery.attempt``.
        Either way it holds the attempt's digests (request, answer) and details. ``states``: the
        verdicts' states (message id -> delivered | retrying | dead). One fact, not two, per attempt
        that delivers: the spine's cost (``docs/performance.md``)."""
        out: list[tuple[str, Fact]] = []
        memo: dict[int, tuple[Any, str]] = {}  # digests of values the batch shares (a portal call's answer)

        def digest(value: Any) -> str:
            hit = memo.get(id(value))
            if hit is None or hit[0] is not value:
                hit = memo[id(value)] = (value, self.digest(value))
            return hit[1]

        for cl, oc in zip(claims, outcomes, strict=True):
            item = cl.item
            mid = item.message_id
            subject, actor = f"message:{mid}", f"worker:{cl.worker or 'unknown'}"[:100]
            # what was sent (else the payload it came from: message.accepted holds the same digest)
            if oc.request is not None:
                digests = {"request": digest(oc.request)}
            else:
                digests = {"payload": self.keyring.json(dict(item.payload))}
            if oc.answer is not None:
                digests["answer"] = digest(oc.answer)
            elif oc.response:
                digests["answer"] = digest(oc.response)
            if oc.detail and oc.kind is not OutcomeKind.DELIVERED:  # why it failed (a partner's text maybe)
                digests["detail"] = self.digest(oc.detail)
            details: dict[str, Any] = {"attempt": item.attempt, "outcome": oc.kind.value, "in_doubt": oc.in_doubt}
            attempt = Fact("delivery.attempt", subject, actor, digests, details, at=at)
            kind = FINAL_KINDS.get(states.get(mid, ""))
            if kind is None:
                out.append(("", attempt))
                continue
            final = dict(digests)
            if kind == "message.delivered" and oc.partner_ref:
                final["partner_ref"] = self.digest(oc.partner_ref)
            out.append((f"+{mid}", Fact(kind, subject, actor, final, details, at=at)))
            out.append((f"-{mid}", attempt))
        return out

    def abandoned(self, rows: Iterable[tuple[str, int, str | None]], at: datetime) -> list[Fact]:
        """``delivery.attempt`` (outcome ``abandoned``) for attempts closed because their lease ended or
        their message was requeued: (message id, attempt number, worker). Nothing is known of what they
        sent: no digests; in doubt (they may have reached the partner). ``lgsp_claim`` (migration 0017)
        stages the same facts on PostgreSQL."""
        return [
            Fact(
                "delivery.attempt",
                f"message:{mid}",
                f"worker:{worker or 'unknown'}"[:100],
                {},
                {"attempt": number, "outcome": "abandoned", "in_doubt": True},
                at=at,
            )
            for mid, number, worker in rows
        ]

    # ---------------------------------------------------------------- everyone else
    def operator(
        self,
        actor: str,
        action: str,
        subject: str,
        outcome: str,
        *,
        at: datetime | None = None,
        texts: Mapping[str, str | None] | None = None,
        **details: Any,
    ) -> Fact:
        """``operator.action``: ``texts`` (free text an operator typed, addresses...) become digests."""
        digests = {k: self.digest(v) for k, v in (texts or {}).items() if v}
        body = {"action": action, "outcome": outcome} | details
        return Fact("operator.action", subject[:200], actor[:100], digests, body, at=at)


def passes(gate: str, applied: Mapping[str, Any]) -> bool:
    """The gate of :data:`_GATED`, in Python (the portable path)."""
    return not gate or (gate[1:] in applied) == (gate[0] == "+")


_LOGS: weakref.WeakKeyDictionary[Engine, EvidenceLog] = weakref.WeakKeyDictionary()
_DEFAULT: list[EvidenceLog] = []
_LOCK = threading.Lock()


def attach(engine: Engine, log: EvidenceLog) -> EvidenceLog:
    """The composition root: this engine's facts follow ``log``'s settings."""
    _LOGS[engine] = log
    return log


def of(where: Engine | Connection) -> EvidenceLog:
    """The evidence log of an engine (or a connection's engine)."""
    engine = where.engine if isinstance(where, Connection) else where
    found = _LOGS.get(engine)
    if found is not None:
        return found
    with _LOCK:
        if not _DEFAULT:
            from hub.settings import Settings

            _DEFAULT.append(EvidenceLog.from_settings(Settings()))
        return _DEFAULT[0]
