"""Settings of the national portal (DVCQG) connector, read from ``HUB_PORTAL_*`` variables.

The keys follow the adapter configuration used by one-stop systems in the field
(``adapter_url, auth_endpoint, integration_endpoint, share_endpoint, username, password,
dstcode, madonvi``); the defaults point at the mock portal on 127.0.0.1:8101.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.ports import DeliveryPolicy


class NationalPortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_PORTAL_", extra="ignore")

    base_url: str = Field(default="http://127.0.0.1:8101", description="Adapter URL (adapter_url), no trailing slash.")
    auth_endpoint: str = "/auth"
    integration_endpoint: str = "/integration"
    share_endpoint: str = "/share"
    username: str = "lgsp"
    password: SecretStr = SecretStr("lgsp-dev-password")
    dstcode: str = Field(default="DVCQG", description="Routing code sent as the `dstcode` header on every call.")
    madonvi: str = Field(default="000.00.00.H56", description="Electronic code of the connecting unit (madonvi).")

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

    def url(self, endpoint: str) -> str:
        return self.base_url.rstrip("/") + endpoint

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy.of(self)
