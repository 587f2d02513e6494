"""Parse JSON from outside (partner answers, the mock's requests) without letting it crash us.

Refuses cleanly (``UnsafeJson``, a ``ValueError``): a body larger than ``max_bytes``, bytes that are
not UTF-8, nesting deeper than ``max_depth`` (checked before parsing, so ``[[[[...`` never reaches
the recursive decoder), invalid JSON, and strings that are not encodable text (lone surrogate
escapes such as ``"\\ud800"``). A local helper until the hub's shared one lands (issue 10).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 20
MAX_BYTES = 1_000_000


class UnsafeJson(ValueError):
    pass


def _check_depth(text: str, limit: int) -> None:
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                raise UnsafeJson(f"nesting deeper than {limit}")
        elif ch in "]}":
            depth -= 1


def _check_text(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise UnsafeJson("a string is not valid text (lone surrogate)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(body: bytes | str, max_depth: int = MAX_DEPTH, max_bytes: int = MAX_BYTES) -> Any:
    if len(body) > max_bytes:
        raise UnsafeJson(f"body larger than {max_bytes} bytes")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise UnsafeJson("body is not UTF-8") from None
    _check_depth(text, max_depth)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise UnsafeJson("invalid JSON") from None
    _check_text(value)
    return value
