"""The population database's error family: every outcome of a call other than an answer.

==========================  ==========================================================================
``RetryableError``          no answer, or the database is busy or failing: try again later
``NotAuthorised``           the database refused the hub's credentials or grants (operator's to fix)
``InvalidRequest``          the database refused the query (or the hub refused to send it: a field
                            over its limit, ``field-limit``, naming field and rule)
``UnsafeResponse``          a hostile, malformed or oversized answer, never parsed further
``PermanentError``          anything else that will not get better by retrying
``CitizenNotFound``         not an error of the system: the database knows no such citizen
==========================  ==========================================================================

``InvalidRequest``, ``NotAuthorised`` and ``UnsafeResponse`` are ``PermanentError``s; all of them stand
on ``hub.partners``' bases. Each error says whether it is ``retryable`` and whether the hub's circuit
breaker should count it (``breaker_failure``). The connector's ``classify`` maps the database's answers
into them; messages are built from fixed words, codes and field names, never personal data.
"""

from __future__ import annotations

from typing import ClassVar

from hub import partners
from hub.partners import PartnerError


class PopulationDbError(PartnerError):
    """Base of every outcome of a call other than an answer."""

    breaker_failure: ClassVar[bool] = False
    kind: ClassVar[str] = "error"

    def __init__(
        self,
        operation: str,
        reason: str,
        *,
        http_status: int | None = None,
        fault_code: str | None = None,
        error_code: str | None = None,
        fields: tuple[str, ...] = (),
        rule: str | None = None,
    ) -> None:
        self.operation = operation
        self.reason = reason  # short, fixed vocabulary: "timeout", "soap-fault", "dtd", ...
        self.http_status = http_status
        self.fault_code = fault_code  # SOAP faultcode, local part ("Client", "Server")
        self.error_code = error_code  # the database's MaLoi
        self.fields = fields  # request fields the fault names
        self.rule = rule  # the rule a field broke, fixed text ("at most 100 characters")
        super().__init__(self.describe())

    def describe(self) -> str:
        parts = [f"{self.operation}: {self.kind} ({self.reason})"]
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        if self.fault_code:
            parts.append(f"faultcode {self.fault_code}")
        if self.error_code:
            parts.append(f"MaLoi {self.error_code}")
        if self.fields:
            parts.append("fields " + ", ".join(self.fields))
        if self.rule:
            parts.append(f"rule: {self.rule}")
        return "; ".join(parts)


class RetryableError(PopulationDbError, partners.RetryableError):
    breaker_failure = True
    kind = "retryable"


class PermanentError(PopulationDbError, partners.PermanentError):
    kind = "permanent"


class InvalidRequest(PermanentError):
    kind = "invalid request"


class NotAuthorised(PermanentError):
    kind = "not authorised"


class UnsafeResponse(PermanentError):
    breaker_failure = True  # the partner (or something in between) misbehaves
    kind = "unsafe response"


class CitizenNotFound(PopulationDbError):
    kind = "not found"
