"""Golden files and the pure translation rules: canonical <-> SOAP."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from pydantic import ValidationError

from connectors.population_db import OP_LOOKUP, OP_VERIFY, PopulationDbClient, PopulationDbSettings
from connectors.population_db import translate as tr
from hub.citizens.port import CITIZEN_FIELDS, CitizenRecord, LookupRequest
from hub.citizens.port.models import CitizenQuery

from .conftest import AN_ID, AN_NAME, OFFICER, lookup_req, verify_req

GOLDEN = Path(__file__).parent / "golden"
ENVELOPE_CASES = sorted(p.name.removesuffix(".in.json") for p in GOLDEN.glob("*.in.json"))
RESPONSE_CASES = sorted(p.stem for p in GOLDEN.glob("congdan_*.xml"))
OPTIONS = tr.WireOptions(agency_code="000.00.00.H56", service_code="VPCP", integration_code="037")


def c14n(xml: bytes) -> bytes:
    """Exclusive-of-formatting canonical form: blank text between elements dropped, then C14N 1.0."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return bytes(etree.tostring(etree.fromstring(xml, parser), method="c14n"))


def test_the_golden_cases_are_all_there() -> None:
    assert ENVELOPE_CASES == ["lookup_old_id_year", "verify_full_date"]
    assert RESPONSE_CASES == ["congdan_full", "congdan_sparse"]


@pytest.mark.parametrize("case", ENVELOPE_CASES)
def test_golden_envelope(case: str) -> None:
    spec = json.loads((GOLDEN / f"{case}.in.json").read_text(encoding="utf-8"))
    query = CitizenQuery.model_validate(spec["request"])
    produced = PopulationDbClient().build_envelope(spec["operation"], query)
    expected = (GOLDEN / f"{case}.envelope.xml").read_bytes()
    assert c14n(etree.tostring(produced)) == c14n(expected)


@pytest.mark.parametrize(
    ("case", "id_number", "birth"), [("congdan_full", AN_ID, 1990), ("congdan_sparse", "000300000003", 2000)]
)
def test_golden_collection_to_record(case: str, id_number: str, birth: int) -> None:
    """Golden answer -> zeep (strict, hardened) -> translate -> the canonical record, exactly."""
    body = (GOLDEN / f"{case}.xml").read_bytes()
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)))
    with PopulationDbClient(PopulationDbSettings(), http=http) as client:
        record = client.lookup(lookup_req(id_number=id_number, birth_date=birth))
    expected = json.loads((GOLDEN / f"{case}.out.json").read_text(encoding="utf-8"))
    assert record.model_dump(mode="json") == expected


def test_request_fields_come_in_the_documented_order() -> None:
    request = tr.to_soap_request(verify_req(), OPTIONS)
    assert list(request) == [
        "MaYeuCau",
        "MaDVC",
        "MaTichHop",
        "MaDonVi",
        "MaCanBo",
        "SoDinhDanh",
        "HoVaTen",
        "NgayThangNamSinh",
    ]


def test_old_id_card_is_sent_as_socmnd_only() -> None:
    request = tr.to_soap_request(verify_req(id_number="000000002"), OPTIONS)
    assert request["SoCMND"] == "000000002" and "SoDinhDanh" not in request


def test_purpose_is_the_service_code_and_defaults_to_the_setting() -> None:
    assert tr.to_soap_request(verify_req(purpose="1.001234"), OPTIONS)["MaDVC"] == "1.001234"
    assert tr.to_soap_request(verify_req(), OPTIONS)["MaDVC"] == "VPCP"


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (date(1990, 1, 5), "yyyy-mm-dd", {"NgayThangNam": "1990-01-05"}),
        (date(1990, 1, 5), "yyyymmdd", {"NgayThangNam": "19900105"}),
        (1985, "yyyy-mm-dd", {"Nam": "1985"}),
    ],
)
def test_wire_birth_date(value: date | int, fmt: str, expected: dict[str, str]) -> None:
    assert tr.wire_birth_date(value, fmt) == expected


def test_wire_name_is_nfc_collapsed_and_upper_cased() -> None:
    decomposed = unicodedata.normalize("NFD", "  nguyễn\tvăn   an ")
    assert tr.wire_name(decomposed, uppercase=True) == unicodedata.normalize("NFC", "NGUYỄN VĂN AN")
    assert tr.wire_name(decomposed, uppercase=False) == unicodedata.normalize("NFC", "nguyễn văn an")


@pytest.mark.parametrize(
    ("given", "recorded", "expected"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An", True),
        ("NGUYỄN VĂN AN", "Nguyễn Văn An", True),  # case
        ("  nguyễn   văn\tan ", "Nguyễn Văn An", True),  # whitespace
        (unicodedata.normalize("NFD", "Nguyễn Văn An"), "Nguyễn Văn An", True),  # NFD vs NFC
        ("ĐỨC", "đức", True),  # Đ/đ
        ("Nguyen Van An", "Nguyễn Văn An", False),  # diacritics are significant
        ("Nguyễn Văn Ân", "Nguyễn Văn An", False),
        ("Nguyễn An", "Nguyễn Văn An", False),
        ("Nguyễn Văn An", None, False),
    ],
)
def test_names_match(given: str, recorded: str | None, expected: bool) -> None:
    assert tr.names_match(given, recorded) is expected


