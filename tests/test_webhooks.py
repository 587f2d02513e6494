"""Webhook connector: Standard Webhooks signatures a receiver can verify with the reference
library, outcome classification, and events for a receiver that is down delivered once it is
back (through the real pipeline, on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from connectors.webhooks import WebhookConnector, WebhookSettings
from connectors.webhooks.client import signed_request
from hub import subscriptions
from hub.clients import create_client
from hub.db.schema import clients
from hub.ports import DeliveryItem, OutcomeKind

EVENT = {"type": "payment.status.changed", "payment_id": "01PAY", "state": "paid", "amount": 150000}


def test_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = subscriptions.new_secret()
    body, headers = signed_request(secret, "01MSG", EVENT, datetime.now(tz=UTC))
    assert Webhook(secret).verify(body, headers) == EVENT
    assert headers["webhook-id"] == "01MSG"
    tampered = body.replace(b"150000", b"150001")
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(subscriptions.new_secret()).verify(body, headers)


def item(sub_id: str, mid: str = "01MSG0000000000000000000AA") -> DeliveryItem:
    return DeliveryItem(
        message_id=mid,
        type="payment.status.changed",
        key=f"{sub_id}:X",
        payload={"subscription_id": sub_id, "event": EVENT},
        attempt=1,
        key_known_to_partner=False,
        in_doubt=False,
    )


@pytest.fixture
def owner(engine: Engine) -> int:
    create_client(engine, "ONEGATE", "one-stop", ["subscribe"])
    with engine.connect() as c:
        return int(c.execute(select(clients.c.id)).scalar_one())


@respx.mock
def test_outcomes_by_receiver_answer(engine: Engine, owner: int) -> None:
    urls = {s: f"http://receiver.example/{s}" for s in ("ok", "down", "gone", "slow")}
    subs = {k: subscriptions.create(engine, owner, u, ["payment.status.changed"]) for k, u in urls.items()}
    respx.post(urls["ok"]).respond(204)
    respx.post(urls["down"]).respond(503)
    respx.post(urls["gone"]).respond(410)
    respx.post(urls["slow"]).mock(side_effect=httpx.ReadTimeout("slow"))
    removed = subscriptions.create(engine, owner, "http://receiver.example/removed", ["payment.status.changed"])
    assert subscriptions.disable(engine, removed["id"], owner)
    conn = WebhookConnector(engine, WebhookSettings())
    order = ["ok", "down", "gone", "slow"]
    outs = conn.deliver([item(subs[k]["id"]) for k in order] + [item(removed["id"])])
    assert [o.kind for o in outs] == [
        OutcomeKind.DELIVERED,
        OutcomeKind.RETRY,
        OutcomeKind.DEAD,
        OutcomeKind.RETRY,
        OutcomeKind.DEAD,
    ]
    sent = respx.calls[0].request
    assert Webhook(subs["ok"]["secret"]).verify(sent.content, dict(sent.headers)) == EVENT
    conn.close()


def test_the_policy_is_the_one_the_settings_declare() -> None:
    from hub.ports import DeliveryPolicy

    policy = WebhookSettings(max_attempts=7, breaker_failures=900).policy()
    assert (policy.max_attempts, policy.breaker_failures, policy.timeout) == (7, 900, 10.0)
    assert policy.batch_size == DeliveryPolicy().batch_size  # not a webhook setting: the default


@respx.mock
def test_no_post_once_the_attempts_lease_is_lost(engine: Engine, owner: int) -> None:
    from dataclasses import replace

    from hub.ports import LeaseBudget

    sub = subscriptions.create(engine, owner, "http://receiver.example/ok", ["payment.status.changed"])
    route = respx.post("http://receiver.example/ok").respond(204)
    budget = LeaseBudget(deadline=1e12)
    budget.revoke()  # a renewal found the batch taken over
    conn = WebhookConnector(engine, WebhookSettings())
    [outcome] = conn.deliver([replace(item(sub["id"]), budget=budget)])
    assert outcome.kind is OutcomeKind.RETRY and not outcome.in_doubt
    assert route.call_count == 0
    conn.close()
