"""RabbitMQ transport on pika.

Topology, declared idempotently by ``setup(bindings)`` (``P`` is the prefix, default ``lgsp``):

- ``P.events``: durable topic exchange every message is published to (routing key = message type);
- ``P.<name>``: one durable queue per connector (``x-queue-type`` quorum by default), bound with each of
  its routing keys, dead-lettering to ``P.dlx``;
- ``P.dlx``: durable fanout exchange, and ``P.poison``: the queue behind it, holding what consumers
  REJECTed as unparseable.

Publishing (``publish``) uses a pika ``SelectConnection`` whose ioloop runs in a dedicated daemon thread.
Confirms are *windowed*: the whole batch is written to the channel without waiting (in chunks of 256 per
ioloop turn, so the broker starts on the first chunk while later ones are encoded), then the caller waits
once for all of its confirms (``basic.ack``/``basic.nack``, ``multiple`` honoured). A message is
True only if acked and not returned as unroutable (``mandatory``); nack, return, timeout or a connection
lost in flight give False, and the caller (the relay) keeps it in its outbox and publishes it again.
The connection is opened lazily and re-opened on the next publish after a loss, with exponential backoff
and jitter. ``publish`` is safe to call from any thread; concurrent calls are serialised.

Consuming (``consume``) uses a ``BlockingConnection`` per call: ``basic_qos(prefetch)``, manual acks,
and the consumer's ``x-priority`` (several consumers of one queue in one process: the broker feeds the
first while it has room, the next ones when it is full, so a fast partner gets full batches from one
consumer and a slow one gets several batches in flight).
Deliveries are gathered into batches of up to ``max_batch`` (or ``max_wait`` seconds after the first);
the handler runs on a helper thread (one per ``consume`` call, so always the same thread) while this
thread keeps servicing heartbeats; dispositions are applied only after the handler returned. A handler
exception hands the batch back (``nack``, requeue) and propagates out of ``consume``. A connection loss
is retried with exponential backoff and jitter until ``stop`` is set; unacked deliveries are redelivered
by the broker.

Message bodies are never logged.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pika
import pika.exceptions
from pika import spec

from hub.ports import BatchHandler, Delivery, Disposition, OutgoingMessage, TransportError
from hub.resilience import Backoff
from hub.transports.inprocess import checked_dispositions

log = logging.getLogger(__name__)

QUEUE_TYPES = ("quorum", "classic")
_FATAL_CHANNEL_CODES = frozenset({403, 404, 406})  # access refused, not found, precondition failed
_RECOVERABLE = (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError, OSError)
_IDLE_POLL = 0.1  # seconds between checks of ``stop`` while no delivery arrives
_CONNECT_TIMEOUT = 5.0
_PUBLISH_CHUNK = 256  # messages written per ioloop turn


class _Batch:
    """Per-message outcome of one ``publish`` call; resolved from the ioloop thread."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._results: list[bool | None] = [None] * size
        self._open = size
        self.frozen = False  # results were handed back: confirms still to come are ignored
        self.done = threading.Event()
        if size == 0:
            self.done.set()

    def resolve(self, index: int, ok: bool) -> None:
        with self._lock:
            if self._results[index] is None:
                self._results[index] = ok
                self._open -= 1
                if self._open == 0:
                    self.done.set()

    def fail_open(self) -> None:
        """Every message not resolved yet is False; later confirms are ignored."""
        with self._lock:
            self._results = [r is True for r in self._results]
            self._open = 0
            self.frozen = True
            self.done.set()

    def results(self) -> list[bool]:
        self.fail_open()
        return [r is True for r in self._results]


