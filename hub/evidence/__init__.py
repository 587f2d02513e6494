"""The evidence log: an append-only, hash-chained, signed record of every exchange and operator action.

How it works
  1. Whoever does something writes a **fact** (:class:`Fact`) *in its own transaction*:
     :func:`record` / :func:`record_many` (a SQLAlchemy ``Connection``) or :func:`record_pg` (a
     psycopg cursor, the PostgreSQL hot path). That is one insert into ``evidence_staged``: no
     lock, no read of the chain. The fact commits or rolls back with what it records.
  2. The **chainer** (``chainer.Chainer.run_forever``, a thread of the relay) moves staged facts
     into ``evidence`` in batches: record ``seq`` of a chain holds the hash of record ``seq - 1``
     (exact bytes in ``model.py``). Facts go to one of ``HUB_EVIDENCE_CHAINS`` chains by a hash of
     their subject (a subject's facts stay in order in one chain); each chain is taken under its own
     advisory lock, so several relays chain in parallel and never fork a chain.
  3. At most every ``HUB_EVIDENCE_SEAL_INTERVAL`` seconds a chain that grew is **sealed**: an Ed25519
     signature over (chain, seq, head hash, time) under ``HUB_EVIDENCE_SIGNING_KEY``
     (``lgsp evidence public-key`` prints what verifies it).
  4. ``lgsp evidence verify`` walks every chain through its archives and the database and names the
     first record edited, removed, inserted or reordered, or a seal or archive that does not hold.
  5. Retention (``retention.py``, beside the chainer) replaces personal data in final messages'
     payloads by a keyed digest, and exports old records to signed archive files, pruning them
     from the database when ``HUB_EVIDENCE_KEEP_DAYS`` is set.

Personal data never enters a fact in clear: digests come from :class:`Keyring` (HMAC-SHA256 under
the versioned ``HUB_AUDIT_HASH_KEYS``): ``keyring.id_number(n)``, ``keyring.json(payload)``,
``keyring.bytes(raw_answer)``.

Where the hub writes them (``facts.py`` builds them; each in the transaction that makes the change):

==========================  ==============================  ==============================================
where                       kind                            fact
==========================  ==============================  ==============================================
ledger accept (ingress)     ``message.accepted``            subject ``message:<id>``, actor ``client:<code>``,
                                                            digests ``payload`` = ``keyring.json(payload)``,
                                                            details type, connector, key (dossier code)
worker records an outcome   ``delivery.attempt``            actor ``worker:<id>``, digests ``request`` /
                                                            ``answer`` (what was sent and received),
                                                            details attempt, outcome, http status
  ... abandoned (takeover)  ``delivery.attempt``            actor the worker whose lease ended, details outcome
                                                            ``abandoned``, in_doubt (migration 0017 on PostgreSQL)
  ... delivered / dead      ``message.delivered`` /         details partner_ref (digest if it may carry
                            ``message.dead``                personal data), error class
payment callback            ``callback.received``           subject ``payment:<id>``, actor ``partner:<profile>``,
                                                            details verified, reason (refusal code)
payment reconciliation      ``payment.query``               subject ``payment:<id>``, actor ``hub:reconciler``,
query                                                       details profile, state (the gateway's), answer, error
citizen query audit row     ``citizen.query``               subject ``citizen-query:<row id>``, digests
                                                            ``id_number`` = ``keyring.id_number(n)``,
                                                            details operation, outcome, fields disclosed
replay, edit, hold, resume, ``operator.action``             actor ``operator:<name>``, details action,
client and key changes                                      digests before / after (edits)
==========================  ==============================  ==============================================

On the PostgreSQL hot path the facts ride in the accept statement and the ``lgsp_record`` statement
themselves (a data-modifying CTE, ``facts.gated_insert``): still one round trip per batch.

Facts recorded together (an accepted batch, a worker's outcomes, any ``EvidenceLog.stage`` call) are
**batch records**: one record per chain, actor and time, holding its facts in ``details.facts``
(``model.py``; a fact alone stays a plain record). A batch of 100 changes is then about one record per
chain instead of 100, which is what keeps the evidence log's cost on the spine within 10 %
(``docs/performance.md``); the record is hashed, chained and sealed like any other, so a fact edited,
removed, inserted or moved inside it breaks its hash. ``model.facts_of`` gives a record's facts;
``lgsp evidence export --facts`` writes one line per fact.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.evidence.keyring import Keyring
    from hub.evidence.model import KINDS, Fact, FactError, chain_of
    from hub.evidence.store import record, record_many, record_pg

__all__ = ["KINDS", "Fact", "FactError", "Keyring", "chain_of", "record", "record_many", "record_pg"]
_HOME = {"Keyring": "keyring", "record": "store", "record_many": "store", "record_pg": "store"}


def __getattr__(name: str) -> Any:
    """Imported on first use: ``lgsp`` loads this package for its commands and must start fast."""
    if name not in __all__:
        raise AttributeError(name)
    return getattr(importlib.import_module(f"hub.evidence.{_HOME.get(name, 'model')}"), name)
