"""Client systems and their API keys: created, listed, rotated (the old key keeps working for a
grace period), disabled and enabled, grants given and revoked, agencies bound and unbound
(``hub.agencies.binding``: a client pushes the dossiers and payments of its agencies only). Keys
are random, shown once, and stored as SHA-256. Every change is a row of ``client_changes`` (when,
who, what) and a row of the operators' audit (``operator_actions``: who, when, what, why — the
console's Audit page), both written in the same transaction as the change, whoever made it (the
console, /v1/admin/clients or ``lgsp clients``).

A change reaches every api process within the Authenticator's cache time
(``HUB_AUTH_CACHE_SECONDS``, 10 s): a disabled client, a revoked grant or an expired old key stop
working by then, everywhere (the process that made the change forgets at once)."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from hub.db.schema import client_changes, clients
from hub.envelope import iso, utcnow
from hub.evidence import facts as evidence

ADMIN = "admin"  # grant: trace every message, replay dead ones, manage clients


class ClientExists(Exception):
    pass


class ClientNotFound(Exception):
    pass


@dataclass(frozen=True)
class Client:
    id: int
    code: str
    grants: frozenset[str]
    agencies: frozenset[str] = frozenset()  # agency codes it is bound to (hub.agencies.binding)

    def may(self, grant: str) -> bool:
        return grant in self.grants or ADMIN in self.grants


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return "lgsp_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Why:
    """Why a change is made, for the audit: the reason given (the console requires one; the admin
    API and the CLI take one) and the address it came from."""

    reason: str | None = None
    remote_addr: str | None = None


def _record(
    c: Connection,
    client_id: int,
    code: str,
    actor: str,
    action: str,
    why: Why | None = None,
    **detail: Any,
) -> None:
    """The ``client_changes`` row and its ``operator.action`` evidence fact (action ``client.<action>``),
    and the operators' audit row (who, what, why)."""
    from hub.console import audit  # a leaf module: the schema and the evidence log only

    at = utcnow()
    c.execute(
        insert(client_changes).values(
            at=at, client_id=client_id, client_code=code, actor=actor[:100], action=action, detail=detail
        )
    )
    log = evidence.of(c)
    log.stage(c, [log.operator(actor, f"client.{action}", f"client:{code}", "ok", at=at, **detail)])
    why = why or Why()
    said = "; ".join(f"{k}: {_said(v)}" for k, v in detail.items()) or None
    who = actor.removeprefix("operator:")  # the console's operators are named as everywhere else in the audit
    audit.record(c, audit.Action(who, f"client.{action}", "ok", code, why.reason, said, why.remote_addr), at=at)


