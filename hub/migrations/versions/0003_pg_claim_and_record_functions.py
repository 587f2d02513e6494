"""PostgreSQL: claim and record as server-side functions, one round trip each

A worker's two transactions per batch become one statement each (``SELECT * FROM
lgsp_claim(...)``, ``SELECT lgsp_record(...)``): the advisory lock, the reads and the writes
happen inside the function, each statement with a fresh snapshot after the lock. They apply
the same rules as the portable ledger (hub.ledger.model.plan_claims and judge); the ledger
test suite runs against both.

Revision ID: 0003
Revises: 0002
"""

from alembic import op


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNFINISHED = "('queued', 'delivering', 'retrying', 'held')"

CLAIM = f"""
CREATE OR REPLACE FUNCTION lgsp_claim(
    p_ids varchar[], p_redelivered varchar[], p_connector varchar, p_worker varchar,
    p_now timestamptz, p_lease_until timestamptz, p_lock_namespace int)
RETURNS TABLE (
    id varchar, decision text, type varchar, key varchar, payload json, attempts int,
    budget_attempts int, budget_since timestamptz, correlation_id varchar, key_known boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
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
               OR (m.state = 'retrying' AND COALESCE(m.next_attempt_at, p_now) <= p_now)
               OR (m.state = 'delivering' AND (m.id = ANY(p_redelivered) OR m.lease_until < p_now)) AS eligible
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
        SELECT m.id, m.attempts, m.updated_at, p_now, 'abandoned', 'redelivered: worker or connection lost', m.claimed_by
        FROM messages m JOIN decided d ON d.id = m.id WHERE d.taken_over
        ON CONFLICT (message_id, number) DO NOTHING
    ), held AS (
        UPDATE messages m SET state = 'held', updated_at = p_now
        FROM decided d WHERE d.id = m.id AND d.decision = 'held'
    ), claimed AS (
        UPDATE messages m SET state = 'delivering', attempts = m.attempts + 1, lease_until = p_lease_until,
               next_attempt_at = NULL, claimed_by = p_worker, updated_at = p_now
        FROM decided d WHERE d.id = m.id AND d.decision = 'claimed'
        RETURNING m.id, m.type, m.key, m.payload, m.attempts - 1 AS attempts, m.budget_attempts, m.budget_since,
                  m.correlation_id
    )
    SELECT d.id, d.decision, c.type, c.key, c.payload, c.attempts, c.budget_attempts, c.budget_since,
           c.correlation_id,
           c.id IS NOT NULL AND EXISTS (
               SELECT 1 FROM messages k WHERE k.key = c.key AND k.connector = p_connector AND k.state = 'delivered')
    FROM decided d LEFT JOIN claimed c ON c.id = d.id;
END
$fn$
"""

RECORD = f"""
CREATE OR REPLACE FUNCTION lgsp_record(
    p_connector varchar, p_now timestamptz, p_lock_namespace int, p_superseded text, p_channel text,
    p_id varchar[], p_key varchar[], p_number int[], p_state varchar[], p_next_attempt_at timestamptz[],
    p_last_error text[], p_partner_ref varchar[], p_started_at timestamptz[], p_outcome varchar[],
    p_detail text[], p_attempt_ref varchar[], p_response text[], p_worker varchar[])
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
        SELECT * FROM unnest(p_id, p_number, p_state, p_next_attempt_at, p_last_error, p_partner_ref,
                             p_started_at, p_outcome, p_detail, p_attempt_ref, p_response, p_worker)
            AS v(id, number, state, next_attempt_at, last_error, partner_ref, started_at, outcome, detail,
                 attempt_ref, response, worker)
    ), u AS (  -- only where this attempt still owns its message (not taken over meanwhile)
        UPDATE messages AS m SET
            state = v.state, next_attempt_at = v.next_attempt_at,
            last_error = COALESCE(v.last_error, m.last_error), partner_ref = COALESCE(v.partner_ref, m.partner_ref),
            lease_until = NULL, claimed_by = NULL, updated_at = p_now,
            delivered_at = CASE WHEN v.state = 'delivered' THEN p_now ELSE m.delivered_at END
        FROM v
        WHERE m.id = v.id AND m.id = ANY(p_id) AND m.state = 'delivering' AND m.attempts = v.number
        RETURNING m.id, m.key, m.state
    ), a AS (
        INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, partner_ref, response,
                              worker)
        SELECT v.id, v.number, v.started_at, p_now, v.outcome,
               CASE WHEN u.id IS NULL THEN v.detail || p_superseded ELSE v.detail END,
               v.attempt_ref, v.response, v.worker
        FROM v LEFT JOIN u ON u.id = v.id
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(CLAIM)
        op.execute(RECORD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lgsp_claim(varchar[], varchar[], varchar, varchar, timestamptz, timestamptz, int)")
        op.execute(
            "DROP FUNCTION IF EXISTS lgsp_record(varchar, timestamptz, int, text, text, varchar[], varchar[], int[], "
            "varchar[], timestamptz[], text[], varchar[], timestamptz[], varchar[], text[], varchar[], text[], varchar[])"
        )
