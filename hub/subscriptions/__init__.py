"""Webhook subscriptions of local systems: the service (``service.py``), its HTTP routes
(``api.py``), and the port the webhook connector is handed (``port.py``: ``Subscribers``)."""

from __future__ import annotations

from hub.subscriptions.service import (
    Directory,
    Subscriptions,
    TooManySubscriptions,
    create,
    disable,
    list_for,
    new_secret,
    subscribed,
    view,
)

__all__ = [
    "Directory",
    "Subscriptions",
    "TooManySubscriptions",
    "create",
    "disable",
    "list_for",
    "new_secret",
    "subscribed",
    "view",
]
