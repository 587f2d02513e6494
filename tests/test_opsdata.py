"""Operations data: the ledger backlog and queue depth per connector at scrape time, outcomes by
type, the accept -> delivered latency, the circuit state; every log line JSON in JSON mode (the
standard library's too) with the context bound, dead messages at warning."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog
from prometheus_client import REGISTRY, generate_latest

from hub import opsdata
from hub.bootstrap import Hub, bootstrap
from hub.logging import configure
from hub.ports import Outcome, OutcomeKind
from hub.settings import Settings
from hub.transports.inprocess import InProcessTransport
from tests.factories import dossier_code, status_change
from tests.fakes import FakeConnector
from tests.support.wait import all_in, until
from tests.test_pipeline import post_all, run


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    h = bootstrap(Settings(database_url=db_url), transport=InProcessTransport())
    yield h
    h.close()


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure("INFO", json=True, stream=stream)
    yield stream
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in [h for h in root.handlers if type(h).__name__ == "_HubHandler"]:
        root.removeHandler(h)


def sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


def test_backlog_gauges_read_the_ledger_and_the_queue_at_scrape_time(hub: Hub) -> None:
    post_all(hub, [status_change(code=dossier_code()) for _ in range(4)])
    opsdata.watch(hub.engine, ["national_portal", "webhooks"], hub.transport)
    text = generate_latest(REGISTRY).decode()
    assert 'lgsp_ledger_backlog_messages{connector="national_portal",state="queued"} 4.0' in text
    assert 'lgsp_ledger_backlog_messages{connector="webhooks",state="queued"} 0.0' in text
    assert 'lgsp_queue_depth_messages{connector="national_portal"}' in text


def test_outcomes_by_type_latency_and_dead_messages_logged_at_warning(
    hub: Hub, log_stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("hub.worker.log", structlog.get_logger("hub.worker"))  # not one cached by an earlier test
    t = "dossier.status.changed"
    before = {
        "delivered": sample("lgsp_delivery_outcomes_total", connector="national_portal", state="delivered", type=t),
        "dead": sample("lgsp_delivery_outcomes_total", connector="national_portal", state="dead", type=t),
        "latency": sample("lgsp_accept_to_delivered_seconds_count", connector="national_portal", type=t),
    }
    codes = [dossier_code() for _ in range(4)]

    def partner(item: object) -> Outcome:
        bad = getattr(item, "key", "") == codes[0]
        return (
            Outcome(OutcomeKind.DEAD, "DongBoHoSoMC: error_code 1: Thiếu MaTTHC")
            if bad
            else Outcome(OutcomeKind.DELIVERED, "ok")
        )

    fake = FakeConnector(decide=partner)
    pipe = run(hub, fake, workers=1)
    try:
        ids = post_all(hub, [status_change(code=c) for c in codes])
        until(all_in(hub.engine, "delivered", "dead"), what="every outcome recorded")
    finally:
        pipe.stop()
    assert sample("lgsp_delivery_outcomes_total", connector="national_portal", state="delivered", type=t) == (
        before["delivered"] + 3
    )
    assert (
        sample("lgsp_delivery_outcomes_total", connector="national_portal", state="dead", type=t) == before["dead"] + 1
    )
    assert (
        sample("lgsp_accept_to_delivered_seconds_count", connector="national_portal", type=t) == before["latency"] + 3
    )
    assert sample("lgsp_circuit_state", connector="national_portal") == 0  # closed
    lines = [json.loads(x) for x in log_stream.getvalue().splitlines() if x.startswith("{")]
    dead = [x for x in lines if x.get("event") == "worker.dead"]
    assert len(dead) == 1 and dead[0]["level"] == "warning"
    assert dead[0]["message_id"] in ids and dead[0]["connector"] == "national_portal" and dead[0]["correlation_id"]


def test_standard_library_lines_are_json_too_with_the_bound_context(log_stream: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(correlation_id="corr-1", connector="webhooks"):
        logging.getLogger("hub.console").warning("console: refused for 038090001234 (%s)", "ana")
    line = json.loads(log_stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "warning" and line["logger"] == "hub.console"
    assert line["correlation_id"] == "corr-1" and line["connector"] == "webhooks"
    assert "038090001234" not in line["event"] and "(ana)" in line["event"]
