"""Slow and greedy clients against a real uvicorn on a loopback port, with raw sockets: what
plain uvicorn does not enforce (a client trickling its headers is never cut off), and what the
hub's server adds (header and body timeouts, a header size limit, a connection cap), each
answered with problem details and the connection closed."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from hub.api import server
from hub.api.app import create_app
from hub.bootstrap import bootstrap
from hub.settings import Settings
from tests.factories import create_client
from tests.support.stack import free_port

pytestmark = pytest.mark.slow


@contextmanager
def running(config: uvicorn.Config) -> Iterator[int]:
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.01)
    try:
        yield config.port
    finally:
        srv.should_exit = True
        thread.join(5)


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def read_all(s: socket.socket, timeout: float = 5) -> bytes:
    """Everything until the server closes (fails if it does not within ``timeout``)."""
    s.settimeout(timeout)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def trickle(s: socket.socket, data: bytes, every: float, until: float) -> bool:
    """Send a byte every ``every`` s until done or ``until`` s passed; False if the server cut us off."""
    end = time.monotonic() + until
    for byte in data:
        if time.monotonic() > end:
            return True
        try:
            s.send(bytes([byte]))
        except OSError:
            return False
        time.sleep(every)
    return True


@pytest.fixture
def hub_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/hub.db",
        api_publishes=False,
        header_timeout=0.6,
        body_timeout=0.6,
        keep_alive_timeout=1,
        max_header_bytes=4096,
        max_connections=4,
    )
    hub = bootstrap(settings)
    key = create_client(hub.engine, "ONEGATE", "one-stop", ["dossier.status.changed"])
    app = create_app(hub, pipeline=False)
    with running(server.config(app, settings, "127.0.0.1", free_port(), lifespan="on")) as port:
        yield port, key
    hub.close()


def test_plain_uvicorn_never_cuts_off_a_client_trickling_its_headers() -> None:
    """Why the hub has its own protocol class: uvicorn's keep-alive timeout (1 s here) is
    cancelled by the first byte and nothing bounds the headers after it."""
    app = FastAPI()
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), timeout_keep_alive=1, log_level="warning")
    with running(config) as port, connect(port) as s:
        still_open = trickle(s, b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100, every=0.25, until=2.5)
        assert still_open  # 2.5 s, more than twice the only timeout uvicorn has, and not cut off


def test_a_silent_connection_is_closed_after_the_header_timeout(hub_server: tuple[int, str]) -> None:
    port, _ = hub_server
    with connect(port) as s:
        started = time.monotonic()
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408") and b"application/problem+json" in answer
    assert b"urn:lgsp:problem:request_timeout" in answer and 0.5 < time.monotonic() - started < 3


def test_trickled_headers_are_cut_off_after_the_header_timeout(hub_server: tuple[int, str]) -> None:
    port, _ = hub_server
    with connect(port) as s:
        started = time.monotonic()
        cut = not trickle(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200, every=0.05, until=5)
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 3
    assert cut or b"request_timeout" in answer


def test_a_trickled_body_is_cut_off_after_the_body_timeout(hub_server: tuple[int, str]) -> None:
    port, key = hub_server
    head = (
        "POST /v1/dossiers/status-changes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {key}\r\nContent-Length: 500\r\n\r\n"
    ).encode()
    with connect(port) as s:
        s.sendall(head)
        started = time.monotonic()
        trickle(s, b"{" + b" " * 400, every=0.05, until=3)
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer, answer[:300]
    assert time.monotonic() - started < 4


def test_headers_beyond_the_limit_get_431(hub_server: tuple[int, str]) -> None:
    port, _ = hub_server
    with connect(port) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000)
        answer = read_all(s)
    assert answer.startswith(b"HTTP/1.1 431") and b"headers_too_large" in answer


def test_beyond_the_connection_cap_a_request_gets_503_with_retry_after(hub_server: tuple[int, str]) -> None:
    port, _ = hub_server
    idle = [connect(port) for _ in range(4)]  # the cap is 4: these hold every place
    try:
        time.sleep(0.1)
        with connect(port) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_all(s)
        assert answer.startswith(b"HTTP/1.1 503") and b"server_busy" in answer and b"retry-after: " in answer
    finally:
        for s in idle:
            s.close()
    time.sleep(0.2)
    with connect(port) as s:  # the places came free
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_all(s).startswith(b"HTTP/1.1 200")


def test_a_prompt_client_keeps_its_connection_alive(hub_server: tuple[int, str]) -> None:
    port, _ = hub_server
    with connect(port) as s:
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(3)
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
            time.sleep(0.3)  # within the keep-alive time; each request's headers come at once
