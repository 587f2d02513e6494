"""Webhook subscriptions of local systems (delivered by the webhook connector).

A subscription's URL passes the SSRF guard (``hub/ssrf.py``) when it is created, and again at
every delivery on the address the connection uses. A client holds at most ``limit`` active
subscriptions. Other domains ask :func:`subscribed` who hears of an event; the webhook connector
asks the :class:`Directory` (the ``Subscribers`` port) where to send it."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from hub.db.schema import clients, subscriptions
from hub.envelope import iso, new_id, utcnow
from hub.ssrf import AddressPolicy, Resolver, check_url, system_resolver
from hub.subscriptions.port import Subscriber


class TooManySubscriptions(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a client may hold at most {limit} active subscriptions")
        self.limit = limit


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def create(
    engine: Engine,
    client_id: int,
    url: str,
    event_types: list[str],
    *,
    policy: AddressPolicy | None = None,
    resolve: Resolver = system_resolver,
    limit: int | None = None,
) -> dict[str, Any]:
    """Register a subscription; the returned view holds the secret, which is never shown again.
    ``policy``: the SSRF guard (``AddressRefused``); ``limit``: ``TooManySubscriptions``."""
    if policy is not None:
        check_url(url, policy, resolve)
    row = {
        "id": new_id(),
        "client_id": client_id,
        "url": url,
        "event_types": sorted(set(event_types)),
        "secret": new_secret(),
        "created_at": utcnow(),
    }
    with engine.begin() as c:
        if limit is not None:  # the client's row, locked: two requests at once cannot both take the last place
            c.execute(select(clients.c.id).where(clients.c.id == client_id).with_for_update())
            active = c.execute(
                select(func.count())
                .select_from(subscriptions)
                .where(subscriptions.c.client_id == client_id, subscriptions.c.disabled_at.is_(None))
            ).scalar_one()
            if active >= limit:
                raise TooManySubscriptions(limit)
        c.execute(insert(subscriptions).values(**row))
    return {**view(row), "secret": row["secret"]}


def list_for(engine: Engine, client_id: int | None) -> list[dict[str, Any]]:
    q = select(subscriptions).where(subscriptions.c.disabled_at.is_(None)).order_by(subscriptions.c.id)
    if client_id is not None:
        q = q.where(subscriptions.c.client_id == client_id)
    with engine.connect() as c:
        return [view(r._mapping) for r in c.execute(q)]


def disable(engine: Engine, sub_id: str, client_id: int | None) -> bool:
    """Stop a subscription (events not yet delivered to it go dead). False if not found."""
    q = update(subscriptions).where(subscriptions.c.id == sub_id, subscriptions.c.disabled_at.is_(None))
    if client_id is not None:
        q = q.where(subscriptions.c.client_id == client_id)
    with engine.begin() as c:
        return c.execute(q.values(disabled_at=utcnow())).rowcount == 1


def view(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "url": r["url"], "event_types": r["event_types"], "created_at": iso(r["created_at"])}


def subscribed(c: Connection, client_id: int, event_type: str) -> list[str]:
    """In the caller's transaction: the ids of a client's active subscriptions to ``event_type``
    (a client hears of its own events only)."""
    rows = c.execute(
        select(subscriptions.c.id, subscriptions.c.event_types).where(
            subscriptions.c.client_id == client_id, subscriptions.c.disabled_at.is_(None)
        )
    )
    return [r.id for r in rows if event_type in r.event_types]


@dataclass(frozen=True)
class Directory:
    """The ``Subscribers`` port over the subscriptions table (handed to the webhook connector)."""

    engine: Engine

    def active(self, ids: Collection[str]) -> dict[str, Subscriber]:
        with self.engine.connect() as c:
            rows = c.execute(
                select(subscriptions.c.id, subscriptions.c.url, subscriptions.c.secret).where(
                    subscriptions.c.id.in_(ids), subscriptions.c.disabled_at.is_(None)
                )
            )
            return {r.id: Subscriber(r.id, r.url, r.secret) for r in rows}


@dataclass(frozen=True)
class Subscriptions:
    """The service the API uses: subscriptions checked by the SSRF guard and held to the per-client limit."""

    engine: Engine
    policy: AddressPolicy  # the webhook receivers' address rules (the webhook connector's settings)
    resolve: Resolver = field(default=system_resolver)
    limit: int | None = None
    directory: Directory = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Directory(self.engine))

    def create(self, client_id: int, url: str, event_types: list[str]) -> dict[str, Any]:
        return create(
            self.engine, client_id, url, event_types, policy=self.policy, resolve=self.resolve, limit=self.limit
        )

    def list_for(self, client_id: int | None) -> list[dict[str, Any]]:
        return list_for(self.engine, client_id)

    def disable(self, sub_id: str, client_id: int | None) -> bool:
        return disable(self.engine, sub_id, client_id)
