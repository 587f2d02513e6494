"""The transport contract, run against the in-process transport, plus what only it exposes."""

from __future__ import annotations

import threading

import pytest

pytest.register_assert_rewrite("tests.transport_contract")

from hub.ports import Delivery, Disposition, Transport, TransportError  # noqa: E402
from hub.transports.inprocess import InProcessTransport, topic_matches  # noqa: E402
from tests.transport_contract import Consumer, TransportContract, message, wait_until  # noqa: E402


class TestInProcessTransport(TransportContract):
    def make_transport(self) -> Transport:
        return InProcessTransport()

    def poisoned_ids(self, transport: Transport) -> list[str]:
        assert isinstance(transport, InProcessTransport)
        return [d.message_id for d in transport.dead_letters]


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("dossier.status.changed", "dossier.status.changed", True),
        ("dossier.status.changed", "dossier.status", False),
        ("dossier.*", "dossier.received", True),
        ("dossier.*", "dossier.status.changed", False),
        ("*.status.*", "dossier.status.changed", True),
        ("dossier.#", "dossier", True),
        ("dossier.#", "dossier.status.changed", True),
        ("#", "anything.at.all", True),
        ("#.changed", "dossier.status.changed", True),
        ("dossier.#.changed", "dossier.changed", True),
        ("dossier.#.changed", "dossier.status.changed", True),
        ("dossier.#.changed", "dossier.status.opened", False),
        ("payment.*", "postal.opened", False),
    ],
)
def test_topic_matching(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected


def test_not_durable() -> None:
    assert InProcessTransport.durable is False


def test_dead_letters_keep_the_rejected_delivery() -> None:
    transport = InProcessTransport()
    transport.setup({"portal": ["dossier.#"]})
    msg = message("dossier.status.changed", **{"x-lgsp-attempt": "1"})
    transport.publish([msg])
    with Consumer(transport, decide=lambda _d: Disposition.REJECT) as consumer:
        assert wait_until(lambda: len(consumer.deliveries) == 1)
    (dead,) = transport.dead_letters
    assert isinstance(dead, Delivery)
    assert (dead.message_id, dead.body, dict(dead.headers)) == (msg.message_id, msg.body, {"x-lgsp-attempt": "1"})
    assert transport.depth("portal") == 0


def test_close_ends_consumers_and_refuses_publish() -> None:
    transport = InProcessTransport()
    transport.setup({"portal": ["dossier.#"]})
    stop = threading.Event()
    thread = threading.Thread(
        target=transport.consume,
        args=("portal", lambda b: [Disposition.ACK] * len(b)),
        kwargs={"stop": stop},
        daemon=True,
    )
    thread.start()
    transport.close()
    thread.join(1)
    assert not thread.is_alive()
    with pytest.raises(TransportError, match="closed"):
        transport.publish([message()])
