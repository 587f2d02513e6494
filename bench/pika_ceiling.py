"""Raw throughput ceiling of pika against the broker: what the hub's transport can hope for at best.

``measure`` runs, on a temporary queue of its own, n messages of ``size`` bytes through:

- a raw pika ``SelectConnection`` publisher: persistent, ``mandatory``, publisher confirms with a
  sliding window of ``window`` unconfirmed messages (no per-message blocking confirm);
- then a raw pika ``BlockingConnection`` consumer (prefetch 1000, manual ``multiple`` acks every 100);
- then both at once, the consumer in another process (the streaming ceiling);
- then the same through the hub's ``RabbitMQTransport`` (publish in batches of 1000, ``consume`` with an
  all-ACK handler and default prefetch 200 / max_batch 100), for comparison.

    .venv/bin/python -m bench.pika_ceiling [url] [n] [size]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pika
from pika import spec

from hub.ports import Delivery, Disposition, OutgoingMessage
from hub.transports.rabbitmq import RabbitMQTransport

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _publish_raw(url: str, queue: str, n: int, body: bytes, window: int) -> float:
    """Publish n messages with windowed confirms; returns seconds until the last confirm."""
    state: dict[str, Any] = {"sent": 0, "nacked": 0, "returned": 0, "start": 0.0, "end": 0.0}
    unconfirmed: set[int] = set()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    channel: Any = None

    def pump() -> None:
        while state["sent"] < n and len(unconfirmed) < window:
            channel.basic_publish("", queue, body, props, mandatory=True)
            state["sent"] += 1
            unconfirmed.add(state["sent"])  # delivery tags count from 1 on a fresh confirm channel

    def on_confirm(frame: Any) -> None:
        method = frame.method
        settled = {t for t in unconfirmed if t <= method.delivery_tag} if method.multiple else {method.delivery_tag}
        unconfirmed.difference_update(settled)
        if isinstance(method, spec.Basic.Nack):
            state["nacked"] += len(settled)
        if state["sent"] >= n and not unconfirmed:
            state["end"] = time.perf_counter()
            conn.close()
        else:
            pump()

    def on_selected(_frame: Any) -> None:
        state["start"] = time.perf_counter()
        pump()

    def on_channel(ch: Any) -> None:
        nonlocal channel
        channel = ch
        ch.add_on_return_callback(lambda *_a: state.__setitem__("returned", state["returned"] + 1))
        ch.confirm_delivery(on_confirm, callback=on_selected)

    conn = pika.SelectConnection(
        pika.URLParameters(url),
        on_open_callback=lambda c: c.channel(on_open_callback=on_channel),
        on_close_callback=lambda c, _e: c.ioloop.stop(),
    )
    conn.ioloop.start()
    if state["nacked"] or state["returned"]:
        raise RuntimeError(f"broker refused messages: {state}")
    return float(state["end"] - state["start"])


def _consume_raw(url: str, queue: str, n: int) -> float:
    """Consume and ack (``multiple`` every 100) n messages; returns seconds from start to last ack."""
    conn = pika.BlockingConnection(pika.URLParameters(url))
    channel = conn.channel()
    channel.basic_qos(prefetch_count=1000)
    received = 0

    def on_message(ch: Any, method: Any, _props: Any, _body: bytes) -> None:
        nonlocal received
        received += 1
        if received % 100 == 0 or received == n:
            ch.basic_ack(method.delivery_tag, multiple=True)
        if received == n:
            ch.stop_consuming()

    started = time.perf_counter()
    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def _consume_in_child(url: str, queue: str, n: int, done: Any) -> None:
    _consume_raw(url, queue, n)
    done.value = time.perf_counter()


def _concurrent_raw(url: str, queue: str, n: int, body: bytes, window: int) -> float:
    """Publisher (this process) and consumer (another process) at the same time, as the hub's
    relay and workers run: seconds from the first publish to the last ack."""
    ctx = multiprocessing.get_context("spawn")
    done = ctx.Value("d", 0.0)
    consumer = ctx.Process(target=_consume_in_child, args=(url, queue, n, done))
    consumer.start()
    time.sleep(1.0)  # the consumer is attached before the first message
    started = time.perf_counter()
    _publish_raw(url, queue, n, body, window)
    consumer.join(120)
    if consumer.exitcode != 0 or not done.value:
        raise RuntimeError("the consumer process did not finish")
    return float(done.value) - started


def _through_transport(url: str, n: int, body: bytes, queue_type: str) -> tuple[float, float]:
    """The hub's own transport: publish in batches of 1000, then consume with an all-ACK handler."""
    transport = RabbitMQTransport(url, prefix=f"bench_{uuid.uuid4().hex[:8]}", queue_type=queue_type)
    transport.setup({"sink": ["bench.#"]})
    try:
        msgs = [OutgoingMessage(uuid.uuid4().hex, "bench.message", body) for _ in range(n)]
        started = time.perf_counter()
        for i in range(0, n, 1000):
            if not all(transport.publish(msgs[i : i + 1000], timeout=60)):
                raise RuntimeError("transport publish not confirmed")
        publish_seconds = time.perf_counter() - started
        stop, seen = threading.Event(), [0]

        def handler(batch: Sequence[Delivery]) -> list[Disposition]:
            seen[0] += len(batch)
            if seen[0] >= n:
                stop.set()
            return [Disposition.ACK] * len(batch)

        started = time.perf_counter()
        transport.consume("sink", handler, stop=stop)
        return publish_seconds, time.perf_counter() - started
    finally:
        transport.delete_topology()
        transport.close()


