"""Webhooks — events to the local systems that subscribed to them.

Capability card
---------------
- **Protocol**: HTTP POST of a JSON event to the subscription's URL, signed the Standard Webhooks
  way (https://www.standardwebhooks.com): ``webhook-id`` (the hub's message id, the same on every
  retry: receivers deduplicate on it), ``webhook-timestamp`` (Unix seconds) and
  ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the subscription's
  ``whsec_`` secret). Signing is the ``standardwebhooks`` library's.
- **Auth**: the signature; the secret is shown once when the subscription is created.
- **Messages**: any event type a subscription asks for (``payment.status.changed``). Each
  (subscription, event) is one ledger message, so retries, dead letters, replay and the trace
  are the same as for every partner; events of one dossier reach one receiver in order.
- **Answers**: 2xx delivered; 410 Gone dead (the receiver ended the subscription); any other
  status, a timeout or a connection error is retried with backoff until the budget is spent.
  A subscription disabled or deleted before delivery: dead.
- **Settings**: ``HUB_WEBHOOK_*`` (``config.py``).
"""

from __future__ import annotations

from typing import Any

from .client import NAME, WebhookConnector
from .config import WebhookSettings

__all__ = ["NAME", "WebhookConnector", "WebhookSettings", "build_connector"]


def build_connector(settings: WebhookSettings | None = None, **deps: Any) -> WebhookConnector:
    """The connector for the hub's registry: ``engine`` (the ledger's database) finds each
    subscription's URL and secret."""
    return WebhookConnector(deps["engine"], settings or WebhookSettings())
