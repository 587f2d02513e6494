"""Leases that live as long as the work: takeovers only after a lease ended, "delivered" kept
from any attempt, and whether a message's last attempt may have reached the partner

- ``messages.in_doubt``: set when an attempt ends without knowing whether the partner got the
  change (no answer, a server error) or is abandoned (its lease ended); cleared by a definite
  answer. The next attempt checks the partner first only when it is set.
- ``lgsp_claim`` (new signature): a broker redelivery no longer takes a delivery over; only a
  lease that ended more than ``p_grace`` ago does. Lease times follow the database's clock
  (``now()``) unless the caller passes one (tests, the rules' model).
- ``lgsp_record`` (new signature): "delivered" learned by an attempt that was taken over is
  recorded all the same while the message is not final (and the next message of its key is
  released); other outcomes of such an attempt stay in ``attempts`` only.

The same rules as ``hub.ledger.model`` (``plan_claims``, ``standing``); the ledger tests and the
rules' model test run against both implementations.

Revision ID: 0006
Revises: 0005
"""

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNFINISHED = "('queued', 'delivering', 'retrying', 'held')"
OLD_CLAIM_ARGS = "varchar[], varchar[], varchar, varchar, timestamptz, timestamptz, int"
OLD_RECORD_ARGS = (
    "varchar, timestamptz, int, text, text, varchar[], varchar[], int[], varchar[], timestamptz[], text[], varchar[], "
    "timestamptz[], varchar[], text[], varchar[], text[], varchar[]"
)
CLAIM_ARGS = "varchar[], varchar, varchar, timestamptz, interval, interval, text, int"
RECORD_ARGS = (
    "varchar, timestamptz, int, text, text, text, varchar[], varchar[], int[], varchar[], timestamptz[], text[], "
    "varchar[], boolean[], timestamptz[], varchar[], text[], varchar[], text[], varchar[]"
)

CLAIM = f"""
CREATE OR REPLACE FUNCTION lgsp_claim(
    p_ids varchar[], p_connector varchar, p_worker varchar, p_now timestamptz, p_lease interval,
    p_grace interval, p_abandoned text, p_lock_namespace int)
RETURNS TABLE (
    id varchar, decision text, type varchar, key varchar, payload json, attempts int,
    budget_attempts int, budget_since timestamptz, correlation_id varchar, key_known boolean, in_doubt boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_now timestamptz := COALESCE(p_now, now());  -- the database's clock unless the caller's is given
BEGIN
    -- decisions about one ordering key are serialised; locks in ascending order: no deadlock
    PERFORM pg_advisory_xact_lock(p_lock_namespace, s.h) FROM (
        SELECT DISTINCT hashtext(p_connector || ':' || m.key) AS h FROM messages m WHERE m.id = ANY(p_ids) ORDER BY 1
    ) AS s;
    -- a new statement, so a new snapshot: it sees what the lock's previous holder committed
    RETURN QUERY
    WITH batch AS (
        SELECT m.id, m.connector, m.key, m.state,
               m.state = 'queued'
               OR (m.state = 'retrying' AND COALESCE(m.next_attempt_at, v_now) <= v_now)
               OR (m.state = 'delivering' AND m.lease_until + p_grace < v_now) AS eligible
        FROM messages m WHERE m.id = ANY(p_ids)
    ), firsts AS (  -- the earliest unfinished message of each key: the only one that may be delivered
        SELECT f.id FROM (SELECT DISTINCT b.key FROM batch b WHERE b.eligible AND b.connector = p_connector) AS k
        CROSS JOIN LATERAL (
            SELECT m.id FROM messages m
            WHERE m.key = k.key AND m.connector = p_connector AND m.state IN {UNFINISHED}
            ORDER BY m.occurred_at, m.id LIMIT 1
        ) AS f
    ), decided AS (
        SELECT b.id,
               CASE WHEN b.connector <> p_connector THEN 'foreign'
                    WHEN NOT b.eligible THEN 'skipped'
                    WHEN b.id IN (SELECT firsts.id FROM firsts) THEN 'claimed'
                    ELSE 'held' END AS decision,
               b.connector = p_connector AND b.eligible AND b.state = 'delivering' AS taken_over
        FROM batch b
    ), abandoned AS (  -- the attempt in flight of a message taken over
        INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, worker)
        SELECT m.id, m.attempts, m.updated_at, v_now, 'abandoned', p_abandoned, m.claimed_by
        FROM messages m JOIN decided d ON d.id = m.id WHERE d.taken_over
        ON CONFLICT (message_id, number) DO NOTHING
    ), held AS (
        UPDATE messages m SET state = 'held', updated_at = v_now
        FROM decided d WHERE d.id = m.id AND d.decision = 'held'
    ), claimed AS (
        UPDATE messages m SET state = 'delivering', attempts = m.attempts + 1, lease_until = v_now + p_lease,
               next_attempt_at = NULL, claimed_by = p_worker, updated_at = v_now,
               in_doubt = m.in_doubt OR d.taken_over
        FROM decided d WHERE d.id = m.id AND d.decision = 'claimed'
            -- checked again on the row as it is now: a renewal that committed meanwhile wins
            AND (m.state <> 'delivering' OR m.lease_until + p_grace < v_now)
        RETURNING m.id, m.type, m.key, m.payload, m.attempts - 1 AS attempts, m.budget_attempts, m.budget_since,
                  m.correlation_id, m.in_doubt
    )
    SELECT d.id, CASE WHEN d.decision = 'claimed' AND c.id IS NULL THEN 'skipped' ELSE d.decision END,
           c.type, c.key, c.payload, c.attempts, c.budget_attempts, c.budget_since, c.correlation_id,
           c.id IS NOT NULL AND EXISTS (
               SELECT 1 FROM messages k WHERE k.key = c.key AND k.connector = p_connector AND k.state = 'delivered'),
           c.in_doubt
    FROM decided d LEFT JOIN claimed c ON c.id = d.id;
END
$fn$
"""

