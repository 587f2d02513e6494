"""Client systems and their API keys. Keys are random, shown once, and stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from hub.db.schema import clients
from hub.envelope import utcnow

ADMIN = "admin"  # grant: trace every message, replay dead ones


@dataclass(frozen=True)
class Client:
    id: int
    code: str
    grants: frozenset[str]

    def may(self, grant: str) -> bool:
        return grant in self.grants or ADMIN in self.grants


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_client(engine: Engine, code: str, name: str, grants: list[str], key: str | None = None) -> str:
    """Register a client system; returns its API key (only the hash is stored)."""
    key = key or "lgsp_" + secrets.token_urlsafe(32)
    with engine.begin() as c:
        c.execute(
            insert(clients).values(
                code=code, name=name, key_hash=hash_key(key), grants=sorted(set(grants)), created_at=utcnow()
            )
        )
    return key


def ensure_client(engine: Engine, code: str, name: str, grants: list[str], key: str) -> None:
    """Create the client with this key, or reset its key and grants (development convenience)."""
    with engine.begin() as c:
        row = c.execute(select(clients.c.id).where(clients.c.code == code)).first()
        if row is None:
            c.execute(
                insert(clients).values(
                    code=code, name=name, key_hash=hash_key(key), grants=sorted(set(grants)), created_at=utcnow()
                )
            )
        else:
            c.execute(
                update(clients)
                .where(clients.c.id == row.id)
                .values(key_hash=hash_key(key), grants=sorted(set(grants)), disabled_at=None)
            )


class Authenticator:
    """Looks API keys up by hash, with a short cache (a disabled key stops working within ttl)."""

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
        with self.engine.connect() as c:
            row = c.execute(
                select(clients.c.id, clients.c.code, clients.c.grants).where(
                    clients.c.key_hash == h, clients.c.disabled_at.is_(None)
                )
            ).first()
        client = Client(row.id, row.code, frozenset(row.grants)) if row else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[h] = (now + self.ttl, client)
        return client
