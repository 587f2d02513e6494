"""Vietnamese text: NFC on the wire, names compared with old and new tone placement alike (one function,
used by the connector's ``matches`` and by the mock's decision)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.population_db import PopulationDbClient, PopulationDbSettings
from connectors.population_db import translate as tr
from connectors.population_db.mock import create_app
from hub.citizens.port import VerifyRequest
from hub.citizens.port.text import TONES, name_key, names_match

from .conftest import AN_BIRTH, AN_ID, AN_NAME, lookup_req, verify_req

NFD = lambda s: unicodedata.normalize("NFD", s)  # noqa: E731
# (given, recorded, same person?) - the table the comparison is held to
TABLE: list[tuple[str, str, bool]] = [
    ("Hoà", "Hòa", True),  # old / new tone placement
    ("Thuý", "Thúy", True),
    ("Khoẻ", "Khỏe", True),
    ("Quỳnh", "Qùynh", True),
    ("Thủy", "Thuỷ", True),
    ("Nguyễn Thị Hoà", "NGUYỄN THỊ HÒA", True),  # and case
    ("  nguyễn   thị\thoà ", "Nguyễn Thị Hòa", True),  # and spacing
    (NFD("Thuý"), "Thúy", True),  # NFD input, old placement
    (NFD("Nguyễn Văn An"), "Nguyễn Văn An", True),
    ("Ðức", "Đức", True),  # eth typed for Đ
    ("Lan", "Lân", False),  # a vowel mark is a letter, not a tone
    ("Đức", "Duc", False),
    ("An", "Án", False),  # a tone is still a tone
    ("Hòa", "Hóa", False),
    ("Thúy", "Thùy", False),
    ("Nguyen Van An", "Nguyễn Văn An", False),
    ("Nguyễn An", "Nguyễn Văn An", False),
    # no name at all (None), on purpose
    ("Hoà", None, False),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("given", "recorded", "same"), TABLE, ids=[f"{g}|{r}" for g, r, _ in TABLE])
def test_names_match_table(given: str, recorded: str | None, same: bool) -> None:
    assert names_match(given, recorded) is same
    assert tr.names_match(given, recorded) is same  # translate's is the same function


def test_the_key_separates_the_tone_and_keeps_the_letters() -> None:
    assert name_key("Nguyễn Thị Hoà") == "nguyên4 thi5 hoa2" == name_key("nguyễn thị hòa")
    assert set(TONES) == {"\u0301", "\u0300", "\u0309", "\u0303", "\u0323"}


def test_the_mock_decides_with_the_same_function_end_to_end() -> None:
    """The demo citizen is recorded "Thúy Hòa" (new placement); asked "Thuý Hoà" (old), NFD or not, she matches."""
    with TestClient(create_app(), base_url="http://testserver") as http:
        client = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=http)
        for asked in ("Phạm Thị Thuý Hoà", NFD("phạm thị thuý hoà"), "PHẠM THỊ THÚY HÒA"):
            query: dict[str, Any] = {"id_number": "000195000006", "full_name": asked, "birth_date": 1995}
            assert client.verify(verify_req(**query)).matches["full_name"] is True, asked
            assert client.lookup(lookup_req(**query)).full_name == "Phạm Thị Thúy Hòa"
        assert client.verify(verify_req(id_number="000195000006", full_name="Phạm Thị Thùy Hòa",
                                        birth_date=1995)).matches["full_name"] is False  # fmt: skip


def test_every_text_field_is_sent_nfc() -> None:
    """NFD in every text field we send (name, purpose, officer) leaves as NFC (the strict mock refuses non-NFC)."""
    asked = VerifyRequest(id_number=AN_ID, full_name=NFD(AN_NAME), birth_date=AN_BIRTH, officer_code=NFD("CB.Hà"))
    request = tr.to_soap_request(
        asked,
        tr.WireOptions(NFD("000.00.00.H56"), NFD("VPCP"), "037", uppercase_names=False),
    )
    for name, value in request.items():
        if isinstance(value, str):
            assert unicodedata.is_normalized("NFC", value), name
    with TestClient(create_app(), base_url="http://testserver") as http:
        client = PopulationDbClient(PopulationDbSettings(base_url="http://testserver"), http=http)
        assert client.verify(asked).matches["full_name"]  # the strict mock's text-nfc rule refuses NFD