@pytest.mark.parametrize(
    ("given", "rec_date", "rec_year", "expected"),
    [
        (date(1990, 1, 15), date(1990, 1, 15), 1990, True),
        (date(1990, 1, 16), date(1990, 1, 15), 1990, False),
        (1990, date(1990, 1, 15), 1990, True),  # a year matches the record's year
        (1990, date(1990, 1, 15), None, True),
        (1991, date(1990, 1, 15), 1990, False),
        (date(1985, 7, 1), None, 1985, True),  # year-only record: the year decides
        (date(1986, 7, 1), None, 1985, False),
        (1985, None, None, False),  # nothing recorded: no match
    ],
)
def test_birth_date_matches(given: date | int, rec_date: date | None, rec_year: int | None, expected: bool) -> None:
    assert tr.birth_date_matches(given, rec_date, rec_year) is expected


@pytest.mark.parametrize(
    ("answer", "exists", "matches"),
    [
        (True, True, (True, True, True)),  # TonTai only: the combined check
        (False, False, (False, False, False)),
        ({"TonTai": "true", "ChiTietKhop": None}, True, (True, True, True)),
        (
            {"TonTai": True, "ChiTietKhop": {"SoDinhDanh": True, "HoVaTen": "false", "NgayThangNamSinh": "1"}},
            True,
            (True, False, True),
        ),
        (
            {"TonTai": "0", "ChiTietKhop": {"SoDinhDanh": True, "HoVaTen": True, "NgayThangNamSinh": True}},
            False,
            (False, False, False),
        ),
        (
            {"TonTai": True, "ChiTietKhop": {"SoDinhDanh": True, "HoVaTen": None, "NgayThangNamSinh": "?"}},
            True,
            (True, False, False),
        ),
    ],
)
def test_verify_result(answer: Any, exists: bool, matches: tuple[bool, bool, bool]) -> None:
    result = tr.to_verify_result(answer, verify_req(request_id="R-1"))
    assert result.exists is exists
    assert result.matches == dict(zip(("id_number", "full_name", "birth_date"), matches, strict=True))
    assert result.request_id == "R-1"


@pytest.mark.parametrize("answer", [None, {}, {"TonTai": "maybe"}, {"ChiTietKhop": {}}, "yes"])
def test_verify_answer_without_readable_tontai_is_refused(answer: Any) -> None:
    with pytest.raises(ValueError):
        tr.to_verify_result(answer, verify_req())


def test_a_single_congdan_object_is_read_as_a_one_element_list() -> None:
    record = tr.pick_citizen({"CongDan": {"SoDinhDanh": AN_ID, "HoVaTen": {"Ho": "Nguyễn", "Ten": "An"}}}, AN_ID)
    assert record is not None and record.full_name == "Nguyễn An" and record.id_number == AN_ID


def test_pick_citizen_refuses_other_peoples_records_and_empty_collections() -> None:
    other = {"SoDinhDanh": "000300000099", "HoVaTen": {"Ten": "Else"}}
    assert tr.pick_citizen({"CongDan": [other]}, AN_ID) is None
    assert tr.pick_citizen({"CongDan": [], "SoCongDan": "0"}, AN_ID) is None
    assert tr.pick_citizen({"CongDan": None}, AN_ID) is None
    assert tr.pick_citizen({}, AN_ID) is None
    lone = tr.pick_citizen({"CongDan": [{"HoVaTen": {"Ten": "Lone"}}]}, AN_ID)  # no number at all: the answer
    assert lone is not None and lone.full_name == "Lone"


def test_old_id_card_selects_the_record_by_socmnd() -> None:
    collection = {"CongDan": [{"SoDinhDanh": "000185000002", "SoCMND": "000000002"}]}
    record = tr.pick_citizen(collection, "000000002")
    assert record is not None and record.id_number == "000185000002"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1990-01-15", date(1990, 1, 15)), ("19900115", date(1990, 1, 15)), ("15/01/1990", date(1990, 1, 15)),
     ("1990-01-15T00:00:00", date(1990, 1, 15)), ("1990", None), ("", None), ("  ", None), (None, None),
     ("1990-02-30", None)],
)  # fmt: skip
def test_parse_birth_date(raw: str | None, expected: date | None) -> None:
    assert tr.parse_birth_date(raw) == expected


