"""Answers with more than the vendored schema lists: read past and counted, never refused, nothing known lost;
markup that cannot be read safely still refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db import translate as tr
from connectors.population_db.answers import parse_hardened, read_soap
from connectors.population_db.errors import HostileMarkup, MalformedAnswer
from connectors.population_db.mock import Faults, create_app
from connectors.population_db.mock_soap import billion_laughs, with_dtd, xxe
from connectors.population_db.schema import WSDL_DIR, answer_shapes
from hub.citizens.port import UnsafeResponse

from .conftest import AN_ID, lookup_req, verify_req

ENV = '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>{}</e:Body></e:Envelope>'
NS1 = 'xmlns:n="http://www.mic.gov.vn/dancu/1.0"'


def collection(congdan: str, attrs: str = 'SoCongDan="1"') -> str:
    return ENV.format(f"<n:CongdanCollection {NS1} {attrs}><n:CongDan>{congdan}</n:CongDan></n:CongdanCollection>")


def lookup_of(body: str) -> Any:
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, text=body)))
    with PopulationDbClient(PopulationDbSettings(base_url="https://popdb.test"), http=http) as client:
        return client.lookup(lookup_req())


def test_the_thh_shape_from_the_mock_is_read_whole_and_the_extras_counted() -> None:
    """End to end: the mock answers as THH reads it (account fields, unit names, plain-text names)."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(Faults(answer_shape="thh")), base_url="http://testserver") as http:
        client = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=http)
        record = client.lookup(lookup_req())
        verified = client.verify(verify_req())
    assert record.ignored.count == 3
    assert record.ignored.paths == ("CongDan/LoaiTaiKhoan", "CongDan/MaSoThue", "CongDan/ThuDienTu")
    assert record.permanent_address is not None and record.permanent_address.province_name == "Tỉnh Thanh Hóa"
    assert record.permanent_address.ward_name == "Phường Thử Nghiệm 14758"
    assert record.father is not None and record.father.full_name == "Nguyễn Văn Cường"  # a plain string
    assert record.household_head is not None and record.household_head.full_name == "Nguyễn Văn An"
    assert "cong.dan@example.invalid" not in record.model_dump_json()  # read past, never kept
    assert verified.exists and verified.ignored.paths == ("ThoiDiemXacThuc",)


@pytest.mark.parametrize(
    ("congdan", "paths"),
    [
        ("<n:ThuDienTu>a@b.invalid</n:ThuDienTu><n:MaSoThue>0000000000</n:MaSoThue>",
         ("CongDan/ThuDienTu", "CongDan/MaSoThue")),
        ("<n:ThuongTru><n:MaTinhThanh>38</n:MaTinhThanh><n:Loai>x</n:Loai></n:ThuongTru>", ("CongDan/ThuongTru/Loai",)),
        ('<n:ThuongTru loai="1"><n:MaTinhThanh>38</n:MaTinhThanh></n:ThuongTru>', ("CongDan/ThuongTru/@loai",)),
        ('<x:Khac xmlns:x="urn:other">1</x:Khac>', ("CongDan/Khac",)),  # another namespace: not ours
        ("<n:A000090000001>x</n:A000090000001>", ("CongDan/?",)),  # a name that could carry a number
        ("<n:Moi><n:Sau><n:Hon>1</n:Hon></n:Sau></n:Moi>", ("CongDan/Moi",)),  # not read into at all
    ],
    ids=["account-fields", "unknown-in-address", "unknown-attribute", "foreign-namespace", "unsafe-name", "subtree"],
)  # fmt: skip
def test_unknown_elements_are_read_past_and_counted(congdan: str, paths: tuple[str, ...]) -> None:
    record = lookup_of(collection(f"<n:SoDinhDanh>{AN_ID}</n:SoDinhDanh>{congdan}"))
    assert record.id_number == AN_ID
    assert record.ignored.paths == paths and record.ignored.count == len(paths)


