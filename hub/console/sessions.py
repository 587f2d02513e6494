"""Console sessions in a signed cookie (itsdangerous): who is logged in, the CSRF token of the
session, and when it started. The signature's timestamp gives the idle expiry (the cookie is
signed again on every page), ``issued`` the absolute one; ``epoch`` must still be the
operator's (a password reset or a disable ends every older session)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "lgsp_console"
LANG_COOKIE = "lgsp_console_lang"


@dataclass(frozen=True)
class Session:
    csrf: str
    operator_id: int | None = None
    epoch: int = 0
    issued: float = 0.0  # login time (epoch seconds)

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(32))

    def logged_in(self, operator_id: int, epoch: int) -> Session:
        """A new session for this operator: a new CSRF token (nothing carried from before the login)."""
        return Session(csrf=secrets.token_urlsafe(32), operator_id=operator_id, epoch=epoch, issued=time.time())


class SessionCodec:
    def __init__(self, secret: str, idle_seconds: float, max_seconds: float) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="lgsp.console.session")
        self.idle = idle_seconds
        self.max = max_seconds

    def dump(self, s: Session) -> str:
        return self.serializer.dumps({"c": s.csrf, "o": s.operator_id, "e": s.epoch, "i": s.issued})

    def load(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in the cookie; None if absent, forged, idle too long or too old."""
        if not cookie:
            return None
        try:
            data: Any = self.serializer.loads(cookie, max_age=int(self.idle))
        except BadSignature:  # also SignatureExpired
            return None
        try:
            s = Session(csrf=str(data["c"]), operator_id=data["o"], epoch=int(data["e"]), issued=float(data["i"]))
        except (KeyError, TypeError, ValueError):
            return None
        if s.operator_id is not None and (now or time.time()) - s.issued > self.max:
            return replace(s, operator_id=None)  # the login is over; the CSRF token may stay
        return s
