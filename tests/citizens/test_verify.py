"""POST /v1/citizens/verify against the mock population database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hub.bootstrap import Hub
from tests.population_db.conftest import AN_ID, NGOC_NAME, NGOC_OLD_ID, NGOC_YEAR, OFFICER, UNKNOWN_ID
from tests.support.problems import problem

from .conftest import PURPOSE, Mock, audit_rows, h, keyed_hash, query

URL = "/v1/citizens/verify"


def test_a_matching_citizen_is_verified_and_audited(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    r = api.post(URL, json=query(full_name="  nguyễn   VĂN an "), headers=h(keys["verify"]))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["exists"] is True
    assert answer["matches"] == {"id_number": True, "full_name": True, "birth_date": True}
    assert set(answer) == {"exists", "matches", "request_id"}  # nothing else about the citizen
    [row] = audit_rows(hub)
    assert row["operation"] == "verify" and row["outcome"] == "matched" and row["http_status"] == 200
    assert (row["client_code"], row["officer_code"], row["purpose"]) == ("ONEGATE-V", OFFICER, PURPOSE)
    assert row["service_code"] == "VPCP"  # MaDVC: the configured default
    assert row["request_id"] == answer["request_id"]  # MaYeuCau: the reference at the database
    assert row["id_hash"] == keyed_hash(AN_ID)
    assert row["duration_ms"] >= 0 and row["reason"] is None and row["fields"] is None


def test_a_partial_mismatch_names_the_field(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    r = api.post(URL, json=query(birth_date="1990-01-16"), headers=h(keys["verify"]))
    assert r.status_code == 200, r.text
    assert r.json()["exists"] is True
    assert r.json()["matches"] == {"id_number": True, "full_name": True, "birth_date": False}
    r = api.post(URL, json=query(full_name="Nguyễn Văn Ân"), headers=h(keys["verify"]))  # diacritics count
    assert r.json()["matches"] == {"id_number": True, "full_name": False, "birth_date": True}
    assert [row["outcome"] for row in audit_rows(hub)] == ["mismatch", "mismatch"]


def test_an_unknown_citizen_is_an_answer_not_an_error(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    r = api.post(URL, json=query(id_number=UNKNOWN_ID), headers=h(keys["verify"]))
    assert r.status_code == 200, r.text
    assert r.json()["exists"] is False and not any(r.json()["matches"].values())
    [row] = audit_rows(hub)
    assert row["outcome"] == "not_found" and row["id_hash"] == keyed_hash(UNKNOWN_ID)


def test_old_id_card_and_birth_year(api: TestClient, keys: dict[str, str], hub: Hub) -> None:
    body = query(id_number=NGOC_OLD_ID, full_name=NGOC_NAME, birth_date=str(NGOC_YEAR), service_code="1.001234")
    r = api.post(URL, json=body, headers=h(keys["verify"]))
    assert r.status_code == 200, r.text
    assert all(r.json()["matches"].values())
    r = api.post(URL, json={**body, "birth_date": NGOC_YEAR}, headers=h(keys["verify"]))  # an integer year
    assert all(r.json()["matches"].values())
    assert {row["service_code"] for row in audit_rows(hub)} == {"1.001234"}


def test_a_valid_key_is_required(api: TestClient, hub: Hub, mock: Mock) -> None:
    assert api.post(URL, json=query()).status_code == 401
    assert api.post(URL, json=query(), headers=h("wrong")).status_code == 401
    assert mock.seen() == 0 and audit_rows(hub) == []


@pytest.mark.parametrize("who", ["portal", "admin"])
def test_the_grant_is_required_and_a_refusal_is_audited(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, who: str
) -> None:
    r = api.post(URL, json=query(), headers=h(keys[who]))
    assert "citizen.verify" in problem(r, 403, "forbidden")["detail"]  # admin does not imply it
    [row] = audit_rows(hub)
    assert (row["outcome"], row["http_status"], row["operation"]) == ("forbidden", 403, "verify")
    assert row["id_hash"] is None and row["officer_code"] is None  # the body was never read
    assert mock.seen() == 0


INVALID: list[tuple[Callable[[dict[str, Any]], Any], str, str]] = [
    (lambda b: b.update(id_number="03809000123"), "id_number", "string_pattern_mismatch"),  # 11 digits
    (lambda b: b.update(id_number="0380900012345"), "id_number", "string_pattern_mismatch"),  # 13 digits
    (lambda b: b.update(id_number="03809000123A"), "id_number", "string_pattern_mismatch"),
    (lambda b: b.update(id_number=38090001234), "id_number", "string_type"),
    (lambda b: b.update(birth_date="1990-02-30"), "birth_date", "birth_date_calendar"),
    (lambda b: b.update(birth_date="15/01/1990"), "birth_date", "birth_date_format"),
    (lambda b: b.update(birth_date="2999"), "birth_date", "birth_date_range"),
    (lambda b: b.update(birth_date=True), "birth_date", "birth_date_type"),
    (lambda b: b.update(address="Số 1"), "address", "extra_forbidden"),
    (lambda b: b.pop("officer_code"), "officer_code", "missing"),
    (lambda b: b.pop("purpose"), "purpose", "missing"),
    (lambda b: b.update(purpose=""), "purpose", "string_too_short"),
    (lambda b: b.update(purpose="check 038090001234"), "purpose", "personal_data"),
    (lambda b: b.update(purpose="hồ sơ của NGUYỄN VĂN AN"), "purpose", "personal_data"),
    (lambda b: b.update(officer_code="CB 42"), "officer_code", "string_pattern_mismatch"),
    (lambda b: b.update(full_name="Nguyễn\x01Văn"), "full_name", "control_characters"),
    (lambda b: b.update(full_name="x" * 101), "full_name", "string_too_long"),
    (lambda b: b.update(service_code="a b"), "service_code", "string_pattern_mismatch"),
]


@pytest.mark.parametrize(("mutate", "field", "rule"), INVALID, ids=[f"{f}-{r}" for _, f, r in INVALID])
def test_an_invalid_query_is_refused_naming_field_and_rule_never_the_value(
    api: TestClient, keys: dict[str, str], hub: Hub, mock: Mock, mutate: Any, field: str, rule: str
) -> None:
    body = query(id_number="038090001234")
    mutate(body)
    r = api.post(URL, json=body, headers=h(keys["verify"]))
    assert r.status_code == 422, r.text
    assert {"field": field, "rule": rule} in [{"field": e["field"], "rule": e["rule"]} for e in r.json()["errors"]]
    for value in ("038090001234", "03809000123", "Nguyễn", "NGUYỄN", "1990-02-30", "15/01/1990", "CB 42", "Số 1"):
        assert value not in r.text
    assert mock.seen() == 0 and audit_rows(hub) == []  # nothing was asked, so nothing to audit


def test_malformed_and_non_json_bodies(api: TestClient, keys: dict[str, str]) -> None:
    r = api.post(URL, content=b'{"id_number": "0380', headers={**h(keys["verify"]), "Content-Type": "application/json"})
    assert problem(r, 400, "malformed_json") and "0380" not in r.text
    r = api.post(URL, json=query(full_name="Nguyễn\x00Văn"), headers=h(keys["verify"]))  # U+0000: not storable text
    assert problem(r, 400, "malformed_json")["errors"][0]["rule"] == "not_text" and "Nguy" not in r.text
    r = api.post(URL, content=b"id_number=1", headers={**h(keys["verify"]), "Content-Type": "text/plain"})
    problem(r, 415, "unsupported_media_type")
    r = api.post(URL, json=[query()], headers=h(keys["verify"]))
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "model_type"


def test_both_endpoints_are_documented(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for path, partner in (("/v1/citizens/verify", "XacThucThongTinCongDan"), ("/v1/citizens/lookup", "TraCuu")):
        op = spec["paths"][path]["post"]
        assert partner in op["summary"] and {"401", "403", "422", "502", "503"} <= set(op["responses"])
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        props = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
        assert "SoDinhDanh" in props["id_number"]["description"] and "SoCMND" in props["id_number"]["description"]
        assert "HoVaTen" in props["full_name"]["description"]
        assert "MaCanBo" in props["officer_code"]["description"]
        assert "NgayThangNamSinh" in props["birth_date"]["description"]
    assert "ThuongTru" in spec["paths"]["/v1/citizens/lookup"]["post"]["description"]
