"""Webhook connector: Standard Webhooks signatures a receiver can verify with the reference
library, outcome classification, and events for a receiver that is down delivered once it is
back (through the real pipeline, on SQLite and PostgreSQL)."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from connectors.webhooks import WebhookConnector, WebhookSettings
from connectors.webhooks.client import signed_request
from hub import subscriptions
from hub.db.schema import clients
from hub.ports import DeliveryItem, OutcomeKind
from hub.ssrf import AddressPolicy, IPAddress, Resolver
from hub.subscriptions import Directory
from tests.factories import create_client

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


class Answers:
    """A loopback receiver answering by path: /ok 204, /down 503, /gone 410, /slow (too slow),
    /redirect 302 to the metadata address, /big 200 with a large body; records what it got."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes, dict[str, str]]] = []
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                answers.got.append((self.path, body, {k.lower(): v for k, v in self.headers.items()}))
                if self.path == "/slow":
                    time.sleep(1.5)
                status = {"/ok": 204, "/down": 503, "/gone": 410, "/redirect": 302, "/big": 200}.get(self.path, 404)
                self.send_response(status)
                if status == 302:
                    self.send_header("location", "http://169.254.169.254/latest/meta-data/")
                payload = b"secret-looking answer " * 1000 if self.path == "/big" else b""
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def answers() -> Iterator[Answers]:
    a = Answers()
    yield a
    a.close()


def resolving(mapping: dict[str, str]) -> Resolver:
    """A fake resolver (no test asks DNS): names to addresses, changeable while the test runs."""

    def resolve(host: str, _port: int) -> list[IPAddress]:
        if host not in mapping:
            raise OSError("no such name")
        return [ipaddress.ip_address(mapping[host])]

    return resolve


LOOPBACK_OK = WebhookSettings(allow_loopback=True, timeout=0.5)


def test_outcomes_by_receiver_answer(engine: Engine, owner: int, answers: Answers) -> None:
    base = f"http://receiver.test:{answers.port}"
    paths = ("ok", "down", "gone", "slow", "redirect", "big")
    subs = {k: subscriptions.create(engine, owner, f"{base}/{k}", ["payment.status.changed"]) for k in paths}
    removed = subscriptions.create(engine, owner, f"{base}/removed", ["payment.status.changed"])
    assert subscriptions.disable(engine, removed["id"], owner)
    conn = WebhookConnector(Directory(engine), LOOPBACK_OK, resolve=resolving({"receiver.test": "127.0.0.1"}))
    outs = conn.deliver([item(subs[k]["id"]) for k in paths] + [item(removed["id"])])
    assert [o.kind for o in outs] == [
        OutcomeKind.DELIVERED,
        OutcomeKind.RETRY,
        OutcomeKind.DEAD,
        OutcomeKind.RETRY,  # timeout
        OutcomeKind.DEAD,  # a redirect is not followed (nothing reached the metadata address)
        OutcomeKind.DELIVERED,
        OutcomeKind.DEAD,
    ]
    assert "redirect" in outs[4].detail
    assert all(o.response is None for o in outs)  # the receiver's answer is never kept in the trace
    path, body, headers = answers.got[0]
    assert path == "/ok" and headers["host"] == f"receiver.test:{answers.port}"  # connected by address, Host kept
    assert Webhook(subs["ok"]["secret"]).verify(body, headers) == EVENT
    conn.close()


def test_a_name_that_resolves_inward_later_is_not_followed(engine: Engine, owner: int, answers: Answers) -> None:
    """Subscribed while the name pointed at an allowed address; at delivery it points at a
    refused one (DNS rebinding): the delivery is refused before any connection."""
    names = {"hooks.test": "127.0.0.1"}
    allowed = AddressPolicy(allow_loopback=True)
    sub = subscriptions.create(
        engine, owner, f"http://hooks.test:{answers.port}/ok", ["payment.status.changed"], policy=allowed,
        resolve=resolving(names),
    )  # fmt: skip
    strict = WebhookConnector(
        Directory(engine), WebhookSettings(timeout=0.5), resolve=resolving(names)
    )  # loopback not allowed
    (out,) = strict.deliver([item(sub["id"])])
    assert out.kind is OutcomeKind.DEAD and "loopback" in out.detail and answers.got == []
    names["hooks.test"] = "169.254.169.254"  # inward again, another range: still nothing sent
    lenient = WebhookConnector(Directory(engine), LOOPBACK_OK, resolve=resolving(names))
    (out,) = lenient.deliver([item(sub["id"])])
    assert out.kind is OutcomeKind.DEAD and "link_local" in out.detail and answers.got == []
    names["hooks.test"] = "127.0.0.1"  # back to the allowed address: delivered
    (out,) = lenient.deliver([item(sub["id"])])
    assert out.kind is OutcomeKind.DELIVERED and len(answers.got) == 1
    for c in (strict, lenient):
        c.close()


def test_the_policy_is_the_one_the_settings_declare() -> None:
    from hub.ports import DeliveryPolicy

    policy = WebhookSettings(max_attempts=7, breaker_failures=900).policy()
    assert (policy.max_attempts, policy.breaker_failures, policy.timeout) == (7, 900, 10.0)
    assert policy.batch_size == DeliveryPolicy().batch_size  # not a webhook setting: the default


def test_no_post_once_the_attempts_lease_is_lost(engine: Engine, owner: int, answers: Answers) -> None:
    from dataclasses import replace

    from hub.ports import LeaseBudget

    url = f"http://receiver.test:{answers.port}/ok"
    sub = subscriptions.create(engine, owner, url, ["payment.status.changed"])
    budget = LeaseBudget(deadline=1e12)
    budget.revoke()  # a renewal found the batch taken over
    conn = WebhookConnector(Directory(engine), LOOPBACK_OK, resolve=resolving({"receiver.test": "127.0.0.1"}))
    [outcome] = conn.deliver([replace(item(sub["id"]), budget=budget)])
    assert outcome.kind is OutcomeKind.RETRY and not outcome.in_doubt
    assert answers.got == []  # nothing was posted
    [sent] = conn.deliver([item(sub["id"])])  # the same delivery with a live lease does post
    assert sent.kind is OutcomeKind.DELIVERED and len(answers.got) == 1
    conn.close()
