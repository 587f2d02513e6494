"""The real client against the mock database in process (SOAP over an httpx ASGI client), and respx."""

from __future__ import annotations

import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from lxml import etree

from connectors.population_db import PopulationDbClient, PopulationDbSettings, build_client
from connectors.population_db.client import WSDL_DIR, LocalWsdlLoader, wsdl_document
from connectors.population_db.mock import create_app
from hub.citizens.port import CitizenNotFound, NotAuthorised

from .conftest import (
    AN_BIRTH,
    AN_ID,
    AN_NAME,
    DUC_BIRTH,
    DUC_ID,
    DUC_NAME,
    NGOC_ID,
    NGOC_NAME,
    NGOC_OLD_ID,
    NGOC_YEAR,
    UNKNOWN_ID,
    lookup_req,
    verify_req,
)

ALL_MATCH = {"id_number": True, "full_name": True, "birth_date": True}
NS = "{http://dancuquocgia.bca}"


# ---------------------------------------------------------------- verify
def test_verify_exists_and_everything_matches(client: PopulationDbClient) -> None:
    result = client.verify(verify_req(request_id="HUB-0001"))
    assert (result.exists, result.matches, result.request_id) == (True, ALL_MATCH, "HUB-0001")


def test_verify_matches_names_case_insensitively_nfc_and_whitespace_collapsed(client: PopulationDbClient) -> None:
    typed = unicodedata.normalize("NFD", "  nguyễn   VĂN\tan ")
    assert client.verify(verify_req(full_name=typed)).matches == ALL_MATCH


def test_verify_exists_with_a_mismatched_name(client: PopulationDbClient) -> None:
    result = client.verify(verify_req(full_name="Nguyen Van An"))  # diacritics are significant
    assert result.exists is True
    assert result.matches == {"id_number": True, "full_name": False, "birth_date": True}


def test_verify_exists_with_a_mismatched_birth_date(client: PopulationDbClient) -> None:
    result = client.verify(verify_req(birth_date=date(1990, 1, 16)))
    assert result.matches == {"id_number": True, "full_name": True, "birth_date": False}


def test_verify_citizen_that_does_not_exist(client: PopulationDbClient) -> None:
    result = client.verify(verify_req(id_number=UNKNOWN_ID))
    assert result.exists is False
    assert result.matches == {"id_number": False, "full_name": False, "birth_date": False}


def test_verify_by_year_against_a_full_date_record(client: PopulationDbClient) -> None:
    assert client.verify(verify_req(birth_date=1990)).matches["birth_date"] is True
    assert client.verify(verify_req(birth_date=1991)).matches["birth_date"] is False


def test_verify_a_year_only_record_by_old_id_card(client: PopulationDbClient) -> None:
    result = client.verify(verify_req(id_number=NGOC_OLD_ID, full_name=NGOC_NAME, birth_date=date(NGOC_YEAR, 5, 5)))
    assert (result.exists, result.matches) == (True, ALL_MATCH)


def test_verify_result_carries_nothing_else(client: PopulationDbClient) -> None:
    result = client.verify(verify_req())
    assert set(result.model_dump()) == {"exists", "matches", "request_id", "ignored"}
    assert result.ignored.count == 0 and result.ignored.paths == ()  # names of what was read past, no values


# ---------------------------------------------------------------- lookup
def test_lookup_returns_the_full_record(client: PopulationDbClient) -> None:
    record = client.lookup(lookup_req())
    assert (record.id_number, record.full_name, record.birth_date, record.birth_year) == (
        AN_ID,
        AN_NAME,
        AN_BIRTH,
        1990,
    )
    assert record.name_parts is not None and record.name_parts.family == "Nguyễn"
    assert (record.gender, record.nationality, record.ethnicity) == ("1", "VN", "01")
    assert record.permanent_address is not None and record.permanent_address.province_code == "38"
    assert record.spouse is not None and record.spouse.full_name == "Trần Thị Bình"
    assert record.father is not None and record.mother is not None and record.household_head is not None
    assert record.data_as_of is not None
    assert record.restricted(["full_name", "permanent_address"]) == {
        "full_name": AN_NAME,
        "permanent_address": {
            "province_code": "38",
            "district_code": "380",
            "ward_code": "14758",
            "detail": "Số 1 đường Thử Nghiệm",
            "country": "VN",
            "province_name": None,  # the ANB shape carries codes only
            "district_name": None,
            "ward_name": None,
        },
    }


