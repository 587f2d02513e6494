"""The mock refuses what the real database would, with SOAP faults; its data is synthetic; its admin views."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from connectors.population_db import translate as tr
from connectors.population_db.mock import Faults, create_app, generated_citizens, parser
from connectors.population_db.synthetic import DEMO_CITIZENS, FAKE_ID_PREFIX

from .conftest import AN_ID

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
URL = "/dancuquocgia/soap"
VALID_FIELDS: list[tuple[str, str]] = [
    ("MaYeuCau", "R-1"),
    ("MaDVC", "VPCP"),
    ("MaTichHop", "033"),
    ("MaDonVi", "000.00.00.H56"),
    ("MaCanBo", "CB01"),
    ("SoDinhDanh", AN_ID),
    ("HoVaTen", "NGUYỄN VĂN AN"),
    ("NgayThangNamSinh", "<dan:NgayThangNam>1990-01-15</dan:NgayThangNam>"),
]


def envelope(
    fields: list[tuple[str, str]] | None = None,
    operation: str = tr.OP_VERIFY,
    ns: str = tr.REQUEST_NS,
    soap_ns: str = SOAP,
    header: str = "",
    prolog: str = "",
) -> bytes:
    body = "".join(f"<dan:{name}>{value}</dan:{name}>" for name, value in (fields or VALID_FIELDS))
    return (
        f'{prolog}<s:Envelope xmlns:s="{soap_ns}" xmlns:dan="{ns}"><s:Header>{header}</s:Header>'
        f"<s:Body><dan:{operation}>{body}</dan:{operation}></s:Body></s:Envelope>"
    ).encode()


def without(name: str) -> list[tuple[str, str]]:
    return [(n, v) for n, v in VALID_FIELDS if n != name]


def replaced(name: str, value: str) -> list[tuple[str, str]]:
    return [(n, value if n == name else v) for n, v in VALID_FIELDS]


def post(http: TestClient, body: bytes) -> Any:
    return http.post(URL, content=body, headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def fault_of(response: Any) -> tuple[str, str, str | None]:
    """(faultcode, faultstring, MaLoi) of a SOAP 1.1 fault answer; asserts it is one."""
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/xml")
    root = etree.fromstring(response.content, etree.XMLParser(resolve_entities=False, no_network=True))
    fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    code = fault.findtext("faultcode") or ""
    error = fault.findtext(f"detail/{{{tr.REQUEST_NS}}}ThongTinLoi/{{{tr.REQUEST_NS}}}MaLoi")
    return code, fault.findtext("faultstring") or "", error


def test_a_valid_request_is_answered(mock_http: TestClient) -> None:
    response = post(mock_http, envelope())
    assert response.status_code == 200
    root = etree.fromstring(response.content)
    assert root.findtext(f".//{{{tr.REQUEST_NS}}}TonTai") == "true"


REFUSED: list[tuple[str, bytes, str, str | None, str]] = [
    ("missing MaCanBo", envelope(without("MaCanBo")), "SOAP-ENV:Client.schema", "01", "MaCanBo"),
    ("missing MaYeuCau", envelope(without("MaYeuCau")), "SOAP-ENV:Client.schema", "01", "MaYeuCau"),
    ("missing MaDVC", envelope(without("MaDVC")), "SOAP-ENV:Client.schema", "01", "MaDVC"),
    ("missing MaTichHop", envelope(without("MaTichHop")), "SOAP-ENV:Client.schema", "01", "MaTichHop"),
    ("missing MaDonVi", envelope(without("MaDonVi")), "SOAP-ENV:Client.schema", "01", "MaDonVi"),
    ("missing birth date", envelope(without("NgayThangNamSinh")), "SOAP-ENV:Client.schema", "01", "NgayThangNamSinh"),
    ("11-digit ID", envelope(replaced("SoDinhDanh", "00009000000")), "SOAP-ENV:Client.field-limit", "01", "SoDinhDanh"),
    (
        "ID with a letter",
        envelope(replaced("SoDinhDanh", "00009000000A")),
        "SOAP-ENV:Client.field-limit",
        "01",
        "SoDinhDanh",
    ),
    (
        "8-digit CMND",
        envelope([*without("SoDinhDanh")[:5], ("SoCMND", "12345678"), *VALID_FIELDS[6:]]),
        "SOAP-ENV:Client.field-limit",
        "01",
        "SoCMND",
    ),
    ("no ID at all", envelope(without("SoDinhDanh")), "SOAP-ENV:Client.id-required", "01", "SoDinhDanh hoặc SoCMND"),
    ("over-long name", envelope(replaced("HoVaTen", "A" * 101)), "SOAP-ENV:Client.field-limit", "01", "HoVaTen"),
    (
        "bad date",
        envelope(replaced("NgayThangNamSinh", "<dan:NgayThangNam>15/01/1990</dan:NgayThangNam>")),
        "SOAP-ENV:Client.field-limit",
        "01",
        "NgayThangNam",
    ),
    (
        "impossible date",
        envelope(replaced("NgayThangNamSinh", "<dan:NgayThangNam>1990-02-30</dan:NgayThangNam>")),
        "SOAP-ENV:Client.field-limit",
        "01",
        "NgayThangNam",
    ),
    (
        "wrong order",
        envelope([VALID_FIELDS[0], VALID_FIELDS[2], VALID_FIELDS[1], *VALID_FIELDS[3:]]),
        "SOAP-ENV:Client.schema",
        "01",
        "MaTichHop",
    ),
    (
        "name before ID",
        envelope([*VALID_FIELDS[:5], VALID_FIELDS[6], VALID_FIELDS[5], VALID_FIELDS[7]]),
        "SOAP-ENV:Client.schema",
        "01",
        "SoDinhDanh",
    ),
    ("unknown field", envelope([*VALID_FIELDS, ("Extra", "x")]), "SOAP-ENV:Client.schema", "01", "Extra"),
    ("wrong namespace", envelope(ns="http://dancuquocgia.bca/v2"), "SOAP-ENV:Client.operation", "01", "namespace"),
    ("unknown operation", envelope(operation="XoaCongDan"), "SOAP-ENV:Client.operation", "01", "operation"),
    ("bad agency code", envelope(replaced("MaDonVi", "UBND-H56")), "SOAP-ENV:Client.agency-code", "01", "MaDonVi"),
    ("verify code on lookup", envelope(operation=tr.OP_LOOKUP), "SOAP-ENV:Client.integration-code", "02", "MaTichHop"),
    (
        "SOAP 1.2",
        envelope(soap_ns="http://www.w3.org/2003/05/soap-envelope"),
        "SOAP-ENV:VersionMismatch",
        None,
        "SOAP 1.1",
    ),
    (
        "mustUnderstand header",
        envelope(header=f'<x:Auth xmlns:x="urn:x" s:mustUnderstand="1" xmlns:s="{SOAP}"/>'),
        "SOAP-ENV:MustUnderstand",
        None,
        "header",
    ),
    ("not XML", b'{"SoDinhDanh": "000090000001"}', "SOAP-ENV:Client.envelope", "01", "XML"),
    ("not an envelope", b"<Envelope/>", "SOAP-ENV:Client.envelope", "01", "envelope"),
    (
        "DTD",
        envelope(prolog="<!DOCTYPE s:Envelope [<!ELEMENT s:Envelope ANY>]>"),
        "SOAP-ENV:Client.envelope",
        "01",
        "DTD",
    ),
    (
        "entities",
        envelope(replaced("HoVaTen", "&n;"), prolog='<!DOCTYPE s:Envelope [<!ENTITY n "A">]>'),
        "SOAP-ENV:Client.envelope",
        "01",
        "DTD",
    ),
    ("too large", envelope(replaced("HoVaTen", "A" * 70_000)), "SOAP-ENV:Client.envelope", "01", "large"),
]


@pytest.mark.parametrize(
    ("body", "faultcode", "error_code", "mentions"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
def test_mock_refuses_with_a_soap_fault(
    mock_http: TestClient, body: bytes, faultcode: str, error_code: str | None, mentions: str
) -> None:
    code, message, maloi = fault_of(post(mock_http, body))
    assert (code, maloi) == (faultcode, error_code)
    assert mentions in message
    assert AN_ID not in message and "00009000000" not in message  # no values echoed


def test_refusals_are_counted_and_recorded(mock_http: TestClient) -> None:
    post(mock_http, envelope(without("MaCanBo")))
    post(mock_http, envelope(operation=tr.OP_LOOKUP))
    stats = mock_http.get("/_mock/stats").json()
    assert stats["rejected"] == {"Client.schema:01": 1, "Client.integration-code:02": 1}
    assert [r["outcome"] for r in mock_http.get("/_mock/requests").json()] == [
        "refused Client.schema:01",
        "refused Client.integration-code:02",
    ]


def test_xxe_in_a_request_reads_nothing(mock_http: TestClient, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-REQ-1234", encoding="utf-8")
    prolog = f'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
    response = post(mock_http, envelope(replaced("HoVaTen", "&x;"), prolog=prolog))
    assert fault_of(response)[0] == "SOAP-ENV:Client.envelope"
    assert b"CANARY-REQ-1234" not in response.content
    assert "CANARY-REQ-1234" not in mock_http.get("/_mock/requests").text


def test_old_id_card_alone_is_accepted(mock_http: TestClient) -> None:
    fields = [*VALID_FIELDS[:5], ("SoCMND", "000000002"), ("HoVaTen", "TRẦN THỊ BÍCH NGỌC"),
              ("NgayThangNamSinh", "<dan:Nam>1985</dan:Nam>")]  # fmt: skip
    response = post(mock_http, envelope(fields))
    assert response.status_code == 200
    assert etree.fromstring(response.content).findtext(f".//{{{tr.REQUEST_NS}}}TonTai") == "true"


def test_admin_views_mask_id_numbers(mock_http: TestClient) -> None:
    post(mock_http, envelope())
    [entry] = mock_http.get("/_mock/requests").json()
    assert entry["SoDinhDanh"] == "*********001" and entry["HoVaTen"] == "N***** V** A*"
    assert entry["outcome"] == "exists" and entry["MaYeuCau"] == "R-1"
    citizens = mock_http.get("/_mock/citizens").text
    assert all(c.id_number not in citizens for c in DEMO_CITIZENS if c.id_number)
    assert mock_http.get("/_mock/stats").json()["answers"] == {"XacThucThongTinCongDan:exists": 1}


def test_duplicate_request_ids_are_counted(mock_http: TestClient) -> None:
    post(mock_http, envelope())
    post(mock_http, envelope())
    assert mock_http.get("/_mock/stats").json()["duplicate_request_ids"] == 1


def test_faults_endpoint_validates_and_resets(mock_http: TestClient, set_faults: Callable[..., dict[str, Any]]) -> None:
    assert mock_http.post("/_mock/faults", json={"fault_rate": 2}).status_code == 422
    assert mock_http.post("/_mock/faults", json={"hostile_kind": "nuke"}).status_code == 422
    assert mock_http.post("/_mock/faults", json={"no_such": 1}).status_code == 422
    assert mock_http.post("/_mock/faults", json=[1]).status_code == 422
    assert set_faults(latency_ms=5, fault_rate=1)["fault_rate"] == 1
    assert mock_http.get("/_mock/faults").json()["latency_ms"] == 5
    assert fault_of(post(mock_http, envelope()))[2] == "99"  # busy by default
    mock_http.post("/_mock/reset")
    assert mock_http.get("/_mock/faults").json() == Faults().model_dump()
    assert post(mock_http, envelope()).status_code == 200


def test_faults_set_at_start() -> None:
    with TestClient(create_app(Faults(fault_rate=1, fault_kind="not_authorised"))) as http:
        assert fault_of(post(http, envelope()))[2] == "02"


def test_cli_flags_become_faults() -> None:
    args = vars(parser().parse_args(["--port", "9999", "--hostile-rate", "1", "--hostile-kind", "xxe",
                                     "--latency-ms", "20", "--population", "5", "--variant", "lgsp_thanhhoa",
                                     "--lenient", "--answer-shape", "thh"]))  # fmt: skip
    assert (args.pop("host"), args.pop("port"), args.pop("population"), args.pop("population_seed")) == (
        "127.0.0.1",
        9999,
        5,
        1,
    )
    assert (args.pop("variant"), args.pop("lenient")) == ("lgsp_thanhhoa", True)
    faults = Faults(**args)
    assert (faults.hostile_rate, faults.hostile_kind, faults.latency_ms, faults.answer_shape) == (1.0, "xxe", 20, "thh")
    with pytest.raises(SystemExit):
        parser().parse_args(["--fault-kind", "nuke"])


# ---------------------------------------------------------------- synthetic data
def test_population_is_deterministic_and_obviously_fake() -> None:
    first, again, other = generated_citizens(1, 50), generated_citizens(1, 50), generated_citizens(2, 50)
    assert [p.model_dump() for p in first] == [p.model_dump() for p in again]
    assert [p.full_name for p in first] != [p.full_name for p in other]
    everyone = [*DEMO_CITIZENS, *first]
    ids = [p.id_number for p in everyone]
    assert len(set(ids)) == len(ids)
    assert all(i is not None and len(i) == 12 and i.isdigit() and i.startswith(FAKE_ID_PREFIX) for i in ids)
    assert all(p.old_id_number is None or p.old_id_number.startswith(FAKE_ID_PREFIX) for p in everyone)


def test_generated_citizens_are_served(mock_http: TestClient) -> None:
    person = generated_citizens(1, 200)[17]
    assert person.id_number is not None and person.full_name is not None and person.birth_date is not None
    fields = replaced("SoDinhDanh", person.id_number)
    fields = [(n, person.full_name if n == "HoVaTen" else v) for n, v in fields]
    fields = [(n, f"<dan:NgayThangNam>{person.birth_date:%Y%m%d}</dan:NgayThangNam>" if n == "NgayThangNamSinh"
               else v) for n, v in fields]  # fmt: skip
    response = post(mock_http, envelope(fields))
    assert response.status_code == 200
    assert [e.text for e in etree.fromstring(response.content).iter(f"{{{tr.REQUEST_NS}}}*")][1:] == [
        "true",
        None,
        "true",
        "true",
        "true",
    ]
