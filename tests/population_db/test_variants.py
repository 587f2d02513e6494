"""The LGSP-fronted variants end to end: the real client against the mock playing the same variant.

Each variant is run with the authentication its province uses (and the others it can be given): the
answer comes back through the one hardened reader, the mock refuses a request without the variant's
credentials or not in its shape in the variant's own form, and tokens are cached and renewed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db.mock import Faults, create_app
from hub.citizens.port import (
    CitizenNotFound,
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
)

from .conftest import AN_BIRTH, AN_ID, AN_NAME, NGOC_NAME, NGOC_OLD_ID, NGOC_YEAR, lookup_req, verify_req

ALL_MATCH = {"id_number": True, "full_name": True, "birth_date": True}
SECRETS = ("cs-s3cret", "sk-s3cret", "ak-s3cret", "staff-p4ss", "st4tic-t0ken")
OAUTH2 = {"auth_scheme": "oauth2", "client_id": "hub-h56", "client_secret": "cs-s3cret"}
LGSP_TOKEN = {
    "auth_scheme": "lgsp_access_token",
    "access_key": "ak-s3cret",
    "secret_key": "sk-s3cret",
    "app_name": "LGSPHUB",
    "partner_code": "H56",
    "partner_code_cus": "H56-HUB",
}
HAGIANG = {"variant": "lgsp_hagiang", **LGSP_TOKEN, "staff_key_name": "cb.h22", "staff_key_pass": "staff-p4ss"}
DONGTHAP = {"variant": "lgsp_dongthap", "service_username": "STTTT_TEST", "token": "st4tic-t0ken"}
THANHHOA = {"variant": "lgsp_thanhhoa"}
# (id, settings): every variant with its province's scheme, and the other schemes where they apply
CASES: list[tuple[str, dict[str, Any]]] = [
    ("soap-none", {}),
    ("soap-oauth2", OAUTH2),
    ("soap-lgsp-access-token", LGSP_TOKEN),
    ("soap-header-token", {"auth_scheme": "header_token", "token": "st4tic-t0ken"}),
    ("hagiang-lgsp-access-token", HAGIANG),
    ("hagiang-oauth2", {**HAGIANG, **OAUTH2}),
    ("dongthap-bearer", DONGTHAP),
    ("dongthap-oauth2", {**DONGTHAP, **OAUTH2}),
    ("thanhhoa-none", THANHHOA),
    ("thanhhoa-pascal-keys", {**THANHHOA, "json_keys": "pascal"}),
    ("thanhhoa-bearer", {**THANHHOA, "auth_scheme": "bearer", "token": "st4tic-t0ken"}),
]


def settings_of(**over: Any) -> PopulationDbSettings:
    return PopulationDbSettings(base_url="http://testserver", **over)


@pytest.fixture
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[PopulationDbClient, TestClient]]:
    """The client and the mock, both built from the same settings (``request.param``)."""
    s = settings_of(**request.param)
    with TestClient(create_app(settings=s), base_url="http://testserver") as http:
        client = PopulationDbClient(s, http=http)
        yield client, http
        client.close()


def seen(http: TestClient) -> list[dict[str, Any]]:
    return list(http.get("/_mock/requests").json())


@pytest.mark.parametrize("pair", [c[1] for c in CASES], ids=[c[0] for c in CASES], indirect=True)
def test_variant_verifies_and_looks_up_end_to_end(pair: tuple[PopulationDbClient, TestClient]) -> None:
    client, http = pair
    result = client.verify(verify_req(request_id="V-1"))
    assert (result.exists, result.matches, result.request_id) == (True, ALL_MATCH, "V-1")
    assert client.verify(verify_req(full_name="Nguyen Van An")).matches["full_name"] is False
    record = client.lookup(lookup_req())
    assert (record.id_number, record.full_name, record.birth_date) == (AN_ID, AN_NAME, AN_BIRTH)
    old = client.lookup(lookup_req(id_number=NGOC_OLD_ID, full_name=NGOC_NAME, birth_date=NGOC_YEAR))
    assert old.birth_year == NGOC_YEAR and old.old_id_number == NGOC_OLD_ID
    with pytest.raises(CitizenNotFound):
        client.lookup(lookup_req(full_name="Nguyễn Văn Ân"))
    operations = [r["operation"] for r in seen(http) if "operation" in r]
    assert operations == ["XacThucThongTinCongDan"] * 2 + ["TraCuuThongTinCongDan"] * 3


WITH_CREDENTIALS = [c for c in CASES if c[0] not in ("soap-none", "thanhhoa-none", "thanhhoa-pascal-keys")]


@pytest.mark.parametrize("pair", [c[1] for c in WITH_CREDENTIALS], ids=[c[0] for c in WITH_CREDENTIALS], indirect=True)
def test_a_client_without_the_variants_credentials_is_refused(pair: tuple[PopulationDbClient, TestClient]) -> None:
    client, http = pair
    stranger = client.settings.model_copy(
        update={
            "client_secret": _s("wrong"),
            "secret_key": _s("wrong"),
            "token": _s("wrong"),
            "staff_key_pass": _s("wrong"),
        }
    )
    with pytest.raises(NotAuthorised) as caught:
        PopulationDbClient(stranger, http=http).verify(verify_req())
    assert caught.value.http_status == 401
    assert all(secret not in str(caught.value) and secret not in repr(stranger) for secret in SECRETS)
    assert http.get("/_mock/stats").json()["calls"] == {}  # the database never saw it


def _s(value: str) -> Any:
    from pydantic import SecretStr

    return SecretStr(value)


# ---------------------------------------------------------------- each front's own refusals
def _post(http: TestClient, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    r: httpx.Response = http.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
    return r


DONGTHAP_BODY = {"maYeuCau": "R-1", "maDVC": "VPCP", "maCanBo": "CB01", "soDinhDanh": AN_ID, "soCMND": "",
                 "hoVaTen": "NGUYỄN VĂN AN", "ngayThangNam": "1990-01-15", "userNameService": "STTTT_TEST"}  # fmt: skip
THANHHOA_BODY = {"hoVaTen": "NGUYỄN VĂN AN", "soDinhDanh": AN_ID, "soCMND": None, "ngayThangNam": "1990-01-15",
                 "nam": None, "maTichHop": "037", "maDVC": "VPCP", "maCanBo": "CB01", "maYeuCau": "R-1"}  # fmt: skip
LOOKUP_PATH = "/lgsp/csdldancu/TraCuuThongTinCongDan"


@pytest.mark.parametrize(
    ("variant", "body", "status"),
    [
        ("lgsp_dongthap", DONGTHAP_BODY, 200),
        ("lgsp_dongthap", {**DONGTHAP_BODY, "extra": "x"}, 400),
        ("lgsp_dongthap", {k: v for k, v in DONGTHAP_BODY.items() if k != "soCMND"}, 400),  # OCPS always sends ""
        ("lgsp_dongthap", {**DONGTHAP_BODY, "MaYeuCau": "R-1"} | {"maYeuCau": None}, 400),
        ("lgsp_dongthap", {**DONGTHAP_BODY, "userNameService": "SOMEONE_ELSE"}, 401),
        ("lgsp_thanhhoa", THANHHOA_BODY, 200),
        ("lgsp_thanhhoa", {k[:1].upper() + k[1:]: v for k, v in THANHHOA_BODY.items()}, 200),  # PascalCase
        ("lgsp_thanhhoa", {**THANHHOA_BODY, "MaDonVi": "000.00.00.H56"}, 400),  # the LGSP fills it
        ("lgsp_thanhhoa", {**THANHHOA_BODY, "HoVaTen": "X"}, 400),  # the same key twice (case aside)
        ("lgsp_thanhhoa", {**THANHHOA_BODY, "nam": 1990}, 400),
        ("lgsp_thanhhoa", [THANHHOA_BODY], 400),
    ],
    ids=[
        "dt-ok",
        "dt-extra-key",
        "dt-missing-key",
        "dt-null",
        "dt-wrong-service-user",
        "th-ok",
        "th-pascal",
        "th-madonvi",
        "th-repeated-key",
        "th-number",
        "th-array",
    ],
)
def test_json_fronts_refuse_the_wrong_shape_in_their_own_form(variant: str, body: Any, status: int) -> None:
    extra = {"service_username": "STTTT_TEST", "token": "st4tic-t0ken"} if variant == "lgsp_dongthap" else {}
    headers = {"Authorization": "Bearer st4tic-t0ken"} if extra else {}
    with TestClient(create_app(settings=settings_of(variant=variant, **extra))) as http:
        r = _post(http, LOOKUP_PATH, body, headers)
        assert r.status_code == status, r.text
        answer = r.json()
        if status == 200:
            assert answer["error_code"] == "0" and answer["message"].startswith("<?xml")
        else:
            assert answer["error_code"] == str(status) and AN_ID not in r.text
            assert http.get("/_mock/stats").json()["calls"] == {}


def test_hagiang_front_checks_each_credential_and_the_soap_inside() -> None:
    s = settings_of(**HAGIANG)
    with TestClient(create_app(settings=s)) as http:
        client = PopulationDbClient(s, http=http)
        envelope = client.build_envelope("TraCuuThongTinCongDan", lookup_req())
        from lxml import etree

        data = etree.tostring(envelope, encoding="unicode")
        bearer = client.credentials.bearer(http, "TraCuuThongTinCongDan")
        good = {"accessToken": bearer, "lgspAccessToken": s.lgsp_access_token(), "AuthHash": s.auth_hash(),
                "data": data}  # fmt: skip
        assert _post(http, LOOKUP_PATH, good).status_code == 200
        wrong_hash = base64.b64encode(b"cb.h22:guess").decode()
        for bad, status in [
            ({**good, "accessToken": "Bearer not-issued"}, 401),
            ({**good, "AuthHash": wrong_hash}, 401),
            ({**good, "lgspAccessToken": base64.b64encode(b'{"AccessKey": "x"}').decode()}, 401),
            ({k: v for k, v in good.items() if k != "AuthHash"}, 400),
            ({**good, "data": "<not-soap/>"}, 500),  # reaches the database: a SOAP fault (envelope)
            ({**good, "data": data.replace("MaCanBo", "MaCanBoX")}, 500),  # the schema, inside the JSON
        ]:
            assert _post(http, LOOKUP_PATH, bad).status_code == status, bad.keys()


# ---------------------------------------------------------------- tokens: cached, renewed
@pytest.mark.parametrize("pair", [OAUTH2, HAGIANG], ids=["oauth2", "hagiang"], indirect=True)
def test_a_token_is_fetched_once_and_renewed_when_refused(pair: tuple[PopulationDbClient, TestClient]) -> None:
    client, http = pair
    for _ in range(3):
        assert client.verify(verify_req()).exists is True
    assert client.credentials.fetched == 1 and http.get("/_mock/stats").json()["tokens_issued"] == 1
    http.post("/_mock/tokens/revoke")  # the LGSP forgets it: the next call is refused with 401 once
    assert client.verify(verify_req()).exists is True
    assert client.credentials.fetched == 2
    assert http.get("/_mock/stats").json()["rejected"] == {"front:401": 1}


def test_a_token_about_to_expire_is_renewed_before_use() -> None:
    s = settings_of(**OAUTH2, token_renew_before=60)
    with TestClient(create_app(settings=s)) as http:
        http.post("/_mock/mode", json={"token_ttl": 30})  # shorter than the renewal margin: every call renews
        client = PopulationDbClient(s, http=http)
        client.verify(verify_req())
        client.verify(verify_req())
        assert client.credentials.fetched == 2
        assert http.get("/_mock/stats").json()["rejected"] == {}  # never sent an expiring token


def test_a_token_endpoint_that_refuses_is_not_authorised_and_a_malformed_one_unsafe() -> None:
    s = settings_of(**OAUTH2)
    calls = {"n": 0}

    def token_endpoint(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(401, json={"error": "invalid_client"})
        return httpx.Response(200, json={"access_token": "has spaces\r\nX-Injected: 1", "expires_in": 60})

    http = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    client = PopulationDbClient(s, http=http)
    with pytest.raises(NotAuthorised) as refused:
        client.verify(verify_req())
    assert refused.value.reason == "token-refused" and "cs-s3cret" not in str(refused.value)
    with pytest.raises(UnsafeResponse) as malformed:
        client.verify(verify_req())
    assert malformed.value.reason == "token-malformed"


# ---------------------------------------------------------------- the JSON wrapper: one hardened reader
@pytest.fixture
def thanhhoa() -> Iterator[tuple[PopulationDbClient, TestClient]]:
    s = settings_of(**THANHHOA)
    with TestClient(create_app(settings=s)) as http:
        yield PopulationDbClient(s, http=http), http


@pytest.mark.parametrize(
    ("faults", "expected", "reason"),
    [
        ({"hostile_rate": 1, "hostile_kind": "billion_laughs"}, UnsafeResponse, "entities"),
        ({"hostile_rate": 1, "hostile_kind": "xxe"}, UnsafeResponse, "entities"),
        ({"hostile_rate": 1, "hostile_kind": "dtd"}, UnsafeResponse, "dtd"),
        ({"hostile_rate": 1, "hostile_kind": "oversized", "oversized_bytes": 2_000_000}, UnsafeResponse, "oversized"),
        ({"malformed_rate": 1}, UnsafeResponse, "malformed"),
        ({"fault_rate": 1, "fault_kind": "busy"}, RetryableError, "busy"),
        ({"fault_rate": 1, "fault_kind": "invalid"}, InvalidRequest, "soap-fault"),
        ({"fault_rate": 1, "fault_kind": "not_authorised"}, NotAuthorised, "soap-fault"),
        ({"error_5xx_rate": 1}, RetryableError, "http-error"),
    ],
    ids=["billion-laughs", "xxe", "dtd", "oversized", "malformed", "busy", "invalid", "not-authorised", "5xx"],
)
def test_xml_inside_json_gets_the_same_protections(
    thanhhoa: tuple[PopulationDbClient, TestClient],
    faults: dict[str, Any],
    expected: type[PopulationDbError],
    reason: str,
) -> None:
    client, http = thanhhoa
    http.post("/_mock/faults", json=faults)
    for call in (lambda: client.verify(verify_req()), lambda: client.lookup(lookup_req())):
        with pytest.raises(expected) as caught:
            call()
        assert caught.value.reason == reason and AN_ID not in str(caught.value)


@pytest.mark.parametrize("style", ["0", "00", "int"])
def test_success_codes_are_read_leniently(thanhhoa: tuple[PopulationDbClient, TestClient], style: str) -> None:
    client, http = thanhhoa
    http.post("/_mock/faults", json={"error_code_style": style})
    assert client.verify(verify_req()).matches == ALL_MATCH


@pytest.mark.parametrize(
    ("body", "expected", "reason"),
    [
        ({"error_code": "0", "message": "not xml"}, UnsafeResponse, "unexpected-content"),
        ({"message": "<x/>"}, UnsafeResponse, "unexpected-content"),
        (b'{"error_code": "0", "message": "<a/>", "message": "<b/>"}', UnsafeResponse, "malformed"),
        (b'{"error_code": "0", "Message": "<a/>", "message": "<b/>"}', UnsafeResponse, "malformed"),
        (b"[" * 100_000 + b"]" * 100_000, UnsafeResponse, "malformed"),
        ({"error_code": "99", "message": "Hệ thống bận"}, RetryableError, "busy"),
        ({"error_code": "401", "message": "token expired"}, NotAuthorised, "lgsp-error"),
        ({"error_code": "7", "message": "Lỗi không rõ"}, type(None), "lgsp-error"),  # PermanentError
    ],
    ids=["not-xml", "no-code", "duplicate-key", "duplicate-key-case", "deep-nesting", "busy", "401", "unknown"],
)
def test_json_wrappers_of_the_wrong_shape_are_refused(
    body: Any, expected: type[PopulationDbError] | type[None], reason: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=content)))
    client = PopulationDbClient(settings_of(**THANHHOA), http=http)
    raised = PermanentError if expected is type(None) else expected
    assert issubclass(raised, PopulationDbError)
    with pytest.raises(raised) as caught:
        client.verify(verify_req())
    assert caught.value.reason == reason


def test_run_time_variant_switch() -> None:
    """One mock, switched at run time: the old variant's requests are then refused, the new one's served."""
    with TestClient(create_app(settings=settings_of(**THANHHOA), faults=Faults())) as http:
        thanhhoa = PopulationDbClient(settings_of(**THANHHOA), http=http)
        soap = PopulationDbClient(settings_of(), http=http)
        assert thanhhoa.verify(verify_req()).exists
        http.post("/_mock/mode", json={"variant": "soap"})
        assert soap.verify(verify_req()).exists
        with pytest.raises(PermanentError) as caught:  # the JSON path is not served any more
            thanhhoa.verify(verify_req())
        assert caught.value.http_status == 404
        assert http.get("/_mock/card").json()["variant"] == "soap"