RECORD = f"""
CREATE OR REPLACE FUNCTION lgsp_record(
    p_connector varchar, p_now timestamptz, p_lock_namespace int, p_superseded text, p_fact text, p_channel text,
    p_id varchar[], p_key varchar[], p_number int[], p_state varchar[], p_next_attempt_at timestamptz[],
    p_last_error text[], p_partner_ref varchar[], p_in_doubt boolean[], p_started_at timestamptz[],
    p_outcome varchar[], p_detail text[], p_attempt_ref varchar[], p_response text[], p_worker varchar[])
RETURNS SETOF varchar
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_applied varchar[];
    v_finished varchar[];
    v_released int;
BEGIN
    -- asynchronous commit: after a crash the messages are still delivering with a lease, are
    -- queued again when it runs out, and go out in doubt (the partner is checked first)
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(p_lock_namespace, s.h) FROM (
        SELECT DISTINCT hashtext(p_connector || ':' || k) AS h FROM unnest(p_key) AS k ORDER BY 1
    ) AS s;
    WITH v AS (
        SELECT * FROM unnest(p_id, p_number, p_state, p_next_attempt_at, p_last_error, p_partner_ref, p_in_doubt,
                             p_started_at, p_outcome, p_detail, p_attempt_ref, p_response, p_worker)
            AS v(id, number, state, next_attempt_at, last_error, partner_ref, in_doubt, started_at, outcome, detail,
                 attempt_ref, response, worker)
    ), before AS (  -- the messages as this statement found them (its snapshot)
        SELECT m.id, m.state = 'delivering' AND m.attempts = v.number AS owned
        FROM messages m JOIN v ON v.id = m.id
    ), u AS (  -- where this attempt still owns its message, or it learned a fact ("delivered")
        UPDATE messages AS m SET
            state = v.state, next_attempt_at = v.next_attempt_at,
            last_error = COALESCE(v.last_error, m.last_error), partner_ref = COALESCE(v.partner_ref, m.partner_ref),
            lease_until = NULL, claimed_by = NULL, updated_at = p_now, in_doubt = v.in_doubt,
            delivered_at = CASE WHEN v.state = 'delivered' THEN p_now ELSE m.delivered_at END
        FROM v
        WHERE m.id = v.id AND m.id = ANY(p_id)
          AND ((m.state = 'delivering' AND m.attempts = v.number)
               OR (v.state = 'delivered' AND m.state NOT IN ('delivered', 'dead')))
        RETURNING m.id, m.key, m.state
    ), a AS (
        INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, partner_ref, response,
                              worker)
        SELECT v.id, v.number, v.started_at, p_now, v.outcome,
               CASE WHEN u.id IS NULL THEN v.detail || p_superseded
                    WHEN NOT COALESCE(b.owned, false) THEN v.detail || p_fact
                    ELSE v.detail END,
               v.attempt_ref, v.response, v.worker
        FROM v LEFT JOIN u ON u.id = v.id LEFT JOIN before b ON b.id = v.id
        ON CONFLICT (message_id, number) DO UPDATE SET
            finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome, detail = EXCLUDED.detail,
            partner_ref = EXCLUDED.partner_ref, response = EXCLUDED.response, worker = EXCLUDED.worker
    )
    SELECT array_agg(u.id), array_agg(DISTINCT u.key) FILTER (WHERE u.state IN ('delivered', 'dead'))
    INTO v_applied, v_finished FROM u;

    IF v_finished IS NOT NULL THEN  -- the next message of each finished key goes if it was held
        WITH f AS (
            SELECT n.id, n.state FROM unnest(v_finished) AS k(key)
            CROSS JOIN LATERAL (
                SELECT m.id, m.state FROM messages m
                WHERE m.key = k.key AND m.connector = p_connector AND m.state IN {UNFINISHED}
                ORDER BY m.occurred_at, m.id LIMIT 1
            ) AS n
        ), r AS (
            UPDATE messages m SET state = 'queued', updated_at = p_now
            FROM f WHERE m.id = f.id AND f.state = 'held'
            RETURNING m.id, m.type
        ), o AS (
            INSERT INTO outbox (message_id, routing_key, created_at, available_at)
            SELECT r.id, r.type, p_now, p_now FROM r
        )
        SELECT count(*) INTO v_released FROM r;
        IF v_released > 0 THEN
            PERFORM pg_notify(p_channel, '');  -- delivered at commit: the relay publishes them
        END IF;
    END IF;
    RETURN QUERY SELECT unnest(COALESCE(v_applied, '{{}}'::varchar[]));
END
$fn$
"""


def _revision_0003() -> ModuleType:
    path = Path(__file__).with_name("0003_pg_claim_and_record_functions.py")
    spec = importlib.util.spec_from_file_location("lgsp_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("in_doubt", sa.Boolean(), nullable=False, server_default=sa.false()))
    # what was abandoned or may have been sent before this revision: checked at the partner first
    op.execute("UPDATE messages SET in_doubt = true WHERE attempts > 0 AND state NOT IN ('delivered')")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_claim({OLD_CLAIM_ARGS})")
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_record({OLD_RECORD_ARGS})")
        op.execute(CLAIM)
        op.execute(RECORD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_claim({CLAIM_ARGS})")
        op.execute(f"DROP FUNCTION IF EXISTS lgsp_record({RECORD_ARGS})")
        old = _revision_0003()
        op.execute(old.CLAIM)
        op.execute(old.RECORD)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("in_doubt")
