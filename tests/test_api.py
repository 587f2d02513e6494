"""HTTP ingress, auth, idempotency, trace and replay, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Table, func, select

from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.clients import ADMIN
from hub.db.schema import messages, outbox
from hub.ports import DeliveryPolicy, Outcome, OutcomeKind
from hub.settings import Settings
from tests.factories import create_client, dossier_code, status_change
from tests.support.problems import problem

URL = "/v1/dossiers/status-changes"


@pytest.fixture
def hub(db_url: str) -> Iterator[Hub]:
    # the api does not publish here (tests/test_publisher.py does): what a request stored stays
    # in the outbox for these tests to see
    h = bootstrap(Settings(database_url=db_url, max_body_bytes=1_000_000, max_batch_items=50, api_publishes=False))
    yield h
    h.close()


@pytest.fixture
def keys(hub: Hub) -> dict[str, str]:
    return {
        "a": create_client(hub.engine, "ONEGATE-A", "A", ["dossier.status.changed"]),
        "b": create_client(hub.engine, "ONEGATE-B", "B", ["dossier.status.changed"]),
        "none": create_client(hub.engine, "NOGRANT", "no grants", []),
        "admin": create_client(hub.engine, "OPS", "operator", [ADMIN]),
    }


@pytest.fixture
def api(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub, pipeline=False)) as c:
        yield c


def h(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, **extra}


def count(hub: Hub, table: Table = messages) -> int:
    with hub.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(table)).scalar_one())


def test_requires_a_valid_key(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    assert api.post(URL, json=status_change()).status_code == 401
    assert api.post(URL, json=status_change(), headers=h("wrong")).status_code == 401
    problem(api.post(URL, json=status_change()), 401, "unauthorized")
    r = api.post(URL, json=status_change(), headers=h(keys["none"]))
    assert "dossier.status.changed" in problem(r, 403, "forbidden")["detail"]
    r = api.post(URL, json=status_change(), headers={"Authorization": f"Bearer {keys['a']}"})
    assert r.status_code == 202
    assert count(hub) == 1


def test_accepts_one_change_and_traces_it_masked(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    body = status_change()
    r = api.post(URL, json=body, headers=h(keys["a"]))
    assert r.status_code == 202, r.text
    mid = r.json()["message_id"]
    assert r.json()["status"] == "accepted"
    assert count(hub, outbox) == 1  # message and outbox row committed before the 202
    t = api.get(f"/v1/messages/{mid}", headers=h(keys["a"]))
    assert t.status_code == 200
    msg = t.json()
    assert msg["state"] == "queued" and msg["key"] == body["dossier_code"] and msg["payload"]["status"] == 2
    assert "038090001234" not in t.text and "Nguyễn Văn An" not in t.text
    assert msg["payload"]["applicant"]["id_number"].endswith("234")
    # another client cannot see it; an operator can
    assert api.get(f"/v1/messages/{mid}", headers=h(keys["b"])).status_code == 404
    assert api.get(f"/v1/messages/{mid}", headers=h(keys["admin"])).status_code == 200


def test_batch_answers_per_item_and_stores_only_valid(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    good = status_change()
    bad_status = status_change(status=11)
    bad_dates = status_change(appointment_at="2020-01-01T00:00:00+07:00")
    r = api.post(URL, json=[good, bad_status, bad_dates, "nope"], headers=h(keys["a"]))
    assert r.status_code == 202, r.text
    res = r.json()
    assert (res["accepted"], res["rejected"]) == (1, 3)
    assert [x["status"] for x in res["results"]] == ["accepted", "rejected", "rejected", "rejected"]
    assert res["results"][1]["errors"] == [
        {"field": "status", "rule": "less_than_equal", "message": "Input should be less than or equal to 10"}
    ]
    assert res["results"][2]["errors"][0]["field"] == "appointment_at"
    assert res["results"][2]["errors"][0]["rule"] == "consistency"
    assert count(hub) == 1


@pytest.mark.parametrize(
    ("mutate", "field", "rule"),
    [
        (lambda b: b.update(status="5"), "status", "int_type"),  # wrong type, not coerced
        (lambda b: b.update(colour="red"), "colour", "extra_forbidden"),
        (lambda b: b.pop("applicant"), "applicant", "missing"),
        (lambda b: b.update(dossier_code="HS-1"), "dossier_code", "string_pattern_mismatch"),
        (lambda b: b.update(agency_code="H56"), "agency_code", "string_pattern_mismatch"),
        (lambda b: b["applicant"].update(id_number="12345"), "applicant.id_number", "string_pattern_mismatch"),
        (lambda b: b.update(status=0), "status", "greater_than_equal"),
        (lambda b: b.update(occurred_at="yesterday"), "occurred_at", "datetime_from_date_parsing"),
        (lambda b: b.update(status=10), "returned_at", "consistency"),
        (lambda b: b.update(occurred_at="2099-01-01T00:00:00+07:00"), "occurred_at", "consistency"),
        (lambda b: b["fees"][0].update(amount=-1), "fees.0.amount", "greater_than_equal"),
        (lambda b: b["fees"][0].update(amount=1.5), "fees.0.amount", "int_type"),
    ],
)
def test_invalid_change_is_refused_naming_field_and_rule(
    api: TestClient,
    keys: dict[str, str],
    hub: Hub,
    mutate: Callable[[dict[str, Any]], object],
    field: str,
    rule: str,
) -> None:
    body = status_change()
    mutate(body)
    r = api.post(URL, json=body, headers=h(keys["a"]))
    assert r.status_code == 422, r.text
    errs = r.json()["errors"]
    assert any(e["field"] == field and e["rule"].startswith(rule.split("_from")[0]) for e in errs), errs
    assert count(hub) == 0


def test_malformed_json_and_wrong_shapes(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    hdr = h(keys["a"], **{"Content-Type": "application/json"})
    r = api.post(URL, content=b'{"dossier_code": ', headers=hdr)
    problem(r, 400, "malformed_json")
    problem(api.post(URL, content=b'"just a string"', headers=hdr), 422, "validation_failed")
    problem(api.post(URL, content=b"[]", headers=hdr), 422, "validation_failed")
    r = api.post(URL, content=b"dossier=1", headers=h(keys["a"], **{"Content-Type": "text/plain"}))
    problem(r, 415, "unsupported_media_type")
    r = api.post(URL, json=[status_change() for _ in range(51)], headers=h(keys["a"]))
    problem(r, 413, "batch_too_large")
    r = api.post(URL, json=[{"x": 1}, {"y": 2}], headers=h(keys["a"]))
    assert len(problem(r, 422, "validation_failed")["results"]) == 2
    assert count(hub) == 0


def test_ten_megabyte_body_is_refused_unread(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    big = json.dumps([status_change(note="x" * 1000)] * 10_000).encode()
    assert len(big) > 10_000_000
    r = api.post(URL, content=big, headers=h(keys["a"], **{"Content-Type": "application/json"}))
    problem(r, 413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused while streaming
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    r = api.post(URL, content=chunks(), headers=h(keys["a"], **{"Content-Type": "application/json"}))
    problem(r, 413, "body_too_large")
    assert count(hub) == 0


def test_idempotency_key_returns_first_answer(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    body = status_change()
    first = api.post(URL, json=body, headers=h(keys["a"], **{"Idempotency-Key": "k-1"}))
    again = api.post(URL, json=body, headers=h(keys["a"], **{"Idempotency-Key": "k-1"}))
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.post(URL, json=status_change(), headers=h(keys["a"], **{"Idempotency-Key": "k-1"}))
    problem(other, 422, "idempotency_key_reused")
    assert count(hub) == 1


def test_same_change_from_two_clients_is_one_message(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    body = status_change()
    a = api.post(URL, json=body, headers=h(keys["a"])).json()
    b = api.post(URL, json=body, headers=h(keys["b"])).json()
    assert a["status"] == "accepted" and b["status"] == "duplicate"
    assert a["message_id"] == b["message_id"]
    # the same instant written in another offset is the same change
    at_utc = datetime.fromisoformat(body["occurred_at"]).astimezone(UTC).isoformat()
    same = api.post(URL, json=dict(body, occurred_at=at_utc), headers=h(keys["a"])).json()
    assert same["status"] == "duplicate" and same["message_id"] == a["message_id"]
    assert count(hub) == 1


def test_timeline_and_replay(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    code = dossier_code()
    ids = [
        api.post(URL, json=status_change(code=code, status=s, minutes_ago=60 - s), headers=h(keys["a"])).json()[
            "message_id"
        ]
        for s in (4, 2)
    ]
    tl = api.get(f"/v1/dossiers/{code}/timeline", headers=h(keys["a"]))
    assert tl.status_code == 200
    assert [m["status"] for m in tl.json()["messages"]] == [2, 4]  # in the order they happened
    assert api.get(f"/v1/dossiers/{code}/timeline", headers=h(keys["b"])).status_code == 404
    # make the first one dead, then replay it as an operator
    claims, _ = hub.ledger.claim([ids[1]], "national_portal", "w")
    hub.ledger.record(claims, [Outcome(OutcomeKind.DEAD, "rejected")], DeliveryPolicy(), "national_portal")
    assert api.post(f"/v1/messages/{ids[1]}/replay", headers=h(keys["a"])).status_code == 403
    dead = api.get("/v1/messages?state=dead", headers=h(keys["admin"])).json()["messages"]
    assert [m["id"] for m in dead] == [ids[1]]
    r = api.post(f"/v1/messages/{ids[1]}/replay", headers=h(keys["admin"]))
    assert r.status_code == 202 and r.json()["state"] == "queued"
    assert api.post(f"/v1/messages/{ids[1]}/replay", headers=h(keys["admin"])).status_code == 409
    assert api.post("/v1/messages/01NOSUCHMESSAGE00000000000/replay", headers=h(keys["admin"])).status_code == 404


def test_ops_endpoints_and_openapi(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200
    assert "lgsp_messages_accepted_total" in api.get("/metrics").text
    spec = api.get("/openapi.json").json()
    assert "DossierStatusChange" in spec["components"]["schemas"]
    body = spec["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0] == {"$ref": "#/components/schemas/DossierStatusChange"}
