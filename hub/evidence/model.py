"""What an evidence fact is, and the exact bytes that are hashed and signed (pure functions).

Encoding version 1 (``V``). Every byte string below is UTF-8.

* ``canonical(obj)``: the JSON text of ``obj`` with keys sorted, no whitespace
  (``separators=(",", ":")``), non-ASCII characters as themselves (``ensure_ascii=False``).
  Facts only hold strings, integers, booleans, null, lists and objects with ASCII keys (no
  floats: :func:`check_json` refuses them), and for those this is exactly RFC 8785 (JCS).
* **record**: ``hash = hex(SHA-256(b"lgsp-evidence/1\\n" + canonical(R)))`` where ``R`` is the
  object ``{"v": 1, "chain": int, "seq": int, "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, always six
  fraction digits), "kind", "actor", "subject": str, "digests": {name: str}, "details": {...},
  "prev": hex hash of record seq-1 of the same chain (64 zeros for seq 1)}``. ``seq`` starts at 1
  and has no gap.
* **seal**: ``signature = Ed25519(b"lgsp-evidence-seal/1\\n" + canonical({"chain", "seq": the
  head's seq, "head": its hash, "at": the seal's time as above, "key": key id}))``, the key id being
  the first 16 hex digits of SHA-256 of the raw 32-byte public key; signature stored in base64.
* **archive manifest**: ``signature = Ed25519(b"lgsp-evidence-archive/1\\n" + canonical(M))``,
  ``M = {"v", "chain", "first_seq", "last_seq", "count", "prev": hash of record first_seq-1,
  "head": hash of record last_seq, "file": the segment's file name, "sha256": hex SHA-256 of its
  bytes, "created_at", "key"}``. The segment is JSON lines, one ``canonical(R + {"hash": ...})``
  per record, in seq order; the ``.sig`` file beside it is ``{"manifest": M, "signature": ...}``.
* **batch record**: several facts of one chain, one actor and one time, recorded by one statement (an
  accepted batch, a worker's outcomes), are one record: ``kind`` ``"batch"``, ``subject`` ``"batch"``,
  ``digests`` ``{}``, ``details`` ``{"facts": [E, ...]}`` with ``E = {"kind", "subject", "digests",
  "details"}`` of each fact in the order recorded; its ``actor`` and ``at`` are the facts'. It is hashed,
  chained and sealed like any record (same bytes as above), so an edit of any fact inside it breaks its
  hash. :func:`facts_of` gives the facts a record holds (one for a plain record).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

V = 1
GENESIS = "0" * 64
RECORD_PREFIX = b"lgsp-evidence/1\n"
SEAL_PREFIX = b"lgsp-evidence-seal/1\n"
ARCHIVE_PREFIX = b"lgsp-evidence-archive/1\n"

# What happened. ``operator.action`` covers every operator or admin action (details.action: replay,
# edit, hold, resume, client.create, key.rotate, ...); the wiring step may add kinds here.
KINDS = frozenset(
    {
        "message.accepted",  # actor client:<code>, subject message:<id>, digests.payload
        "delivery.attempt",  # actor worker:<id>, subject message:<id>, digests.request / .answer, details.outcome
        # the attempt that ended the message is one of these two instead (its digests and details):
        "message.delivered",  # + digests.partner_ref
        "message.dead",  # + digests.detail: why (a partner's text, so a digest)
        "callback.received",  # actor partner:<profile>, details.verified true/false, details.reason
        "payment.query",  # actor hub:reconciler, subject payment:<id>, details.state (the gateway says), .answer
        "citizen.query",  # actor client:<code>, subject citizen-query:<id>, digests.id_number, details.outcome
        "operator.action",  # actor operator:<name> or client:<code>, details.action, digests.before / .after
        "payload.redacted",  # actor hub:retention, subject message:<id>, digests.payload (of what was removed)
    }
)
BATCH = "batch"  # the kind (and subject) of a record that holds several facts (its details.facts)
MAX_TEXT = {"kind": 40, "actor": 100, "subject": 200}
MAX_DETAILS_BYTES = 4096


class FactError(ValueError):
    """A fact that cannot be recorded (names the field and the rule, never a value)."""


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing that happened, without personal data in clear.

    ``subject`` names what it is about (``message:<id>``, ``dossier:<MaHoSo>``, ``payment:<id>``,
    ``client:<code>``, ``citizen-query:<id>``); ``actor`` who did it (``client:<code>``,
    ``operator:<name>``, ``worker:<id>``, ``partner:<name>``, ``hub:<role>``); ``digests`` maps a
    name to a digest string from :class:`hub.evidence.keyring.Keyring` (request, answer, payload,
    before, after, id_number ...); ``details`` is a small JSON object of non-personal values."""

    kind: str
    subject: str
    actor: str
    digests: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # default: when recorded

    def check(self) -> None:
        if self.kind not in KINDS:
            raise FactError(f"kind: must be one of {sorted(KINDS)}")
        for name, limit in MAX_TEXT.items():
            value = getattr(self, name)
            if not isinstance(value, str) or not value or len(value) > limit:
                raise FactError(f"{name}: a non-empty string of at most {limit} characters")
        if self.at is not None and self.at.tzinfo is None:
            raise FactError("at: must be timezone-aware")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.digests.items()):
            raise FactError("digests: must map names to digest strings")
        check_json(self.digests, "digests")
        check_json(self.details, "details")
        if not _small(self.details) and len(canonical(dict(self.details))) > MAX_DETAILS_BYTES:
            raise FactError(f"details: at most {MAX_DETAILS_BYTES} bytes")


