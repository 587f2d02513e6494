"""Synthetic citizens for the mock, demos and tests: obviously fake, deterministic.

Every ID number starts with ``000``: no province has code 000 [I], so no real citizen can have such a
number. The fixed demo citizens are documented in ``mock.py``; the generated ones are the same for
the same seed.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

from hub.citizens.port.models import Address, CitizenRecord, HouseholdHead, RelatedPerson

from . import translate as tr

FAKE_ID_PREFIX = "000"
SYNTHETIC_NOTE = "Dữ liệu giả lập (synthetic test data)"


def _addr(province: str, district: str | None, ward: str, detail: str) -> Address:
    return Address(province_code=province, district_code=district, ward_code=ward, detail=detail, country="VN")


def _citizen(id_number: str, full_name: str, birth: date | int, gender: str, **extra: Any) -> CitizenRecord:
    fields: dict[str, Any] = {
        "id_number": id_number,
        "full_name": full_name,
        "name_parts": tr.split_name(full_name),
        "birth_date": birth if isinstance(birth, date) else None,
        "birth_year": birth if isinstance(birth, int) else birth.year,
        "gender": gender,
        "nationality": "VN",
        "ethnicity": "01",
        **extra,
    }
    return CitizenRecord(**fields)


DEMO_CITIZENS: tuple[CitizenRecord, ...] = (
    _citizen(
        "000090000001",
        "Nguyễn Văn An",
        date(1990, 1, 15),
        "1",
        religion="00",
        marital_status="2",
        blood_type="O",
        birth_registration_place=_addr("38", "380", "14758", "UBND phường Thử Nghiệm"),
        place_of_origin=_addr("38", "380", "14758", "Thôn Giả Lập"),
        permanent_address=_addr("38", "380", "14758", "Số 1 đường Thử Nghiệm"),
        current_address=_addr("38", "380", "14758", "Số 1 đường Thử Nghiệm"),
        father=RelatedPerson(full_name="Nguyễn Văn Cường", nationality="VN", id_number="000060000011"),
        mother=RelatedPerson(full_name="Lê Thị Dung", nationality="VN", id_number="000163000012"),
        spouse=RelatedPerson(full_name="Trần Thị Bình", nationality="VN", id_number="000192000005"),
        household_head=HouseholdHead(relationship="Chủ hộ", full_name="Nguyễn Văn An", id_number="000090000001"),
        household_book_number="000000001",
    ),
    _citizen(
        "000185000002",
        "Trần Thị Bích Ngọc",
        1985,
        "2",
        old_id_number="000000002",
        religion="00",
        permanent_address=_addr("01", "001", "00001", "Tổ 1, phường Giả Lập"),
    ),
    _citizen(
        "000300000003",
        "Lê Minh Đức",
        date(2000, 2, 29),
        "1",
        permanent_address=Address(province_code="38", ward_code="15000", detail="Xóm Thử Nghiệm"),
    ),
    _citizen(
        "000192000005",
        "Trần Thị Bình",
        date(1992, 6, 30),
        "2",
        religion="00",
        marital_status="2",
        spouse=RelatedPerson(full_name="Nguyễn Văn An", nationality="VN", id_number="000090000001"),
        permanent_address=_addr("38", "380", "14758", "Số 1 đường Thử Nghiệm"),
    ),
    _citizen(  # recorded with the new tone placement (ú, ò); asked with the old one (uý, oà) it still matches
        "000195000006",
        "Phạm Thị Thúy Hòa",
        date(1995, 3, 8),
        "2",
        permanent_address=_addr("38", None, "15000", "Xóm Thử Nghiệm"),
    ),
)

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Vũ", "Đặng", "Bùi", "Đỗ")
_MIDDLE = {"1": ("Văn", "Hữu", "Đức", "Minh", "Quang"), "2": ("Thị", "Ngọc", "Thu", "Thanh", "Kim")}
_GIVEN = {
    "1": ("An", "Bảo", "Cường", "Dũng", "Hải", "Hùng", "Khoa", "Long", "Nam", "Tuấn"),
    "2": ("Anh", "Bích", "Chi", "Hà", "Hoa", "Lan", "Linh", "Mai", "Ngọc", "Trang"),
}


def generated_citizens(seed: int, count: int) -> list[CitizenRecord]:
    """``count`` synthetic citizens, the same for the same seed; numbers ``000`` + CCCD-like tail."""
    rng = random.Random(seed)
    people = []
    for serial in range(100000, 100000 + count):
        gender = rng.choice(("1", "2"))
        born = date(rng.randint(1940, 2010), rng.randint(1, 12), rng.randint(1, 28))
        century_digit = (0 if born.year < 2000 else 2) + (0 if gender == "1" else 1)
        number = f"{FAKE_ID_PREFIX}{century_digit}{born.year % 100:02d}{serial:06d}"
        name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE[gender])} {rng.choice(_GIVEN[gender])}"
        province = rng.choice(("01", "38", "79"))
        address = _addr(province, None, f"{rng.randint(1, 32000):05d}", f"Số {rng.randint(1, 999)} đường Giả Lập")
        people.append(_citizen(number, name, born, gender, religion="00", permanent_address=address))
    return people
