"""Message catalogues (``locales/<lang>.json``, one flat key -> text map per language) and the
formatting of dates, numbers and durations. Vietnamese by default, English switchable. Texts
take named fields (``{count}``) and never hold markup."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path

from hub.canonical import VN_TZ

LANGUAGES = ("vi", "en")
DEFAULT = "vi"
LOCALES = Path(__file__).parent / "locales"


@cache
def catalogues() -> Mapping[str, Mapping[str, str]]:
    return {lang: json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}


def language(value: str | None) -> str:
    return value if value in LANGUAGES else DEFAULT


class Translator:
    """``t("overview.sub", at=...)``; a key missing from the catalogue shows as itself (the tests
    check every key used exists in every catalogue)."""

    def __init__(self, lang: str) -> None:
        self.lang = language(lang)
        self.texts = catalogues()[self.lang]

    def __call__(self, key: str, **fields: object) -> str:
        text = self.texts.get(key, key)
        return text.format(**fields) if fields else text

    def enum(self, kind: str, value: object) -> str:
        """The text of one value of an enumeration (a state, an outcome...); the value itself
        when the catalogue has none (a value the hub learnt after this catalogue was written)."""
        return self.texts.get(f"{kind}.{value}", str(value))

    def schema_error(self, kind: str, message: str) -> str:
        """A validation error in this language when the catalogue words its kind (``schema.<kind>``),
        else pydantic's own message."""
        return self.texts.get(f"schema.{kind}", message)

    def number(self, n: int | float | None) -> str:
        if n is None:
            return "–"
        s = f"{n:,.0f}" if isinstance(n, int) or float(n).is_integer() else f"{n:,.1f}"
        return s.translate(str.maketrans(",.", ".,")) if self.lang == "vi" else s

    def when(self, at: datetime | None, seconds: bool = False) -> str:
        """A time in the province's time zone (Asia/Ho_Chi_Minh)."""
        if at is None:
            return "–"
        local = at.astimezone(VN_TZ)
        fmt = "%d/%m/%Y %H:%M" if self.lang == "vi" else "%Y-%m-%d %H:%M"
        return local.strftime(fmt + (":%S" if seconds else ""))

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "–"
        if seconds < 1:
            return self("unit.ms", n=self.number(round(seconds * 1000)))
        if seconds < 90:
            return self("unit.s", n=self.number(round(seconds, 1)))
        if seconds < 5400:
            return self("unit.min", n=self.number(round(seconds / 60)))
        if seconds < 172800:
            return self("unit.h", n=self.number(round(seconds / 3600, 1)))
        return self("unit.d", n=self.number(round(seconds / 86400, 1)))