_SCALARS = frozenset({str, int, bool, type(None)})


def check_json(value: Any, where: str) -> None:
    """Only what JCS and json.dumps encode alike: str, int, bool, None, lists, ASCII-keyed objects."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is list or kind is tuple:
        for item in value:
            check_json(item, where)
        return
    if kind is dict or isinstance(value, Mapping):
        for k, item in value.items():
            if type(k) is not str or not k.isascii():
                raise FactError(f"{where}: object keys must be ASCII strings")
            if type(item) not in _SCALARS:
                check_json(item, where)
        return
    raise FactError(f"{where}: only strings, integers, booleans, null, lists and objects (no {kind.__name__})")


def _small(details: Mapping[str, Any]) -> bool:
    """Surely under MAX_DETAILS_BYTES (a few short scalars): skips encoding it to measure it."""
    return len(details) <= 16 and all(
        (type(v) is str and len(v) <= 200) or type(v) in (int, bool, type(None)) for v in details.values()
    )


def _refuse(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, the same bytes: the
# standard library's C encoder built once (json.dumps builds one per call, a third of the time of a
# fact-sized object), without its check for circular structures (the hub's values have none).
_MAKE_ENCODER = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_C_ENCODER = (
    _MAKE_ENCODER(None, _refuse, encode_basestring, None, ":", ",", True, False, True) if _MAKE_ENCODER else None
)


def _dumps(obj: Any) -> str:
    if _C_ENCODER is None:  # pragma: no cover -- an interpreter without the C accelerator
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "".join(_C_ENCODER(obj, 0))


def canonical(obj: Any) -> bytes:
    return _dumps(obj).encode("utf-8")


def timestamp(at: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def chain_of(subject: str, chains: int) -> int:
    """The chain a subject's facts go to: CRC-32 of its UTF-8 bytes modulo the number of chains."""
    return zlib.crc32(subject.encode("utf-8")) % chains


def record_object(
    chain: int,
    seq: int,
    at: str,
    kind: str,
    actor: str,
    subject: str,
    digests: Any,
    details: Any,
    prev: str,
    v: int = V,
) -> dict[str, Any]:
    return {
        "v": v,
        "chain": chain,
        "seq": seq,
        "at": at,
        "kind": kind,
        "actor": actor,
        "subject": subject,
        "digests": digests,
        "details": details,
        "prev": prev,
    }


def record_hash(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(RECORD_PREFIX + canonical(obj)).hexdigest()


def record_json(
    chain: int,
    seq: int,
    at: str,
    kind: str,
    actor: str,
    subject: str,
    digests: str,
    details: str,
    prev: str,
    v: int = V,
    hash_: str | None = None,
) -> str:
    """``canonical(record_object(...))`` (plus ``"hash"`` when given: an archive line) assembled from the
    canonical JSON texts of ``digests`` and ``details``: the chainer's and the verifier's fast path,
    equal to the definition whenever those texts are canonical."""
    mid = f',"hash":"{hash_}"' if hash_ is not None else ""
    return (
        f'{{"actor":{encode_basestring(actor)},"at":"{at}","chain":{chain},"details":{details},'
        f'"digests":{digests}{mid},"kind":{encode_basestring(kind)},"prev":"{prev}","seq":{seq},'
        f'"subject":{encode_basestring(subject)},"v":{v}}}'
    )


def record_bytes(*args: Any) -> bytes:
    """What a record's hash is taken over: ``RECORD_PREFIX + canonical(record_object(...))``."""
    return RECORD_PREFIX + record_json(*args).encode("utf-8")


def text(value: Any) -> str:
    """The canonical JSON text of a value (``canonical`` as a str)."""
    return _dumps(value)


def seal_bytes(chain: int, seq: int, head: str, at: str, key: str) -> bytes:
    return SEAL_PREFIX + canonical({"chain": chain, "seq": seq, "head": head, "at": at, "key": key})


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    return ARCHIVE_PREFIX + canonical(dict(manifest))


def entry_text(fact: Fact, *, check: bool = True) -> str:
    """The canonical JSON text of a fact inside a batch record (``E`` above), checked first unless the
    caller built it from values it knows are valid (``check=False``)."""
    if check:
        fact.check()
    return text({"kind": fact.kind, "subject": fact.subject, "digests": fact.digests, "details": fact.details})


def batch_details_text(entries: list[str]) -> str:
    """The canonical JSON text of a batch record's ``details`` from its entries' canonical texts."""
    return '{"facts":[' + ",".join(entries) + "]}"


def facts_of(kind: str, actor: str, subject: str, digests: Any, details: Any, at: datetime | None = None) -> list[Fact]:
    """The facts a record holds: itself, or a batch record's entries (``digests`` / ``details`` as objects
    or as their JSON text)."""
    d = json.loads(digests) if isinstance(digests, str) else digests
    e = json.loads(details) if isinstance(details, str) else details
    if kind != BATCH:
        return [Fact(kind, subject, actor, d, e, at=at)]
    return [Fact(x["kind"], x["subject"], actor, x["digests"], x["details"], at=at) for x in e["facts"]]