def test_lookup_sparse_record_has_none_for_what_the_database_lacks(client: PopulationDbClient) -> None:
    record = client.lookup(lookup_req(id_number=DUC_ID, full_name=DUC_NAME, birth_date=DUC_BIRTH))
    assert record.full_name == DUC_NAME and record.birth_date == DUC_BIRTH
    assert record.religion is None and record.spouse is None and record.old_id_number is None
    assert record.permanent_address is not None and record.permanent_address.district_code is None


def test_lookup_by_old_id_card_and_year(client: PopulationDbClient) -> None:
    record = client.lookup(lookup_req(id_number=NGOC_OLD_ID, full_name=NGOC_NAME, birth_date=NGOC_YEAR))
    assert (record.id_number, record.old_id_number, record.birth_date, record.birth_year) == (
        NGOC_ID,
        NGOC_OLD_ID,
        None,
        NGOC_YEAR,
    )


@pytest.mark.parametrize(
    "overrides",
    [{"id_number": UNKNOWN_ID}, {"full_name": "Nguyễn Văn Ân"}, {"birth_date": date(1990, 1, 16)}],
)
def test_lookup_without_a_full_match_is_not_found(client: PopulationDbClient, overrides: dict[str, Any]) -> None:
    with pytest.raises(CitizenNotFound) as caught:
        client.lookup(lookup_req(**overrides))
    assert caught.value.breaker_failure is False and caught.value.retryable is False
    assert AN_ID not in str(caught.value)


# ---------------------------------------------------------------- what goes on the wire
def test_the_mock_saw_the_caller_fields_per_operation(client: PopulationDbClient, mock_http: TestClient) -> None:
    client.verify(verify_req(request_id="V-1"))
    client.lookup(lookup_req(request_id="L-1", purpose="1.001234"))
    verify, lookup = mock_http.get("/_mock/requests").json()[-2:]
    assert (verify["operation"], verify["MaYeuCau"], verify["MaTichHop"], verify["MaDVC"]) == (
        "XacThucThongTinCongDan",
        "V-1",
        "033",
        "VPCP",
    )
    assert (lookup["operation"], lookup["MaTichHop"], lookup["MaDVC"], lookup["MaDonVi"]) == (
        "TraCuuThongTinCongDan",
        "037",
        "1.001234",
        "000.00.00.H56",
    )
    assert lookup["SoDinhDanh"] == "*********001" and AN_ID not in str(lookup)


def test_respx_sees_the_soap_request_in_wire_order() -> None:
    answer = (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        '<d:KetQuaXacThucResponse xmlns:d="http://dancuquocgia.bca"><d:TonTai>true</d:TonTai>'
        "</d:KetQuaXacThucResponse></e:Body></e:Envelope>"
    )
    settings = PopulationDbSettings(base_url="https://popdb.test", birth_date_format="yyyymmdd")
    with respx.mock(assert_all_called=True) as router:
        route = router.post("https://popdb.test/dancuquocgia/soap").respond(200, text=answer)
        with build_client(settings) as client:
            result = client.verify(verify_req(full_name="nguyễn văn an"))
    assert result.exists is True and result.matches == ALL_MATCH  # TonTai only: the combined check
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("text/xml")
    assert request.headers["soapaction"] == '""'
    envelope_body = etree.fromstring(request.content).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Body")
    assert envelope_body is not None
    body = envelope_body[0]
    assert body.tag == f"{NS}XacThucThongTinCongDan"
    assert [etree.QName(c).localname for c in body] == [
        "MaYeuCau",
        "MaDVC",
        "MaTichHop",
        "MaDonVi",
        "MaCanBo",
        "SoDinhDanh",
        "HoVaTen",
        "NgayThangNamSinh",
    ]
    assert body.findtext(f"{NS}HoVaTen") == "NGUYỄN VĂN AN"
    assert body.findtext(f"{NS}NgayThangNamSinh/{NS}NgayThangNam") == "19900115"


