"""Field limits as settings (§4.3 defaults): the client refuses to send what breaks them, naming the field and the
rule; the mock refuses it too, with the same check; wrong caller settings fail at start-up."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from fastapi.testclient import TestClient
from pydantic import ValidationError

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db.config import Variant
from connectors.population_db.limits import FieldLimits, violation
from connectors.population_db.mock import create_app
from hub.citizens.port import InvalidRequest

from .conftest import AN_ID, AN_NAME, assert_no_personal_data, verify_req
from .test_mock import envelope, fault_of, post, replaced


def test_documented_defaults() -> None:
    assert FieldLimits().model_dump() == {
        "MaYeuCau": 40, "MaDVC": 20, "MaTichHop": 20, "MaDonVi": 35, "MaCanBo": 20, "SoDinhDanh": 12,
        "SoCMND": 9, "HoVaTen": 100, "NgayThangNamSinh": ("yyyy-mm-dd", "yyyymmdd", "yyyy"),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("limits", "query", "field", "rule"),
    [
        ({"HoVaTen": 10}, {}, "HoVaTen", "at most 10 characters"),
        ({"MaCanBo": 4}, {}, "MaCanBo", "at most 4 characters"),
        ({"MaYeuCau": 8}, {"request_id": "R-123456789"}, "MaYeuCau", "at most 8 characters"),
        ({"MaDVC": 4}, {"purpose": "1.001234"}, "MaDVC", "at most 4 characters"),
        ({"SoCMND": 8}, {"id_number": "000000002"}, "SoCMND", "exactly 8 digits"),
        ({"NgayThangNamSinh": ("yyyy-mm-dd",)}, {"birth_date": 1985}, "NgayThangNamSinh", "a date as yyyy-mm-dd"),
    ],
    ids=["HoVaTen", "MaCanBo", "MaYeuCau", "MaDVC", "SoCMND", "birth-form"],
)
def test_the_client_refuses_to_send_a_field_over_its_limit(
    limits: dict[str, Any], query: dict[str, Any], field: str, rule: str
) -> None:
    settings = PopulationDbSettings(base_url="https://popdb.test", limits=FieldLimits.model_validate(limits))
    with respx.mock(assert_all_called=False) as router:
        route = router.post("https://popdb.test/dancuquocgia/soap").respond(500)
        with PopulationDbClient(settings) as client, pytest.raises(InvalidRequest) as caught:
            client.verify(verify_req(**query))
    assert not route.called  # nothing left the hub
    assert (caught.value.reason, caught.value.fields, caught.value.rule) == ("field-limit", (field,), rule)
    assert f"fields {field}" in str(caught.value) and rule in str(caught.value)
    assert caught.value.retryable is False and caught.value.breaker_failure is False
    assert_no_personal_data(caught.value, "R-123456789"[:3] + "456789")


@pytest.mark.parametrize("variant", ["soap", "lgsp_thanhhoa"])
def test_the_mock_enforces_the_configured_limits(variant: Variant) -> None:
    strict = PopulationDbSettings(base_url="http://testserver", variant=variant, limits=FieldLimits(HoVaTen=10))
    loose = strict.model_copy(update={"limits": FieldLimits()})  # a client that does not know the limit
    with TestClient(create_app(settings=strict), base_url="http://testserver") as http:
        with pytest.raises(InvalidRequest) as caught:
            PopulationDbClient(loose, http=http).verify(verify_req())
        assert caught.value.reason == "soap-fault" and caught.value.error_code == "01"
        assert caught.value.fault_code == "Client"  # the SOAP subcode names the rule:
        assert http.get("/_mock/stats").json()["rejected"] == {"Client.field-limit:01": 1}


def test_the_mock_refuses_an_over_long_officer_code_with_the_limits_rule() -> None:
    with TestClient(create_app()) as http:
        code, message, maloi = fault_of(post(http, envelope(replaced("MaCanBo", "C" * 21))))
    assert (code, maloi) == ("SOAP-ENV:Client.field-limit", "01") and "MaCanBo: at most 20 characters" in message


def test_one_check_for_both_sides() -> None:
    fields = {"MaYeuCau": "R", "MaDVC": "VPCP", "MaCanBo": "CB", "SoDinhDanh": AN_ID, "HoVaTen": AN_NAME,
              "NgayThangNam": "1990-02-30"}  # fmt: skip
    found = violation(fields, FieldLimits(), ("MaYeuCau", "MaDVC", "MaCanBo", "HoVaTen", "NgayThangNamSinh"))
    assert found is not None and found.field == "NgayThangNamSinh"  # not a calendar date
    assert violation({**fields, "NgayThangNam": "1990-02-28"}, FieldLimits(), ()) is None
    assert str(violation({**fields, "SoDinhDanh": None}, FieldLimits(), ())) == (
        "SoDinhDanh: one of SoDinhDanh, SoCMND is required"
    )


@pytest.mark.parametrize(
    ("over", "names"),
    [
        ({"agency_code": "000.00.00.H56" + "0" * 30}, "HUB_POPDB_AGENCY_CODE"),
        ({"agency_code": "UBND-H56"}, "HUB_POPDB_AGENCY_CODE"),
        ({"integration_code_verify": "03a"}, "HUB_POPDB_INTEGRATION_CODE_VERIFY"),
        ({"service_code": "S" * 21}, "HUB_POPDB_SERVICE_CODE"),
        ({"variant": "lgsp_dongthap"}, "HUB_POPDB_SERVICE_USERNAME"),
        ({"variant": "lgsp_hagiang", "auth_scheme": "bearer"}, "HUB_POPDB_AUTH_SCHEME"),
        ({"birth_date_format": "yyyymmdd", "limits": {"NgayThangNamSinh": ["yyyy-mm-dd"]}}, "BIRTH_DATE_FORMAT"),
    ],
    ids=["agency-too-long", "agency-shape", "integration-code", "service-code", "dt-user", "hg-auth", "birth-form"],
)
def test_settings_every_call_would_break_fail_at_start(over: dict[str, Any], names: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PopulationDbSettings(**over)
    assert names in str(caught.value)


def test_agency_codes_of_every_documented_width_are_accepted() -> None:
    for code in ("000.00.00.H56", "000.701.18.G12", "000.17.22.H56"):  # §6
        assert PopulationDbSettings(agency_code=code).agency_code == code


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_POPDB_LIMITS__HOVATEN", "80")
    assert PopulationDbSettings().limits.HoVaTen == 80
    monkeypatch.delenv("HUB_POPDB_LIMITS__HOVATEN")
    monkeypatch.setenv("HUB_POPDB_LIMITS", json.dumps({"MaCanBo": 12, "NgayThangNamSinh": ["yyyy-mm-dd", "yyyy"]}))
    limits = PopulationDbSettings().limits
    assert (limits.MaCanBo, limits.NgayThangNamSinh, limits.HoVaTen) == (12, ("yyyy-mm-dd", "yyyy"), 100)
