"""RabbitMQ access for tests: the broker URL, the skip-or-fail rule, unique prefixes, queue peeking.

The broker URL comes from ``HUB_TEST_BROKER_URL`` (default: guest on 127.0.0.1:5672, vhost ``/``).
An unreachable broker skips the test on a developer machine, and FAILS it when ``CI`` is set:
CI has a broker, so a missing one is a broken pipeline, never a silent skip.
"""

from __future__ import annotations

import functools
import os
import secrets
import urllib.parse
from collections.abc import Iterable

import pika
import pika.exceptions
import pytest

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def broker_url() -> str:
    return os.environ.get("HUB_TEST_BROKER_URL", DEFAULT_BROKER_URL)


@functools.cache
def _unreachable_reason(url: str) -> str | None:
    params = pika.URLParameters(url)
    params.connection_attempts = 1
    params.socket_timeout = 2
    try:
        pika.BlockingConnection(params).close()
    except (pika.exceptions.AMQPError, OSError) as exc:
        return f"RabbitMQ not reachable at {params.host}:{params.port}: {exc!r}"
    return None


def require_broker() -> str:
    """The broker URL if the broker answers; otherwise skip (no ``CI``) or fail (``CI`` set)."""
    url = broker_url()
    reason = _unreachable_reason(url)
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: broker tests must not be skipped)", pytrace=False)
        pytest.skip(reason)
    return url


def random_prefix() -> str:
    """A fresh name prefix so tests never share queues or exchanges."""
    return f"lgsptest_{secrets.token_hex(6)}"


def via(url: str, host: str, port: int) -> str:
    """``url`` with its host and port replaced (e.g. to go through a TcpProxy)."""
    parts = urllib.parse.urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def broker_address(url: str) -> tuple[str, int]:
    params = pika.URLParameters(url)
    return params.host, params.port


def peek(
    url: str, queue: str, limit: int = 10_000
) -> list[tuple[pika.spec.Basic.GetOk, pika.spec.BasicProperties, bytes]]:
    """Every message in ``queue`` as (method, properties, body), left in place (not acked)."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        found: list[tuple[pika.spec.Basic.GetOk, pika.spec.BasicProperties, bytes]] = []
        while len(found) < limit:
            method, props, body = channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            # a message got (method set) always comes with its properties and body
            assert props is not None and body is not None
            found.append((method, props, body))
        return found
    finally:
        conn.close()  # unacked messages go back to the queue


def delete_topology(url: str, prefix: str, queues: Iterable[str]) -> None:
    """Delete what ``RabbitMQTransport(prefix=prefix).setup(...)`` declared for the short queue names
    ``queues`` (plus the poison queue and both exchanges), e.g. after a test whose transport lived in
    another process. Deleting what does not exist is fine."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = conn.channel()
        for name in [*queues, "poison"]:
            channel.queue_delete(f"{prefix}.{name}")
        channel.exchange_delete(f"{prefix}.events")
        channel.exchange_delete(f"{prefix}.dlx")
    finally:
        conn.close()
