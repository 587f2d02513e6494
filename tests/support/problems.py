"""Assertions on the hub's one error shape: problem details (RFC 9457)."""

from __future__ import annotations

from typing import Any

import httpx

from hub.api.problems import PROBLEM_MEDIA, TYPE_PREFIX


def problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The problem document of ``r``, after checking its status, media type, members and code."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM_MEDIA), r.headers["content-type"]
    doc: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail", "errors"} <= set(doc), doc
    assert doc["status"] == status and doc["type"].startswith(TYPE_PREFIX), doc
    if code is not None:
        assert doc["type"] == TYPE_PREFIX + code, doc
    return doc


def code(r: httpx.Response) -> str:
    """The problem code (the end of ``type``) of an error answer."""
    return str(r.json()["type"]).removeprefix(TYPE_PREFIX)
