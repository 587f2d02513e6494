"""National population database (CSDL quốc gia về dân cư, run by the Ministry of Public Security) connector.

Capability card
---------------
- **Protocol**: SOAP 1.1, document/literal [C]. Request body namespace ``http://dancuquocgia.bca``; the
  lookup answer ``CongdanCollection`` is in ``http://www.mic.gov.vn/dancu/1.0`` [C]. WSDL and XSDs are
  vendored in ``wsdl/`` (written from the documented facts) and loaded from disk; nothing is ever
  fetched from the network.
- **Variants** (``HUB_POPDB_VARIANT``, ``config.py``): ``soap`` (the envelope as is), and the LGSP-fronted
  shapes of §4.1 [C]: ``lgsp_hagiang`` (the envelope inside JSON with the token and keys; raw SOAP back),
  ``lgsp_dongthap`` (camelCase JSON, Bearer; [I] answered in the Thanh Hóa wrapper),
  ``lgsp_thanhhoa`` (JSON, answered ``{error_code, message: "<SOAP XML>"}``). Paths per variant, with the
  operation's name in them for the LGSPs [I] (``HUB_POPDB_ENDPOINT_PATH``).
- **Per agency** (``HUB_POPDB_PROFILES``, ``config.py``): named configurations (variant, address,
  credentials, breaker...), each checked at start-up; the hub builds one client and one breaker per
  profile and picks one by the query's agency (its ``population_db`` section); a query's ``unit_code``
  is the MaDonVi it is sent with (the agency's), over ``HUB_POPDB_AGENCY_CODE``.
- **Operations** (synchronous request/reply, called by the hub's API, not through the queue):
  ``verify`` -> ``XacThucThongTinCongDan`` (does the citizen exist, which given fields match) and
  ``lookup`` -> ``TraCuuThongTinCongDan`` (the citizen's record; the hub filters it by the caller's
  grant with ``CitizenRecord.restricted``). No other operation of §4.2.
- **Request fields**, in wire order [C]: MaYeuCau (request id), MaDVC (public-service code), MaTichHop
  (integration code: "037" for lookup [C], "033" for verify [I]), MaDonVi (calling agency; position [I]),
  MaCanBo (officer), SoDinhDanh (12-digit ID) or SoCMND (9-digit old ID card), HoVaTen (full name),
  NgayThangNamSinh{NgayThangNam | Nam} (birth date, or year only). Every text in NFC. Their limits are
  settings with the §4.3 values as defaults (``HUB_POPDB_LIMITS``, ``limits.py``): a request that
  breaks one is refused before it is sent (``InvalidRequest`` "field-limit", naming field and rule).
- **Auth**, pluggable (``HUB_POPDB_AUTH_SCHEME``, ``auth.py``): none, basic, bearer, header_token,
  timestamp_hash [C field clients], oauth2 client_credentials [C], lgsp_access_token (base64
  AccessKey/SecretKey/AppName) [C]; tokens cached, renewed before expiry and after a 401 (one retry).
- **Answers** (``answers.py``), one reader for every variant: DTDs, entities and external references
  refused (a byte scan, and the parsed document's DTD), no recover mode, at most
  ``max_response_bytes`` read; XML inside an LGSP's JSON gets the same. Read against the vendored
  XSDs **tolerantly**: elements and attributes they do not list are read past and counted
  (``VerifyResult.ignored`` / ``CitizenRecord.ignored``: how many, and where, names only); a known
  field in a shape that cannot be read without guessing is refused (``outside-schema``). Names come
  structured or as one string; addresses' unit names (``TenTinhThanh``...) are read.
- **Matching**: ``text.names_match`` - case, spacing, NFC/NFD and old/new tone placement ("Hoà"/"Hòa")
  do not matter, the letters do; the mock decides with the same function. With the [I] ``ChiTietKhop``
  block the database's per-field flags are taken as given; without it ``TonTai`` counts for every field.
- **Idempotency**: both operations are reads; ``MaYeuCau`` (``request_id``), fresh per call, is the
  per-call audit reference at the database and is returned in ``VerifyResult.request_id``. The hub
  audit-logs every call per officer (who, why, outcome) without personal data in clear.
- **Port**: ``hub.citizens.port.PopulationDb`` (the hub's: request and record models, error family);
  ``PopulationDbClient`` implements it.
- **Errors** (``errors.py`` classifies into the port's family): ``RetryableError`` vs ``PermanentError``
  (``InvalidRequest``, ``NotAuthorised``, ``UnsafeResponse``), and ``CitizenNotFound`` (an answer, not a
  failure). Each carries ``retryable`` and ``breaker_failure`` for the hub's retry policy and circuit
  breaker (``breaker_failures`` / ``breaker_reset`` in settings). No personal data in any message.
- **Inferred [I] and configurable** (``HUB_POPDB_*``, see ``config.py``): the endpoint paths, MaDonVi's
  position, the verify integration code, the per-field match block ``ChiTietKhop`` of the verify answer,
  the MaLoi error codes in the fault detail ``ThongTinLoi`` (01 invalid, 02 not authorised, 03 not found,
  99 busy; also read in an LGSP's ``error_code``), the birth-date wire format (yyyy-mm-dd per the design
  doc, yyyyMMdd as some field clients send), the Đồng Tháp answer (``HUB_POPDB_ANSWER_FORMAT``), the
  lifetime of a token that states none.
- **Mock** (``mock.py``, ``python -m connectors.population_db.mock --port 8103``): every variant, with the
  same credentials and shapes, refused in each variant's own form; strict mode (default) applies each
  rule we know with its own faultcode (``mock_rules.py``, ``GET /_mock/card``, which also lists what it
  cannot know); synthetic citizens (ID numbers starting ``000``); answers in ANB's or THH's shape;
  injects latency, hangs, SOAP faults, 5xx, malformed XML and hostile XML (billion laughs, XXE, DTD,
  oversized). Admin views under ``/_mock/``. Each fact and its tests: ``docs/partners.md``.
"""

from __future__ import annotations

from .client import NAME, PopulationDbClient, build_client
from .config import PopulationDbSettings
from .errors import classify
from .limits import FieldLimits
from .translate import OP_LOOKUP, OP_VERIFY, OPERATIONS

KIND = "population_db"  # implements hub.citizens.port.PopulationDb (synchronous; no queue)

__all__ = [
    "KIND",
    "NAME",
    "OPERATIONS",
    "OP_LOOKUP",
    "OP_VERIFY",
    "FieldLimits",
    "PopulationDbClient",
    "PopulationDbSettings",
    "build_client",
    "classify",
]
