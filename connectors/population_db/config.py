"""Settings of the population database connector, read from ``HUB_POPDB_*`` variables.

The defaults point at the mock (``python -m connectors.population_db.mock --port 8103``), so the
connector and the mock agree out of the box. Values marked [I] are inferred (the database's guide
is not public) and configurable; [C] values are documented in ``shared/design/external-systems.md``
§0, §4, §6. Code lists are JSON in the environment, e.g. ``HUB_POPDB_BUSY_CODES='["99", "98"]'``;
nested settings take ``__``, e.g. ``HUB_POPDB_LIMITS__HOVATEN=80``.

**Variants** (``HUB_POPDB_VARIANT``, §4.1): how the province reaches the database.

======================  =================================================================================
``soap`` (default)      the SOAP 1.1 envelope POSTed as is (NDXP/VDXP, or an LGSP that passes SOAP on)
``lgsp_hagiang``        Hà Giang-type LGSP [C OCPS "HG"]: JSON ``{accessToken: "Bearer <token>",
                        lgspAccessToken: base64(JSON creds), AuthHash: base64(staff key:pass),
                        data: "<soapenv:Envelope...>"}`` -> the raw SOAP answer
``lgsp_dongthap``       Đồng Tháp-type LGSP [C OCPS "DT"]: ``Authorization: Bearer``, JSON camelCase
                        ``{maYeuCau, maDVC, maCanBo, soDinhDanh, soCMND, hoVaTen, ngayThangNam,
                        userNameService}`` -> [I] ``{error_code, message: "<SOAP XML>"}``
``lgsp_thanhhoa``       Thanh Hóa LGSP [C THH]: JSON ``{HoVaTen, SoDinhDanh, SoCMND, NgayThangNam, Nam,
                        MaTichHop, MaDVC, MaCanBo, MaYeuCau}`` -> ``{error_code, message: "<SOAP XML>"}``
======================  =================================================================================

Each variant has a default authentication and endpoint path (``VARIANT_DEFAULTS``); set
``HUB_POPDB_AUTH_SCHEME`` / ``HUB_POPDB_ENDPOINT_PATH`` to override them.

**Per-agency profiles** (``HUB_POPDB_PROFILES``): one province's agencies may reach the database in
different ways (one through NDXP in SOAP, another through its LGSP's JSON). A *profile* is a name whose
values override these settings (any of them but ``profiles``: variant, base_url, credentials, MaDVC,
breaker limits...), e.g. ``HUB_POPDB_PROFILES='{"thanhhoa": {"variant": "lgsp_thanhhoa", "base_url":
"https://lgsp.example"}}'``, with a secret apart: ``HUB_POPDB_PROFILES__THANHHOA__TOKEN=...``. The agency
directory names each agency's profile (``population_db.profile``); ``default`` is these settings
themselves. Every profile is checked at start-up like the settings (an unknown key, a value of the wrong
type, a combination no call could work with: the error names ``HUB_POPDB_PROFILES.<name>``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, SecretStr, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub import codes
from hub.agencies.port import DEFAULT_PROFILE, PROFILE_NAME

from .limits import FieldLimits, Violation, birth_format

Variant = Literal["soap", "lgsp_hagiang", "lgsp_dongthap", "lgsp_thanhhoa"]
AuthScheme = Literal["none", "basic", "bearer", "header_token", "timestamp_hash", "oauth2", "lgsp_access_token"]
AnswerFormat = Literal["soap", "json_message"]
BirthDateFormat = Literal["yyyy-mm-dd", "yyyymmdd"]
TOKEN_SCHEMES: frozenset[str] = frozenset({"oauth2", "lgsp_access_token"})
# variant -> (auth scheme, endpoint path, answer format). "{operation}" in a path is the operation name.
VARIANT_DEFAULTS: dict[str, tuple[AuthScheme, str, AnswerFormat]] = {
    "soap": ("none", "/dancuquocgia/soap", "soap"),
    "lgsp_hagiang": ("lgsp_access_token", "/lgsp/csdldancu/{operation}", "soap"),  # [C] auth, [I] path
    "lgsp_dongthap": ("bearer", "/lgsp/csdldancu/{operation}", "json_message"),  # [C] Bearer, [I] path, answer
    "lgsp_thanhhoa": ("none", "/lgsp/csdldancu/{operation}", "json_message"),  # [C] THH sends no credentials
}
# [C §6] QĐ 20/2020/QĐ-TTg dotted agency code; widths vary (000.00.00.H56, 000.701.18.G12): hub.codes's rule.
AGENCY_CODE_PATTERN = codes.AGENCY_CODE_PATTERN


class PopulationDbSettings(BaseSettings):
    model_config = SettingsConfigDict(  # a refused value is never echoed: it may be a secret
        env_prefix="HUB_POPDB_", extra="ignore", env_nested_delimiter="__", hide_input_in_errors=True
    )

    # ---- where, and in which shape
    variant: Variant = Field(default="soap", description="How the province reaches the database (see above).")
    base_url: str = Field(default="http://127.0.0.1:8103", description="Scheme, host and port; no trailing slash.")
    endpoint_path: str | None = Field(
        default=None, description="[I] Path of the service; '{operation}' is replaced. Default: per variant."
    )
    answer_format: AnswerFormat | None = Field(
        default=None, description="[I for lgsp_dongthap] raw SOAP or the JSON {error_code, message}; per variant."
    )

    # ---- caller fields sent on every call
    agency_code: str = Field(default="000.00.00.H56", description="MaDonVi: the calling agency's electronic id [C].")
    agency_code_pattern: str = Field(default=AGENCY_CODE_PATTERN, description="[C §6] shape of MaDonVi.")
    service_code: str = Field(
        default="VPCP", description="MaDVC: public-service code used when a request names no purpose [C: 'VPCP']."
    )
    integration_code_lookup: str = Field(default="037", description="MaTichHop for TraCuuThongTinCongDan [C].")
    integration_code_verify: str = Field(default="033", description="MaTichHop for XacThucThongTinCongDan [I].")
    birth_date_format: BirthDateFormat = Field(
        default="yyyy-mm-dd", description="NgayThangNam on the wire: yyyy-mm-dd [C doc] or yyyyMMdd [C field clients]."
    )
    uppercase_names: bool = Field(default=True, description="Send HoVaTen upper-cased, as field clients do [C].")
    service_username: str = Field(default="", description="lgsp_dongthap: userNameService [C: a fixed account].")
    json_keys: Literal["camel", "pascal"] = Field(
        default="camel",
        description="lgsp_thanhhoa key case: THH declares PascalCase and posts with .NET's web defaults, which "
        "write camelCase [C]; an ASP.NET LGSP reads either.",
    )
    limits: FieldLimits = Field(default_factory=FieldLimits, description="Request field limits (limits.py) [C].")

    # ---- credentials (the LGSP/NDXP in front of the database; schemes differ by province, §0)
    auth_scheme: AuthScheme | None = Field(
        default=None,
        description="none; basic (username:password); bearer (token); header_token (token in auth_header); "
        "timestamp_hash [C field clients]; oauth2 (client_credentials at token_url) [C]; lgsp_access_token "
        "(base64 AccessKey/SecretKey/AppName at token_url) [C]. Default: per variant.",
    )
    username: str = ""
    password: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    auth_header: str = Field(default="access_token", description="header_token: the header [C: THH VNPost].")
    auth_hash_url: str = Field(default="", description="The URL string hashed by timestamp_hash (as issued).")
    token_url: str = Field(default="/token", description="oauth2 / lgsp_access_token endpoint (or an absolute URL).")
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scope: str = ""
    access_key: SecretStr = SecretStr("")  # lgspaccesstoken: AccessKey
    secret_key: SecretStr = SecretStr("")  # SecretKey
    app_name: str = ""  # AppName
    partner_code: str = ""  # PartnerCode
    partner_code_cus: str = ""  # PartnerCodeCus
    staff_key_name: str = Field(default="", description="lgsp_hagiang AuthHash: the staff key name [C].")
    staff_key_pass: SecretStr = Field(default=SecretStr(""), description="lgsp_hagiang AuthHash: its pass [C].")
    token_renew_before: float = Field(default=60.0, ge=0, description="Renew a token this many seconds early.")
    token_default_ttl: float = Field(default=300.0, gt=0, description="[I] Lifetime of a token that states none.")

    # ---- limits of the call itself
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds per network phase (connect, send, first byte); the whole answer is due this long "
        "after the call started (a token fetch has the same bound).",
    )
    max_response_bytes: int = Field(
        default=1024 * 1024, ge=4096, description="Answers larger than this are refused unread (UnsafeResponse)."
    )

    # ---- policy for the hub's synchronous path (the hub owns the breaker; the connector only states it)
    breaker_failures: int = Field(default=5, ge=1, description="Consecutive breaker failures that open it.")
    breaker_reset: float = Field(default=30.0, gt=0, description="Seconds the breaker stays open before a probe.")

    # ---- per-agency profiles (see above): name -> the settings it overrides
    profiles: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named ways to the database for the agencies that name one (population_db.profile); each "
        "overrides any of these settings (variant, base_url, credentials...); checked at start-up.",
    )

    # ---- [I] MaLoi codes in the fault detail (dan:ThongTinLoi/dan:MaLoi), and LGSP error_code; see errors.py
    invalid_codes: tuple[str, ...] = Field(default=("01",), description="Invalid request: permanent.")
    not_authorised_codes: tuple[str, ...] = Field(default=("02",), description="Caller not granted: permanent.")
    not_found_codes: tuple[str, ...] = Field(default=("03",), description="No such citizen: CitizenNotFound.")
    busy_codes: tuple[str, ...] = Field(default=("99",), description="Database busy/overloaded: retryable.")

    @field_validator("profiles", mode="after")
    @classmethod
    def _typed_profiles(cls, profiles: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Each profile's values validated as the setting they override is (a secret becomes a SecretStr,
        never shown); an unknown key or a wrong value is refused, naming the profile and the key."""
        problems, typed, fields = [], {}, cls.model_fields
        for name, overrides in profiles.items():
            if name == DEFAULT_PROFILE or not re.match(PROFILE_NAME, name):
                problems.append(f"HUB_POPDB_PROFILES: {name!r} is not a profile name (a-z, 0-9, _; not 'default')")
                continue
            values: dict[str, Any] = {}
            for key, value in overrides.items():
                field = fields.get(key)
                if field is None or key == "profiles":
                    problems.append(f"HUB_POPDB_PROFILES.{name}: {key}: not a setting of the population database")
                    continue
                model = field.annotation
                if isinstance(value, dict) and isinstance(model, type) and issubclass(model, BaseModel):
                    names = {n.lower(): n for n in model.model_fields}  # the environment lower-cases: hovaten
                    value = {names.get(str(k).lower(), k): v for k, v in value.items()}
                try:
                    kind: Any = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
                    values[key] = TypeAdapter(kind).validate_python(value)
                except ValidationError as exc:
                    msg = exc.errors(include_url=False, include_input=False)[0]["msg"]
                    problems.append(f"HUB_POPDB_PROFILES.{name}: {key}: {msg}")
            typed[name] = values
        if problems:
            raise ValueError("; ".join(problems))
        return typed

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Refuse at start-up what every call would be refused for (the error names the setting)."""
        problems = self._problems()
        for name in self.profiles:
            try:
                self.for_profile(name)
            except ValueError as exc:
                problems.append(f"HUB_POPDB_PROFILES.{name}: {exc}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> list[str]:
        problems = [str(v) for v in self.caller_violations()]
        if self.variant == "lgsp_dongthap" and not self.service_username:
            problems.append("HUB_POPDB_SERVICE_USERNAME: required by lgsp_dongthap (userNameService)")
        if self.variant == "lgsp_hagiang" and self.auth not in TOKEN_SCHEMES:
            problems.append(
                "HUB_POPDB_AUTH_SCHEME: lgsp_hagiang sends a token in its body: oauth2 or lgsp_access_token"
            )
        if (
            birth_format(
                "1990-01-15" if self.birth_date_format == "yyyy-mm-dd" else "19900115", self.limits.NgayThangNamSinh
            )
            is None
        ):
            problems.append("HUB_POPDB_BIRTH_DATE_FORMAT: not among HUB_POPDB_LIMITS__NGAYTHANGNAMSINH")
        if self.variant in ("lgsp_dongthap", "lgsp_thanhhoa") and "{operation}" not in self.path:
            problems.append("HUB_POPDB_ENDPOINT_PATH: a JSON variant names the operation in its path ({operation})")
        return problems

    def for_profile(self, name: str) -> PopulationDbSettings:
        """The settings of a profile: these, with what the profile overrides, each value validated as its
        setting is (``KeyError`` for an unknown name; ``ValueError`` for a profile that cannot work)."""
        if name == DEFAULT_PROFILE:
            return self
        values = self.profiles[name]  # typed as the settings are (_typed_profiles)
        # a copy, not a constructor: that would read the environment again (HUB_POPDB_PROFILES merged back in)
        settings = self.model_copy(update=values | {"profiles": {}})
        problems = settings._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return settings

    def caller_violations(self) -> list[Violation]:
        lim, found = self.limits, []
        if not re.fullmatch(self.agency_code_pattern, self.agency_code):
            found.append(Violation("HUB_POPDB_AGENCY_CODE", "not shaped like an agency code (QĐ 20/2020)"))
        for name, value, most in (
            ("AGENCY_CODE", self.agency_code, lim.MaDonVi),
            ("SERVICE_CODE", self.service_code, lim.MaDVC),
        ):
            if not value or len(value) > most:
                found.append(Violation(f"HUB_POPDB_{name}", f"1 to {most} characters"))
        for name, value in (("LOOKUP", self.integration_code_lookup), ("VERIFY", self.integration_code_verify)):
            if not re.fullmatch(rf"\d{{1,{lim.MaTichHop}}}", value):
                found.append(Violation(f"HUB_POPDB_INTEGRATION_CODE_{name}", f"1 to {lim.MaTichHop} digits"))
        return found

    # ---- the variant's defaults, resolved
    @property
    def auth(self) -> AuthScheme:
        return self.auth_scheme or VARIANT_DEFAULTS[self.variant][0]

    @property
    def answers_as(self) -> AnswerFormat:
        return self.answer_format or VARIANT_DEFAULTS[self.variant][2]

    @property
    def path(self) -> str:
        return self.endpoint_path or VARIANT_DEFAULTS[self.variant][1]

    def endpoint(self, operation: str = "") -> str:
        return self.base_url.rstrip("/") + "/" + self.path.lstrip("/").replace("{operation}", operation)

    def token_endpoint(self) -> str:
        if re.match(r"^https?://", self.token_url):
            return self.token_url
        return self.base_url.rstrip("/") + "/" + self.token_url.lstrip("/")

    def lgsp_access_token(self) -> str:
        """``base64(JSON{AccessKey, SecretKey, AppName, PartnerCode, PartnerCodeCus})`` [C OCPS]."""
        creds = {
            "AccessKey": self.access_key.get_secret_value(),
            "SecretKey": self.secret_key.get_secret_value(),
            "AppName": self.app_name,
            "PartnerCode": self.partner_code,
            "PartnerCodeCus": self.partner_code_cus,
        }
        return base64.b64encode(json.dumps(creds, separators=(",", ":")).encode()).decode("ascii")

    def auth_hash(self) -> str:
        """lgsp_hagiang ``AuthHash``: ``base64(staff key name:pass)`` [C OCPS]."""
        raw = f"{self.staff_key_name}:{self.staff_key_pass.get_secret_value()}"
        return base64.b64encode(raw.encode("utf-8")).decode("ascii")

    def auth_headers(self, now: float | None = None) -> dict[str, str]:
        """HTTP headers of a static scheme, computed per call (timestamp_hash changes each time). Token
        schemes (oauth2, lgsp_access_token) are served by ``auth.py``; they have none here."""
        scheme = self.auth
        if scheme == "bearer":
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        if scheme == "header_token":
            return {self.auth_header: self.token.get_secret_value()}
        if scheme == "basic":
            return {"Authorization": _basic(self.username, self.password.get_secret_value())}
        if scheme == "timestamp_hash":
            stamp = str(int((time.time() if now is None else now) * 1000))
            return {"Timestamp": stamp, "Authorization": self.timestamp_authorization(stamp)}
        return {}

    def timestamp_authorization(self, stamp: str) -> str:
        """timestamp_hash: ``Basic base64(username:sha256hex(auth_hash_url + username + stamp + password))``."""
        return _basic(self.username, self.timestamp_hash(stamp))

    def timestamp_hash(self, stamp: str) -> str:
        raw = self.auth_hash_url + self.username + stamp + self.password.get_secret_value()
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
