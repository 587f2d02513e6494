"""Hostile and broken answers from the database, driven through the API: a clean 502, nothing of the
answer in the reply, the audit or the logs, and the refusal recorded. Repeated, they open the breaker."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.bootstrap import Hub
from tests.support.problems import problem

from .conftest import BREAKER_FAILURES, Mock, assert_nothing_personal, audit_rows, h, query, table_text

HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("billion laughs", {"hostile_rate": 1, "hostile_kind": "billion_laughs"}, "entities"),
    ("XXE", {"hostile_rate": 1, "hostile_kind": "xxe"}, "entities"),
    ("DTD", {"hostile_rate": 1, "hostile_kind": "dtd"}, "dtd"),
    ("oversized", {"hostile_rate": 1, "hostile_kind": "oversized", "oversized_bytes": 3_000_000}, "oversized"),
    ("malformed", {"malformed_rate": 1}, "malformed"),
]
# What each hostile answer carries, which must never come back out.
PAYLOAD_MARKERS = ("lol", "ENTITY", "DOCTYPE", "injected by a DTD default", "xxxxxxxx", "<")


@pytest.fixture
def canary(tmp_path: Path) -> str:
    """A local file an XXE answer points at; its secret must never leave the hub."""
    secret = "CANARY-" + secrets.token_hex(8)
    (tmp_path / "canary.txt").write_text(secret)
    return secret


@pytest.mark.parametrize("operation", ["verify", "lookup"])
@pytest.mark.parametrize(("faults", "reason"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_hostile_answer_is_refused_cleanly_and_audited(
    api: TestClient,
    keys: dict[str, str],
    hub: Hub,
    mock: Mock,
    logged: Callable[[], str],
    canary: str,
    tmp_path: Path,
    operation: str,
    faults: dict[str, Any],
    reason: str,
) -> None:
    mock.faults(**faults, xxe_target=str(tmp_path / "canary.txt"))
    r = api.post(f"/v1/citizens/{operation}", json=query(), headers=h(keys["lookup"]))
    assert r.status_code == 502, r.text
    assert problem(r, 502, "population_db_bad_answer")["reason"] == reason
    [row] = audit_rows(hub)
    assert (row["operation"], row["outcome"], row["reason"], row["http_status"]) == (operation, "unsafe", reason, 502)
    assert row["fields"] is None  # nothing was disclosed
    everything = "\n".join((r.text, table_text(hub), logged()))
    assert canary not in everything
    for marker in PAYLOAD_MARKERS:
        assert marker not in r.text and marker not in table_text(hub)
    assert_nothing_personal(r.text, table_text(hub), logged())


def test_repeated_hostile_answers_open_the_breaker(api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock) -> None:
    mock.faults(hostile_rate=1, hostile_kind="billion_laughs")
    for _ in range(BREAKER_FAILURES):
        assert api.post("/v1/citizens/verify", json=query(), headers=h(keys["verify"])).status_code == 502
    r = api.post("/v1/citizens/verify", json=query(), headers=h(keys["verify"]))
    assert r.status_code == 503 and r.json()["reason"] == "circuit-open" and "Retry-After" in r.headers
    assert mock.seen() == BREAKER_FAILURES
