"""Delivers events to subscribers' URLs, signed with standardwebhooks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from standardwebhooks import Webhook

from hub.messages import EVENTS
from hub.partners import Classified, Verdict
from hub.ports import NOT_ATTEMPTED, DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind
from hub.ssrf import Resolver, system_resolver
from hub.subscriptions.port import Subscriber, Subscribers

from .config import WebhookSettings
from .transport import AddressRefused, GuardedTransport

log = structlog.get_logger("connectors.webhooks")

NAME = "webhooks"
MESSAGE_TYPES: tuple[str, ...] = EVENTS  # every event a local system may subscribe to


def signed_request(secret: str, message_id: str, event: dict[str, Any], now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers of one event."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    now = now.astimezone(UTC)
    return body.encode(), {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, body),
    }


def classify(status: int) -> Classified:
    """2xx delivered; 410 Gone and any redirect (never followed: the URL is to be fixed) dead;
    anything else retried. Only the status counts: the receiver's body is never read."""
    if 200 <= status < 300:
        return Classified(Verdict.OK, http_status=status)
    permanent = status == 410 or 300 <= status < 400
    return Classified(Verdict.PERMANENT if permanent else Verdict.RETRYABLE, http_status=status)


def _subscription(item: DeliveryItem) -> str | None:
    sid = item.payload.get("subscription_id")
    return sid if isinstance(sid, str) else None


_KIND = {Verdict.OK: OutcomeKind.DELIVERED, Verdict.PERMANENT: OutcomeKind.DEAD, Verdict.RETRYABLE: OutcomeKind.RETRY}


class WebhookConnector:
    name = NAME
    message_types = MESSAGE_TYPES

    def __init__(
        self,
        subscribers: Subscribers,
        settings: WebhookSettings,
        http: httpx.Client | None = None,
        resolve: Resolver = system_resolver,
    ):
        self.subscribers = subscribers  # the subscriptions domain's port: never the hub's tables
        self.settings = settings
        self.policy: DeliveryPolicy = settings.policy()
        self.resolve = resolve
        self._http = http
        self._own_http = http is None

    @property
    def http(self) -> httpx.Client:
        """Every request through the SSRF guard (resolved once, checked, connected by address)."""
        if self._http is None:
            transport = GuardedTransport(self.settings.address_policy(), self.resolve)
            self._http = httpx.Client(
                timeout=self.settings.timeout, follow_redirects=False, transport=transport, trust_env=False
            )
        return self._http

    def deliver(self, items: Sequence[DeliveryItem]) -> list[Outcome]:
        ids = {sid for it in items if it.type in self.message_types and (sid := _subscription(it)) is not None}
        subs = self.subscribers.active(ids) if ids else {}
        return [self._one(it, subs.get(_subscription(it) or "")) for it in items]

    def _one(self, item: DeliveryItem, sub: Subscriber | None) -> Outcome:
        if item.type not in self.message_types:
            return Outcome(OutcomeKind.DEAD, f"message type {item.type!r} not handled", in_doubt=False)
        if sub is None:
            return Outcome(OutcomeKind.DEAD, "the subscription was disabled or removed")
        if not item.may_call(self.settings.timeout):  # the attempt's lease could end during the POST
            return Outcome(OutcomeKind.RETRY, NOT_ATTEMPTED, in_doubt=item.in_doubt)
        body, headers = signed_request(sub.secret, item.message_id, item.payload["event"], datetime.now(tz=UTC))
        try:  # the answer's body is never read nor kept: only its status counts
            with self.http.stream("POST", sub.url, content=body, headers=headers) as r:
                status = r.status_code
        except AddressRefused as exc:
            return Outcome(OutcomeKind.DEAD, f"address refused ({exc.reason}): {exc.message}")
        except httpx.TimeoutException:
            return Outcome(OutcomeKind.RETRY, "timeout")
        except httpx.HTTPError as exc:
            return Outcome(OutcomeKind.RETRY, f"connection error: {type(exc).__name__}")
        except Exception as exc:  # a bug below the call (a library, the HTTP stack), not the receiver's answer
            log.exception("webhook.unexpected_error", error=type(exc).__name__)
            return Outcome(OutcomeKind.RETRY, f"unexpected {type(exc).__name__}")
        detail = f"HTTP {status}" + (" (redirect: not followed)" if 300 <= status < 400 else "")
        kind = _KIND[classify(status).verdict]  # evidence: the body sent, the status answered (its body is not read)
        return Outcome(kind, detail, partner_ref=item.message_id, request=body, answer=f"HTTP {status}")

    def close(self) -> None:
        if self._http is not None and self._own_http:
            self._http.close()
