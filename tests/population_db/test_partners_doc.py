"""docs/partners.md cannot drift: every test it names exists and is collected, every confirmed fact of the
sections it covers has a row, every rule a mock applies points at a row, and the row ids are sound.

The [C] facts of §2 and §4 are read from ``shared/design/external-systems.md`` itself (beside the
repository, as in CI); those of §0 and §6 that concern the population database are listed here, and checked
to be still in the design document. A fact is covered by a row saying how it is honoured (``S…``) or by a
row under "Facts not honoured" saying why not (``N…``). Other sections join by adding their rows (and their
number to ``WHOLE_SECTIONS``) and their mock's rules to ``MOCK_RULES``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Protocol

import pytest

from connectors.payment_napas.mock_rules import RULES as PAYGOV_RULES
from connectors.population_db.mock_rules import RULES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "partners.md"
DESIGN = ROOT.parent / "shared" / "design" / "external-systems.md"
FACT_ID = re.compile(r"^S\d+(\.\d+)?-\d{2}$")
NOT_HONOURED_ID = re.compile(r"^N\d+(\.\d+)?-\d{2}$")
WHOLE_SECTIONS = ("2", "4")  # every [C] fact of these has a row


class MockRule(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def facts(self) -> tuple[str, ...]: ...


# every rule of these mocks points at a row
MOCK_RULES: dict[str, Sequence[MockRule]] = {"population_db": RULES, "paygov": PAYGOV_RULES}
TEST_REF = re.compile(r"`(tests/[\w/]+\.py::[\w]+(?:\[[^\]`]+\])?)`")
# §0 and §6 facts that concern the population database (the rest of §0 and §6 belongs to other partners)
REQUIRED_ELSEWHERE = {
    "0": [
        "Provincial one-stop systems do",
        "Observed LGSP authentication schemes",
        "OAuth2 client_credentials",
        "AccessKey/SecretKey/AppName scheme",
        "Static header token",
        "Responses use",
        "In practice the CSDL dân cư interface is",
        "Vietnamese text",
    ],
    "6": ["Mã định danh điện tử cơ quan"],
}


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


def design_text() -> str:
    if not DESIGN.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DESIGN} is missing: CI lays shared/ beside the repository")
        pytest.skip(f"{DESIGN} not beside this checkout")
    return DESIGN.read_text(encoding="utf-8")


def confirmed_facts(design: str, section: str) -> list[tuple[str, str]]:
    """(subsection, key) of each [C] fact of ``## <section>.``: the heading of each [C] subsection, its bullets
    and sub-bullets not marked [I], and the first cell of its table rows; a key is the fact's opening words."""
    part = re.split(r"^## ", design, flags=re.M)
    body = next(p for p in part if p.startswith(f"{section}. "))
    facts: list[tuple[str, str]] = []
    for sub in re.split(r"^### ", body, flags=re.M)[1:]:
        heading, _, text = sub.partition("\n")
        number, _, title = heading.partition(" ")
        if "[C]" not in title:
            continue
        facts.append((number, _plain(re.sub(r"\[C\]|\([^)]*\)", "", title))))
        for line in text.splitlines():
            bullet = re.match(r"^\s*- (.*)", line)
            if bullet and not bullet.group(1).startswith("[I]"):
                words = _plain(re.sub(r"^\[C[^\]]*\]\s*", "", bullet.group(1)))
                facts.append((number, re.split(r"[:;(,]", words, maxsplit=1)[0].strip()))
            cell = re.match(r"^\|\s*([^|]+?)\s*\|", line)
            if cell and cell.group(1) not in ("Field",) and not set(cell.group(1)) <= {"-"}:
                facts.append((number, _plain(cell.group(1))))
    return facts


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


@pytest.mark.parametrize("section", WHOLE_SECTIONS)
def test_every_confirmed_fact_of_a_whole_section_has_a_row(section: str) -> None:
    facts = confirmed_facts(design_text(), section)
    assert len(facts) >= 20  # the parser found the section
    sources = [_plain(r[1]) for r in rows()]  # honoured (S…) or not, and why (N…)
    missing = [f"§{n} {key}" for n, key in facts if not any(s.startswith(f"§{n}") and key in s for s in sources)]
    assert not missing, f"confirmed facts without a row in docs/partners.md: {missing}"


@pytest.mark.parametrize("section", sorted(REQUIRED_ELSEWHERE))
def test_the_population_databases_facts_of_sections_0_and_6_have_rows(section: str) -> None:
    design = _plain(design_text())
    sources = [_plain(r[1]) for r in fact_rows() if r[0].startswith(f"S{section}-")]
    for key in REQUIRED_ELSEWHERE[section]:
        assert key in design, f"'{key}' is no longer in §{section} of the design document: update this list"
        assert any(key in s for s in sources), f"§{section} '{key}' has no row"


@pytest.mark.parametrize("mock", sorted(MOCK_RULES))
def test_every_rule_of_the_mock_points_at_a_row(mock: str) -> None:
    ids = {r[0] for r in fact_rows()}
    for rule in MOCK_RULES[mock]:
        assert rule.facts and set(rule.facts) <= ids, f"{mock} mock rule {rule.id} points at {rule.facts}"
