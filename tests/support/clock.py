"""Clocks for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class OffsetClock:
    """Real time plus a settable offset (e.g. to make a callback look old to its verifier)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset
