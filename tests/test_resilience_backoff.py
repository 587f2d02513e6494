"""hub.resilience.backoff: the one formula (exponential, capped, equal jitter)."""

from __future__ import annotations

from hub.resilience import Backoff, backoff


def test_equal_jitter_between_half_and_whole_step_capped() -> None:
    for n, step in ((0, 2.0), (1, 4.0), (3, 16.0), (10, 60.0)):
        waits = [backoff(n, 2.0, 60.0) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits) and max(waits) - min(waits) > step / 10


def test_the_loop_form_counts_failures_and_resets() -> None:
    b = Backoff(1.0, 100.0)
    assert [b.next_delay() <= 2**i for i in range(4)] == [True] * 4 and b.failures == 4
    b.reset()
    assert b.next_delay() <= 1.0
