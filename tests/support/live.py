"""Serve an ASGI app (a mock partner) with uvicorn on a free loopback port in a background
thread: real sockets and real timeouts, in the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import uvicorn

from tests.support.stack import free_port


@contextmanager
def serve(
    make_app: Callable[[str], Any], what: str = "app", lifespan: Literal["auto", "on", "off"] = "off"
) -> Iterator[str]:
    """Yield the base URL while ``make_app(base_url)`` is served; stop it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(make_app(url), host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    config.timeout_graceful_shutdown = 1
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=5)
