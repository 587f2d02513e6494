# ruff: noqa: E501 - SQL text
"""Seed a large ledger on PostgreSQL in SQL (generate_series), for the console's benchmark and
its query-plan tests: ``total`` messages over ``days`` days across ``connectors`` connectors,
``dead`` of them dead with ``classes`` error classes (some of whose details name the dossier, so
they differ per message), a retrying share, a small backlog, an attempt row per attempt, and a
payment with its events for a quarter of the dossiers. Ids are ULIDs of their ``accepted_at``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event, text

CONNECTORS = ("national_portal", "webhooks", "postal_vnpost", "payment_paygov")
TYPES = ("dossier.status.changed", "payment.status.changed", "postal.order.created", "payment.open")
FIELDS = ("MaTTHC", "NgayHenTra", "MaLinhVuc", "TrangThaiHoSo", "DonViXuLy", "HinhThuc", "TenTTHC", "LoaiDoiTuong")
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32 (ULID)


def ulid_prefix_sql(ts: str) -> str:
    """SQL for the first 10 characters of a ULID minted at ``ts`` (its milliseconds)."""
    ms = f"(floor(extract(epoch from {ts}) * 1000))::bigint"
    return " || ".join(f"substr('{ALPHABET}', ((({ms}) >> {5 * (9 - k)}) & 31)::int + 1, 1)" for k in range(10))


def error_sql(classes: int) -> str:
    """The last error of the i-th dead message: class k = (i / 200) % classes. A third of the
    classes spend the retry budget on an HTTP status (the attempt count varies), most are the
    partner's own code with a field, the last five name the dossier (a different text each)."""
    k = f"((i / 200) % {classes})"  # with the connector's (i + i / 50) % 4: every class at every connector
    fields = "ARRAY[" + ", ".join(f"'{f}'" for f in FIELDS) + "]"
    return f"""CASE
        WHEN {k} < {classes // 3} THEN 'retry budget spent after ' || (3 + i % 10) || ' attempts: DongBoHoSoMC: HTTP ' || (500 + {k})
        WHEN {k} < {classes - 5} THEN 'DongBoHoSoMC: error_code ' || {k} || ': Thiếu trường ' || ({fields})[1 + {k} % {len(FIELDS)}]
        ELSE 'DongBoHoSoMC: error_code -' || {k} || ': Hồ sơ ' || key || ' đã tồn tại'
    END"""