class _PublisherSession:
    """One ``SelectConnection`` with a confirm-mode channel; its ioloop runs in a daemon thread.

    ``_pending``, ``_returned`` and ``_next_tag`` belong to the ioloop thread; callers only ``submit``.
    """

    def __init__(self, params: pika.connection.Parameters, exchange: str) -> None:
        self._params, self._exchange = params, exchange
        self.ready = threading.Event()  # set once confirms are on, or when the session ended
        self.error: BaseException | None = None
        self._conn: Any = None
        self._channel: Any = None
        self._pending: OrderedDict[int, tuple[_Batch, int, str]] = OrderedDict()
        self._returned: set[int] = set()
        self._next_tag = 0
        self._lock = threading.Lock()
        self._batches: set[_Batch] = set()
        self._ended = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="lgsp-publisher-ioloop", daemon=True)
        self._thread.start()

    @property
    def usable(self) -> bool:
        return self.ready.is_set() and not self._ended

    # -- caller side
    def submit(self, batch: _Batch, messages: Sequence[OutgoingMessage], props: list[Any]) -> None:
        with self._lock:
            if self._ended:
                batch.fail_open()
                return
            self._batches.add(batch)
        try:
            self._conn.ioloop.add_callback_threadsafe(lambda: self._publish(batch, messages, props))
        except Exception:  # ioloop already gone
            batch.fail_open()

    def forget(self, batch: _Batch) -> None:
        with self._lock:
            self._batches.discard(batch)

    def close(self, wait: float = 5.0) -> None:
        self._closing = True  # seen by _on_open if the connection is still being opened
        conn = self._conn
        if conn is not None and not self._ended:
            with contextlib.suppress(Exception):
                conn.ioloop.add_callback_threadsafe(self._close_in_loop)
        self._thread.join(wait)

    # -- ioloop side
    def _run(self) -> None:
        try:
            self._conn = pika.SelectConnection(
                self._params,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            self._conn.ioloop.start()
        except Exception as exc:
            self.error = self.error or exc
        finally:
            with self._lock:
                self._ended = True
                batches, self._batches = self._batches, set()
            for batch in batches:
                batch.fail_open()
            self._pending.clear()
            self.ready.set()
            with contextlib.suppress(Exception):
                self._conn.ioloop.close()

    def _close_in_loop(self) -> None:
        try:
            self._conn.close()
        except Exception:  # opening or already closing: just leave the loop
            self._conn.ioloop.stop()

    def _on_open(self, conn: Any) -> None:
        if self._closing:
            conn.close()
            return
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, conn: Any, exc: BaseException) -> None:
        self.error = exc
        conn.ioloop.stop()

    def _on_closed(self, conn: Any, exc: BaseException) -> None:
        if not isinstance(exc, pika.exceptions.ConnectionClosedByClient):
            self.error = exc
            log.warning("publisher connection closed: %s (%d unconfirmed)", exc, len(self._pending))
        conn.ioloop.stop()

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self.ready.set())

    def _on_channel_closed(self, _channel: Any, exc: BaseException) -> None:
        if self._conn.is_open:
            log.warning("publisher channel closed: %s", exc)
            self.error = exc
            self._conn.close()

    def _publish(self, batch: _Batch, messages: Sequence[OutgoingMessage], props: list[Any], start: int = 0) -> None:
        """Write one chunk of the batch, then yield to the ioloop (which flushes the socket and reads
        confirms) before the next chunk: the broker works on the first chunks while later ones are encoded."""
        if batch.frozen:  # the caller stopped waiting (timeout, lost channel): publish no more of it
            return
        end = min(start + _PUBLISH_CHUNK, len(messages))
        for index in range(start, end):
            msg = messages[index]
            if self._channel is None or not self._channel.is_open:
                batch.fail_open()
                return
            self._next_tag += 1
            self._pending[self._next_tag] = (batch, index, msg.message_id)
            try:
                self._channel.basic_publish(self._exchange, msg.routing_key, msg.body, props[index], mandatory=True)
            except Exception as exc:
                log.warning("publish failed on the channel: %s", exc)
                batch.fail_open()
                return
        if end < len(messages):
            self._conn.ioloop.call_later(0, lambda: self._publish(batch, messages, props, end))

    def _on_return(self, _channel: Any, _method: Any, props: Any, _body: bytes) -> None:
        # A return precedes the confirm of the same publish, so it is still pending. If several pending
        # publishes share the message id, all are marked: a False too many is safe, a True never is.
        for tag, (_batch, _index, message_id) in self._pending.items():
            if message_id == props.message_id:
                self._returned.add(tag)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ok = isinstance(method, spec.Basic.Ack)
        if method.multiple:
            while self._pending and next(iter(self._pending)) <= method.delivery_tag:
                self._settle(next(iter(self._pending)), ok)
        else:
            self._settle(method.delivery_tag, ok)

    def _settle(self, tag: int, ok: bool) -> None:
        entry = self._pending.pop(tag, None)
        returned = tag in self._returned
        self._returned.discard(tag)
        if entry is not None:
            batch, index, _message_id = entry
            batch.resolve(index, ok and not returned)


