"""The agencies port: a directory answers per agency, and a missing agency or section is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.agencies.port import Agency, AgencyNotConfigured, StaticAgencies, require

H56 = {
    "code": "000.00.00.H56",
    "name": "UBND tỉnh Thanh Hóa",
    "province_codes": ["H56"],
    "portal": {"madonvi": "000.00.00.H56"},
}


def test_a_directory_answers_per_agency_and_names_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "agencies.json"
    path.write_text(json.dumps([H56, {"code": "000.701.18.G12", "name": "Cục Thuế"}]), encoding="utf-8")
    agencies = StaticAgencies.from_file(path)
    portal = require(agencies, "000.00.00.H56", "portal").portal
    assert portal is not None and portal.madonvi == "000.00.00.H56"
    assert [a.code for a in agencies.all()] == ["000.00.00.H56", "000.701.18.G12"]
    with pytest.raises(AgencyNotConfigured, match=r"agency 000\.00\.00\.H56 has no paygov configuration"):
        require(agencies, "000.00.00.H56", "paygov")
    with pytest.raises(AgencyNotConfigured, match=r"agency 000\.00\.00\.H99 is not configured"):
        require(agencies, "000.00.00.H99", "portal")


def test_bad_agency_data_is_refused_by_field() -> None:
    with pytest.raises(ValidationError, match="code"):
        Agency.model_validate({**H56, "code": "H56"})
    with pytest.raises(ValidationError, match="province_id"):
        Agency.model_validate(
            {
                **H56,
                "postal": {"customer_code": "C1", "name": "n", "phone": "0", "address": "a"}
                | {"province_id": True, "district_id": 0},
            }
        )
