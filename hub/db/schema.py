"""Database tables (SQLAlchemy Core). Migrations in ``hub/migrations`` follow this file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Computed,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()
CONSOLE_GUARD = "accepted_at > '2000-01-01'"  # see the console's indexes on messages
CONSOLE_ERROR = "substr(last_error, 1, 300)"  # what the console groups failures by (hub/console/failures.py SCAN)


def _where(predicate: str) -> dict[str, Any]:
    """A partial index's predicate, on both backends."""
    return {"postgresql_where": text(predicate), "sqlite_where": text(predicate)}


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as UTC, read back timezone-aware, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the hub stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Client systems (one-stop systems) allowed to call the hub. Keys are stored hashed.
clients = Table(
    "clients",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex of the API key
    Column("grants", JSON, nullable=False),  # message types it may publish
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
    # after a rotation, the previous key keeps working until old_key_until (migration 0007)
    Column("old_key_hash", String(64)),
    Column("old_key_until", UTCDateTime()),
    # the agency codes it is bound to: it pushes dossiers and payments of these only (migration 0012)
    Column("agencies", JSON, nullable=False, server_default="[]"),
    Index("ix_clients_old_key_hash", "old_key_hash", unique=True),
)

# Per-agency configuration (migration 0012): one JSON section per partner, each validated by
# ``hub.agencies.port`` (PortalUnit, PayGovBeneficiary, PostalSender); ``lgsp agencies``.
agencies = Table(
    "agencies",
    metadata,
    Column("code", String(35), primary_key=True),  # mã định danh điện tử, e.g. 000.00.00.H56
    Column("name", String(250), nullable=False),
    Column("province_codes", JSON, nullable=False),  # MaDinhDanhTinh prefixes its dossiers may carry
    Column("portal", JSON),  # {madonvi, profile} (migration 0015: profile replaced an unused variant)
    Column("payment", JSON),  # {profile}: the agency's payment gateway profile (migration 0015)
    Column("paygov", JSON),
    Column("postal", JSON),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Every change to a client (created, key rotated, disabled, enabled, grants given or revoked):
# when, who (``cli:<user>`` or ``client:<code>``), what. Never a key or its hash.
client_changes = Table(
    "client_changes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("client_code", String(64), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),  # create | rotate | disable | enable | grant | revoke_grant
    Column("detail", JSON, nullable=False),
    Index("ix_client_changes_client_at", "client_id", "at"),
)

# The message ledger: one row per accepted message, its state and delivery bookkeeping.
# States: queued -> delivering -> delivered | retrying -> ... | held (waits for an earlier
# message of the same key) | dead.
messages = Table(
    "messages",
    metadata,
    Column("id", String(26), primary_key=True),  # ULID: sortable
    Column("type", String(100), nullable=False),
    Column("source", String(64), nullable=False),  # client code
    Column("key", String(100), nullable=False),  # ordering key (dossier code)
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("natural_key", String(300), nullable=False),
    Column("connector", String(64), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("causation_id", String(64)),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    # retry budget counts attempts and age from here (reset by a replay)
    Column("budget_attempts", Integer, nullable=False, default=0),
    Column("budget_since", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime()),
    Column("lease_until", UTCDateTime()),
    Column("last_error", Text),
    Column("partner_ref", String(200)),
    Column("accepted_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("delivered_at", UTCDateTime()),
    Column("claimed_by", String(100)),  # the worker delivering it (state delivering)
    # an earlier attempt may have reached the partner (no answer, server error, abandoned): the
    # next attempt checks the partner before it sends (migration 0006)
    Column("in_doubt", Boolean, nullable=False, default=False, server_default=false()),
    # the start of last_error, which the console groups failures by (migration 0013): a generated
    # column, so its index answers the failures summary from the index alone (PostgreSQL: stored)
    Column("error_head", Text, Computed(CONSOLE_ERROR, persisted=True)),
    UniqueConstraint("type", "natural_key", name="uq_messages_natural_key"),
    Index("ix_messages_key_order", "key", "occurred_at", "id"),
    # Partial indexes for the scheduler and the operator. No index leads with ``state``: the
    # planner would pick it to find "this batch, if still delivering" and walk every
    # delivering (and dead) entry instead of probing the primary key.
    Index("ix_messages_retry_due", "next_attempt_at", **_where("state = 'retrying'")),
    Index("ix_messages_lease", "lease_until", **_where("lease_until IS NOT NULL")),
    Index("ix_messages_dead", "id", **_where("state = 'dead'")),
    # The operator console's (hub/console/queries.py, migration 0008). Each predicate carries
    # CONSOLE_GUARD, which only the console's queries state: the ledger's planner never picks them.
    Index(
        "ix_messages_console_failing",
        "connector",
        "state",
        "error_head",
        "updated_at",
        "id",
        **_where(f"state IN ('dead', 'retrying') AND {CONSOLE_GUARD}"),
    ),
    Index(
        "ix_messages_console_backlog",
        "connector",
        "state",
        **_where(f"state IN ('queued', 'delivering', 'held') AND {CONSOLE_GUARD}"),
    ),
    Index(
        "ix_messages_console_delivered",
        "connector",
        "delivered_at",
        "accepted_at",
        **_where(f"delivered_at IS NOT NULL AND {CONSOLE_GUARD}"),
    ),
)

# One row per finished delivery attempt (the attempt in flight is the message's own
# attempts / updated_at / claimed_by while it is delivering).
attempts = Table(
    "attempts",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(26), nullable=False),  # messages.id (no FK: see migration 0002)
    Column("number", Integer, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime()),
    Column("outcome", String(16)),  # delivered | retry | dead | taken_over
    Column("detail", Text),
    Column("partner_ref", String(200)),
    Column("response", Text),
    Column("worker", String(100)),
    # an attempt closed as abandoned (its worker seemed lost) is overwritten if that worker
    # still reports its outcome
    Index("uq_attempts_message_number", "message_id", "number", unique=True),
)

# Transactional outbox: written with the state it announces. The writer may publish the
# message itself right after its commit (the api does) and delete the row once confirmed; the
# relay publishes every row still there once ``available_at`` has passed.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("message_id", String(26), nullable=False),  # messages.id (no FK: see migration 0002)
    Column("created_at", UTCDateTime(), nullable=False),
    Column("available_at", UTCDateTime(), nullable=False),
)

# Idempotency-Key header: a retried request returns the first answer.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", Integer, ForeignKey("clients.id"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Fee payments opened through a gateway profile. ``id`` (a ULID) is the order reference the
# gateway knows (NAPAS orderId, PayGov MaThamChieu). States: opening -> pending | in_doubt
# (the create call may have reached the gateway: settled by querying) | refused; pending |
# in_doubt -> paid | failed, once.
payments = Table(
    "payments",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("client_reference", String(100), nullable=False),  # the client's own id: retries return this payment
    Column("request_hash", String(64), nullable=False),
    Column("profile", String(16), nullable=False),  # gateway profile: napas | paygov
    Column("dossier_code", String(100), nullable=False),
    Column("amount", BigInteger, nullable=False),  # VND
    Column("currency", String(3), nullable=False),
    Column("details", JSON, nullable=False),  # fee items, description, procedure, agency (no payer data)
    Column("state", String(16), nullable=False),
    Column("payment_url", Text),
    Column("gateway_ref", String(100)),
    Column("gateway_txn_id", String(100)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("settled_at", UTCDateTime()),
    # the transaction time the gateway was given at opening (PayGov INIT ThoiGianGD; migration 0012)
    Column("opened_at", UTCDateTime()),
    UniqueConstraint("client_id", "client_reference", name="uq_payments_client_reference"),
    Index("ix_payments_dossier", "dossier_code"),
    Index("ix_payments_state_updated", "state", "updated_at"),
)

# What happened to a payment: opened, gateway calls, every callback and query, and its answer.
payment_events = Table(
    "payment_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("payment_id", String(26), ForeignKey("payments.id"), nullable=False, index=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),  # open | callback | query | settle
    Column("outcome", String(32), nullable=False),  # e.g. pending, in_doubt, ok, already_settled, amount_mismatch
    Column("detail", Text),
)

# Webhook subscriptions of local systems: events of these types are POSTed to ``url``,
# signed the Standard Webhooks way with ``secret``.
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("secret", String(100), nullable=False),  # "whsec_" + base64; shown once at creation
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime()),
)

