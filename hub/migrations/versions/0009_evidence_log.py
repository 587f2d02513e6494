"""The evidence log (hash-chained, sealed, archived), payload redactions, versioned audit hash keys

* evidence_staged: facts as recorded (one insert each, unchained); the chainer moves them into
* evidence: (chain, seq) records, each holding the previous record's hash;
* evidence_seals: Ed25519 signatures over (chain, seq, head hash, time);
* evidence_archives: the segments exported to signed files (and so prunable);
* payload_redactions, job_cursors: the retention job's marks;
* citizen_queries.id_hash_key: the version of the key an ID number was hashed with.

Append-only by trigger. PostgreSQL: UPDATE is always refused; DELETE and TRUNCATE only in a
transaction that set ``lgsp.evidence_maintenance`` (``chainer`` for staged rows, ``prune`` for the
rest), and a record only once an archive covers it. SQLite: UPDATE refused; a record or seal may be
deleted only once an archive covers it.

Revision ID: 0009
Revises: 0008 (re-chained by the coordinator at merge time)
"""

from alembic import op
import sqlalchemy as sa


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_PG_GUARD = """
CREATE OR REPLACE FUNCTION lgsp_evidence_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP <> 'UPDATE' AND coalesce(current_setting('lgsp.evidence_maintenance', true), '') = TG_ARGV[0] THEN
        RETURN NULL;  -- statement-level: the value is ignored, the statement goes on
    END IF;
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP;
END
$fn$
"""
_PG_ARCHIVED = """
CREATE OR REPLACE FUNCTION lgsp_evidence_archived() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM evidence_archives a
                   WHERE a.chain = OLD.chain AND OLD.seq BETWEEN a.first_seq AND a.last_seq) THEN
        RAISE EXCEPTION 'evidence record %/% is not archived: it cannot be pruned', OLD.chain, OLD.seq;
    END IF;
    RETURN OLD;
END
$fn$
"""
_COVERED = (
    "NOT EXISTS (SELECT 1 FROM evidence_archives a WHERE a.chain = OLD.chain "
    "AND OLD.seq BETWEEN a.first_seq AND a.last_seq)"
)


def _json() -> sa.JSON:
    return sa.JSON()


def upgrade() -> None:
    op.create_table(
        "evidence_staged",
        sa.Column("id", BIG, primary_key=True, autoincrement=True),
        sa.Column("chain", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("digests", _json(), nullable=False),
        sa.Column("details", _json(), nullable=False),
    )
    op.create_index("ix_evidence_staged_chain", "evidence_staged", ["chain", "id"])
    op.create_table(
        "evidence",
        sa.Column("chain", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("v", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("digests", _json(), nullable=False),
        sa.Column("details", _json(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_evidence_at", "evidence", ["at"])
    op.create_index("ix_evidence_subject", "evidence", ["subject"])
    op.create_table(
        "evidence_seals",
        sa.Column("chain", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
    )
    op.create_table(
        "evidence_archives",
        sa.Column("chain", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("first_seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("file", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "payload_redactions",
        sa.Column("message_id", sa.String(length=26), primary_key=True),
        sa.Column("redacted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(length=100), nullable=False),
        sa.Column("fields", _json(), nullable=False),
    )
    op.create_table(
        "job_cursors",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("cursor", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    # a plain ALTER on both backends (a batch copy would lose citizen_queries' triggers on SQLite)
    op.execute("ALTER TABLE citizen_queries ADD COLUMN id_hash_key VARCHAR(16)")

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        op.execute(_PG_ARCHIVED)
        for table, deleter in (
            ("evidence_staged", "chainer"),
            ("evidence", "prune"),
            ("evidence_seals", "prune"),
            ("evidence_archives", "never"),
        ):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION lgsp_evidence_guard('{deleter}')"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION lgsp_evidence_guard('prune')"
            )
        op.execute(
            "CREATE TRIGGER evidence_prune_archived_only BEFORE DELETE ON evidence "
            "FOR EACH ROW EXECUTE FUNCTION lgsp_evidence_archived()"
        )
        return
    for table in ("evidence_staged", "evidence", "evidence_seals", "evidence_archives"):
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    for table in ("evidence", "evidence_seals"):
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} WHEN {_COVERED} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only (records are pruned once archived)'); END"
        )
    op.execute(
        "CREATE TRIGGER evidence_archives_no_delete BEFORE DELETE ON evidence_archives "
        "BEGIN SELECT RAISE(ABORT, 'evidence_archives is append-only'); END"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE citizen_queries DROP COLUMN id_hash_key")
    for table in ("job_cursors", "payload_redactions", "evidence_archives", "evidence_seals", "evidence"):
        op.drop_table(table)
    op.drop_table("evidence_staged")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS lgsp_evidence_guard()")
        op.execute("DROP FUNCTION IF EXISTS lgsp_evidence_archived()")
