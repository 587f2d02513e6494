"""Administrative units -> VNPost ids: the shipped official lists, the 2004 and 2025 schemes, the
lineage of 2025 communes, refusals that name the unit, and the operator's file."""

from __future__ import annotations

import json
from datetime import date
from importlib.resources import files
from pathlib import Path

import pytest

from hub.postal.units import Gazetteer, UnitCodes, UnitMap, UnmappableUnit

HEADER = "level,code,vnpost_province,vnpost_district,provenance,source,valid_from,valid_to\n"


def _override(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "vnpost_units.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def test_the_shipped_lists_are_complete() -> None:
    g = Gazetteer.shipped()
    manifest = json.loads((files("hub.postal") / "data" / "SOURCES.json").read_text(encoding="utf-8"))
    counts = {
        "provinces_2004": len(g.provinces_2004),
        "districts_2004": len(g.districts_2004),
        "communes_2004": len(g.communes_2004),
        "provinces_2025": len(g.provinces_2025),
        "communes_2025": len(g.communes_2025),
    }
    assert (
        counts
        == manifest["counts"]
        == {
            "provinces_2004": 63,
            "districts_2004": 696,
            "communes_2004": 10035,
            "provinces_2025": 34,
            "communes_2025": 3321,
        }
    )
    assert manifest["package"] == "vietnamadminunits" and manifest["version"] == "1.0.4"
    assert set(g.lineage) == set(g.communes_2025) and all(w or p for w, p in g.lineage.values())
    # the 34 provinces of 2025 are pre-2025 codes that each kept one predecessor's code (§6)
    assert set(g.provinces_2025) <= set(g.provinces_2004) and "02" not in g.provinces_2025


def test_confirmed_province_ids() -> None:
    m = UnitMap.load(placeholders=True)
    assert m.resolve(UnitCodes("01", "001")).province_id == 10  # Hà Nội (GSO 01)
    hd = m.resolve(UnitCodes("30", "288"))  # Hải Dương (GSO 30), TP Hải Dương
    assert hd.province_id == 16 and hd.district_id == 90288 and hd.provenance == "placeholder"


def test_without_placeholders_an_unknown_district_is_refused_by_name() -> None:
    with pytest.raises(UnmappableUnit) as refused:
        UnitMap.load().resolve(UnitCodes("01", "001", "00001"), field="receiver")
    e = refused.value
    assert (e.field, e.level, e.code) == ("receiver", "district", "001")
    assert str(e).startswith("receiver: district 001 (Quận Ba Đình) has no VNPost id")


def test_2025_communes_reach_a_district_through_their_lineage() -> None:
    m = UnitMap.load(placeholders=True)
    whole = m.resolve(UnitCodes("01", commune="00008"))  # Ngọc Hà: wholly from Ba Đình (001), partly Cầu Giấy
    assert (whole.province_id, whole.district_id) == (10, 90001) and "00008" in whole.via
    part_only = m.resolve(UnitCodes("01", commune="00127"))  # Việt Hưng: only parts of Long Biên (004)
    assert part_only.district_id == 90004
    merged = m.resolve(UnitCodes("31", commune="10525"))  # Phường Hải Dương, Hải Phòng since 2025
    assert merged.province_id == 16 and merged.district_id == 90288  # VNPost still sees Hải Dương


@pytest.mark.parametrize(("commune", "listed"), [("00097", "001 (Quận Ba Đình), 002"), ("00091", "003 (Quận Tây Hồ)")])
def test_a_commune_spanning_districts_is_refused_not_guessed(commune: str, listed: str) -> None:
    with pytest.raises(UnmappableUnit, match="spans pre-2025 districts") as refused:
        UnitMap.load(placeholders=True).resolve(UnitCodes("01", commune=commune))
    assert listed in str(refused.value)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        (UnitCodes("02", commune="00691"), "province 02 (Tỉnh Hà Giang) is not a province since 1 July 2025"),
        (UnitCodes("08", commune="99999"), "commune 99999 is not a 2025 commune of province 08"),
        (UnitCodes("01", commune="10525"), "commune 10525 is not a 2025 commune of province 01"),
        (UnitCodes("01", "288"), "district 288 is not a 2004 district of province 01"),
        (UnitCodes("30", "288", "00001"), "commune 00001 is not a 2004 commune of district 288"),
        (UnitCodes("99", "001"), "province 99 is not a province of the 2004 list"),
        (UnitCodes("01"), "province 01 needs a commune (2025 codes) or a district (2004)"),
        (UnitCodes("1"), "province '1' is not a 2-digit code"),
        (UnitCodes("01", "1234"), "district '1234' is not a 3-digit code"),
        (UnitCodes("01", commune="٠٠٠٠٨"), "is not a 5-digit code"),
    ],
)
def test_refusals_name_the_unit_and_the_rule(codes: UnitCodes, message: str) -> None:
    with pytest.raises(UnmappableUnit, match=message.replace("(", r"\(").replace(")", r"\)")):
        UnitMap.load(placeholders=True).resolve(codes)


