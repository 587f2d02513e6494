"""docs/partners.md cannot drift: every test it names exists and is collected, every confirmed fact of the
sections it covers has a row (a fact honoured, ``S…``, or one not honoured with the reason, ``N…``), every
rule a mock applies points at a row, and the row ids are sound.

The [C] facts of the sections in :data:`COVERED` are read from ``shared/design/external-systems.md`` itself
(beside the repository, as in CI); those of §0, which several partners share, are listed here per partner,
and checked to be still in the design document. A section joins by adding its rows and its number to
``COVERED``; a mock joins by adding its ``RULES`` to :data:`MOCK_RULES`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from connectors.national_portal.mock_rules import RULES as PORTAL_RULES
from connectors.national_portal.mock_rules import Rule as PortalRule
from connectors.payment_napas.mock_rules import RULES as PAYGOV_RULES
from connectors.payment_napas.mock_rules import Rule as PaygovRule
from connectors.population_db.mock_rules import RULES as POPDB_RULES
from connectors.population_db.mock_rules import Rule as PopdbRule

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "partners.md"
DESIGN = ROOT.parent / "shared" / "design" / "external-systems.md"
FACT_ID = re.compile(r"^S\d+(\.\d+)?-\d{2}$")
NOT_HONOURED_ID = re.compile(r"^N\d+(\.\d+)?-\d{2}$")
TEST_REF = re.compile(r"`(tests/[\w/]+\.py::[\w]+(?:\[[^\]`]+\])?)`")
# sections whose every [C] fact has a row: §1 the national portal, §4 the population database, §6 codes
COVERED = ("1", "2", "4", "6")
# §0 facts, per partner that has its rows (the rest of §0 belongs to partners still to be added)
REQUIRED_ELSEWHERE = {
    "0": [
        # the population database
        "Provincial one-stop systems do",
        "Observed LGSP authentication schemes",
        "OAuth2 client_credentials",
        "AccessKey/SecretKey/AppName scheme",
        "Static header token",
        "Responses use",
        "In practice the CSDL dân cư interface is",
        "Vietnamese text",
        # the national portal
        "DVCQG adapter (national) auth",
        "Dates on DVCQG sync are strings",
    ],
}
MOCK_RULES: dict[str, tuple[PortalRule | PopdbRule | PaygovRule, ...]] = {
    "paygov": PAYGOV_RULES,
    "population_db": POPDB_RULES,
    "national_portal": PORTAL_RULES,
}
_HEADER_CELLS = ("Field", "Code", "Id")


def _plain(text: str) -> str:
    return re.sub(r"[*`]", "", text).replace("\\|", "|").strip()


def rows() -> list[list[str]]:
    found = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        inner = line.strip()[1:-1] if line.startswith("| ") else ""
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", inner)] if inner else []
        if cells and (FACT_ID.match(cells[0]) or NOT_HONOURED_ID.match(cells[0])):
            found.append(cells)
    return found


def fact_rows() -> list[list[str]]:
    return [r for r in rows() if FACT_ID.match(r[0])]


def not_honoured_rows() -> list[list[str]]:
    return [r for r in rows() if NOT_HONOURED_ID.match(r[0])]


def design_text() -> str:
    if not DESIGN.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DESIGN} is missing: CI lays shared/ beside the repository")
        pytest.skip(f"{DESIGN} not beside this checkout")
    return DESIGN.read_text(encoding="utf-8")


def confirmed_facts(design: str, section: str) -> list[tuple[str, str]]:
    """(subsection, key) of each [C] fact of ``## <section>.``: the heading of each [C] subsection, its bullets
    and sub-bullets not marked [I], and the first cell of its table rows; in a subsection (or a section
    without subsections) not marked [C], its bullets marked [C]. A key is the fact's opening words."""
    part = re.split(r"^## ", design, flags=re.M)
    body = next(p for p in part if p.startswith(f"{section}. "))
    head, *subs = re.split(r"^### ", body, flags=re.M)
    facts: list[tuple[str, str]] = []
    for number, title, text in [(section, "", head.partition("\n")[2])] + [_split(sub) for sub in subs]:
        confirmed = "[C]" in title
        if confirmed:
            facts.append((number, _plain(re.sub(r"\[C\]|\([^)]*\)", "", title))))
        for line in text.splitlines():
            bullet = re.match(r"^\s*- (.*)", line)
            if bullet and (
                bullet.group(1).startswith("[C") if not confirmed else not bullet.group(1).startswith("[I]")
            ):
                words = _plain(re.sub(r"^\[C[^\]]*\]\s*", "", bullet.group(1)))
                facts.append((number, re.split(r"[:;(,]", words, maxsplit=1)[0].strip()))
            cell = re.match(r"^\|\s*([^|]+?)\s*\|", line)
            if confirmed and cell and cell.group(1) not in _HEADER_CELLS and not set(cell.group(1)) <= {"-"}:
                facts.append((number, _plain(cell.group(1))))
    return facts


