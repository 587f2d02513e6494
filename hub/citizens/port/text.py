"""Vietnamese text as the population database connector sends it and compares it. No I/O, no state.

Two forms, one function each, used by the connector *and* its mock (so both judge a name alike):

- :func:`clean_text` - what is **sent**: Unicode NFC, whitespace runs collapsed to one space, trimmed
  (``external-systems.md`` §0: send NFC; input may arrive as NFD). Diacritics are kept.
- :func:`name_key` - what two names are **compared** in. NFC alone keeps the old and the new tone
  placement apart ("Hoà"/"Hòa", "Thuý"/"Thúy", "Khoẻ"/"Khỏe" are different code points), and both
  are in use (§0, §4). The key therefore takes the tone off each word and writes it after the word
  as a digit: "Hoà" and "Hòa" both become ``hoa2``. The tone belongs to the syllable, not to a
  letter, so where the mark sits never tells two words apart; the vowel marks (â ă ê ô ơ ư) and đ
  stay, so "Lan"/"Lân", "Đức"/"Duc" and "An"/"Án" still differ. Case, spacing and NFD/NFC
  input do not matter. An Icelandic eth typed for Đ (U+00D0/U+00F0) reads as Đ/đ.

No library was taken for this: the tone-placement normalisers on PyPI rewrite text to one placement
convention with syllable tables (and come inside large NLP packages); a comparison only needs the
tone separated from the letters, which Unicode's canonical decomposition already does.
"""

from __future__ import annotations

import unicodedata

# The five tone marks of Vietnamese as combining characters (after NFD), and the digit each is keyed as.
TONES: dict[str, str] = {
    "\u0301": "1",  # sắc (acute)
    "\u0300": "2",  # huyền (grave)
    "\u0309": "3",  # hỏi (hook above)
    "\u0303": "4",  # ngã (tilde)
    "\u0323": "5",  # nặng (dot below)
}
_LOOKALIKES = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})  # Ð ð (eth) typed for Đ đ


def clean_text(value: str) -> str:
    """Unicode NFC, whitespace runs collapsed to one space, trimmed. Diacritics are kept."""
    return " ".join(unicodedata.normalize("NFC", value).split())


def _word_key(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    tones = sorted(TONES[c] for c in decomposed if c in TONES)
    letters = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONES))
    return letters + "".join(tones)


def name_key(value: str) -> str:
    """The form two names are compared in: cleaned, case-folded, each word's tone moved after it.

    ``name_key("Nguyễn Thị Hoà") == name_key("NGUYỄN THỊ HÒA") == "nguyên4 thi5 hoa2"``.
    """
    words = clean_text(value.translate(_LOOKALIKES)).casefold().split(" ")
    return " ".join(_word_key(word) for word in words)


def names_match(given: str, recorded: str | None) -> bool:
    """Do two names name the same person as the database compares them: :func:`name_key` equality."""
    return recorded is not None and name_key(given) == name_key(recorded)


__all__ = ["TONES", "clean_text", "name_key", "names_match"]
