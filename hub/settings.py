"""Hub settings, from environment variables (prefix ``HUB_``) with embedded defaults.

With no ``HUB_BROKER_URL`` and no ``HUB_DATABASE_URL`` the hub runs embedded: SQLite in
``./var/lgsp.db`` and the in-process transport. Point them at RabbitMQ and PostgreSQL for
the production shape (api, relay and workers as separate processes).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.canonical import DossierDefaults

DEV_AUDIT_HASH_KEY = "dev-only-audit-hash-key-set-HUB_AUDIT_HASH_KEY-in-production"
DEV_EVIDENCE_SIGNING_KEY = "dev-only-evidence-signing-key-set-HUB_EVIDENCE_SIGNING_KEY-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/lgsp.db",
        description="SQLAlchemy URL: sqlite:///path (embedded) or postgresql+psycopg://user@host/db.",
    )
    broker_url: str | None = Field(
        default=None, description="amqp://user:pass@host:5672/vhost; unset = in-process transport."
    )
    broker_prefix: str = Field(default="lgsp", description="Prefix of exchange and queue names.")
    broker_queue_type: str = Field(default="quorum", description="quorum (production) or classic.")

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Request bodies above this get 413.")
    max_batch_items: int = Field(default=500, ge=1, description="Items per status-change batch request.")
    dossier_defaults: dict[str, DossierDefaults] = Field(
        default_factory=dict,
        description="Per client code, the one default of each code the national reports count by (channel "
        "KenhThucHien, applicant_type LoaiDoiTuong, result_delivery HinhThuc), used only when the client's "
        'status change lacks it; JSON, e.g. {"ONEGATE-H56": {"channel": 1, "applicant_type": 1}}. Without '
        "one the field is required.",
    )
    # slow or greedy clients (hub/api/server.py, hub/api/limits.py)
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a request's headers may take to arrive (from the connection, or "
        "its first byte); then 408 and the connection is closed.",
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request's body may take to arrive; then 408, connection closed."
    )
    keep_alive_timeout: float = Field(default=5.0, gt=0, description="Seconds an idle keep-alive connection is kept.")
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections (or requests in progress) per api process; a request "
        "beyond gets 503 with Retry-After.",
    )
    max_header_bytes: int = Field(
        default=32_768, ge=1024, description="Bytes of request line and headers; beyond, 431 and closed."
    )
    auth_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="Seconds an API key's lookup is cached: a disabled client, a revoked grant or "
        "an expired old key stops working within this time on every api process.",
    )
    database_retry_after: int = Field(
        default=5, ge=1, description="Retry-After (s) of the 503 answered while the database is unavailable."
    )
    subscriptions_per_client: int = Field(default=20, ge=1, description="Active webhook subscriptions per client.")
    agencies_file: str | None = Field(
        default=None,
        description="A JSON file of agencies (a list of hub.agencies.port.Agency) served read-only instead of "
        "the database's directory (`lgsp agencies`); unset: the database's.",
    )
    key_rotation_grace: int = Field(
        default=86_400, ge=0, le=30 * 86_400, description="Seconds a rotated API key keeps working (default 1 day)."
    )

    api_publishes: bool = Field(
        default=True, description="The api publishes what it accepts right after the commit (else only the relay)."
    )
    outbox_defer: float = Field(
        default=15.0,
        description="Seconds the relay leaves alone an outbox row that the api publishes itself, right after "
        "accepting it (after that, the relay publishes whatever is still there).",
    )
    relay_batch: int = 500
    relay_idle_sleep: float = Field(
        default=0.25, description="Longest the idle relay waits for an outbox signal (NOTIFY) before looking anyway."
    )
    worker_prefetch: int = Field(
        default=200,
        description="Deliveries each consumer may hold unacked: its batch in progress and the next one. More "
        "would sit behind a slow partner's batch while the process's other consumers wait.",
    )
    worker_batch: int = 100
    worker_max_wait: float = Field(default=0.002, description="Seconds a worker waits to fill a batch.")
    worker_concurrency: int = Field(
        default=4,
        ge=1,
        description="Batches in flight per connector in each worker process (one consumer, channel and "
        "worker each; `lgsp worker --concurrency` overrides it). Order per dossier holds whatever the value.",
    )
    lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A worker's lease on a batch it delivers; renewed every quarter of it while the batch is in "
        "progress. Must leave room for a partner call: at least 4/3 x (partner timeout + HUB_LEASE_MARGIN).",
    )
    lease_margin: float = Field(
        default=2.0,
        ge=0,
        description="A partner call starts only if it would end, after its whole timeout, this many seconds "
        "before the lease does.",
    )
    lease_grace: float = Field(
        default=2.0,
        ge=0,
        description="A delivery is taken over only this many seconds after its lease ended (its worker stopped "
        "calling the partner HUB_LEASE_MARGIN seconds before the end).",
    )

    payment_profile: str = Field(default="napas", description="Gateway profile used when a request names none.")
    payment_reconcile_after: float = Field(
        default=900.0, description="Seconds a payment may stay pending or in doubt before the gateway is queried."
    )
    payment_reconcile_interval: float = Field(default=60.0, description="Seconds between reconciliation runs.")
    payment_breaker_failures: int = Field(
        default=5, ge=1, description="Gateway calls in a row without an answer that open its circuit."
    )
    payment_breaker_reset: float = Field(
        default=30.0, gt=0, description="Seconds an open gateway circuit refuses calls before one probe."
    )
    callback_max_bytes: int = Field(default=65_536, description="Partner callback bodies above this are refused.")

    # ---- the postal service (VNPost; agencies' customer codes in the agency directory; HUB_VNPOST_*)
    postal_poll_interval: float = Field(
        default=60.0, gt=0, description="Seconds between two reads of each VNPost customer's tracking feed."
    )
    postal_poll: bool = Field(default=True, description="Poll the tracking feeds (beside the relay).")
    postal_page_size: int = Field(default=50, ge=1, le=100, description="Tracking feed entries per page.")
    postal_push_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the LGSP's tracking pushes (POST /v1/callbacks/vnpost, HMAC-SHA256 of the "
        "body in X-Lgsp-Signature); unset: pushes are refused (polling is the default).",
    )
    postal_push_customers: tuple[str, ...] = Field(
        default=(),
        description='VNPost customer codes whose tracking an LGSP pushes (JSON, e.g. ["BCCI_H22"]): not polled.',
    )
    postal_units_file: str | None = Field(
        default=None, description="The operator's VNPost units file (CSV, see docs/postal.md): extends the shipped."
    )
    postal_unit_placeholders: bool = Field(
        default=False,
        description="Fill unknown VNPost unit ids with synthetic ones (900+province...): development, the mock.",
    )

    dev_api_key: SecretStr = Field(
        default=SecretStr("dev-secret-key"), description="API key of the 'demo' client created by `lgsp dev`."
    )
    metrics_port: int | None = Field(
        default=None, description="Relay and worker processes serve Prometheus /metrics on this port when set."
    )
    log_level: str = "INFO"
    log_json: bool = Field(default=False, description="JSON logs (production) instead of console lines.")

    # ---- citizen verification (national population database; the connector's own settings are HUB_POPDB_*)
    audit_hash_key: SecretStr = Field(
        default=SecretStr(DEV_AUDIT_HASH_KEY),
        description="Secret key of the HMAC-SHA256 under which the audit keeps ID numbers. The default is for "
        "development only: set a long random value in production, and keep it (a new key cannot match old rows).",
    )
    audit_hash_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Versioned keys of the keyed digests, as JSON {"2": "...", "3": "..."}; HUB_AUDIT_HASH_KEY is '
        "version 1. Keep every version whose rows must stay searchable (hub/evidence/keyring.py).",
    )
    audit_hash_key_current: str | None = Field(
        default=None, description="The version new digests are written with (default: the highest version)."
    )
    citizens_concurrency: int = Field(
        default=16, ge=1, description="Population database calls in flight at once per api process."
    )
    citizens_retry_after: int = Field(
        default=5, ge=1, description="Retry-After (s) of a 503 after a transient failure, breaker still closed."
    )

    # ---- the evidence log and retention (hub/evidence/)
    evidence_signing_key: SecretStr = Field(
        default=SecretStr(DEV_EVIDENCE_SIGNING_KEY),
        description="Ed25519 private key that seals the evidence log and signs its archives: 32 bytes as hex or "
        "base64, or a PKCS#8 PEM (`lgsp evidence keygen`). The default is for development only.",
    )
    evidence_enabled: bool = Field(
        default=True,
        description="Record the evidence log (hub/evidence/). Off only to measure what it costs (bench/spine.py).",
    )
    evidence_chains: int = Field(default=4, ge=1, le=64, description="Parallel evidence chains (shard of subject).")
    evidence_batch: int = Field(
        default=1000,
        ge=1,
        description="Staged records the chainer links per transaction (a batch record, holding the facts of "
        "an accepted batch or of a worker's outcomes, counts once).",
    )
    evidence_interval: float = Field(default=1.0, gt=0, description="Seconds between the chainer's runs.")
    evidence_max_rate: float | None = Field(
        default=None, gt=0, description="Facts/s the chainer links at most while catching up (unset: no limit)."
    )
    evidence_seal_interval: float = Field(
        default=10.0, ge=0, description="A chain that grew is sealed (signed) at most this often (seconds)."
    )
    evidence_archive_dir: str = Field(default="var/evidence-archive", description="Signed archive segments.")
    evidence_keep_days: float | None = Field(
        default=None,
        gt=0,
        description="Evidence records older than this are exported to signed archive files and pruned from the "
        "database by the retention job (unset: kept in the database).",
    )
    evidence_segment_records: int = Field(default=1_000_000, ge=1, description="Records per archive file at most.")
    retention_payload_days: float | None = Field(
        default=180.0,
        ge=0,
        description="Days a message payload holding personal data is kept after the message is final (delivered, "
        "or dead and not replayed since); then its personal fields are replaced by their digest. Unset: forever.",
    )
    retention_payload_days_by_type: dict[str, float] = Field(
        default_factory=dict, description='Per message type, e.g. {"dossier.status.changed": 365}.'
    )
    retention_interval: float = Field(default=3600.0, gt=0, description="Seconds between retention runs.")
    retention_batch: int = Field(default=500, ge=1, description="Messages redacted per transaction.")
    report_timezone: str = Field(default="Asia/Ho_Chi_Minh", description="Days of the reports begin here.")

    @property
    def embedded(self) -> bool:
        return self.broker_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