class _HandlerFailed(Exception):
    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _ConsumerCancelled(Exception):
    """The broker cancelled our consumer (queue deleted, leader moved...): reconnect."""


def _header_value(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, int | float | bool):
        return str(value)
    return None  # tables and arrays (x-death...) are not part of the hub's string headers


def _to_delivery(method: Any, props: Any, body: bytes) -> Delivery:
    headers = {str(k): v for k, raw in (props.headers or {}).items() if (v := _header_value(raw)) is not None}
    return Delivery(
        message_id=props.message_id or "",
        routing_key=method.routing_key,
        body=body,
        headers=headers,
        redelivered=bool(method.redelivered),
        tag=method.delivery_tag,
    )


class RabbitMQTransport:
    """``Transport`` on RabbitMQ; see the module docstring. Opens no connection before it is used."""

    durable = True
    reconnect_base = 0.2  # seconds before the first reconnection attempt
    reconnect_max = 15.0  # cap of one backoff step

    def __init__(self, url: str, prefix: str = "lgsp", queue_type: str = "quorum", heartbeat: int = 30) -> None:
        if queue_type not in QUEUE_TYPES:
            raise ValueError(f"queue_type must be one of {QUEUE_TYPES}, not {queue_type!r}")
        self.url, self.prefix, self.queue_type, self.heartbeat = url, prefix, queue_type, heartbeat
        self.exchange = f"{prefix}.events"
        self.dead_letter_exchange = f"{prefix}.dlx"
        self.poison_queue = f"{prefix}.poison"
        self.publisher_connections = 0  # connections opened, for tests and metrics
        self.consumer_connections = 0
        self._declared: set[str] = set()
        self._publish_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._session: _PublisherSession | None = None
        self._publish_backoff = Backoff(self.reconnect_base, self.reconnect_max)
        self._next_connect_at = 0.0
        self._closed = threading.Event()

    def queue(self, name: str) -> str:
        """Full broker name of the connector queue ``name``: ``{prefix}.{name}``."""
        return f"{self.prefix}.{name}"

    def _params(self, role: str) -> pika.URLParameters:
        params = pika.URLParameters(self.url)
        params.heartbeat = self.heartbeat
        params.connection_attempts = 1
        params.socket_timeout = _CONNECT_TIMEOUT
        params.blocked_connection_timeout = 60
        params.client_properties = {"connection_name": f"{self.prefix}:{role}"}
        return params

    @contextlib.contextmanager
    def _channel(self, role: str) -> Iterator[Any]:
        """A short-lived blocking channel for topology work; pika errors become ``TransportError``."""
        try:
            conn = pika.BlockingConnection(self._params(role))
        except _RECOVERABLE as exc:
            raise TransportError(f"cannot connect to the broker: {exc!r}") from exc
        try:
            yield conn.channel()
        except pika.exceptions.AMQPError as exc:
            raise TransportError(f"broker refused {role}: {exc!r}") from exc
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    # ------------------------------------------------------------------ topology
    def setup(self, bindings: Mapping[str, Sequence[str]]) -> None:
        args = {"x-queue-type": self.queue_type}
        connector_args = {**args, "x-dead-letter-exchange": self.dead_letter_exchange}
        with self._channel("setup") as ch:
            ch.exchange_declare(self.exchange, exchange_type="topic", durable=True)
            ch.exchange_declare(self.dead_letter_exchange, exchange_type="fanout", durable=True)
            ch.queue_declare(self.poison_queue, durable=True, arguments=args)
            ch.queue_bind(self.poison_queue, self.dead_letter_exchange, routing_key="")
            for name, keys in bindings.items():
                full = self.queue(name)
                ch.queue_declare(full, durable=True, arguments=connector_args)
                for key in keys:
                    ch.queue_bind(full, self.exchange, routing_key=key)
                self._declared.add(full)
        log.info("topology declared: exchange %s, queues %s", self.exchange, sorted(self._declared))

    def depth(self, queue: str) -> int:
        """Ready messages in the connector queue ``queue`` (short name), e.g. for a queue-depth gauge."""
        with self._channel("depth") as ch:
            return int(ch.queue_declare(self.queue(queue), passive=True).method.message_count)

    def purge(self, queue: str) -> int:
        """Drop every ready message of the connector queue ``queue`` (short name); returns how many."""
        with self._channel("purge") as ch:
            return int(ch.queue_purge(self.queue(queue)).method.message_count)

    def delete_topology(self) -> None:
        """Delete the queues declared by ``setup`` on this instance, the poison queue and both exchanges."""
        with self._channel("teardown") as ch:
            for full in [*sorted(self._declared), self.poison_queue]:
                ch.queue_delete(full)
            ch.exchange_delete(self.exchange)
            ch.exchange_delete(self.dead_letter_exchange)
        self._declared.clear()

    # ------------------------------------------------------------------ publish
    def publish(self, messages: Sequence[OutgoingMessage], timeout: float = 10.0) -> list[bool]:
        if self._closed.is_set():
            raise TransportError("transport is closed")
        if not messages:
            return []
        deadline = time.monotonic() + timeout
        with self._publish_lock:
            session = self._publisher(deadline)
            if session is None:
                return [False] * len(messages)
            now = int(time.time())
            props = [
                pika.BasicProperties(
                    content_type="application/json",
                    delivery_mode=2,
                    message_id=m.message_id,
                    type=m.headers.get("x-lgsp-type", m.routing_key),
                    timestamp=now,
                    headers=dict(m.headers) or None,
                )
                for m in messages
            ]
            batch = _Batch(len(messages))
            session.submit(batch, messages, props)
            batch.done.wait(max(0.0, deadline - time.monotonic()))
            session.forget(batch)
            results = batch.results()
        if not all(results):
            log.warning("publish: %d of %d messages not confirmed", results.count(False), len(results))
        return results

    def _publisher(self, deadline: float) -> _PublisherSession | None:
        """The live publisher session, (re)connecting with backoff until ``deadline``; None if that fails."""
        if self._session is not None and self._session.usable:
            return self._session
        if self._session is not None:
            self._session.close(wait=1.0)
            self._session = None
        while True:
            wait = max(0.0, self._next_connect_at - time.monotonic())
            if time.monotonic() + wait >= deadline:
                return None
            time.sleep(wait)
            session = _PublisherSession(self._params("publisher"), self.exchange)
            session.ready.wait(max(0.0, min(deadline, time.monotonic() + _CONNECT_TIMEOUT) - time.monotonic()))
            if session.usable:
                self._publish_backoff.reset()
                self._next_connect_at = 0.0
                with self._counter_lock:
                    self.publisher_connections += 1
                self._session = session
                return session
            log.warning("publisher cannot connect: %r", session.error)
            session.close(wait=1.0)
            self._next_connect_at = time.monotonic() + self._publish_backoff.next_delay()

    # ------------------------------------------------------------------ consume
    def consume(
        self,
        queue: str,
        handler: BatchHandler,
        *,
        stop: threading.Event,
        prefetch: int = 200,
        max_batch: int = 100,
        max_wait: float = 0.005,
        priority: int = 0,
    ) -> None:
        full = self.queue(queue)
        backoff = Backoff(self.reconnect_base, self.reconnect_max)
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"lgsp-handler-{queue}") as pool:
            while not self._stopping(stop):
                try:
                    conn = pika.BlockingConnection(self._params(f"consumer:{queue}"))
                except _RECOVERABLE as exc:
                    log.warning("consumer of %s cannot connect: %r", full, exc)
                    stop.wait(backoff.next_delay())
                    continue
                with self._counter_lock:
                    self.consumer_connections += 1
                try:
                    self._consume_on(
                        conn, full, handler, stop, pool, backoff, prefetch, max(1, max_batch), max_wait, priority
                    )
                except _HandlerFailed as failed:
                    raise failed.error from None
                except pika.exceptions.ChannelClosedByBroker as exc:
                    if exc.reply_code in _FATAL_CHANNEL_CODES:
                        raise TransportError(f"cannot consume from {full}: {exc.reply_text}") from exc
                    log.warning("consumer of %s lost its channel: %r", full, exc)
                    stop.wait(backoff.next_delay())
                except (*_RECOVERABLE, _ConsumerCancelled) as exc:
                    log.warning("consumer of %s lost its connection: %r", full, exc)
                    stop.wait(backoff.next_delay())
                finally:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _stopping(self, stop: threading.Event) -> bool:
        return stop.is_set() or self._closed.is_set()

    def _consume_on(
        self,
        conn: Any,
        full: str,
        handler: BatchHandler,
        stop: threading.Event,
        pool: concurrent.futures.ThreadPoolExecutor,
        backoff: Backoff,
        prefetch: int,
        max_batch: int,
        max_wait: float,
        priority: int = 0,
    ) -> None:
        buffer: deque[tuple[Any, Any, bytes]] = deque()
        cancelled: list[Any] = []
        channel = conn.channel()
        channel.basic_qos(prefetch_count=prefetch)
        channel.add_on_cancel_callback(cancelled.append)
        channel.basic_consume(
            full,
            on_message_callback=lambda _ch, m, p, b: buffer.append((m, p, b)),
            arguments={"x-priority": priority} if priority else None,
        )
        backoff.reset()
        while not self._stopping(stop):
            if cancelled:
                raise _ConsumerCancelled(full)
            if not buffer:
                conn.process_data_events(time_limit=_IDLE_POLL)
                continue
            deadline = time.monotonic() + max_wait
            while len(buffer) < max_batch and (left := deadline - time.monotonic()) > 0:
                conn.process_data_events(time_limit=left)
            deliveries = [_to_delivery(*buffer.popleft()) for _ in range(min(max_batch, len(buffer)))]
            future = self._run_handler(conn, handler, deliveries, pool)
            error = future.exception()
            if error is not None:
                with contextlib.suppress(*_RECOVERABLE):
                    channel.basic_nack(deliveries[-1].tag, multiple=True, requeue=True)
                raise _HandlerFailed(error)
            _settle(channel, deliveries, future.result())

    @staticmethod
    def _run_handler(
        conn: Any,
        handler: BatchHandler,
        deliveries: list[Delivery],
        pool: concurrent.futures.ThreadPoolExecutor,
    ) -> concurrent.futures.Future[list[Disposition]]:
        """Run the handler on the helper thread while this one keeps servicing the connection."""
        future = pool.submit(lambda: checked_dispositions(handler(deliveries), len(deliveries)))
        future.add_done_callback(lambda _f: _wake(conn))
        try:
            while not future.done():
                conn.process_data_events(time_limit=1.0)
        except BaseException:
            concurrent.futures.wait([future])  # let the work finish before the broker redelivers it
            raise
        return future

    def close(self) -> None:
        """Close the publisher connection and make running ``consume`` calls return."""
        self._closed.set()
        with self._publish_lock:
            if self._session is not None:
                self._session.close()
                self._session = None


def _wake(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.add_callback_threadsafe(lambda: None)


def _settle(channel: Any, deliveries: Sequence[Delivery], dispositions: Sequence[Disposition]) -> None:
    """Apply dispositions in delivery order; runs of ACKs become one ``multiple`` ack.

    Safe because every delivery with a lower tag on this channel is either in this batch (and settled
    before the flush) or in an earlier batch (settled already).
    """
    ack_upto: int | None = None
    for delivery, disposition in zip(deliveries, dispositions, strict=True):
        if disposition is Disposition.ACK:
            ack_upto = delivery.tag
            continue
        if ack_upto is not None:
            channel.basic_ack(ack_upto, multiple=True)
            ack_upto = None
        if disposition is Disposition.REJECT:
            channel.basic_reject(delivery.tag, requeue=False)
        else:
            channel.basic_nack(delivery.tag, multiple=False, requeue=True)
    if ack_upto is not None:
        channel.basic_ack(ack_upto, multiple=True)