def test_empty_whitespace_and_nested_values_are_none() -> None:
    assert [tr.text(v) for v in ("", "   ", None, {"a": 1}, [1], " a  b ")] == [None] * 5 + ["a b"]
    assert tr.as_list(None) == [] and tr.as_list({"a": 1}) == [{"a": 1}] and tr.as_list([1, None]) == [1]


def test_a_name_given_as_one_string_is_accepted() -> None:
    record = tr.to_citizen_record({"SoDinhDanh": AN_ID, "HoVaTen": " Nguyễn  Văn An "})
    assert record.full_name == AN_NAME and record.name_parts is None


def test_split_name() -> None:
    assert tr.split_name("Trần Thị Bích Ngọc").model_dump() == {"family": "Trần", "middle": "Thị Bích", "given": "Ngọc"}
    assert tr.split_name("Lê Đức").middle is None
    assert tr.split_name("Hoa").model_dump() == {"family": None, "middle": None, "given": "Hoa"}


def test_record_restricted_to_granted_fields() -> None:
    record = tr.to_citizen_record({"SoDinhDanh": AN_ID, "HoVaTen": {"Ho": "Nguyễn", "Ten": "An"}, "GioiTinh": "1"})
    assert record.restricted(["full_name", "gender", "no_such_field"]) == {"full_name": "Nguyễn An", "gender": "1"}
    assert record.restricted([]) == {}
    assert set(CITIZEN_FIELDS) >= {"id_number", "full_name", "birth_date", "permanent_address", "father", "spouse"}


def test_match_flags_compare_the_way_the_database_does() -> None:
    record = tr.to_citizen_record({"SoDinhDanh": AN_ID, "HoVaTen": {"Ho": "Nguyễn", "ChuDem": "Văn", "Ten": "An"},
                                   "NgayThangNamSinh": {"NgayThangNam": "1990-01-15"}})  # fmt: skip
    assert tr.match_flags(AN_ID, "nguyễn văn an", 1990, record) == {
        "id_number": True,
        "full_name": True,
        "birth_date": True,
    }
    assert tr.match_flags(AN_ID, "Nguyen Van An", date(1990, 1, 16), record) == {
        "id_number": True,
        "full_name": False,
        "birth_date": False,
    }
    assert tr.match_flags(AN_ID, AN_NAME, 1990, None) == dict.fromkeys(("id_number", "full_name", "birth_date"), False)


# ---------------------------------------------------------------- canonical models
@pytest.mark.parametrize(
    "overrides",
    [
        {"id_number": "03809901234"},  # 11 digits
        {"id_number": "0380990123456"},  # 13 digits
        {"id_number": "03809901234a"},
        {"full_name": "   "},
        {"full_name": "An\x00"},
        {"full_name": "x" * 101},
        {"birth_date": 1799},
        {"birth_date": "not a date"},
        {"officer_code": "two words"},
        {"officer_code": "x" * 21},
        {"purpose": "has space"},
        {"purpose": "x" * 21},
        {"request_id": "x" * 41},
        {"request_id": "<injection/>"},
        {"unexpected": 1},
    ],
)
def test_invalid_requests_are_refused_without_echoing_the_input(overrides: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"id_number": "038099012345", "full_name": "Phạm Thị Thu", "birth_date": date(1999, 9, 9),
                              "officer_code": OFFICER} | overrides  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        LookupRequest(**fields)
    message = str(caught.value)
    for value in (*fields.values(), "038099012345", "Phạm Thị Thu"):
        if isinstance(value, str) and len(value.strip()) > 2:
            assert value not in message


def test_requests_and_records_never_show_personal_data_in_repr() -> None:
    request = verify_req()
    record = CitizenRecord(id_number=AN_ID, full_name=AN_NAME)
    for shown in (repr(request), str(request), repr(record), str(record)):
        assert AN_ID not in shown and AN_NAME not in shown and "masked" in shown
    assert "exists=True" in repr(tr.to_verify_result(True, request))


def test_request_cleans_the_name_and_accepts_a_year_or_an_iso_date() -> None:
    assert verify_req(full_name="  Nguyễn   Văn  An ").full_name == AN_NAME
    assert verify_req(birth_date=1990).birth_date == 1990
    assert LookupRequest.model_validate(
        {"id_number": AN_ID, "full_name": AN_NAME, "birth_date": "1990-01-15", "officer_code": OFFICER}
    ).birth_date == date(1990, 1, 15)
    a, b = verify_req(), verify_req()
    assert a.request_id != b.request_id and len(a.request_id) <= 40


def test_operation_names() -> None:
    assert (OP_VERIFY, OP_LOOKUP) == ("XacThucThongTinCongDan", "TraCuuThongTinCongDan")


def test_audit_view_keeps_codes_and_a_masked_id_only() -> None:
    view = verify_req(request_id="R-9", purpose="1.001234").audit_view()
    assert view == {"request_id": "R-9", "officer_code": OFFICER, "purpose": "1.001234", "id_number": "*********001"}
    assert AN_NAME not in str(view) and AN_ID not in str(view)
