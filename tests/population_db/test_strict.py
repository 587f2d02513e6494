"""Strict mode (the default, and the tests'): each rule of the database we know is applied with its own fault;
lenient mode drops the strict ones; the capability card says which, and what the mock cannot know."""

from __future__ import annotations

import inspect
import unicodedata

import pytest
from fastapi.testclient import TestClient

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db import mock as mock_module
from connectors.population_db.mock import Mode, create_app
from connectors.population_db.mock_rules import CANNOT_KNOW, RULES
from hub.citizens.port import InvalidRequest

from .conftest import verify_req
from .test_mock import VALID_FIELDS, envelope, fault_of, post, replaced, without

STRICT_CASES = [
    ("field-limit", envelope(replaced("HoVaTen", "A" * 101)), "01"),
    ("id-required", envelope(without("SoDinhDanh")), "01"),
    ("agency-code", envelope(replaced("MaDonVi", "UBND-H56")), "01"),
    ("integration-code", envelope(replaced("MaTichHop", "037")), "02"),  # the lookup code on verify
    ("text-nfc", envelope(replaced("HoVaTen", unicodedata.normalize("NFD", "NGUYỄN VĂN AN"))), "01"),
]


@pytest.mark.parametrize(("rule", "body", "maloi"), STRICT_CASES, ids=[c[0] for c in STRICT_CASES])
def test_strict_rules_have_their_own_fault_and_lenient_mode_drops_them(rule: str, body: bytes, maloi: str) -> None:
    with TestClient(create_app()) as http:
        code, message, error = fault_of(post(http, body))
        assert (code, error) == (f"SOAP-ENV:Client.{rule}", maloi)
        assert "000090000001" not in message
        http.post("/_mock/mode", json={"strict": False})
        assert post(http, body).status_code == 200


def test_a_request_id_used_twice_is_refused_in_strict_mode() -> None:
    with TestClient(create_app(), base_url="http://testserver") as http:
        client = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=http)
        assert client.verify(verify_req(request_id="SAME-1")).exists
        with pytest.raises(InvalidRequest):
            client.verify(verify_req(request_id="SAME-1"))
        assert http.get("/_mock/stats").json()["rejected"] == {"Client.request-id-unique:01": 1}
        assert client.verify(verify_req()).exists  # the connector's own ids are fresh per call


def test_lenient_mode_still_applies_the_envelope_and_schema_rules() -> None:
    with TestClient(create_app(mode=Mode(strict=False))) as http:
        assert fault_of(post(http, envelope(without("MaCanBo"))))[0] == "SOAP-ENV:Client.schema"
        assert fault_of(post(http, envelope(operation="XoaCongDan")))[0] == "SOAP-ENV:Client.operation"
        assert post(http, envelope(VALID_FIELDS)).status_code == 200


def test_the_capability_card_lists_what_is_enforced_and_what_cannot_be_known() -> None:
    with TestClient(create_app()) as http:
        strict = http.get("/_mock/card").json()
        http.post("/_mock/mode", json={"strict": False})
        lenient = http.get("/_mock/card").json()
    assert {r["id"] for r in strict["enforces"]} == {r.id for r in RULES} and strict["mode"] == "strict"
    dropped = {r.id for r in RULES if r.strict_only}
    assert {r["id"] for r in lenient["enforces"]} == {r.id for r in RULES} - dropped
    assert set(lenient["not_enforced_in_this_mode"]) == dropped
    assert strict["cannot_know"] == list(CANNOT_KNOW) and len(CANNOT_KNOW) >= 5


def test_the_mocks_docstring_names_every_rule() -> None:
    """The card in the module's docstring cannot fall behind the rules the mock applies."""
    doc = inspect.getdoc(mock_module) or ""
    missing = [r.id for r in RULES if r.id not in doc]
    assert not missing, f"mock.py's capability card does not name {missing}"
