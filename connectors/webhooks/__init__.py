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
  are the same as for every partner; events of one dossier reach one receiver in order. A
  message of another type is dead, nothing sent.
- **Idempotency key**: ``webhook-id``, the ledger's message id: a retry, or a redelivery the hub is
  in doubt about, sends the same id again, and the receiver keeps one event per id (Standard
  Webhooks). There is no lookup: the receiver deduplicates.
- **Answers**: 2xx delivered; 410 Gone dead (the receiver ended the subscription); a redirect
  dead (never followed: the URL is to be fixed); any other status, a timeout or a connection
  error is retried with backoff until the budget is spent, and so is any other failure of the
  call. A subscription disabled or deleted before delivery: dead. Only the status is kept: the
  answer's body is neither read nor stored.
- **Addresses** (the SSRF guard, ``hub/ssrf.py``, through ``transport.py``): each delivery
  resolves the URL's host once, checks every address (no loopback, link-local, private,
  multicast, reserved or otherwise non-global address, unless allowed) and connects to that
  address, Host header and TLS name kept; a refused address makes the delivery dead, nothing sent.
- **Subscriptions**: asked of the ``hub.subscriptions.port.Subscribers`` it is handed (URL, secret,
  still active), never read from the hub's tables.
- **Settings**: ``HUB_WEBHOOK_*`` (``config.py``), among them ``ALLOW_NETWORKS`` (CIDRs a
  province's LAN receivers are in) and ``ALLOW_LOOPBACK`` (``lgsp dev``); the composition root also
  gives the subscriptions service these address rules.
"""

from __future__ import annotations

from hub.ssrf import Resolver, system_resolver
from hub.subscriptions.port import Subscribers

from .client import MESSAGE_TYPES, NAME, WebhookConnector
from .config import WebhookSettings

KIND = "delivery"  # a hub.ports.Connector: the ledger's queue ``webhooks``

__all__ = ["KIND", "MESSAGE_TYPES", "NAME", "WebhookConnector", "WebhookSettings", "build_connector"]


def build_connector(
    subscribers: Subscribers, settings: WebhookSettings | None = None, resolve: Resolver = system_resolver
) -> WebhookConnector:
    """The connector for the composition root: ``subscribers`` (the subscriptions domain's port)
    finds each subscription's URL and secret."""
    return WebhookConnector(subscribers, settings or WebhookSettings(), resolve=resolve)
