"""The contract every ``hub.ports.Transport`` meets: one suite, run against each implementation.

Subclass ``TransportContract`` in a ``test_*.py`` module (pytest collects the subclass, not this base)
and provide ``make_transport()`` (a fresh transport, not set up yet) and ``poisoned_ids()`` (ids that
reached the poison path). Override ``dispose()`` to clean broker state after each test.

Behaviour fixed here that ``ports.py`` leaves implicit:
- a handler exception (or a wrong number of dispositions) hands the batch back and propagates out of
  ``consume``; the deliveries come again with ``redelivered=True``;
- a batch never exceeds ``min(prefetch, max_batch)`` deliveries;
- ``consume`` on a queue that was never declared raises ``TransportError``.
"""

from __future__ import annotations

import abc
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from hub.ports import Delivery, Disposition, OutgoingMessage, Transport, TransportError

BINDINGS: dict[str, list[str]] = {
    "portal": ["dossier.status.changed", "payment.*"],
    "postal": ["postal.#"],
}
STATUS = "dossier.status.changed"


def message(routing_key: str = STATUS, **headers: str) -> OutgoingMessage:
    mid = uuid.uuid4().hex
    return OutgoingMessage(mid, routing_key, f'{{"id": "{mid}"}}'.encode(), headers)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Consumer:
    """Runs ``transport.consume`` in a thread and records every delivery and batch size."""

    def __init__(
        self,
        transport: Transport,
        queue: str = "portal",
        decide: Callable[[Delivery], Disposition] | None = None,
        on_batch: Callable[[Sequence[Delivery]], None] | None = None,
        **options: Any,
    ) -> None:
        self.transport, self.queue, self.options = transport, queue, options
        self.decide = decide or (lambda _d: Disposition.ACK)
        self.on_batch = on_batch
        self.deliveries: list[Delivery] = []
        self.batches: list[int] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.transport.consume(self.queue, self._handle, stop=self.stop, **self.options)
        except BaseException as exc:
            self.error = exc

    def _handle(self, batch: Sequence[Delivery]) -> list[Disposition]:
        if self.on_batch is not None:
            self.on_batch(batch)
        with self._lock:
            self.deliveries.extend(batch)
            self.batches.append(len(batch))
        return [self.decide(d) for d in batch]

    def ids(self) -> list[str]:
        with self._lock:
            return [d.message_id for d in self.deliveries]

    def start(self) -> Consumer:
        self.thread.start()
        return self

    def finish(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "consume did not return after stop"

    def __enter__(self) -> Consumer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.finish()


class TransportContract(abc.ABC):
    @abc.abstractmethod
    def make_transport(self) -> Transport:
        """A fresh transport, isolated from every other test, not set up yet."""

    @abc.abstractmethod
    def poisoned_ids(self, transport: Transport) -> list[str]:
        """Message ids that reached the poison (dead-letter) path, oldest first."""

    def dispose(self, transport: Transport) -> None:
        transport.close()

    @pytest.fixture
    def transport(self) -> Iterator[Transport]:
        transport = self.make_transport()
        transport.setup(BINDINGS)
        try:
            yield transport
        finally:
            self.dispose(transport)

    # ------------------------------------------------------------------ topology and publishing
    def test_setup_is_idempotent(self, transport: Transport) -> None:
        transport.setup(BINDINGS)
        transport.setup(BINDINGS)
        msg = message()
        assert transport.publish([msg]) == [True]
        with Consumer(transport) as consumer:
            assert wait_until(lambda: consumer.ids() == [msg.message_id])
            time.sleep(0.1)
        assert consumer.ids() == [msg.message_id]

    def test_round_trip_preserves_id_key_body_headers(self, transport: Transport) -> None:
        headers = {"x-lgsp-correlation-id": uuid.uuid4().hex, "x-lgsp-source": "MỘT_CỬA_A"}
        body = '{"MaHoSo": "000.00.00.H00-250101-0001", "TenThuTuc": "Cấp giấy phép xây dựng"}'.encode()
        msg = OutgoingMessage(uuid.uuid4().hex, STATUS, body, headers)
        assert transport.publish([msg]) == [True]
        with Consumer(transport) as consumer:
            assert wait_until(lambda: len(consumer.deliveries) == 1)
        got = consumer.deliveries[0]
        assert (got.message_id, got.routing_key, got.body) == (msg.message_id, msg.routing_key, msg.body)
        assert dict(got.headers) == headers
        assert got.redelivered is False

    def test_unroutable_publish_returns_false(self, transport: Transport) -> None:
        batch = [message(), message("nobody.listens"), message(), message("payment.status.changed")]
        assert transport.publish(batch) == [True, False, True, False]
        assert transport.publish([]) == []

    def test_topic_wildcards_route(self, transport: Transport) -> None:
        star, hash_one, hash_many, hash_zero = (
            message("payment.opened"),
            message("postal.pickup"),
            message("postal.tracking.updated"),
            message("postal"),
        )
        assert transport.publish([star, hash_one, hash_many, hash_zero]) == [True] * 4
        with Consumer(transport, "portal") as portal, Consumer(transport, "postal") as postal:
            assert wait_until(lambda: len(portal.deliveries) == 1 and len(postal.deliveries) == 3)
        assert portal.ids() == [star.message_id]
        assert sorted(postal.ids()) == sorted(m.message_id for m in (hash_one, hash_many, hash_zero))

    def test_thousand_confirmed_and_consumed_exactly_once(self, transport: Transport) -> None:
        batch = [message() for _ in range(1000)]
        assert transport.publish(batch) == [True] * 1000
        with Consumer(transport) as consumer:
            assert wait_until(lambda: len(consumer.deliveries) >= 1000)
            time.sleep(0.2)  # room for a duplicate to show up
        assert Counter(consumer.ids()) == Counter(m.message_id for m in batch)

    def test_order_within_a_queue_for_one_consumer(self, transport: Transport) -> None:
        batch = [message() for _ in range(500)]
        assert all(transport.publish(batch[:250]))
        with Consumer(transport, max_batch=7) as consumer:
            assert all(transport.publish(batch[250:]))
            assert wait_until(lambda: len(consumer.deliveries) >= 500)
        assert consumer.ids() == [m.message_id for m in batch]

    def test_batches_respect_prefetch_and_max_batch(self, transport: Transport) -> None:
        assert all(transport.publish([message() for _ in range(60)]))
        with Consumer(transport, prefetch=5, max_batch=50, max_wait=0.05) as small:
            assert wait_until(lambda: len(small.deliveries) >= 60)
        assert max(small.batches) <= 5
        assert all(transport.publish([message() for _ in range(60)]))
        with Consumer(transport, prefetch=200, max_batch=10, max_wait=0.2) as batched:
            assert wait_until(lambda: len(batched.deliveries) >= 60)
        assert max(batched.batches) == 10  # batching happens, and stops at max_batch

    # ------------------------------------------------------------------ dispositions and failures
    def test_requeue_redelivers_with_redelivered_flag(self, transport: Transport) -> None:
        msg = message()
        seen: Counter[str] = Counter()

        def decide(d: Delivery) -> Disposition:
            seen[d.message_id] += 1
            return Disposition.REQUEUE if seen[d.message_id] == 1 else Disposition.ACK

        assert transport.publish([msg]) == [True]
        with Consumer(transport, decide=decide) as consumer:
            assert wait_until(lambda: len(consumer.deliveries) == 2)
            time.sleep(0.1)
        assert [(d.message_id, d.redelivered) for d in consumer.deliveries] == [
            (msg.message_id, False),
            (msg.message_id, True),
        ]

    def test_handler_exception_redelivers_nothing_lost(self, transport: Transport) -> None:
        batch = [message() for _ in range(50)]
        assert all(transport.publish(batch))
        seen_by_failing: list[str] = []

        def explode(deliveries: Sequence[Delivery]) -> None:
            seen_by_failing.extend(d.message_id for d in deliveries)
            raise RuntimeError("handler bug")

        failing = Consumer(transport, on_batch=explode).start()
        failing.thread.join(5)
        assert not failing.thread.is_alive(), "consume must end when the handler raises"
        assert isinstance(failing.error, RuntimeError)
        assert seen_by_failing
        with Consumer(transport) as healthy:
            assert wait_until(lambda: len(set(healthy.ids())) >= 50)
            time.sleep(0.1)
        assert Counter(healthy.ids()) == Counter(m.message_id for m in batch)
        redelivered = {d.message_id for d in healthy.deliveries if d.redelivered}
        assert set(seen_by_failing) <= redelivered

    def test_wrong_number_of_dispositions_is_refused(self, transport: Transport) -> None:
        msgs = [message() for _ in range(3)]
        assert all(transport.publish(msgs))

        def wrong(batch: Sequence[Delivery]) -> list[Disposition]:
            return [Disposition.ACK] * (len(batch) + 1)

        stop = threading.Event()
        with pytest.raises(TransportError):
            transport.consume("portal", wrong, stop=stop, max_wait=0.05)
        with Consumer(transport) as healthy:
            assert wait_until(lambda: len(set(healthy.ids())) == 3)

    def test_reject_goes_to_poison_path(self, transport: Transport) -> None:
        good, poison, good2 = message(), message(), message()
        assert all(transport.publish([good, poison, good2]))

        def decide(d: Delivery) -> Disposition:
            return Disposition.REJECT if d.message_id == poison.message_id else Disposition.ACK

        with Consumer(transport, decide=decide) as consumer:
            assert wait_until(lambda: len(consumer.deliveries) == 3)
            assert wait_until(lambda: self.poisoned_ids(transport) == [poison.message_id])
            time.sleep(0.1)
        assert len(consumer.deliveries) == 3  # a rejected delivery is not handed back to the queue

    def test_competing_consumers_share_the_work(self, transport: Transport) -> None:
        batch = [message() for _ in range(2000)]

        def slow(_batch: Sequence[Delivery]) -> None:
            time.sleep(0.002)

        with (
            Consumer(transport, on_batch=slow, max_batch=20) as one,
            Consumer(transport, on_batch=slow, max_batch=20) as two,
        ):
            for start in range(0, 2000, 100):
                assert all(transport.publish(batch[start : start + 100]))
            assert wait_until(lambda: len(one.deliveries) + len(two.deliveries) >= 2000)
            time.sleep(0.2)
        assert one.deliveries and two.deliveries, "both consumers must get work"
        assert Counter(one.ids() + two.ids()) == Counter(m.message_id for m in batch)
        assert not any(d.redelivered for d in one.deliveries + two.deliveries)

    def test_consume_unknown_queue_raises(self, transport: Transport) -> None:
        with pytest.raises(TransportError):
            transport.consume("never_declared", lambda b: [Disposition.ACK] * len(b), stop=threading.Event())

    # ------------------------------------------------------------------ stopping
    def test_stop_ends_idle_consume_promptly(self, transport: Transport) -> None:
        consumer = Consumer(transport).start()
        time.sleep(0.2)
        started = time.monotonic()
        consumer.finish(timeout=2.0)
        assert time.monotonic() - started < 1.0
        assert consumer.error is None

    def test_stop_while_flowing_loses_nothing(self, transport: Transport) -> None:
        batch = [message() for _ in range(1000)]
        assert all(transport.publish(batch))
        first = Consumer(transport, on_batch=lambda _b: time.sleep(0.005), max_batch=10).start()
        assert wait_until(lambda: len(first.deliveries) >= 50)
        started = time.monotonic()
        first.finish(timeout=2.0)
        assert time.monotonic() - started < 1.0
        assert first.error is None
        acked = set(first.ids())
        with Consumer(transport) as second:
            assert wait_until(lambda: acked | set(second.ids()) >= {m.message_id for m in batch})
        assert not acked & set(second.ids()), "a delivery acked by the stopped consumer came again"
