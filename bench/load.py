"""The benchmarks' load generator: keep-alive HTTP/1.1 on the standard library from several
threads, each request's body prepared beforehand, optionally on a fixed schedule. It shares
the machine with what it measures, so it must cost little (httpx cost ~1 ms of CPU per request
here, more than the api's own work for one status change)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class Client:
    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        url = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
        self.headers = {"Content-Type": "application/json", **headers}

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        self.conn.request("POST", path, body=body, headers=self.headers)
        r = self.conn.getresponse()
        return r.status, r.read()


@dataclass
class Run:
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # answers ``ok`` refused, shortened

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


def drive(
    base_url: str,
    path: str,
    bodies: Sequence[bytes],
    threads: int,
    *,
    headers: Mapping[str, str] | None = None,
    rate: float | None = None,
    ok: Callable[[int, bytes, int], bool] = lambda status, _answer, _i: 200 <= status < 300,
) -> Run:
    """POST every body from ``threads`` connections. With ``rate``, request i is due at i/rate
    (a slow answer does not lower the offered rate). ``ok(status, answer, i)`` judges each answer."""
    queue = list(enumerate(bodies))
    queue.reverse()  # pop() from the end: the first body goes first
    lock = threading.Lock()
    run = Run()
    started = time.perf_counter()

    def work() -> None:
        client = Client(base_url, headers or {})
        while True:
            with lock:
                if not queue:
                    return
                i, body = queue.pop()
            if rate:
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            sent = time.perf_counter()
            status, answer = client.post(path, body)
            took = (time.perf_counter() - sent) * 1000
            with lock:
                run.latencies_ms.append(took)
                run.statuses[status] = run.statuses.get(status, 0) + 1
                if not ok(status, answer, i):
                    run.failures.append(f"{status} {answer[:300].decode(errors='replace')}")

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    run.seconds = time.perf_counter() - started
    return run


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
