"""National population database (CSDL quốc gia về dân cư, run by the Ministry of Public Security) connector.

Capability card
---------------
- **Protocol**: SOAP 1.1, document/literal [C], reached through the province LGSP / NDXP. Request body
  namespace ``http://dancuquocgia.bca``; the lookup answer ``CongdanCollection`` is in
  ``http://www.mic.gov.vn/dancu/1.0`` [C]. WSDL and XSDs are vendored in ``wsdl/`` (written from the
  documented facts) and loaded from disk; nothing is ever fetched from the network.
- **Operations** (synchronous request/reply, called by the hub's API, not through the queue):
  ``verify`` -> ``XacThucThongTinCongDan`` (does the citizen exist, which given fields match) and
  ``lookup`` -> ``TraCuuThongTinCongDan`` (the citizen's record; the hub filters it by the caller's
  grant with ``CitizenRecord.restricted``).
- **Request fields**, in wire order [C]: MaYeuCau (request id), MaDVC (public-service code), MaTichHop
  (integration code: "037" for lookup [C], "033" for verify [I]), MaDonVi (calling agency; position [I]),
  MaCanBo (officer), SoDinhDanh (12-digit ID) or SoCMND (9-digit old ID card), HoVaTen (full name),
  NgayThangNamSinh{NgayThangNam | Nam} (birth date, or year only).
- **Auth**: pluggable per province (``auth_scheme``): none, Basic, static Bearer, or the field clients'
  ``timestamp_hash`` (Timestamp header + Basic username:sha256(url+username+timestamp+secret)) [C field].
- **Idempotency**: both operations are reads; ``MaYeuCau`` (``request_id``) is the per-call audit
  reference at the database and is returned in ``VerifyResult.request_id``. Every call must be
  audit-logged by the hub per officer (who, why, outcome) without personal data in clear.
- **Errors** (``errors.py``): ``RetryableError`` vs ``PermanentError`` (``InvalidRequest``,
  ``NotAuthorised``, ``UnsafeResponse``), and ``CitizenNotFound`` (an answer, not a failure). Each
  carries ``retryable`` and ``breaker_failure`` for the hub's retry policy and circuit breaker
  (``breaker_failures`` / ``breaker_reset`` in settings). No personal data in any message.
- **Hardening**: answers over ``max_response_bytes`` are refused unread; DTDs, entities and external
  references are refused (before zeep, and by zeep's own settings); strict parsing, no recover mode.
- **Inferred [I] and configurable** (``HUB_POPDB_*``, see ``config.py``): the endpoint path, MaDonVi's
  position, the verify integration code, the per-field match block ``ChiTietKhop`` of the verify answer
  (without it, ``TonTai`` counts for every field), the MaLoi error codes in the fault detail
  ``ThongTinLoi`` (01 invalid, 02 not authorised, 03 not found, 99 busy), the birth-date wire format
  (yyyy-mm-dd per the design doc, yyyyMMdd as some field clients send).
- **Mock** (``mock.py``, ``python -m connectors.population_db.mock --port 8103``): validates every request
  against the vendored XSD and refuses with the SOAP faults the real one would; answers from synthetic
  citizens (ID numbers starting ``000``); injects latency, hangs, SOAP faults, 5xx, malformed XML and
  hostile XML (billion laughs, XXE, DTD, oversized). Admin views under ``/_mock/``.
"""

from __future__ import annotations

from .client import NAME, PopulationDbClient, build_client
from .config import PopulationDbSettings
from .errors import (
    CitizenNotFound,
    InvalidRequest,
    NotAuthorised,
    PermanentError,
    PopulationDbError,
    RetryableError,
    UnsafeResponse,
    classify,
)
from .models import (
    CITIZEN_FIELDS,
    MATCH_FIELDS,
    Address,
    CitizenRecord,
    HouseholdHead,
    LookupRequest,
    NameParts,
    RelatedPerson,
    VerifyRequest,
    VerifyResult,
)
from .translate import OP_LOOKUP, OP_VERIFY, OPERATIONS

__all__ = [
    "CITIZEN_FIELDS",
    "MATCH_FIELDS",
    "NAME",
    "OPERATIONS",
    "OP_LOOKUP",
    "OP_VERIFY",
    "Address",
    "CitizenNotFound",
    "CitizenRecord",
    "HouseholdHead",
    "InvalidRequest",
    "LookupRequest",
    "NameParts",
    "NotAuthorised",
    "PermanentError",
    "PopulationDbClient",
    "PopulationDbError",
    "PopulationDbSettings",
    "RelatedPerson",
    "RetryableError",
    "UnsafeResponse",
    "VerifyRequest",
    "VerifyResult",
    "build_client",
    "classify",
]
