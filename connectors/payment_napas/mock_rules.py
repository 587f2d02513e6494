"""The rules the mock PayGov applies, and what it cannot know: its capability card.

Each refusal answers in PayGov's own shape (INIT ``{"error_code", "message"}``, QUERY ``{"MaLoi",
"MoTaLoi"}``) with the code of the rule; messages name fields and rules, never values. In **strict** mode
(the default, and the tests') every rule applies; **lenient** mode (``--lenient``) keeps only the rules
that are not ``strict_only``, for trying out a client that is not finished. ``GET /_mock/card`` serves
:data:`RULES` and :data:`CANNOT_KNOW`; ``docs/partners.md`` ties each rule to the fact it stands for and
to its tests.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: str
    facts: tuple[str, ...]  # docs/partners.md row ids
    basis: str  # "C": documented; "I": we infer PayGov enforces it
    code: str  # the answer's error_code (INIT) or MaLoi (QUERY)
    strict_only: bool
    what: str


RULES: tuple[Rule, ...] = (
    Rule("bearer", ("S2.1-02",), "C", "HTTP 401", False, "no or a wrong static Authorization: Bearer token"),
    Rule(
        "init-version", ("S2.1-01", "S2.1-04"), "C", "error_code 1", False, "LoaiBanTin/PhienBan other than INIT 1.0.6"
    ),
    Rule("partner", ("S2.1-04", "S2.1-09"), "I", "error_code 4 / MaLoi 99", False, "an unknown MaDoiTac"),
    Rule("signature", ("S2.1-03",), "C", "error_code 2 / MaLoi 97", False, "a MaXacThuc that does not match"),
    Rule(
        "init-fields",
        ("S2.1-04",),
        "C",
        "error_code 1",
        False,
        "a fixed INIT value other than PAY, 1, 1, vi-VN, VND, PAYMENT; no MaThamChieu, ThongTinGiaoDich, Ip; "
        "ThoiGianGD not yyyyMMddHHmmss; SoTien not a positive whole number",
    ),
    Rule("reference-unique", ("S2.1-04",), "C", "error_code 3", False, "a MaThamChieu used before"),
    Rule("bill", ("S2.1-05",), "C", "error_code 1", False, "no ThongTinBienLai, or one without MaHoSo or PhiLePhi"),
    Rule(
        "amount-is-fee-sum",
        ("S2.1-06",),
        "I",
        "error_code 1",
        True,
        "SoTien other than the sum of PhiLePhi[].SoTien (or of DSKhoanNop[].SoTien)",
    ),
    Rule(
        "beneficiary",
        ("S2.1-06",),
        "C",
        "error_code 1",
        True,
        "an empty TKThuHuong, MaNHThuHuong, TenTKThuHuong or TenDonVi (the agency's account and unit)",
    ),
    Rule(
        "query-time",
        ("S2.1-10",),
        "C",
        "MaLoi 99",
        True,
        "a QUERY whose ThoiGianGD is not the order's INIT ThoiGianGD",
    ),
    Rule("query-unknown", ("S2.1-09",), "I", "MaLoi 01", False, "a QUERY for an order it never saw"),
)

CANNOT_KNOW: tuple[str, ...] = (
    "PayGov's own error codes and texts (not public): INIT error_code 1-4 and QUERY MaLoi 01/97/99 are inferred",
    "whether the beneficiary account exists at the State Treasury, or belongs to the agency (MaDonVi)",
    "whether PayGov checks ThongTinBienLai beyond its presence (lengths, the procedure's name against MaTTHC)",
    "what PayGov answers a QUERY with another time: the mock refuses it (MaLoi 99) rather than say 'not found'",
    "which time a real confirm signs: the mock sends the INIT time (the [I] case a short window would refuse)",
    "what PayGov does with the province's reply to a confirm: the mock records whether it echoed MaLoi, "
    "ThoiGianGD and MaXacThuc (/_mock/callbacks: echoed) but resends nothing",
)


def card() -> dict[str, Any]:
    return {"profile": "paygov", "rules": [asdict(r) for r in RULES], "cannot_know": list(CANNOT_KNOW)}
