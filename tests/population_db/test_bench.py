"""The SOAP benchmark still runs (tiny N): it measures through zeep with a canned transport, no network."""

from __future__ import annotations

import pytest

from bench.soap import main, measure


def test_bench_measures_every_step() -> None:
    figures = measure(iterations=5)
    assert [f.name for f in figures] == ["verify build", "verify call", "lookup build", "lookup call"]
    assert all(f.cpu_us > 0 and f.iterations == 5 for f in figures)
    assert figures[3].answer_bytes > figures[1].answer_bytes > 0


def test_bench_prints_microseconds(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--iterations", "3"])
    out = capsys.readouterr().out
    assert out.count("µs/call") == 4 and "lookup call" in out
