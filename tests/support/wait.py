from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Engine, func, select

from hub.db.schema import messages

T = TypeVar("T")


def until(check: Callable[[], T], timeout: float = 20.0, every: float = 0.02, what: str = "condition") -> T:
    """Poll until check() is truthy; fail with what was last seen."""
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(every)
        last = check()
    return last


def states(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {r[0]: r[1] for r in c.execute(select(messages.c.state, func.count()).group_by(messages.c.state))}


def all_in(engine: Engine, *wanted: str) -> Callable[[], bool]:
    def check() -> bool:
        s = states(engine)
        return bool(s) and set(s) <= set(wanted)

    return check