def _split(sub: str) -> tuple[str, str, str]:
    heading, _, text = sub.partition("\n")
    number, _, title = heading.partition(" ")
    return number, title, text


@cache
def collected() -> frozenset[str]:
    files = sorted({ref.split("::")[0] for row in fact_rows() for ref in TEST_REF.findall(row[4])})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return frozenset(line.strip() for line in result.stdout.splitlines() if "::" in line)


def test_row_ids_are_sound_and_unique() -> None:
    ids = [r[0] for r in rows()]
    assert len(ids) == len(set(ids)), "a row id is used twice"
    assert len(fact_rows()) >= 20
    for row in fact_rows():
        assert len(row) == 5 and all(row), f"{row[0]}: five filled columns expected"
        assert row[1].startswith("§" + row[0][1:].split("-")[0]), f"{row[0]}: its source must be its section"


def test_every_named_test_exists_and_is_collected() -> None:
    names = collected()
    for row in fact_rows():
        refs = TEST_REF.findall(row[4])
        assert refs, f"{row[0]} names no test"
        for ref in refs:
            assert ref in names or any(n.startswith(ref + "[") for n in names), f"{row[0]}: {ref} is not collected"


@pytest.mark.parametrize("section", COVERED)
def test_every_confirmed_fact_of_the_covered_sections_has_a_row(section: str) -> None:
    facts = confirmed_facts(design_text(), section)
    assert len(facts) >= 5  # the parser found the section
    sources = [_plain(r[1]) for r in fact_rows()] + [_plain(r[1]) for r in not_honoured_rows()]
    missing = [f"§{n} {key}" for n, key in facts if not any(s.startswith(f"§{n}") and key in s for s in sources)]
    assert not missing, f"confirmed facts without a row in docs/partners.md: {missing}"


def test_not_honoured_rows_say_why() -> None:
    for row in not_honoured_rows():
        assert len(row) == 3 and all(row), f"{row[0]}: three filled columns expected (id, fact, why not)"


@pytest.mark.parametrize("section", sorted(REQUIRED_ELSEWHERE))
def test_the_shared_facts_of_section_0_have_rows(section: str) -> None:
    design = _plain(design_text())
    sources = [_plain(r[1]) for r in fact_rows() if r[0].startswith(f"S{section}-")]
    for key in REQUIRED_ELSEWHERE[section]:
        assert key in design, f"'{key}' is no longer in §{section} of the design document: update this list"
        assert any(key in s for s in sources), f"§{section} '{key}' has no row"


@pytest.mark.parametrize("mock", sorted(MOCK_RULES))
def test_every_rule_of_each_mock_points_at_a_row(mock: str) -> None:
    ids = {r[0] for r in fact_rows()}
    for rule in MOCK_RULES[mock]:
        assert rule.facts and set(rule.facts) <= ids, f"{mock} mock rule {rule.id} points at {rule.facts}"
