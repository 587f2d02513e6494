"""CPU per JSON POST of the HTTP adapters a connector can call a partner through (hub.http),
against the mock national portal served on this machine.

    python -m bench.http [--n 3000]

Prints, for each adapter, microseconds of this process's CPU and of wall time per call.
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial

import httpx

from hub.http import HttpxHttp, JsonHttp, PooledHttp
from tests.support.stack import free_port, wait_http

BODY = {"username": "lgsp", "password": "lgsp-dev-password"}


def measure(post: Callable[[], object], n: int) -> tuple[float, float]:
    for _ in range(100):
        post()
    cpu, wall = time.thread_time(), time.perf_counter()
    for _ in range(n):
        post()
    return 1e6 * (time.thread_time() - cpu) / n, 1e6 * (time.perf_counter() - wall) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args()
    port = free_port()
    mock = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "mock", "national-portal", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/_mock/stats")
        adapters: dict[str, JsonHttp] = {
            "urllib3 (PooledHttp)": PooledHttp(timeout=5),
            "httpx (HttpxHttp)": HttpxHttp(httpx.Client(timeout=5)),
        }
        print(f"{'adapter':<24} {'cpu us/call':>12} {'wall us/call':>13}")
        for name, http in adapters.items():
            cpu, wall = measure(partial(http.post_json, url + "/auth", BODY, {"dstcode": "DVCQG"}), args.n)
            print(f"{name:<24} {cpu:12.1f} {wall:13.1f}")
            http.close()
    finally:
        mock.terminate()
        mock.wait(10)


if __name__ == "__main__":
    main()
