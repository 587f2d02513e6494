from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select

from hub.db.schema import messages


def until(check: Callable[[], Any], timeout: float = 20.0, every: float = 0.02, what: str = "condition") -> Any:
    """Poll until check() is truthy; on timeout fail with what was last seen (and the check's
    ``detail`` attribute, if it has one)."""
    deadline = time.monotonic() + timeout
    last = check()
    while not last:
        if time.monotonic() > deadline:
            detail = getattr(check, "detail", "")
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r} {detail}")
        time.sleep(every)
        last = check()
    return last


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r[0]: r[1] for r in c.execute(select(messages.c.state, func.count()).group_by(messages.c.state))}


class all_in:
    """True when every message is in one of the wanted states; ``detail`` shows the states."""

    def __init__(self, engine: Engine, *wanted: str):
        self.engine, self.wanted, self.detail = engine, set(wanted), ""

    def __call__(self) -> bool:
        seen = states(self.engine)
        self.detail = f"states: {seen}"
        return bool(seen) and set(seen) <= self.wanted
