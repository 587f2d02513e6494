"""Settings of the national portal (DVCQG) connector, read from ``HUB_PORTAL_*`` variables.

The keys follow the adapter configuration used by one-stop systems in the field
(``adapter_url, auth_endpoint, integration_endpoint, share_endpoint, username, password,
dstcode, madonvi``); the defaults point at the mock portal on 127.0.0.1:8101.

**Variants** (``HUB_PORTAL_VARIANT``, §1.1): how the province reaches the portal.

=================  ==========================================================================================
``adapter``        the DVCQG adapter [C OCPS]: login for a session, then ``{session, madonvi, service,
(default)          isUpdating, data: [...]}`` to one endpoint per direction, header ``dstcode``
``lgsp_hagiang``   through the province's LGSP, Hà Giang shape [C HG]: a **bare JSON array** posted to one URL
                   per operation (``/api/SynsTTHCC/DongBoHoSoMC`` [C]; the progress and lookup paths [I]),
                   ``MaDinhDanhDV`` (the unit code) and ``isUpdating`` in the query string, no session; the
                   LGSP's own authentication (``auth_scheme``, default ``bearer`` [I])
``lgsp_thanhhoa``  through the province's LGSP, Thanh Hóa v2 shape [C THH]: bare JSON arrays to separate URLs
                   for insert, update and progress (``URLThemMoi, URLCapNhat, URLDongBoTienTrinh``; paths [I]),
                   no unit code, no session, no auth header (``auth_scheme`` ``none`` [C]); the progress reply
                   is text, "thành công" meaning success [C]
=================  ==========================================================================================

Each variant has default paths and authentication (``VARIANT_DEFAULTS``); every path and the scheme can
be set (``HUB_PORTAL_SYNC_PATH``, ``_UPDATE_PATH``, ``_PROGRESS_PATH``, ``_LOOKUP_PATH``, ``_AUTH_SCHEME``).
**Per-agency profiles** (``HUB_PORTAL_PROFILES``): one province may reach the portal in more than one way
(agency A through the adapter, agency B through the province's LGSP). A *profile* is a name whose settings
override these (its variant, URLs, credentials: ``PortalProfile``), e.g.
``HUB_PORTAL_PROFILES='{"hagiang": {"variant": "lgsp_hagiang", "base_url": "https://lgsp.example"}}'`` with the
secret apart, ``HUB_PORTAL_PROFILES__HAGIANG__TOKEN=...``. The agency directory (``lgsp agencies``) names each
agency's profile and unit code (``portal.profile``, ``portal.madonvi``); ``default`` is these settings
themselves. An agency without a portal unit goes out under ``HUB_PORTAL_MADONVI`` and the default profile while
``HUB_PORTAL_UNIT_FALLBACK`` is true (the default, as before per-agency units); false: its dossiers are refused
at intake (422 ``agency_not_configured``, naming the agency), and a message already accepted waits (retried,
its reason naming the agency) until an operator sets the unit.

Authentication schemes (§0): ``session`` (the adapter's login), ``none``, ``bearer`` (``Authorization:
Bearer <token>``), ``header_token`` (``<auth_header>: <token>``, e.g. ``access_token`` [C THH VNPost]),
``lgsp_access_token`` (header ``lgspaccesstoken: base64(JSON{AccessKey, SecretKey, AppName, PartnerCode,
PartnerCodeCus})`` on every call [C OCPS]), ``oauth2`` (client credentials posted as a form to ``token_url``
-> ``{access_token, token_type, expires_in}``, then ``Authorization: <token_type> <access_token>``; the token
kept until ``token_renew_before`` seconds before it expires, dropped on a 401 and fetched again once [C §0]).
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.agencies.port import DEFAULT_PROFILE, PROFILE_NAME
from hub.codes import is_agency_code
from hub.ports import DeliveryPolicy

from .limits import PortalLimits

Variant = Literal["adapter", "lgsp_hagiang", "lgsp_thanhhoa"]
AuthScheme = Literal["session", "none", "bearer", "header_token", "lgsp_access_token", "oauth2"]


class VariantDefaults(NamedTuple):
    auth: AuthScheme
    sync: str  # insert (isUpdating False)
    update: str  # update (isUpdating True)
    progress: str
    lookup: str
    unit_in_query: bool  # MaDinhDanhDV and isUpdating in the query string


VARIANT_DEFAULTS: dict[str, VariantDefaults] = {
    "adapter": VariantDefaults("session", "/integration", "/integration", "/integration", "/share", False),
    "lgsp_hagiang": VariantDefaults(
        "bearer",
        "/api/SynsTTHCC/DongBoHoSoMC",  # [C HG]
        "/api/SynsTTHCC/DongBoHoSoMC",
        "/api/SynsTTHCC/CapNhatTienDoHoSoMC",  # [I]
        "/api/SynsTTHCC/TraCuuHoSo",  # [I]
        True,
    ),
    "lgsp_thanhhoa": VariantDefaults(
        "none", "/api/DVCQG/ThemMoi", "/api/DVCQG/CapNhat", "/api/DVCQG/DongBoTienTrinh", "/api/DVCQG/TraCuuHoSo", False
    ),  # [C] separate URLs, no auth; [I] the paths
}


class PortalProfile(BaseModel):
    """A named way to the portal (``HUB_PORTAL_PROFILES``): the settings it overrides; the rest (timeouts,
    limits, answer codes, retries) are the connector's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Variant | None = None
    auth_scheme: AuthScheme | None = None
    token: SecretStr | None = None
    auth_header: str | None = None
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    app_name: str | None = None
    partner_code: str | None = None
    partner_code_cus: str | None = None
    sync_path: str | None = None
    update_path: str | None = None
    progress_path: str | None = None
    lookup_path: str | None = None
    unit_param: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    base_url: str | None = None
    auth_endpoint: str | None = None
    integration_endpoint: str | None = None
    share_endpoint: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    dstcode: str | None = None


class NationalPortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_PORTAL_", extra="ignore", env_nested_delimiter="__")

    variant: Variant = Field(default="adapter", description="How the province reaches the portal (see above).")
    auth_scheme: AuthScheme | None = Field(default=None, description="Default: per variant (see above).")
    token: SecretStr = Field(default=SecretStr(""), description="bearer / header_token: the LGSP's token.")
    auth_header: str = Field(default="access_token", description="header_token: the header [C: THH VNPost].")
    access_key: SecretStr = SecretStr("")  # lgsp_access_token: AccessKey
    secret_key: SecretStr = SecretStr("")  # SecretKey
    app_name: str = ""  # AppName
    partner_code: str = ""  # PartnerCode
    partner_code_cus: str = ""  # PartnerCodeCus
    sync_path: str | None = Field(default=None, description="LGSP variants: insert URL path (default per variant).")
    update_path: str | None = Field(default=None, description="LGSP variants: update URL path.")
    progress_path: str | None = Field(default=None, description="LGSP variants: progress URL path.")
    lookup_path: str | None = Field(default=None, description="LGSP variants: lookup URL path [I].")
    unit_param: str = Field(default="MaDinhDanhDV", description="lgsp_hagiang: the unit code's query parameter [C].")
    token_url: str = Field(default="/token", description="oauth2: the token endpoint (a path, or an absolute URL).")
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    scope: str = ""
    token_renew_before: float = Field(default=60.0, ge=0, description="oauth2: renew this many seconds early.")
    token_default_ttl: float = Field(default=300.0, gt=0, description="[I] oauth2: life of a token stating none.")
    limits: PortalLimits = Field(default_factory=PortalLimits, description="The portal's limits (limits.py).")

    base_url: str = Field(default="http://127.0.0.1:8101", description="Adapter URL (adapter_url), no trailing slash.")
    auth_endpoint: str = "/auth"
    integration_endpoint: str = "/integration"
    share_endpoint: str = "/share"
    username: str = "lgsp"
    password: SecretStr = SecretStr("lgsp-dev-password")
    dstcode: str = Field(default="DVCQG", description="Routing code sent as the `dstcode` header on every call.")
    madonvi: str = Field(default="000.00.00.H56", description="Electronic code of the connecting unit (madonvi).")

    profiles: dict[str, PortalProfile] = Field(
        default_factory=dict,
        description="Named ways to the portal, for the agencies that name one (portal.profile); see above.",
    )
    unit_fallback: bool = Field(
        default=True,
        description="An agency without a portal unit in the directory goes out under HUB_PORTAL_MADONVI and the "
        "default profile; false: its dossiers are refused at intake, naming the agency.",
    )
    unit_cache_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="Seconds an agency's portal unit and profile are kept once read."
    )

    timeout: float = Field(default=10.0, gt=0, description="Seconds per partner call.")
    batch_size: int = Field(default=50, ge=1, le=500, description="HoSo per DongBoHoSoMC call.")
    max_attempts: int = Field(default=12, ge=1)
    max_age: float = Field(default=48 * 3600.0, gt=0)
    backoff_base: float = Field(default=2.0, gt=0)
    backoff_max: float = Field(default=600.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset: float = Field(default=15.0, gt=0)

    # [I] Portal answer codes; the real codes are not public, so they are configurable
    # (environment values are JSON lists, e.g. HUB_PORTAL_RETRYABLE_CODES='["57"]').
    session_expired_codes: tuple[str, ...] = ("-2",)
    already_exists_codes: tuple[str, ...] = ("3", "-3")
    not_found_codes: tuple[str, ...] = ("4",)
    retryable_codes: tuple[str, ...] = Field(
        default=(), description="Non-zero error_code values to retry instead of dead-lettering (e.g. a 'busy' code)."
    )
    lookup_on_retry: bool = Field(
        default=False,
        description="Check TraCuuHoSo before every re-send (attempt > 1), not only when the ledger says an "
        "earlier attempt may have reached the portal (no answer, a server error, an abandoned attempt).",
    )
    lookup_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Portal calls in flight at once per batch: TraCuuHoSo lookups of the items in doubt, and the "
        "sync / progress calls of one round (different dossiers).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Refuse at start-up what every call would be refused for (the error names the setting)."""
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> list[str]:
        problems = []
        if not is_agency_code(self.madonvi):
            problems.append("HUB_PORTAL_MADONVI: not shaped like an agency code (QĐ 20/2020), e.g. 000.00.00.H56")
        if self.variant == "adapter" and self.auth != "session":
            problems.append("HUB_PORTAL_AUTH_SCHEME: the adapter variant logs in for a session")
        if self.variant != "adapter" and self.auth == "session":
            problems.append("HUB_PORTAL_AUTH_SCHEME: the LGSP variants have no session (none, bearer, ...)")
        for name in self.profiles:
            if name == DEFAULT_PROFILE or not re.match(PROFILE_NAME, name):
                problems.append(f"HUB_PORTAL_PROFILES: {name!r} is not a profile name (a-z, 0-9, _; not 'default')")
                continue
            try:
                self.for_profile(name)
            except ValueError as exc:
                problems.append(f"HUB_PORTAL_PROFILES.{name}: {exc}")
        return problems

    def for_profile(self, name: str) -> NationalPortalSettings:
        """The settings of a profile: these, with what the profile overrides (``KeyError`` for an unknown
        name; ``ValueError`` for a profile that cannot work)."""
        if name == DEFAULT_PROFILE:
            return self
        overrides: dict[str, Any] = dict(self.profiles[name])  # typed as these fields are (PortalProfile)
        # a copy, not a constructor: that would read the environment again (HUB_PORTAL_PROFILES merged back in)
        settings = self.model_copy(update={k: v for k, v in overrides.items() if v is not None} | {"profiles": {}})
        problems = settings._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return settings

    @property
    def auth(self) -> AuthScheme:
        return self.auth_scheme or VARIANT_DEFAULTS[self.variant].auth

    @property
    def enveloped(self) -> bool:
        """The adapter's session envelope; the LGSP variants post bare arrays."""
        return self.variant == "adapter"

    @property
    def unit_in_query(self) -> bool:
        return VARIANT_DEFAULTS[self.variant].unit_in_query

    def path(self, operation: Literal["sync", "update", "progress", "lookup"]) -> str:
        """The URL path of an operation in this variant."""
        d = VARIANT_DEFAULTS[self.variant]
        if self.variant == "adapter":
            return self.share_endpoint if operation == "lookup" else self.integration_endpoint
        chosen = {"sync": self.sync_path, "update": self.update_path, "progress": self.progress_path}.get(operation)
        if operation == "lookup":
            chosen = self.lookup_path
        return chosen or getattr(d, operation)

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

    def auth_headers(self) -> dict[str, str]:
        """The headers of every call in this variant (the adapter's ``dstcode``; an LGSP's credentials)."""
        scheme = self.auth
        if scheme == "session":
            return {"dstcode": self.dstcode}
        if scheme == "bearer":
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        if scheme == "header_token":
            return {self.auth_header: self.token.get_secret_value()}
        if scheme == "lgsp_access_token":
            return {"lgspaccesstoken": self.lgsp_access_token()}
        return {}

    def url(self, endpoint: str) -> str:
        return self.base_url.rstrip("/") + endpoint

    def token_endpoint(self) -> str:
        return self.token_url if self.token_url.startswith(("http://", "https://")) else self.url(self.token_url)

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy.of(self)