def _said(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "(none)"
    return "none" if value is None else str(value)


def create_client(
    engine: Engine,
    code: str,
    name: str,
    grants: list[str],
    key: str | None = None,
    actor: str = "system",
    agencies: Iterable[str] = (),
    why: Why | None = None,
) -> str:
    """Register a client system, bound to ``agencies``; returns its API key (only the hash is
    stored). ``ClientExists`` if the code is taken."""
    key = key or new_key()
    bound = sorted(set(agencies))
    with engine.begin() as c:
        if c.execute(select(clients.c.id).where(clients.c.code == code)).first() is not None:
            raise ClientExists(code)
        inserted = c.execute(
            insert(clients).values(
                code=code,
                name=name,
                key_hash=hash_key(key),
                grants=sorted(set(grants)),
                agencies=bound,
                created_at=utcnow(),
            )
        ).inserted_primary_key
        assert inserted is not None
        cid = int(inserted[0])
        _record(c, cid, code, actor, "create", why, grants=sorted(set(grants)), agencies=bound)
    return key


def ensure_client(
    engine: Engine, code: str, name: str, grants: list[str], key: str, agencies: Iterable[str] = ()
) -> None:
    """Create the client with this key, or reset its key, grants and agencies (development convenience)."""
    values = {"key_hash": hash_key(key), "grants": sorted(set(grants)), "agencies": sorted(set(agencies))}
    with engine.begin() as c:
        row = c.execute(select(clients.c.id).where(clients.c.code == code)).first()
        if row is None:
            c.execute(insert(clients).values(code=code, name=name, created_at=utcnow(), **values))
        else:
            c.execute(update(clients).where(clients.c.id == row.id).values(disabled_at=None, **values))


def view(r: Any, now: datetime | None = None) -> dict[str, Any]:
    """A client as operators see it: never a key or its hash."""
    now = now or utcnow()
    old_until = r.old_key_until if r.old_key_until and r.old_key_until > now else None
    return {
        "code": r.code,
        "name": r.name,
        "grants": sorted(r.grants),
        "agencies": sorted(r.agencies or ()),
        "created_at": iso(r.created_at),
        "disabled_at": iso(r.disabled_at),
        "old_key_valid_until": iso(old_until),
    }


def list_clients(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [view(r) for r in c.execute(select(clients).order_by(clients.c.code))]


def get(engine: Engine, code: str) -> dict[str, Any]:
    with engine.connect() as c:
        row = c.execute(select(clients).where(clients.c.code == code)).first()
    if row is None:
        raise ClientNotFound(code)
    return view(row)


def _locked(c: Connection, code: str) -> Any:
    row = c.execute(select(clients).where(clients.c.code == code).with_for_update()).first()
    if row is None:
        raise ClientNotFound(code)
    return row


def rotate(
    engine: Engine, code: str, actor: str, grace_seconds: int, why: Why | None = None
) -> tuple[str, dict[str, Any]]:
    """A new key for the client (returned, shown once); the current one keeps working for
    ``grace_seconds`` (0: stops now). A key rotated out before is dropped."""
    key, now = new_key(), utcnow()
    until = now + timedelta(seconds=grace_seconds) if grace_seconds > 0 else None
    with engine.begin() as c:
        row = _locked(c, code)
        c.execute(
            update(clients)
            .where(clients.c.id == row.id)
            .values(key_hash=hash_key(key), old_key_hash=row.key_hash if until else None, old_key_until=until)
        )
        _record(c, row.id, code, actor, "rotate", why, grace_seconds=grace_seconds, old_key_valid_until=iso(until))
        updated = c.execute(select(clients).where(clients.c.id == row.id)).one()
    return key, view(updated, now)


def set_disabled(engine: Engine, code: str, disabled: bool, actor: str, why: Why | None = None) -> dict[str, Any]:
    """Disable (every key of the client stops working) or enable it again. Idempotent."""
    with engine.begin() as c:
        row = _locked(c, code)
        if (row.disabled_at is not None) != disabled:
            c.execute(update(clients).where(clients.c.id == row.id).values(disabled_at=utcnow() if disabled else None))
            _record(c, row.id, code, actor, "disable" if disabled else "enable", why)
        updated = c.execute(select(clients).where(clients.c.id == row.id)).one()
    return view(updated)


def change_grants(
    engine: Engine, code: str, add: list[str], remove: list[str], actor: str, why: Why | None = None
) -> dict[str, Any]:
    """Give ``add`` and revoke ``remove``; records what actually changed."""
    with engine.begin() as c:
        row = _locked(c, code)
        before = set(row.grants)
        after = (before | set(add)) - set(remove)
        if after != before:
            c.execute(update(clients).where(clients.c.id == row.id).values(grants=sorted(after)))
            if after - before:
                _record(c, row.id, code, actor, "grant", why, grants=sorted(after - before))
            if before - after:
                _record(c, row.id, code, actor, "revoke_grant", why, grants=sorted(before - after))
        updated = c.execute(select(clients).where(clients.c.id == row.id)).one()
    return view(updated)


def change_agencies(
    engine: Engine, code: str, add: list[str], remove: list[str], actor: str, why: Why | None = None
) -> dict[str, Any]:
    """Bind the client to ``add`` and unbind it from ``remove``; records what actually changed
    (``bind_agency`` / ``unbind_agency``). Takes effect within the Authenticator's cache time."""
    with engine.begin() as c:
        row = _locked(c, code)
        before = set(row.agencies or ())
        after = (before | set(add)) - set(remove)
        if after != before:
            c.execute(update(clients).where(clients.c.id == row.id).values(agencies=sorted(after)))
            if after - before:
                _record(c, row.id, code, actor, "bind_agency", why, agencies=sorted(after - before))
            if before - after:
                _record(c, row.id, code, actor, "unbind_agency", why, agencies=sorted(before - after))
        updated = c.execute(select(clients).where(clients.c.id == row.id)).one()
    return view(updated)


def history(engine: Engine, code: str, limit: int = 100) -> list[dict[str, Any]]:
    """The client's changes, newest first."""
    with engine.connect() as c:
        row = c.execute(select(clients.c.id).where(clients.c.code == code)).first()
        if row is None:
            raise ClientNotFound(code)
        rows = c.execute(
            select(client_changes)
            .where(client_changes.c.client_id == row.id)
            .order_by(client_changes.c.id.desc())
            .limit(limit)
        ).all()
    return [{"at": iso(r.at), "actor": r.actor, "action": r.action, "detail": r.detail} for r in rows]


class Authenticator:
    """Looks API keys up by hash (the current key, or a rotated one within its grace period), with
    a short cache: a change to a client takes effect everywhere within ``ttl`` seconds."""

    def __init__(self, engine: Engine, ttl: float = 10.0):
        self.engine = engine
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Client | None]] = {}

    def __call__(self, key: str) -> Client | None:
        known, client = self.cached(key)
        return client if known else self.lookup(key)

    def cached(self, key: str) -> tuple[bool, Client | None]:
        """(True, the client or None) if the key was looked up within ``ttl``; (False, None) if
        it must be looked up (``lookup``, which reads the database)."""
        hit = self._cache.get(hash_key(key))
        if hit and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Client | None:
        h = hash_key(key)
        now = time.monotonic()
        current = clients.c.key_hash == h
        in_grace = and_(clients.c.old_key_hash == h, clients.c.old_key_until > utcnow())
        with self.engine.connect() as c:
            row = c.execute(
                select(clients.c.id, clients.c.code, clients.c.grants, clients.c.agencies).where(
                    or_(current, in_grace), clients.c.disabled_at.is_(None)
                )
            ).first()
        client = Client(row.id, row.code, frozenset(row.grants), frozenset(row.agencies or ())) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[h] = (now + self.ttl, client)
        return client

    def forget(self) -> None:
        """Drop every cached lookup (after a change made by this process)."""
        self._cache.clear()
