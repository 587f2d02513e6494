"""CPU accounting for benchmarks: how much processor time each role of the stack used in a
phase, so a figure comes with where its time went (per message, in milliseconds).

Roles are the stack's own processes by name (api, relay, worker-0, mock, ...), plus the
services on this machine found by process name (PostgreSQL backends, the RabbitMQ VM) and
the benchmark's own client. On a machine shared with other work, pass ``postgres_pids`` (see
:func:`pg_pids_of`): PostgreSQL is then only the backends of the benchmark's own database and the
server's shared background processes, not other databases' sessions."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import psutil

SERVICES = {"postgres": ("postgres",), "rabbitmq": ("beam.smp",)}


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0.0
    return float(t.user + t.system)


def snapshot(pids: Mapping[str, int], postgres_pids: Callable[[], Collection[int]] | None = None) -> dict[str, float]:
    """CPU seconds used so far by each named pid, each service (summed over its processes,
    keyed by pid so backends that come and go are counted once) and this benchmark.
    ``postgres_pids``: the PostgreSQL processes to count (default: every one on the machine)."""
    out = {name: _cpu(psutil.Process(pid)) for name, pid in pids.items() if psutil.pid_exists(pid)}
    ours = set(postgres_pids()) if postgres_pids is not None else None
    for service, names in SERVICES.items():
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] in names and (service != "postgres" or ours is None or proc.pid in ours):
                out[f"{service}:{proc.pid}"] = _cpu(proc)
    out["bench-client"] = _cpu(psutil.Process(os.getpid()))
    machine = psutil.cpu_times()
    out["=machine-busy"] = float(sum(machine) - machine.idle - getattr(machine, "iowait", 0.0))
    out["=wall"] = time.monotonic()
    return out


def settle(busy_below: float = 15.0, timeout: float = 30.0) -> float:
    """Wait until the machine is nearly idle (busy under ``busy_below`` % over half a second),
    so one phase does not measure the tail of the previous one; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if psutil.cpu_percent(interval=0.5) < busy_below:
            break
    return time.monotonic() - started


def per_message_ms(before: dict[str, float], after: dict[str, float], messages: int) -> dict[str, float]:
    """Milliseconds of CPU per message for each role between two snapshots, services summed;
    ``total`` is the sum of all roles."""
    used: dict[str, float] = {}
    for key, end in after.items():
        if key.startswith("="):
            continue
        role = key.split(":", 1)[0]
        used[role] = used.get(role, 0.0) + max(0.0, end - before.get(key, 0.0))
    out = {role: round(1000 * sec / messages, 3) for role, sec in sorted(used.items(), key=lambda kv: -kv[1])}
    out["total"] = round(1000 * sum(used.values()) / messages, 3)
    wall = after["=wall"] - before["=wall"]
    out["machine busy %"] = round(
        100 * (after["=machine-busy"] - before["=machine-busy"]) / (wall * (os.cpu_count() or 1)), 1
    )
    out["phase seconds"] = round(wall, 2)
    return out


# this database's sessions and autovacuum workers, and the server's shared processes (WAL writer,
# checkpointer, ...: no database)
_OURS = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL"


def pg_pids_of(engine: Any) -> Callable[[], Collection[int]]:
    """The PostgreSQL processes that work for ``engine``'s database (for :func:`snapshot`)."""
    from sqlalchemy import text

    def pids() -> Collection[int]:
        with engine.connect() as c:
            return {int(p) for p in c.execute(text(_OURS)).scalars()}

    return pids
