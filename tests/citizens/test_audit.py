"""The audit of citizen queries: every case recorded, nothing personal in it or in the logs, append-only,
searchable by the operator (API and CLI), the ID number matched through its keyed hash only."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from hub.bootstrap import Hub
from hub.citizens.audit import IdHasher
from hub.cli import app as lgsp
from hub.db.schema import citizen_queries
from hub.logging import configure
from tests.population_db.conftest import AN_ID, UNKNOWN_ID

from .conftest import AUDIT_KEY, Mock, assert_nothing_personal, audit_rows, h, keyed_hash, query, table_text

VERIFY, LOOKUP, QUERIES = "/v1/citizens/verify", "/v1/citizens/lookup", "/v1/citizens/queries"


def run_every_case(api: TestClient, keys: dict[str, str], mock: Mock) -> list[str]:
    """A query of every kind; returns the answers' texts."""
    texts = [
        api.post(VERIFY, json=query(), headers=h(keys["verify"])).text,  # matched
        api.post(VERIFY, json=query(birth_date="1990"), headers=h(keys["verify"])).text,  # matched (year)
        api.post(VERIFY, json=query(full_name="Nguyễn Văn Anh"), headers=h(keys["verify"])).text,  # mismatch
        api.post(VERIFY, json=query(id_number=UNKNOWN_ID), headers=h(keys["verify"])).text,  # not_found
        api.post(LOOKUP, json=query(), headers=h(keys["lookup_more"])).text,  # found (address, father...)
        api.post(LOOKUP, json=query(), headers=h(keys["verify"])).text,  # forbidden
    ]
    mock.faults(fault_rate=1, fault_kind="busy")
    texts.append(api.post(VERIFY, json=query(), headers=h(keys["verify"])).text)  # unavailable
    mock.faults(fault_rate=1, fault_kind="not_authorised")
    texts.append(api.post(LOOKUP, json=query(), headers=h(keys["lookup"])).text)  # refused
    mock.faults(fault_rate=0, hostile_rate=1, hostile_kind="xxe")
    texts.append(api.post(VERIFY, json=query(), headers=h(keys["verify"])).text)  # unsafe
    mock.faults(hostile_rate=0)
    return texts


def test_every_query_is_recorded_and_nothing_personal_is_kept_or_logged(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, logged: Callable[[], str]
) -> None:
    answers = run_every_case(api, keys, mock)
    outcomes = [row["outcome"] for row in audit_rows(hub)]
    assert outcomes == [
        "matched",
        "matched",
        "mismatch",
        "not_found",
        "found",
        "forbidden",
        "unavailable",
        "refused",
        "unsafe",
    ]
    assert "Thử Nghiệm" in answers[4]  # the lookup answer did carry an address: the check below means something
    assert_nothing_personal(table_text(hub), logged())
    assert "citizens.query_failed" in logged()  # the failures were logged, without personal data
    assert_nothing_personal(*answers[:4], *answers[5:])  # only the granted lookup shows any