# Audit of every query to the national population database (citizen verification and lookup):
# who asked, for which officer and why, what came of it. Append-only (triggers refuse UPDATE
# and DELETE, migration 0005). The ID number is kept only as a keyed hash (HMAC-SHA256 with
# HUB_AUDIT_HASH_KEY); no name, birth date, address or answer is ever stored.
citizen_queries = Table(
    "citizen_queries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),  # when the query arrived
    Column("operation", String(16), nullable=False),  # verify | lookup
    Column("client_code", String(64), nullable=False),
    Column("officer_code", String(20)),  # MaCanBo (null when refused before the body was read)
    Column("purpose", String(200)),  # the caller's stated reason
    Column("service_code", String(20)),  # MaDVC sent to the database
    Column("id_hash", String(64)),  # hex HMAC-SHA256 of the ID number
    Column("id_hash_key", String(16)),  # version of the key it was made with (migration 0009; null = "1")
    Column("outcome", String(16), nullable=False),  # matched | mismatch | found | not_found | unavailable | ...
    Column("reason", String(64)),  # why it failed: timeout, circuit-open, entities, not-authorised ...
    Column("detail", String(300)),  # the connector's description of a failure (no personal data)
    Column("fields", JSON(none_as_null=True)),  # lookup: the names of the fields disclosed
    Column("request_id", String(40)),  # MaYeuCau: the reference at the database (null if never sent)
    Column("http_status", Integer, nullable=False),  # what the caller was answered
    Column("duration_ms", Integer, nullable=False),
    Index("ix_citizen_queries_at", "at"),
    Index("ix_citizen_queries_client_at", "client_code", "at"),
    Index("ix_citizen_queries_officer_at", "officer_code", "at"),
    Index("ix_citizen_queries_id_hash", "id_hash"),
    Index("ix_citizen_queries_request_id", "request_id"),
)

