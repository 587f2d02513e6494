"""Every VNPost answer goes through :func:`classify`, and only there.

==========  =====================================================================================
OK          HTTP 2xx and: ``Status`` in ``success_codes`` ("100"); MyVNPost ``IsSuccess`` true; a
            feed page (HAL ``_embedded``) with no failing ``Status``; a token answer with its token
ALREADY     ``Status`` (or MyVNPost ``Code``) in ``already_codes`` ("101": already registered):
            an idempotent success — the order exists, the cancel was done
AUTH        HTTP 401 on a call: the token expired or was revoked; renew it once and repeat once
RETRYABLE   no answer (timeout, refused, reset), an unreadable or unsafe body, HTTP 3xx, 403, 408,
            425, 429, 5xx, an answer without ``Status``, codes in ``retryable_codes``; and every
            refusal of the token endpoint (credentials are the operator's to fix, not the message's)
PERMANENT   any other 4xx, and any other ``Status`` / ``Code``: the partner refused the content
==========  =====================================================================================

The same rules for the three variants; what differs per variant is where the verdict is read
(``Status`` for direct and LGSP, ``IsSuccess``/``Code`` for MyVNPost) and the token answer's shape.
Messages are shortened, and phone-like digit runs and e-mail addresses masked, before they leave.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from hub import partners, privacy
from hub.partners import Classified, Verdict

Expect = Literal["result", "feed", "token"]
# How much of a JSON body from VNPost (or sent to its mock) is read: hub.jsonbody.parse bounds.
MAX_DEPTH = 20
MAX_ANSWER = 1_000_000


def normalise_code(raw: Any) -> str | None:
    """100, "100", " 100 " -> "100"; "0101" -> "101"; None/bool/containers -> None; at most 20 characters."""
    if not isinstance(raw, str | int):
        return None
    code = partners.normalise_code(raw)
    return code[:20] if code else None


def scrub(message: Any) -> str:
    """Shorten a partner message; mask phone-like numbers and e-mail addresses (no personal data)."""
    if not isinstance(message, str | int | float) or isinstance(message, bool):
        return ""
    return privacy.scrub(message, numbers=privacy.PHONE_LIKE, emails=True)


@dataclass(frozen=True)
class Codes:
    success: frozenset[str] = frozenset({"100"})
    already: frozenset[str] = frozenset({"101"})
    retryable: frozenset[str] = frozenset()

    @classmethod
    def of(cls, success: Collection[str], already: Collection[str], retryable: Collection[str]) -> Codes:
        def norm(values: Collection[str]) -> frozenset[str]:
            return frozenset(c for c in map(normalise_code, values) if c is not None)

        return cls(norm(success), norm(already), norm(retryable))


def _message(body: dict[str, Any]) -> str:
    fault = body.get("fault")
    if isinstance(fault, dict):  # WSO2 API manager: {"fault": {"code", "message", "description"}}
        return scrub(fault.get("message"))
    return scrub(body.get("Message", body.get("message", body.get("error_description", body.get("error")))))


def _by_code(code: str | None, codes: Codes, ok: bool) -> Verdict:
    if code in codes.already:
        return Verdict.ALREADY
    if ok or code in codes.success:
        return Verdict.OK
    return Verdict.RETRYABLE if code in codes.retryable else Verdict.PERMANENT


def classify(
    variant: str,
    http_status: int | None,
    body: Any,
    exc: Exception | None = None,
    codes: Codes = Codes(),
    expect: Expect = "result",
) -> Classified:
    """Map one partner answer (or the exception raised instead of one) to a :class:`Verdict`."""
    if exc is not None:
        return Classified(Verdict.RETRYABLE, message=type(exc).__name__, http_status=http_status)
    data = body if isinstance(body, dict) else None
    message = _message(data) if data is not None else ""
    status_code = normalise_code(data.get("Status")) if data is not None else None
    code = normalise_code(data.get("Code")) if data is not None and variant == "myvnpost" else status_code

    def v(verdict: Verdict, msg: str | None = None) -> Classified:
        return Classified(verdict, code, message if msg is None else msg, http_status)

    if expect == "token":
        if http_status is None or not 200 <= http_status < 300 or data is None:
            return v(Verdict.RETRYABLE, message or "token endpoint refused the credentials")
        token = data.get("Token") if variant == "myvnpost" else data.get("access_token")
        refused = variant == "myvnpost" and data.get("IsSuccess") is not True
        if refused or not isinstance(token, str) or not token:
            return v(Verdict.RETRYABLE, message or "no token in the answer")
        return v(Verdict.OK)
    if http_status == 401:
        return v(Verdict.AUTH)
    if http_status is None or http_status in (403, 408, 425, 429) or http_status >= 500 or http_status < 200:
        return v(Verdict.RETRYABLE)
    if 300 <= http_status < 400:
        return v(Verdict.RETRYABLE)
    if data is None:
        return v(Verdict.RETRYABLE if http_status < 300 else Verdict.PERMANENT, "unreadable answer")
    if http_status >= 400:
        verdict = _by_code(code, codes, ok=False)
        return v(Verdict.PERMANENT if verdict is Verdict.OK else verdict)
    success = data.get("IsSuccess") if variant == "myvnpost" else None
    if isinstance(success, bool):
        return v(_by_code(code, codes, ok=success))
    if expect == "feed" and "Status" not in data and "Code" not in data:
        return v(Verdict.OK)
    if code is None:
        return v(Verdict.RETRYABLE, message or "answer without Status")
    return v(_by_code(code, codes, ok=False))
