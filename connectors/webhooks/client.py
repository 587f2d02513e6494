"""Delivers events to subscribers' URLs, signed with standardwebhooks."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from hub.db.schema import subscriptions
from hub.ports import NOT_ATTEMPTED, DeliveryItem, DeliveryPolicy, Outcome, OutcomeKind
from hub.ssrf import Resolver, system_resolver

from .config import WebhookSettings
from .transport import AddressRefused, GuardedTransport

NAME = "webhooks"
MESSAGE_TYPES = ("payment.status.changed",)


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


def classify(status: int) -> OutcomeKind:
    """2xx delivered; 410 Gone and any redirect (never followed: the URL is to be fixed) dead;
    anything else retried."""
    if 200 <= status < 300:
        return OutcomeKind.DELIVERED
    return OutcomeKind.DEAD if status == 410 or 300 <= status < 400 else OutcomeKind.RETRY


class WebhookConnector:
    name = NAME
    message_types = MESSAGE_TYPES

    def __init__(
        self,
        engine: Engine,
        settings: WebhookSettings,
        http: httpx.Client | None = None,
        resolve: Resolver = system_resolver,
    ):
        self.engine = engine
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
        ids = {it.payload["subscription_id"] for it in items}
        with self.engine.connect() as c:
            subs = {
                r.id: r
                for r in c.execute(
                    select(subscriptions.c.id, subscriptions.c.url, subscriptions.c.secret).where(
                        subscriptions.c.id.in_(ids), subscriptions.c.disabled_at.is_(None)
                    )
                )
            }
        return [self._one(it, subs.get(it.payload["subscription_id"])) for it in items]

    def _one(self, item: DeliveryItem, sub: Any) -> Outcome:
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
        detail = f"HTTP {status}" + (" (redirect: not followed)" if 300 <= status < 400 else "")
        return Outcome(classify(status), detail, partner_ref=item.message_id)

    def close(self) -> None:
        if self._http is not None and self._own_http:
            self._http.close()