# People who run the hub (the console at /console). Roles: viewer < operator < admin. Passwords
# as Argon2id hashes; ``failed_logins`` / ``locked_until``: lock-out after repeated failures;
# ``session_epoch`` grows on reset-password and disable, which ends every session signed before.
operators = Table(
    "operators",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime()),
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_changed_at", UTCDateTime(), nullable=False),
    Column("last_login_at", UTCDateTime()),
    Column("disabled_at", UTCDateTime()),
)

# Every operator action (console and ``lgsp operators``): who, when, what, on what, why, and
# what came of it. Append-only (triggers refuse UPDATE and DELETE, migration 0008).
operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("operator", String(64), nullable=False),  # username, or "cli:<os user>"
    Column("action", String(32), nullable=False),  # login, logout, message.replay, operator.create ...
    Column("target", String(200)),  # e.g. the message id
    Column("reason", Text),  # why, as the operator wrote it
    Column("outcome", String(16), nullable=False),  # ok | refused | error
    Column("detail", Text),
    Column("remote_addr", String(64)),
    Index("ix_operator_actions_at", "at"),
    Index("ix_operator_actions_operator_at", "operator", "at"),
    Index("ix_operator_actions_target", "target"),
)

# ---- The evidence log (hub/evidence/, migration 0009). Facts are staged by whoever records them
# (one insert, no lock) and linked into hash chains by the chainer; every table is append-only by
# trigger (the chainer may delete staged rows, the archive job archived records).
_big = BigInteger().with_variant(Integer, "sqlite")
evidence_staged = Table(
    "evidence_staged",
    metadata,
    Column("id", _big, primary_key=True, autoincrement=True),
    Column("chain", SmallInteger, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("digests", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_evidence_staged_chain", "chain", "id"),
)
evidence = Table(
    "evidence",
    metadata,
    Column("chain", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("v", SmallInteger, nullable=False),  # encoding version (hub/evidence/model.py)
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("digests", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_evidence_at", "at"),
    Index("ix_evidence_subject", "subject"),
)
evidence_seals = Table(
    "evidence_seals",
    metadata,
    Column("chain", SmallInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # the head it seals
    Column("head_hash", String(64), nullable=False),
    Column("sealed_at", UTCDateTime(), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(100), nullable=False),  # base64 Ed25519
)
evidence_archives = Table(
    "evidence_archives",
    metadata,
    Column("chain", SmallInteger, primary_key=True, autoincrement=False),
    Column("first_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("file", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Payloads whose personal fields the retention job replaced by their digest (the payload keeps a
# ``_redacted`` marker too); and where each periodic job left off.
payload_redactions = Table(
    "payload_redactions",
    metadata,
    Column("message_id", String(26), primary_key=True),  # messages.id
    Column("redacted_at", UTCDateTime(), nullable=False),
    Column("digest", String(100), nullable=False),  # keyed digest of the whole original payload
    Column("fields", JSON, nullable=False),  # the top-level fields removed
)
job_cursors = Table(
    "job_cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("cursor", String(100), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The postal service (hub/postal/): one order per dossier and kind (pickup | delivery), its parcel's
# canonical status (applied monotonically, hub/postal/rules.py), every tracking event seen (once per
# customer's feed id: a feed page read again or a push repeated changes nothing), and the poller's
# durable cursor per VNPost customer code. No personal data: names, phones and addresses live only
# in the order's ledger message.
postal_orders = Table(
    "postal_orders",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("client_id", Integer, ForeignKey("clients.id"), nullable=False),
    Column("dossier_code", String(100), nullable=False),  # MaHoSo
    # VNPost's OrderNumber: the dossier code; with a kind suffix for the dossier's second kind (0014)
    Column("order_number", String(110)),
    Column("kind", String(16), nullable=False),  # pickup | delivery
    Column("agency_code", String(40), nullable=False),
    Column("customer_code", String(50), nullable=False),  # VNPost CustomerCode
    Column("item_code", String(20)),  # waybill ItemCode (pre-allocated, or read from the feed)
    Column("details", JSON, nullable=False),  # cod_amount, description, units (VNPost ids and how found)
    Column("status", String(20)),  # canonical parcel status; NULL until VNPost's first event
    Column("status_at", UTCDateTime()),  # the status's event time (EventTime)
    Column("status_feed_id", String(24)),
    Column("announced_at", UTCDateTime()),  # occurred_at of the last event announced (order per parcel)
    Column("order_message_id", String(26), nullable=False),
    Column("cancel_message_id", String(26)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("dossier_code", "kind", name="uq_postal_orders_dossier_kind"),
    Index("ix_postal_orders_customer_dossier", "customer_code", "dossier_code"),
    Index("ix_postal_orders_item", "customer_code", "item_code"),
    Index("ix_postal_orders_customer_number", "customer_code", "order_number"),
)
postal_events = Table(
    "postal_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("customer_code", String(50), nullable=False),
    Column("feed_id", String(24), nullable=False),  # _id.$oid
    Column("order_id", String(26), ForeignKey("postal_orders.id")),  # NULL: no order of the hub's
    Column("order_number", String(100), nullable=False),
    Column("item_code", String(20)),
    Column("raw_status", String(20), nullable=False),
    Column("status", String(20)),  # canonical; NULL: not in the variant's table
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("post_office", String(50)),
    Column("note", Text),
    Column("verdict", String(16), nullable=False),  # applied | stale | duplicate | after_final | unknown_*
    Column("source", String(8), nullable=False),  # poll | push
    Column("received_at", UTCDateTime(), nullable=False),
    UniqueConstraint("customer_code", "feed_id", name="uq_postal_events_feed_id"),
    Index("ix_postal_events_order", "order_id", "occurred_at"),
)
postal_cursors = Table(
    "postal_cursors",
    metadata,
    Column("customer_code", String(50), primary_key=True),
    Column("cursor", String(24), nullable=False),  # lastId: the greatest feed id read
    Column("updated_at", UTCDateTime(), nullable=False),
)
# The hub's waybill pool (hub/postal/waybills.py, migration 0014): numbers (ItemCode) VNPost
# allocated to a customer code, loaded by an operator. free -> assigned (to one order, in the
# order's own transaction) -> used (its parcel was picked up: never released) | released (the
# order was cancelled before pickup: the number may be assigned again).
postal_waybills = Table(
    "postal_waybills",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("customer_code", String(50), nullable=False),
    Column("item_code", String(20), nullable=False),
    Column("state", String(10), nullable=False),  # free | assigned | used | released
    Column("order_id", String(26)),  # the order it is (or was last) assigned to
    Column("added_at", UTCDateTime(), nullable=False),
    Column("assigned_at", UTCDateTime()),
    Column("used_at", UTCDateTime()),
    Column("released_at", UTCDateTime()),
    UniqueConstraint("item_code", name="uq_postal_waybills_item"),
    Index("ix_postal_waybills_claim", "customer_code", "state", "item_code"),
    Index("ix_postal_waybills_order", "order_id"),
)
# ---- Partners an operator holds (hub/ledger/holds.py, migration 0013): while a connector has a row
# here its workers claim nothing (the messages wait in the ledger, no attempt is counted); resume
# deletes the row and queues its waiting messages again in order.
partner_holds = Table(
    "partner_holds",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("held_at", UTCDateTime(), nullable=False),
    Column("held_by", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)
# The last circuit-breaker change any worker saw per connector (written on a change only), for
# the console's Partners page: the breakers live in the workers' processes.
partner_circuits = Table(
    "partner_circuits",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("state", String(16), nullable=False),  # closed | open | half_open
    Column("changed_at", UTCDateTime(), nullable=False),
    Column("worker", String(100), nullable=False),
)
# An edited replay: a new message (``replay_id``) made by an operator from a dead one
# (``original_id``, kept as it was) with a corrected payload (hub/ledger/edits.py).
message_replays = Table(
    "message_replays",
    metadata,
    Column("replay_id", String(26), primary_key=True),  # messages.id of the new message
    Column("original_id", String(26), nullable=False),  # messages.id of the dead one
    Column("at", UTCDateTime(), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_message_replays_original", "original_id"),
)
# A bulk replay (hub/console/bulk.py): what was asked, by whom, why, its progress, and one
# outcome row per message.
bulk_replays = Table(
    "bulk_replays",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("selection", JSON, nullable=False),  # the filter or group it was run on
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False),  # running | finished | failed | interrupted
    Column("finished_at", UTCDateTime()),
    # migration 0016: the process running it and when it last said it was alive; a running
    # bulk replay whose heartbeat is older than its lease is "interrupted" (resumable)
    Column("owner", String(100)),
    Column("heartbeat_at", UTCDateTime()),
)
bulk_replay_items = Table(
    "bulk_replay_items",
    metadata,
    Column("bulk_id", String(26), primary_key=True),
    Column("message_id", String(26), primary_key=True),
    # pending (selected, not done yet; migration 0016) | replaying (taken: the replay may have
    # happened) | queued | refused | invalid | error
    Column("outcome", String(16), nullable=False),
    Column("detail", Text),
    Column("claimed_at", UTCDateTime()),  # when a run took it (migration 0016): what a resume checks
)
# The Overview's counts of finished hours (hub/console/queries.py, migration 0016): messages
# accepted and delivered per connector and hour. Neither changes once the hour is over (a
# message's accepted_at and delivered_at are written once), so each hour is counted once, when
# an Overview first needs it, and read from here after; the current hour is counted live.
console_hourly = Table(
    "console_hourly",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),
    Column("accepted", Integer, nullable=False),
    Column("delivered", Integer, nullable=False),
)