def test_nothing_known_is_dropped() -> None:
    names = "".join(f"<n:{n}>{v}</n:{n}>" for n, v in [("TenTinhThanh", "Tỉnh Thanh Hóa"), ("TenQuanHuyen", "Q"),
                                                      ("TenPhuongXa", "P"), ("MaTinhThanh", "38")])  # fmt: skip
    body = collection(
        f"<n:SoDinhDanh>{AN_ID}</n:SoDinhDanh><n:HoVaTen>Nguyễn  Văn An</n:HoVaTen>"
        f"<n:NoiOHienTai>{names}</n:NoiOHienTai>"
        "<n:Me><n:HoVaTen>Lê Thị Dung</n:HoVaTen></n:Me><n:ChuHo><n:HoVaTen>Nguyễn Văn An</n:HoVaTen></n:ChuHo>"
    )
    record = lookup_of(body)
    assert record.full_name == "Nguyễn Văn An" and record.name_parts is None  # one string: read, not split
    assert record.current_address is not None
    assert (record.current_address.province_name, record.current_address.district_name) == ("Tỉnh Thanh Hóa", "Q")
    assert record.mother is not None and record.mother.full_name == "Lê Thị Dung"
    assert record.ignored.count == 0


@pytest.mark.parametrize(
    "congdan",
    [
        f"<n:SoDinhDanh><n:So>{AN_ID}</n:So></n:SoDinhDanh>",  # a structure where text is due
        "<n:ThuongTru>Số 1 đường Thử Nghiệm</n:ThuongTru>",  # text where a structure is due
        f"<n:SoDinhDanh>{AN_ID}</n:SoDinhDanh><n:SoDinhDanh>000090000009</n:SoDinhDanh>",  # which one?
        "<n:HoVaTen>Nguyễn <n:Ten>An</n:Ten></n:HoVaTen>",  # a name both ways at once
    ],
    ids=["structure-for-text", "text-for-structure", "known-field-twice", "mixed-name"],
)
def test_a_known_element_in_an_unreadable_shape_is_refused(congdan: str) -> None:
    with pytest.raises(UnsafeResponse) as caught:
        lookup_of(collection(congdan))
    assert caught.value.reason == "outside-schema"


def test_a_count_that_disagrees_with_the_records_is_not_read_as_not_found() -> None:
    body = ENV.format(f'<n:CongdanCollection {NS1} SoCongDan="1"><x:CongDan xmlns:x="urn:v2"/></n:CongdanCollection>')
    with pytest.raises(UnsafeResponse) as caught:
        lookup_of(body)
    assert caught.value.reason == "unexpected-content"


def test_the_reader_knows_exactly_what_the_vendored_schema_lists() -> None:
    """The shapes come from the XSDs (no hand-kept list to drift): every element the schema declares is known."""
    text = (WSDL_DIR / "congdan.xsd").read_text(encoding="utf-8")
    collection = answer_shapes()["CongdanCollection"].children
    assert collection is not None
    congdan = collection["CongDan"]
    assert congdan.children is not None
    for name in congdan.children:
        assert f'name="{name}"' in text
    address = congdan.children["ThuongTru"].children
    assert address is not None and {"TenTinhThanh", "TenQuanHuyen", "TenPhuongXa", "MaTinhThanh"} <= set(address)
    father = congdan.children["Cha"].children
    assert father is not None
    assert congdan.children["HoVaTen"].mixed and father["HoVaTen"].mixed


# ---------------------------------------------------------------- still hardened
@pytest.mark.parametrize(
    "payload",
    [lambda p: billion_laughs(tr.OP_LOOKUP), lambda p: xxe(tr.OP_LOOKUP, p), lambda p: with_dtd(tr.OP_VERIFY)],
    ids=["billion-laughs", "xxe", "dtd"],
)
def test_the_parser_refuses_hostile_xml_on_its_own(payload: Callable[[Path], bytes], tmp_path: Path) -> None:
    """Second line of defence: without the byte scan, the hardened parse still refuses DTDs and entities."""
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-2nd-line", encoding="utf-8")
    with pytest.raises((HostileMarkup, MalformedAnswer)):
        parse_hardened(payload(secret))


def test_hostile_xml_hidden_from_the_byte_scan_is_refused_after_parsing() -> None:
    """UTF-16 hides ``<!DOCTYPE`` from a byte scan; the parsed document's DTD is checked too."""
    body = with_dtd(tr.OP_VERIFY).decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(HostileMarkup):
        read_soap(tr.OP_VERIFY, body.encode("utf-16"))


def test_unknown_elements_in_a_verify_answer_are_counted() -> None:
    answer = ENV.format(
        '<d:KetQuaXacThucResponse xmlns:d="http://dancuquocgia.bca"><d:TonTai>true</d:TonTai>'
        "<d:MaKetQua>00</d:MaKetQua></d:KetQuaXacThucResponse>"
    )
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, text=answer)))
    with PopulationDbClient(PopulationDbSettings(base_url="https://popdb.test"), http=http) as client:
        result = client.verify(verify_req())
    assert result.exists and result.ignored.paths == ("MaKetQua",)