def measure(
    url: str, n: int = 20000, size: int = 800, queue_type: str = "quorum", window: int = 1000
) -> dict[str, Any]:
    """Publish (windowed confirms) -> consume -> ack n messages of ``size`` bytes; msgs/s figures.

    ``raw_*``: plain pika (the ceiling); ``transport_*``: ``RabbitMQTransport`` on the same broker.
    ``raw_end_to_end``: publishing, then consuming, one after the other: n / (publish seconds +
    consume seconds), the CPU cost of both without them competing. ``raw_concurrent``: both at
    once in two processes, as the hub's roles run, sharing this machine's cores.
    """
    queue = f"bench_{uuid.uuid4().hex[:8]}"
    admin = pika.BlockingConnection(pika.URLParameters(url))
    admin_channel = admin.channel()
    admin_channel.queue_declare(queue, durable=True, arguments={"x-queue-type": queue_type})
    body = b"x" * size
    try:
        raw_publish = _publish_raw(url, queue, n, body, window)
        raw_consume = _consume_raw(url, queue, n)
        concurrent = _concurrent_raw(url, queue, n, body, window)
    finally:
        admin_channel.queue_delete(queue)
        admin.close()
    hub_publish, hub_consume = _through_transport(url, n, body, queue_type)
    return {
        "n": n,
        "size": size,
        "queue_type": queue_type,
        "raw_publish_msgs_per_s": round(n / raw_publish),
        "raw_consume_msgs_per_s": round(n / raw_consume),
        "raw_end_to_end_msgs_per_s": round(n / (raw_publish + raw_consume)),
        "raw_concurrent_msgs_per_s": round(n / concurrent),
        "transport_publish_msgs_per_s": round(n / hub_publish),
        "transport_consume_msgs_per_s": round(n / hub_consume),
        "transport_end_to_end_msgs_per_s": round(n / (hub_publish + hub_consume)),
    }


if __name__ == "__main__":
    arg_url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HUB_TEST_BROKER_URL", DEFAULT_URL)
    arg_n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    arg_size = int(sys.argv[3]) if len(sys.argv) > 3 else 800
    for kind in ("quorum", "classic"):
        figures = measure(arg_url, arg_n, arg_size, queue_type=kind)
        print(" ".join(f"{k}={v}" for k, v in figures.items()))
