"""The transport contract, run against RabbitMQ, plus broker fault tests through a TCP proxy.

Needs a broker (``HUB_TEST_BROKER_URL``); skipped without one, except in CI where it fails.
Every test uses its own name prefix and deletes its queues and exchanges afterwards.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence

import pytest

pytest.register_assert_rewrite("tests.transport_contract")

from hub.ports import Delivery, Disposition, OutgoingMessage, Transport  # noqa: E402
from hub.transports.rabbitmq import RabbitMQTransport  # noqa: E402
from tests.support.broker import broker_address, peek, random_prefix, require_broker, via  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402
from tests.transport_contract import BINDINGS, message, wait_until  # noqa: E402
from tests.transport_contract import TransportContract as _Contract  # noqa: E402

pytestmark = pytest.mark.rabbitmq


@pytest.fixture
def broker_url() -> str:
    return require_broker()


class TestRabbitMQTransport(_Contract):
    url: str

    @pytest.fixture(autouse=True)
    def _broker(self, broker_url: str) -> None:
        self.url = broker_url

    def make_transport(self) -> Transport:
        return RabbitMQTransport(self.url, prefix=random_prefix())

    def poisoned_ids(self, transport: Transport) -> list[str]:
        assert isinstance(transport, RabbitMQTransport)
        return [props.message_id or "" for _m, props, _b in peek(self.url, transport.poison_queue)]

    def dispose(self, transport: Transport) -> None:
        assert isinstance(transport, RabbitMQTransport)
        try:
            transport.delete_topology()
        finally:
            transport.close()

    def test_names_and_properties(self, transport: Transport) -> None:
        assert isinstance(transport, RabbitMQTransport)
        assert transport.durable is True
        assert transport.queue("national_portal") == f"{transport.prefix}.national_portal"
        msg = message()
        assert transport.publish([msg]) == [True]
        ((method, props, body),) = peek(self.url, transport.queue("portal"))
        assert (props.message_id, props.type, props.content_type) == (
            msg.message_id,
            msg.routing_key,
            "application/json",
        )
        assert props.delivery_mode == 2 and props.timestamp and body == msg.body
        assert method.exchange == transport.exchange
        assert transport.depth("portal") == 1
        assert transport.purge("portal") == 1

    def test_returned_message_never_confirmed_even_when_ids_repeat(self, transport: Transport) -> None:
        routed = message()
        unroutable = OutgoingMessage(routed.message_id, "nobody.listens", routed.body)
        results = transport.publish([routed, unroutable, message()])
        assert results[1:] == [False, True]  # the first may be False too (ambiguous id): safe, never lost


def test_no_connection_before_use() -> None:
    transport = RabbitMQTransport("amqp://guest:guest@127.0.0.1:1/%2F")  # nothing listens on port 1
    transport.close()


@pytest.fixture
def proxy(broker_url: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(*broker_address(broker_url))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied(broker_url: str, proxy: TcpProxy) -> Iterator[RabbitMQTransport]:
    transport = RabbitMQTransport(via(broker_url, "127.0.0.1", proxy.port), prefix=random_prefix(), heartbeat=5)
    transport.setup(BINDINGS)
    try:
        yield transport
    finally:
        transport.delete_topology()  # the proxy is still up: it is torn down after this fixture
        transport.close()


def test_broker_unreachable_publish_reports_false_and_consume_keeps_trying(proxy: TcpProxy) -> None:
    transport = RabbitMQTransport(f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F", prefix=random_prefix())
    proxy.stop()  # the port refuses connections from now on
    started = time.monotonic()
    assert transport.publish([message(), message()], timeout=1.0) == [False, False]
    assert time.monotonic() - started < 2.0
    stop = threading.Event()
    thread = threading.Thread(
        target=transport.consume, args=("portal", lambda b: [Disposition.ACK] * len(b)), kwargs={"stop": stop}
    )
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive(), "consume gives up on connection failures only when stopped"
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    transport.close()


def test_connection_dropped_and_restored_while_messages_flow_nothing_lost(
    proxied: RabbitMQTransport, proxy: TcpProxy, record_property: Callable[[str, object], None]
) -> None:
    """Two drops of every broker connection mid-flow: every message id is consumed at least once."""
    total, batch_size = 3000, 100
    messages = {m.message_id: m for m in (message() for _ in range(total))}
    consumed: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(batch: Sequence[Delivery]) -> list[Disposition]:
        with lock:
            consumed.update(d.message_id for d in batch)
        return [Disposition.ACK] * len(batch)

    stop = threading.Event()
    consumer = threading.Thread(target=proxied.consume, args=("portal", handler), kwargs={"stop": stop})
    consumer.start()
    try:
        to_send: deque[str] = deque(messages)
        reported_false, sent_batches, drops = 0, 0, 0
        while to_send:
            ids = [to_send.popleft() for _ in range(min(batch_size, len(to_send)))]
            if sent_batches in (10, 20) and drops < sent_batches // 10:
                # drop while this batch is in flight, once the consumer is back from the previous drop

                def consumer_back(expected: int = drops + 1) -> bool:
                    return proxied.consumer_connections == expected

                assert wait_until(consumer_back)
                threading.Timer(0.002, proxy.drop_all).start()
                drops += 1
            results = proxied.publish([messages[i] for i in ids], timeout=5.0)
            sent_batches += 1
            for message_id, ok in zip(ids, results, strict=True):
                if not ok:  # as the relay does: it stays in the outbox and goes again
                    to_send.append(message_id)
                    reported_false += 1
            time.sleep(0.01)
        assert wait_until(lambda: set(consumed) >= set(messages), timeout=30)
    finally:
        stop.set()
        consumer.join(5)
    assert not consumer.is_alive()
    assert drops == 2 and proxy.dropped >= 4
    assert proxied.publisher_connections >= 3, "the publisher reconnected after each drop"
    assert proxied.consumer_connections >= 3, "the consumer reconnected after each drop"
    duplicates = sum(consumed.values()) - len(consumed)
    record_property("duplicates", duplicates)
    record_property("reported_false", reported_false)
    print(f"\n{total} messages, 2 drops: {reported_false} reported False and republished, {duplicates} duplicates")


def test_heartbeats_serviced_while_the_handler_works(broker_url: str) -> None:
    """A handler slower than two heartbeat intervals must not cost the connection (and a redelivery)."""
    transport = RabbitMQTransport(broker_url, prefix=random_prefix(), heartbeat=1)
    transport.setup(BINDINGS)
    try:
        msg = message()
        assert transport.publish([msg]) == [True]
        seen: list[Delivery] = []

        def slow(batch: Sequence[Delivery]) -> list[Disposition]:
            seen.extend(batch)
            time.sleep(3.5)
            return [Disposition.ACK] * len(batch)

        stop = threading.Event()
        thread = threading.Thread(target=transport.consume, args=("portal", slow), kwargs={"stop": stop})
        thread.start()
        assert wait_until(lambda: len(seen) == 1)
        time.sleep(4.5)
        stop.set()
        thread.join(5)
        assert [(d.message_id, d.redelivered) for d in seen] == [(msg.message_id, False)]
        assert transport.consumer_connections == 1
        assert transport.depth("portal") == 0
    finally:
        transport.delete_topology()
        transport.close()


def test_the_consumer_of_higher_priority_is_fed_first_while_it_has_room(broker_url: str) -> None:
    """Several consumers of one queue in a worker process: the first (highest priority) gets the
    deliveries while its prefetch has room; the next one only the overflow."""
    from tests.transport_contract import Consumer

    transport = RabbitMQTransport(broker_url, prefix=random_prefix())
    transport.setup(BINDINGS)
    hold = threading.Event()
    busy: list[Delivery] = []  # what the first consumer holds, its handler waiting (a slow partner)

    def slow(batch: Sequence[Delivery]) -> None:
        busy.extend(batch)
        hold.wait(10)

    try:
        with (
            Consumer(transport, prefetch=10, max_batch=10, max_wait=0.3, priority=2, on_batch=slow),
            Consumer(transport, prefetch=10, max_batch=10, priority=1) as second,
        ):
            time.sleep(0.5)  # both consuming
            assert all(transport.publish([message() for _ in range(15)]))
            assert wait_until(lambda: len(busy) + len(second.ids()) == 15)
            assert (len(busy), len(second.ids())) == (10, 5)  # the first took all it had room for
            hold.set()
    finally:
        hold.set()
        transport.delete_topology()
        transport.close()
