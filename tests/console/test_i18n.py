"""The message catalogues are complete: both languages have the same keys, every text the
templates and the code ask for exists, every enumeration shown has its texts, and templates
hold no text of their own."""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hub import reports
from hub.canonical import DOSSIER_STATUS_LABELS
from hub.console import audit, queries
from hub.console.i18n import LANGUAGES, Translator, catalogues

CONSOLE = Path(__file__).resolve().parents[2] / "hub" / "console"
TEMPLATES = sorted((CONSOLE / "templates").glob("*.html"))
KEY = re.compile(r"""(?<![\w.])t\(\s*["']([\w.]+)["']""")  # t("key") in templates, ctx.t("key") in code
ENUMS = {
    "state": ("queued", "delivering", "held", "retrying", "delivered", "dead"),
    "outcome": ("delivered", "retry", "dead", "taken_over", "abandoned", "none", "ok", "refused", "error"),
    "series": queries.SERIES,
    "action": audit.ACTIONS,
    "role": ("viewer", "operator", "admin"),
    "circuit": ("closed", "half_open", "open", "unknown"),
    "clients.grace": ("0", "1", "24", "168"),
    "bulk.state": ("running", "finished", "failed", "interrupted"),
    "bulk.outcome": ("queued", "invalid", "refused", "error", "pending", "replaying"),
    "bulk.sel": ("connector", "type", "source", "agency", "since", "until", "class_id"),
    "lang": LANGUAGES,
    "status": tuple(str(n) for n in DOSSIER_STATUS_LABELS),
    "payment": ("opening", "pending", "in_doubt", "refused", "paid", "failed", "not_opened"),
    "reports.name": tuple(reports.REPORTS),
    "reports.col": tuple({c for r in reports.REPORTS.values() for c in r.columns}),
}
ENUM_USE = re.compile(r"""t\.enum\(\s*["']([\w.]+)["']""")


def used_keys() -> set[str]:
    found: set[str] = set()
    for path in [*TEMPLATES, *CONSOLE.glob("*.py")]:
        found |= set(KEY.findall(path.read_text(encoding="utf-8")))
    return found


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    vi, en = (catalogues()[lang] for lang in LANGUAGES)
    assert set(vi) == set(en), set(vi) ^ set(en)
    assert all(v.strip() for lang in LANGUAGES for v in catalogues()[lang].values())


def test_every_key_used_exists() -> None:
    keys = used_keys()
    assert len(keys) > 100  # the extractor finds them
    for lang in LANGUAGES:
        assert keys - set(catalogues()[lang]) == set(), lang


def test_every_enumeration_shown_has_its_texts() -> None:
    shown = {k for path in TEMPLATES for k in ENUM_USE.findall(path.read_text(encoding="utf-8"))}
    assert shown - set(ENUMS) <= {"payment.event"}  # events: the kind itself when a new one appears
    for lang in LANGUAGES:
        missing = [f"{k}.{v}" for k, values in ENUMS.items() for v in values if f"{k}.{v}" not in catalogues()[lang]]
        assert missing == [], lang


def test_texts_take_the_same_fields_in_both_languages() -> None:
    def fields(text: str) -> set[str]:
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    vi, en = (catalogues()[lang] for lang in LANGUAGES)
    assert {k for k in vi if fields(vi[k]) != fields(en[k])} == set()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []

    def handle_data(self, data: str) -> None:
        if re.search(r"[^\W\d_]{2,}", data):
            self.words.append(data.strip())


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_templates_hold_no_text_of_their_own(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    bare = re.sub(r"{%.*?%}|{{.*?}}|{#.*?#}", " ", source, flags=re.DOTALL)
    parser = _Text()
    parser.feed(bare)
    allowed = {"HTTP", "population_db"}  # a protocol's name, a connector's name
    assert [w for w in parser.words if w not in allowed] == []


def test_numbers_dates_and_durations_follow_the_language() -> None:
    vi, en = Translator("vi"), Translator("en")
    assert (vi.number(1234567), en.number(1234567)) == ("1.234.567", "1,234,567")
    assert vi.duration(0.25) == "250 ms" and en.duration(7200) == "2 h" and vi.duration(90000) == "25 giờ"
    assert Translator("fr").lang == "vi"  # unknown language: Vietnamese, the default
