"""The citizens domain's port: what the hub asks the national population database and what it gets
back, whatever the variant (SOAP, or a province LGSP in front). ``connectors/population_db``
implements :class:`PopulationDb`.

- ``models.py``: the queries (``VerifyRequest``, ``LookupRequest``) and the answers (``VerifyResult``,
  ``CitizenRecord``), which never show the personal data they hold;
- ``errors.py``: the error family (``RetryableError``, ``PermanentError`` and its kinds,
  ``CitizenNotFound``), on ``hub.partners``' bases;
- ``text.py``: Vietnamese text as it is sent (NFC) and compared (tone placement does not matter),
  shared by the connector and its mock.
"""

from __future__ import annotations

from typing import Literal, Protocol

from hub.citizens.port.errors import (
    CitizenNotFound,
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
)
from hub.citizens.port.models import (
    CITIZEN_FIELDS,
    MATCH_FIELDS,
    Address,
    CitizenQuery,
    CitizenRecord,
    HouseholdHead,
    Ignored,
    LookupRequest,
    NameParts,
    RelatedPerson,
    VerifyRequest,
    VerifyResult,
)

Operation = Literal["verify", "lookup"]


class PopulationDb(Protocol):
    """The national population database, synchronous: each call blocks until it is answered, refused
    or timed out (the connector bounds it). Thread-safe; no I/O before the first call."""

    def refusal(self, operation: Operation, query: CitizenQuery) -> InvalidRequest | None:
        """Why this query would not be sent (a field over the database's limits, named with the
        rule), or ``None``. No I/O."""
        ...

    def verify(self, req: VerifyRequest) -> VerifyResult:
        """Does the citizen exist, and which given fields match; raises the port's errors."""
        ...

    def lookup(self, req: LookupRequest) -> CitizenRecord:
        """The citizen's record (every field: the hub filters by grant); ``CitizenNotFound`` when
        there is none; otherwise the errors of :meth:`verify`."""
        ...

    def close(self) -> None: ...


__all__ = [
    "CITIZEN_FIELDS",
    "MATCH_FIELDS",
    "Address",
    "CitizenNotFound",
    "CitizenQuery",
    "CitizenRecord",
    "HouseholdHead",
    "Ignored",
    "InvalidRequest",
    "LookupRequest",
    "NameParts",
    "NotAuthorised",
    "Operation",
    "PermanentError",
    "PopulationDb",
    "PopulationDbError",
    "RelatedPerson",
    "RetryableError",
    "UnsafeResponse",
    "VerifyRequest",
    "VerifyResult",
]