def test_the_id_number_is_kept_as_a_keyed_hash_only(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    api.post(VERIFY, json=query(), headers=h(keys["verify"]))
    [row] = audit_rows(hub)
    assert row["id_hash"] == keyed_hash(AN_ID)
    assert row["id_hash"] != hashlib.sha256(AN_ID.encode()).hexdigest()  # not guessable without the key
    assert IdHasher(SecretStr("another key"))(AN_ID) != row["id_hash"]
    assert AN_ID not in table_text(hub) and AN_ID[-9:] not in table_text(hub)


def test_the_audit_is_append_only(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    api.post(VERIFY, json=query(), headers=h(keys["verify"]))
    for statement in (update(citizen_queries).values(outcome="matched", officer_code="X"), delete(citizen_queries)):
        with pytest.raises(DBAPIError, match="append-only"), hub.engine.begin() as c:
            c.execute(statement)
    assert len(audit_rows(hub)) == 1 and audit_rows(hub)[0]["officer_code"] != "X"


def test_the_operator_searches_the_audit(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    api.post(VERIFY, json=query(), headers=h(keys["verify"]))
    api.post(VERIFY, json=query(officer_code="CB.OTHER"), headers=h(keys["verify"]))
    api.post(VERIFY, json=query(id_number=UNKNOWN_ID), headers=h(keys["lookup"]))
    api.post(LOOKUP, json=query(), headers=h(keys["lookup"]))
    admin = h(keys["admin"])

    assert api.get(QUERIES, headers=h(keys["verify"])).status_code == 403
    everything = api.get(QUERIES, headers=admin).json()["queries"]
    assert len(everything) == 4 and everything[0]["id"] > everything[-1]["id"]  # newest first
    assert everything[0]["at"].endswith("Z")
    by_client = api.get(QUERIES, params={"client": "ONEGATE-L"}, headers=admin).json()["queries"]
    assert {q["client_code"] for q in by_client} == {"ONEGATE-L"} and len(by_client) == 2
    by_officer = api.get(QUERIES, params={"officer": "CB.OTHER"}, headers=admin).json()["queries"]
    assert len(by_officer) == 1
    lookups = api.get(QUERIES, params={"operation": "lookup", "outcome": "found"}, headers=admin).json()["queries"]
    assert len(lookups) == 1 and lookups[0]["fields"] == ["birth_date", "full_name"]
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert api.get(QUERIES, params={"from": future}, headers=admin).json()["queries"] == []
    assert len(api.get(QUERIES, params={"to": future, "limit": 2}, headers=admin).json()["queries"]) == 2
    page = api.get(QUERIES, params={"before_id": everything[1]["id"]}, headers=admin).json()["queries"]
    assert [q["id"] for q in page] == [q["id"] for q in everything[2:]]
    r = api.get(QUERIES, params={"from": "2025-01-01T00:00:00"}, headers=admin)  # no time zone
    assert r.status_code == 422

    # by ID number: in a body, never a URL; matched through the keyed hash
    r = api.get(QUERIES, params={"id_number": AN_ID}, headers=admin)
    assert r.status_code == 422 and AN_ID not in r.text
    r = api.post(f"{QUERIES}/search", json={"id_number": AN_ID}, headers=admin)
    assert r.status_code == 200, r.text
    assert len(r.json()["queries"]) == 3 and AN_ID not in r.text
    r = api.post(f"{QUERIES}/search", json={"id_number": UNKNOWN_ID, "client": "ONEGATE-L"}, headers=admin)
    assert [q["outcome"] for q in r.json()["queries"]] == ["not_found"]
    r = api.post(f"{QUERIES}/search", json={"id_number": "12345", "nope": 1}, headers=admin)
    assert r.status_code == 422 and "12345" not in r.text
    assert {e["field"] for e in r.json()["errors"]} == {"id_number", "nope"}
    assert api.post(f"{QUERIES}/search", json={}, headers=h(keys["lookup"])).status_code == 403


def test_lgsp_citizens_audit(api: TestClient, keys: dict[str, str], hub: Hub, db_url: str, cli: CliRunner) -> None:
    api.post(VERIFY, json=query(), headers=h(keys["verify"]))
    api.post(VERIFY, json=query(id_number=UNKNOWN_ID), headers=h(keys["lookup"]))
    env = {"HUB_DATABASE_URL": db_url, "HUB_AUDIT_HASH_KEY": AUDIT_KEY, "HUB_LOG_LEVEL": "WARNING"}
    result = cli.invoke(lgsp, ["citizens", "audit", "--client", "ONEGATE-V"], env=env)
    assert result.exit_code == 0, result.output
    [line] = result.output.splitlines()
    assert json.loads(line)["outcome"] == "matched"
    result = cli.invoke(lgsp, ["citizens", "audit", "--id-number"], input=UNKNOWN_ID + "\n", env=env)
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.output.splitlines() if x.startswith("{")]
    assert [r["client_code"] for r in rows] == ["ONEGATE-L"] and UNKNOWN_ID not in result.output
    bad = cli.invoke(lgsp, ["citizens", "audit", "--from", "yesterday"], env=env)
    assert bad.exit_code == 2 and "from" in bad.output


def test_log_masking_covers_citizen_fields() -> None:
    stream = io.StringIO()
    configure("INFO", json=True, stream=stream)
    try:
        structlog.get_logger("t").info(
            "x",
            full_name="Lê Minh Đức",
            birth_date="2000-02-29",
            permanent_address={"detail": "Xóm Thử Nghiệm"},
            citizen={"father": {"full_name": "Lê Văn B"}},
            NgayThangNamSinh={"NgayThangNam": "2000-02-29"},
        )
    finally:
        structlog.reset_defaults()
    line = stream.getvalue()
    for secret in ("Lê Minh Đức", "2000-02-29", "Xóm Thử Nghiệm", "Lê Văn B"):
        assert secret not in line
