"""The subscriptions domain's port for the webhook connector: who an event goes to.

The connector is handed a :class:`Subscribers` (the composition root gives it
``hub.subscriptions.service.Directory``) instead of reading the hub's tables: it asks, for the
subscription ids of a batch, which are still active, and where and with which secret to send.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Subscriber:
    """An active subscription: where its events go and the secret they are signed with."""

    id: str
    url: str
    secret: str

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"Subscriber(id={self.id!r}, url={self.url!r})"


class Subscribers(Protocol):
    def active(self, ids: Collection[str]) -> Mapping[str, Subscriber]:
        """The subscriptions among ``ids`` that are still active (a disabled or removed one is absent)."""
        ...
