"""When the database is slow, down or refuses: timeout, circuit breaker, 503 with Retry-After, 502."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from connectors.population_db import PopulationDbSettings
from hub.bootstrap import Hub
from hub.citizens import audit
from hub.resilience import CallBreaker
from tests.support.problems import problem

from .conftest import BREAKER_FAILURES, BREAKER_RESET, Mock, audit_rows, h, query

URL = "/v1/citizens/verify"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(hub: Hub) -> Clock:
    c = Clock()
    hub.citizens.breaker.clock = c
    return c


def test_transient_failures_answer_503_with_retry_after(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock
) -> None:
    mock.faults(fault_rate=1, fault_kind="busy")
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    assert r.status_code == 503, r.text
    assert r.headers["Retry-After"] == "5" and r.json()["retry_after"] == 5  # HUB_CITIZENS_RETRY_AFTER
    assert problem(r, 503, "population_db_unavailable")["reason"] == "busy"
    [row] = audit_rows(hub)
    assert (row["outcome"], row["reason"], row["http_status"]) == ("unavailable", "busy", 503)
    assert row["request_id"] and "MaLoi 99" in row["detail"]  # the request went out: MaYeuCau kept


def test_the_breaker_opens_refuses_without_calling_then_half_opens(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, clock: Clock
) -> None:
    mock.faults(error_5xx_rate=1)
    answers = [api.post(URL, json=query(), headers=h(keys["verify"])) for _ in range(BREAKER_FAILURES)]
    assert [a.status_code for a in answers] == [503] * BREAKER_FAILURES
    assert [a.json()["reason"] for a in answers] == ["http-error"] * BREAKER_FAILURES
    assert answers[-1].headers["Retry-After"] == str(int(BREAKER_RESET))  # the call that opened it
    assert mock.seen() == BREAKER_FAILURES and hub.citizens.breaker.state == "open"

    clock.now += 10
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    assert r.status_code == 503 and r.json()["reason"] == "circuit-open"
    assert r.headers["Retry-After"] == str(int(BREAKER_RESET) - 10)
    assert mock.seen() == BREAKER_FAILURES  # refused without calling the database
    refused = audit_rows(hub)[-1]
    assert (refused["outcome"], refused["reason"], refused["request_id"]) == ("unavailable", "circuit-open", None)

    clock.now += BREAKER_RESET  # half-open: one probe goes through; it fails, so open again
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    assert r.status_code == 503 and r.json()["reason"] == "http-error" and mock.seen() == BREAKER_FAILURES + 1
    assert r.headers["Retry-After"] == str(int(BREAKER_RESET)) and hub.citizens.breaker.state == "open"

    mock.faults(error_5xx_rate=0)
    clock.now += BREAKER_RESET  # the next probe is answered: closed
    assert api.post(URL, json=query(), headers=h(keys["verify"])).status_code == 200
    assert hub.citizens.breaker.state == "closed"
    assert api.post(URL, json=query(), headers=h(keys["verify"])).status_code == 200
    assert [r["outcome"] for r in audit_rows(hub)] == ["unavailable"] * (BREAKER_FAILURES + 2) + ["matched"] * 2


def test_one_probe_at_a_time_while_half_open() -> None:
    clock = Clock()
    breaker = CallBreaker("t", failures=2, reset=5, clock=clock)
    assert breaker.admit() is None and breaker.failed() is None  # one failure: still closed
    assert breaker.admit() is None and breaker.failed() == 5
    assert breaker.admit() == 5
    clock.now += 5
    assert breaker.admit() is None  # the probe
    assert breaker.admit() == 1  # others wait while it is in flight
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.admit() is None


def test_definite_refusals_are_502_and_do_not_open_the_breaker(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock
) -> None:
    mock.faults(fault_rate=1, fault_kind="not_authorised")
    for _ in range(BREAKER_FAILURES + 1):
        r = api.post(URL, json=query(), headers=h(keys["verify"]))
        assert r.status_code == 502 and r.json()["reason"] == "not-authorised", r.text
        assert "Retry-After" not in r.headers
    assert mock.seen() == BREAKER_FAILURES + 1 and hub.citizens.breaker.state == "closed"
    mock.faults(fault_kind="invalid")
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    doc = problem(r, 502, "population_db_refused")
    assert (doc["reason"], doc["detail"]) == ("invalid-request", "the national population database refused the query")
    assert {row["outcome"] for row in audit_rows(hub)} == {"refused"}


@pytest.fixture
def short_timeout(popdb_settings: PopulationDbSettings) -> None:
    popdb_settings.timeout = 0.3  # read when the client binds, at its first call


def test_a_timeout_is_503_in_time(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, short_timeout: None
) -> None:
    mock.faults(timeout_rate=1, hang_seconds=3)
    started = time.monotonic()
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    assert time.monotonic() - started < 2.0
    assert r.status_code == 503 and r.json()["reason"] == "timeout" and int(r.headers["Retry-After"]) >= 1
    [row] = audit_rows(hub)
    assert (row["outcome"], row["reason"]) == ("unavailable", "timeout") and row["duration_ms"] < 2000


def test_the_call_runs_off_the_event_loop(api: TestClient, keys: dict[str, str], mock: Mock) -> None:
    mock.faults(latency_ms=2500)  # long enough that a loaded machine still answers /healthz meanwhile
    answers: list[int] = []
    slow = threading.Thread(
        target=lambda: answers.append(api.post(URL, json=query(), headers=h(keys["verify"])).status_code)
    )
    slow.start()
    time.sleep(0.2)  # the verification is now waiting on the database
    started = time.monotonic()
    assert api.get("/healthz").status_code == 200
    assert slow.is_alive()  # answered while the verification still waits: the loop was free
    assert time.monotonic() - started < 2.0
    slow.join()
    assert answers == [200]


def test_no_answer_leaves_unaudited(
    api: TestClient, keys: dict[str, str], hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def database_down(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    monkeypatch.setattr(audit, "record", database_down)
    r = api.post(URL, json=query(), headers=h(keys["verify"]))
    assert problem(r, 503, "audit_unavailable") and "Retry-After" in r.headers
    assert "exists" not in r.json() and "matches" not in r.json()
