"""`lgsp dev` starts its pipeline once its mock partners listen and stops them when it is stopped
(SIGTERM, and even SIGKILL), and the CLI's commands print no alembic lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.stack import free_port, wait_http

LGSP = str(Path(sys.executable).parent / "lgsp")
pytestmark = pytest.mark.slow


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start_dev(tmp_path: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    ports = [free_port() for _ in range(5)]
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/dev.db", "HUB_LOG_LEVEL": "WARNING"}
    args = ["--port", str(ports[0]), "--portal-port", str(ports[1]), "--gateway-port", str(ports[2])]
    args += ["--population-db-port", str(ports[3]), "--vnpost-port", str(ports[4])]
    with (tmp_path / "dev.err").open("wb") as err:
        proc = subprocess.Popen([LGSP, "dev", *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
    wait_http(f"http://127.0.0.1:{ports[0]}/healthz", timeout=60)
    deadline = time.monotonic() + 30
    while not all(_listening(p) for p in ports[1:]):
        assert time.monotonic() < deadline, "the mocks did not start"
        time.sleep(0.2)
    return proc, ports


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_stopping_lgsp_dev_stops_its_mocks(tmp_path: Path, sig: signal.Signals) -> None:
    proc, ports = _start_dev(tmp_path)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) == 4
    # the pipeline started once the mocks listened: its first poll of VNPost found it (no warning)
    time.sleep(1.5)
    started = (tmp_path / "dev.err").read_text()
    assert "poll_failed" not in started and "no mock partner" not in started, started
    try:
        proc.send_signal(sig)
        proc.wait(20)
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"mocks still running after {sig.name}: {[p.pid for p in alive]}"
        assert not any(_listening(p) for p in ports), "a port is still held"
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if proc.poll() is None:
            proc.kill()


def test_cli_commands_print_no_alembic_lines(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db", "HUB_LOG_LEVEL": "INFO"}
    commands = (["db", "upgrade"], ["clients", "list"], ["clients", "create", "ONEGATE"], ["clients", "list"])
    for args in (*commands, ["evidence", "verify"]):
        done = subprocess.run([LGSP, *args], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "alembic" not in done.stderr.lower() and "Context impl" not in done.stderr, done.stderr
    again = subprocess.run([LGSP, "clients", "create", "ONEGATE"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.strip().count("\n") == 0 and "exists" in again.stderr