# ---------------------------------------------------------------- construction, WSDL, lifecycle
def test_construction_does_no_io() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    http = httpx.Client(transport=httpx.MockTransport(record))
    client = PopulationDbClient(PopulationDbSettings(base_url="http://127.0.0.1:9"), http=http)
    other = build_client()
    assert calls == [] and client._service is None and other._service is None and other._http is None
    client.close()
    other.close()


def test_the_wsdl_comes_from_the_package_folder_only() -> None:
    loader = LocalWsdlLoader()
    from zeep.wsdl import Document

    # zeep hints a transport class; it takes an instance
    document = Document(str(WSDL_DIR / "population_db.wsdl"), loader)  # type: ignore[arg-type]
    assert {p.name for p in loader.loaded} == {"population_db.wsdl", "dancuquocgia.xsd", "congdan.xsd"}
    assert all(p.is_relative_to(WSDL_DIR) for p in loader.loaded)
    assert list(document.bindings) == ["{http://dancuquocgia.bca/wsdl}CongDanSoapBinding"]
    assert wsdl_document() is wsdl_document()  # parsed once per process


@pytest.mark.parametrize(
    "url",
    ["http://evil.test/x.xsd", "https://evil.test/x.xsd", "file:///etc/passwd", str(WSDL_DIR / ".." / "client.py")],
)
def test_the_wsdl_loader_refuses_anything_else(url: str) -> None:
    from zeep.exceptions import ExternalReferenceForbidden

    with pytest.raises(ExternalReferenceForbidden):
        LocalWsdlLoader().load(url)


def test_package_data_ships_the_wsdl_files() -> None:
    text = Path(__file__).parents[2].joinpath("pyproject.toml").read_text(encoding="utf-8")
    assert '"*.xsd"' in text and '"*.wsdl"' in text
    assert sorted(p.name for p in WSDL_DIR.iterdir()) == ["congdan.xsd", "dancuquocgia.xsd", "population_db.wsdl"]


def test_close_closes_only_its_own_http_client(mock_http: TestClient) -> None:
    borrowed = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=mock_http)
    borrowed.verify(verify_req())
    borrowed.close()
    assert not mock_http.is_closed
    with respx.mock(assert_all_called=False):
        own = build_client()
        own._client()
        http = own._http
        own.close()
        own.close()
    assert http is not None and http.is_closed


# ---------------------------------------------------------------- auth
@pytest.mark.parametrize(
    "auth",
    [
        {"auth_scheme": "bearer", "token": "t0k3n"},
        {"auth_scheme": "basic", "username": "lgsp", "password": "pw"},
        {"auth_scheme": "timestamp_hash", "username": "lgsp", "password": "s3cret", "auth_hash_url": "https://x/"},
    ],
)
def test_credentials_are_sent_and_checked(auth: dict[str, str]) -> None:
    settings = PopulationDbSettings.model_validate({"base_url": "http://testserver", **auth})
    with TestClient(create_app(settings=settings), base_url="http://testserver") as http:
        assert PopulationDbClient(settings, http=http).verify(verify_req()).exists is True
        anonymous = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=http)
        with pytest.raises(NotAuthorised) as caught:
            anonymous.verify(verify_req())
    assert caught.value.http_status == 401
    for secret in ("t0k3n", "pw", "s3cret"):
        assert secret not in repr(settings) and secret not in str(caught.value)


def test_timestamp_hash_headers() -> None:
    # pydantic reads the plain string into the SecretStr password
    s = PopulationDbSettings(auth_scheme="timestamp_hash", username="u", password="p", auth_hash_url="https://x/")  # type: ignore[arg-type]
    headers = s.auth_headers(now=1_700_000_000.5)
    assert headers["Timestamp"] == "1700000000500"
    import base64
    import hashlib

    digest = hashlib.sha256(b"https://x/u1700000000500p").hexdigest()
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"u:{digest}".encode()).decode()
