"""The evidence of an abandoned attempt: ``lgsp_claim`` stages a ``delivery.attempt`` fact (outcome
``abandoned``, the worker whose lease ended as its actor) for each attempt it closes as abandoned when
it takes a message over, in the same statement as the attempt's row

The function gains a last parameter, ``p_ev_chain smallint[]``: the evidence chain of each id of
``p_ids`` (``hub.evidence.model.chain_of`` of ``message:<id>``, computed by the caller), or NULL when
the evidence log is off. The rest of the function is migration 0006's, unchanged. The portable ledger
does the same in Python (``hub.ledger.delivery.abandon``).

Revision ID: 0017
Revises: 0016
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OLD_CLAIM_ARGS = "varchar[], varchar, varchar, timestamptz, interval, interval, text, int"
CLAIM_ARGS = OLD_CLAIM_ARGS + ", smallint[]"

_ABANDONED = """        ON CONFLICT (message_id, number) DO NOTHING
    ), held AS ("""
_ABANDONED_EV = """        ON CONFLICT (message_id, number) DO NOTHING
        RETURNING message_id, number, worker
    ), abandoned_ev AS (  -- its evidence (the chainer makes the details' JSON canonical)
        INSERT INTO evidence_staged (chain, at, kind, actor, subject, digests, details)
        SELECT e.c, v_now, 'delivery.attempt', left('worker:' || COALESCE(NULLIF(a.worker, ''), 'unknown'), 100),
               'message:' || a.message_id, '{}'::json,
               json_build_object('attempt', a.number, 'outcome', 'abandoned', 'in_doubt', true)
        FROM abandoned a JOIN unnest(p_ids, p_ev_chain) AS e(id, c) ON e.id = a.message_id
        WHERE p_ev_chain IS NOT NULL
    ), held AS ("""


def _revision_0006() -> ModuleType:
    path = Path(__file__).with_name("0006_leases_in_doubt.py")
    spec = importlib.util.spec_from_file_location("lgsp_migration_0006", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def claim_with_evidence() -> str:
    old: str = _revision_0006().CLAIM
    signature = "p_abandoned text, p_lock_namespace int)"
    assert old.count(signature) == 1 and old.count(_ABANDONED) == 1, "migration 0006's lgsp_claim changed"
    return old.replace(signature, "p_abandoned text, p_lock_namespace int, p_ev_chain smallint[])").replace(
        _ABANDONED, _ABANDONED_EV
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_claim({OLD_CLAIM_ARGS})")
        op.execute(claim_with_evidence())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_claim({CLAIM_ARGS})")
        op.execute(_revision_0006().CLAIM)