def test_effective_dates() -> None:
    m = UnitMap.load(placeholders=True, legacy_until=date(2026, 6, 30))
    with pytest.raises(UnmappableUnit, match="not in force before 1 July 2025"):
        m.resolve(UnitCodes("01", commune="00008"), on=date(2025, 6, 30))
    assert m.resolve(UnitCodes("01", commune="00008"), on=date(2025, 7, 1)).district_id == 90001
    assert m.resolve(UnitCodes("01", "001"), on=date(2025, 12, 1)).province_id == 10  # old codes stay usable
    with pytest.raises(UnmappableUnit, match="not accepted after 2026-06-30"):
        m.resolve(UnitCodes("01", "001"), on=date(2026, 7, 1))


def test_the_operators_file_extends_and_overrides(tmp_path: Path) -> None:
    path = _override(
        tmp_path,
        "district,001,,1110,operator,VNPost getAllDistrict 2025-12,,\n"
        "province,38,44,,confirmed,VNPost list,,\n"
        "district,380,,4410,inferred,,,\n"
        "commune2025,00097,10,1100,operator,VNPost answer,,\n"
        "province,01,11,,operator,renumbered,2030-01-01,\n",
    )
    m = UnitMap.load(path)
    ba_dinh = m.resolve(UnitCodes("01", "001"), on=date(2026, 1, 1))
    assert (ba_dinh.province_id, ba_dinh.district_id, ba_dinh.provenance) == (10, 1110, "operator")
    assert m.resolve(UnitCodes("01", "001"), on=date(2030, 1, 2)).province_id == 11  # dated row
    assert m.resolve(UnitCodes("01", commune="00008")).district_id == 1110  # lineage reaches the operator's row
    assert m.resolve(UnitCodes("01", commune="00097")).district_id == 1100  # a spanning commune, mapped by hand
    thanh_hoa = m.resolve(UnitCodes("38", "380"))
    assert (thanh_hoa.province_id, thanh_hoa.district_id, thanh_hoa.provenance) == (44, 4410, "inferred")
    strict = UnitMap.load(path, accept=frozenset({"confirmed", "operator"}))
    with pytest.raises(UnmappableUnit, match="has only a VNPost id of provenance 'inferred'"):
        strict.resolve(UnitCodes("38", "380"))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("county,001,,1,operator,,,\n", "level must be one of"),
        ("district,999,,1,operator,,,\n", "district '999' is not in the official list"),
        ("district,001,,x,operator,,,\n", "invalid literal"),
        ("district,001,,,operator,,,\n", "VNPost ids must be integers"),
        ("district,001,,-1,operator,,,\n", "VNPost ids must be integers"),
        ("district,001,,5,guessed,,,\n", "provenance one of"),
        ("district,001,,5,operator,,2025-13-01,\n", "month must be in"),
    ],
)
def test_a_bad_row_in_the_operators_file_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    path = _override(tmp_path, "province,01,10,,operator,,,\n" + row)
    with pytest.raises(ValueError, match=message) as refused:
        UnitMap.load(path)
    assert f"{path}:3:" in str(refused.value)


def test_district_zero_mode() -> None:
    unit = UnitMap.load(unknown_district="zero").resolve(UnitCodes("01", "001"))
    assert (unit.province_id, unit.district_id, unit.provenance) == (10, 0, "district-zero")
    with pytest.raises(UnmappableUnit, match="province 38"):
        UnitMap.load(unknown_district="zero").resolve(UnitCodes("38", "380"))  # a province is never zero


def test_known_ids_for_the_mock() -> None:
    known = UnitMap.load(placeholders=True).known_ids()
    assert len(known) == 63 and sum(len(d) for d in known.values()) == 696
    assert 90001 in known[10] and 90288 in known[16]
    assert UnitMap.load().known_ids() == {}  # nothing of VNPost's district ids is public
