"""CPU cost per call of the population database connector's SOAP work (not a test; no network).

Run: ``python -m bench.soap [--iterations 2000]``. For each operation it measures, with
``time.process_time`` over N calls after a warm-up:

- ``build``: canonical request -> SOAP envelope (``translate`` + zeep serialisation, no transport);
- ``call``: the whole client call against an in-memory ``httpx.MockTransport`` that returns a canned
  answer: limits check, build and serialise (zeep), the bounded POST, the hardened parse and the
  tolerant schema-driven reading of the answer (``answers.py``), translation to the canonical result.

Answers are the mock's own (``verify_answer`` / ``collection_answer`` for the first demo citizen).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.population_db import OP_LOOKUP, OP_VERIFY, PopulationDbClient, PopulationDbSettings
from connectors.population_db.mock import collection_answer, verify_answer
from connectors.population_db.synthetic import DEMO_CITIZENS
from hub.citizens.port import LookupRequest, VerifyRequest

CITIZEN = DEMO_CITIZENS[0]
QUERY: dict[str, Any] = {
    "id_number": CITIZEN.id_number,
    "full_name": CITIZEN.full_name,
    "birth_date": CITIZEN.birth_date,
    "officer_code": "BENCH",
    "request_id": "BENCH-0001",
}


@dataclass(frozen=True)
class Figure:
    name: str
    iterations: int
    cpu_us: float  # per call
    answer_bytes: int


def _client(answer: bytes) -> PopulationDbClient:
    canned = httpx.MockTransport(
        lambda _: httpx.Response(200, content=answer, headers={"content-type": "text/xml; charset=utf-8"})
    )
    return PopulationDbClient(
        PopulationDbSettings(base_url="http://bench.invalid"), http=httpx.Client(transport=canned)
    )


def _per_call(work: Callable[[], object], iterations: int) -> float:
    for _ in range(min(50, iterations)):  # warm-up: WSDL parsed, caches filled
        work()
    start = time.process_time()
    for _ in range(iterations):
        work()
    return (time.process_time() - start) / iterations * 1e6


def measure(iterations: int = 2000) -> list[Figure]:
    verify_req, lookup_req = VerifyRequest(**QUERY), LookupRequest(**QUERY)
    verify_bytes = verify_answer(True, {"id_number": True, "full_name": True, "birth_date": True})
    lookup_bytes = collection_answer([CITIZEN])
    verify_client, lookup_client = _client(verify_bytes), _client(lookup_bytes)
    assert verify_client.verify(verify_req).exists and lookup_client.lookup(lookup_req).id_number  # sanity
    work: list[tuple[str, Callable[[], object], int]] = [
        ("verify build", lambda: verify_client.build_envelope(OP_VERIFY, verify_req), 0),
        ("verify call", lambda: verify_client.verify(verify_req), len(verify_bytes)),
        ("lookup build", lambda: lookup_client.build_envelope(OP_LOOKUP, lookup_req), 0),
        ("lookup call", lambda: lookup_client.lookup(lookup_req), len(lookup_bytes)),
    ]
    figures = [Figure(name, iterations, _per_call(call, iterations), size) for name, call, size in work]
    verify_client.close()
    lookup_client.close()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args(argv)
    print(f"population_db SOAP CPU cost, {args.iterations} calls each (time.process_time)")
    for f in measure(args.iterations):
        size = f"  answer {f.answer_bytes:>6} B" if f.answer_bytes else ""
        print(f"  {f.name:<13} {f.cpu_us:>8.1f} µs/call{size}")


if __name__ == "__main__":
    main()
