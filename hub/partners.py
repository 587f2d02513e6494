"""What every partner connector says about a partner's answer, in one vocabulary.

**One base of partner errors.** Every failure a connector raises is a :class:`PartnerError`:
:class:`RetryableError` (try again later: nothing was refused) or :class:`PermanentError` (the
partner refused the content: repeating it changes nothing); ``retryable`` says which. Each
domain's port names its own family on these bases (``hub.payments.port.GatewayError``,
``hub.citizens.port.PopulationDbError``, ``hub.postal.port.PostalError``, the portal's
``PortalError``), so ``except RetryableError`` means the same whatever the partner.

**One classify() contract.** Each connector's ``errors.py`` has one ``classify(...)``, and every
answer and failure of its partner goes through it, and only it. It reads status codes, SOAP faults
and body error codes (``error_code``, ``MaLoi``, ``Status``) and gives a :class:`Classified` value:
the :class:`Verdict`, the partner's code (normalised, :func:`normalise_code`), the partner's
message scrubbed of personal data (``hub.privacy.scrub``) and the HTTP status. A connector whose
callers wait on the call (payments, the population database) raises the verdict as its port's
error instead; ``PartnerError.verdict`` reads it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Verdict(Enum):
    OK = "ok"  # the partner did it (delivered, registered, answered)
    ALREADY = "already"  # the partner has it already (portal: a known dossier; VNPost: a known order)
    NOT_FOUND = "not-found"  # the partner does not know what the call refers to (portal: an unknown dossier)
    AUTH = "auth"  # credentials or session refused: renew them once, repeat the call once
    RETRYABLE = "retryable"  # no answer, or "busy": try again later
    PERMANENT = "permanent"  # the partner refused the content


@dataclass(frozen=True)
class Classified:
    """One partner answer (or the failure to get one), classified."""

    verdict: Verdict
    code: str | None = None  # the partner's code, normalised, if the answer had one
    message: str = ""  # the partner's message, shortened and scrubbed of personal data
    http_status: int | None = None
    # the partner may have acted on the call although it did not say so: no answer after the
    # request may have left, a server error (500, 502, 504...), an answer it cannot have meant.
    # False for a definite answer: a code, 4xx, 503 and 429 (refused before any work).
    maybe_processed: bool = False

    @property
    def retryable(self) -> bool:
        return self.verdict in (Verdict.RETRYABLE, Verdict.AUTH)

    def describe(self) -> str:
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None and self.http_status >= 300 else []
        if self.code is not None:
            parts.append(f"error_code {self.code}")
        if self.message:
            parts.append(self.message)
        return ": ".join(parts) or self.verdict.value


class PartnerError(Exception):
    """A partner call that did not succeed. Its message never holds personal data."""

    retryable: bool = False

    @property
    def verdict(self) -> Verdict:
        return Verdict.RETRYABLE if self.retryable else Verdict.PERMANENT


class RetryableError(PartnerError):
    """Try again later: no answer, a timeout, a 5xx or 429, a "busy" code."""

    retryable = True


class PermanentError(PartnerError):
    """The partner refused the content; sending it again changes nothing."""


def normalise_code(raw: Any) -> str | None:
    """A partner's code as a comparable string: 0, "0", "00", " 0 " -> "0"; "-03" -> "-3"; other
    text kept stripped; None and booleans -> None."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return str(int(text))
    return text or None