def seed(engine: Engine, total: int, dead: int, *, classes: int = 30, days: float = 60.0, backlog: int = 400) -> None:
    every = max(total // dead, 2)
    connectors = "ARRAY[" + ", ".join(f"'{c}'" for c in CONNECTORS) + "]"
    types = "ARRAY[" + ", ".join(f"'{t}'" for t in TYPES) + "]"
    rows = f"""
    WITH base AS (
        SELECT i,
               now() - make_interval(secs => {days} * 86400 * (1 - i::float8 / {total})) AS accepted_at,
               ({connectors})[1 + (i + i / 50) % {len(CONNECTORS)}] AS connector,
               ({types})[1 + (i + i / 50) % {len(TYPES)}] AS type,
               '000.00.00.H' || (50 + (i / 5) % 13) AS agency,
               CASE WHEN i % {every} = 7 THEN 'dead'
                    WHEN i % 500 = 13 THEN 'retrying'
                    WHEN i > {total - backlog} THEN (ARRAY['queued', 'queued', 'delivering', 'held'])[1 + i % 4]
                    ELSE 'delivered' END AS state
        FROM generate_series(1, {total}) AS i
    ), keyed AS (
        SELECT *, agency || '-' || to_char(accepted_at, 'YYMMDD') || '-' || lpad(((i / 5) % 100000)::text, 5, '0') AS key
        FROM base
    )
    INSERT INTO messages (id, type, source, key, occurred_at, natural_key, connector, schema_version, correlation_id,
        payload, state, attempts, budget_attempts, budget_since, next_attempt_at, last_error, partner_ref,
        accepted_at, updated_at, delivered_at)
    SELECT {ulid_prefix_sql("accepted_at")} || upper(substr(md5(i::text), 1, 16)),
           type, 'ONEGATE-H' || (50 + i % 13), key, accepted_at - interval '1 second', key || ':' || i, connector, 1,
           md5(i::text || 'c'),
           json_build_object('dossier_code', key, 'procedure_code', '2.002492', 'procedure_name',
               'Cấp giấy phép xây dựng', 'field_code', 'G09-XD01', 'field_name', 'Hoạt động xây dựng',
               'agency_code', agency, 'agency_name', 'Sở Xây dựng', 'status', 1 + i % 10, 'result_delivery', 0,
               -- one in seven lacks the summary (TrichYeuHoSo): a bulk dry run finds it invalid today
               'summary', CASE WHEN i % 7 = 0 THEN NULL ELSE 'Cấp giấy phép xây dựng nhà ở' END,
               'occurred_at', accepted_at, 'received_at', accepted_at - interval '1 day',
               'appointment_at', accepted_at + interval '10 days', 'channel', 2,
               'applicant', json_build_object('name', 'Nguyễn Văn An', 'id_number', '038090001234', 'type', 1),
               'fees', json_build_array(json_build_object('code', 'LP01', 'name', 'Lệ phí', 'amount', 150000))),
           state,
           CASE state WHEN 'dead' THEN 3 + i % 10 WHEN 'retrying' THEN 2 WHEN 'delivered' THEN 1 ELSE 0 END,
           0, accepted_at,
           CASE WHEN state = 'retrying' THEN now() + interval '5 minutes' END,
           CASE WHEN state = 'dead' THEN {error_sql(classes)}
                WHEN state = 'retrying' THEN 'DongBoHoSoMC: HTTP 503' END,
           CASE WHEN state = 'delivered' THEN 'P-' || i END,
           accepted_at,
           accepted_at + CASE state WHEN 'delivered' THEN make_interval(secs => 0.2 + (i % 97) / 20.0)
                                    WHEN 'dead' THEN make_interval(mins => 3 + i % 240) ELSE interval '0' END,
           CASE WHEN state = 'delivered' THEN accepted_at + make_interval(secs => 0.2 + (i % 97) / 20.0) END
        FROM keyed
    """
    attempts_sql = """
    INSERT INTO attempts (message_id, number, started_at, finished_at, outcome, detail, partner_ref, response, worker)
    SELECT m.id, n, m.accepted_at + make_interval(secs => n * 10), m.accepted_at + make_interval(secs => n * 10 + 0.3),
           CASE WHEN m.state = 'delivered' THEN 'delivered' WHEN m.state = 'dead' AND n = m.attempts THEN 'dead' ELSE 'retry' END,
           COALESCE(m.last_error, 'DongBoHoSoMC (insert) + CapNhatTienDoHoSoMC'), m.partner_ref,
           '{"error_code": "0", "message": "thành công"}', 'bench-worker'
    FROM messages m CROSS JOIN LATERAL generate_series(1, m.attempts) AS n
    """
    payments_sql = """
    INSERT INTO payments (id, client_id, client_reference, request_hash, profile, dossier_code, amount, currency,
        details, state, payment_url, created_at, updated_at, settled_at)
    SELECT 'P' || substr(m.id, 2), 1, 'REF-' || m.key, repeat('0', 64), 'napas', m.key, 150000, 'VND', '{}',
           'paid', 'http://127.0.0.1/pay', m.accepted_at + interval '1 hour', m.accepted_at + interval '2 hours',
           m.accepted_at + interval '2 hours'
    FROM messages m WHERE m.connector = 'national_portal' AND right(m.natural_key, 2) IN ('04', '24', '44', '64', '84')
    """
    events_sql = """
    INSERT INTO payment_events (payment_id, at, kind, outcome, detail)
    SELECT p.id, p.created_at + make_interval(mins => k * 20), (ARRAY['open', 'callback', 'announce'])[k + 1],
           (ARRAY['pending', 'paid', 'queued'])[k + 1], CASE WHEN k = 2 THEN '[]' END
    FROM payments p CROSS JOIN generate_series(0, 2) AS k
    """
    with engine.begin() as c:
        c.execute(text("SET LOCAL synchronous_commit = off"))
        c.execute(
            text(
                "INSERT INTO clients (id, code, name, key_hash, grants, created_at) VALUES "
                "(1, 'BENCH', 'bench', repeat('0', 64), '[]', now()) ON CONFLICT DO NOTHING"
            )
        )
        c.execute(text(rows))
        c.execute(text(attempts_sql))
        c.execute(text(payments_sql))
        c.execute(text(events_sql))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE messages, attempts, payments, payment_events"))


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) run on ``engine`` inside the block."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def explain(engine: Engine, statement: str, parameters: Any, analyze: bool = False) -> str:
    """PostgreSQL's plan of one captured statement, as text."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(("EXPLAIN (ANALYZE, BUFFERS) " if analyze else "EXPLAIN ") + statement, parameters)
        plan = "\n".join(r[0] for r in cur.fetchall())
        raw.rollback()
        return plan
    finally:
        raw.close()
