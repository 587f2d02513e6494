"""Settings of the population database connector, read from ``HUB_POPDB_*`` variables.

The defaults point at the mock (``python -m connectors.population_db.mock --port 8103``), so the
connector and the mock agree out of the box. Values marked [I] are inferred (the database's guide
is not public) and configurable; [C] values are documented in ``shared/design/external-systems.md`` §4.
Code lists are JSON in the environment, e.g. ``HUB_POPDB_BUSY_CODES='["99", "98"]'``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

AuthScheme = Literal["none", "basic", "bearer", "timestamp_hash"]
BirthDateFormat = Literal["yyyy-mm-dd", "yyyymmdd"]


class PopulationDbSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_POPDB_", extra="ignore")

    # ---- where
    base_url: str = Field(default="http://127.0.0.1:8103", description="Scheme, host and port; no trailing slash.")
    endpoint_path: str = Field(default="/dancuquocgia/soap", description="[I] Path of the SOAP endpoint.")

    # ---- caller fields sent on every call
    agency_code: str = Field(
        default="000.00.00.H56", max_length=35, description="MaDonVi: the calling agency's electronic id [C]."
    )
    service_code: str = Field(
        default="VPCP",
        max_length=20,
        description="MaDVC: public-service code used when a request names no purpose [C: 'VPCP' in the field].",
    )
    integration_code_lookup: str = Field(
        default="037", pattern=r"^\d{1,20}$", description="MaTichHop for TraCuuThongTinCongDan [C]."
    )
    integration_code_verify: str = Field(
        default="033", pattern=r"^\d{1,20}$", description="MaTichHop for XacThucThongTinCongDan [I]."
    )
    birth_date_format: BirthDateFormat = Field(
        default="yyyy-mm-dd", description="NgayThangNam on the wire: yyyy-mm-dd [C doc] or yyyyMMdd [C field clients]."
    )
    uppercase_names: bool = Field(default=True, description="Send HoVaTen upper-cased, as field clients do [C].")

    # ---- credentials (the LGSP/NDXP in front of the database; schemes differ by province)
    auth_scheme: AuthScheme = Field(
        default="none",
        description=(
            "none; basic (username:password); bearer (token); timestamp_hash [C field clients]: header "
            "Timestamp (ms) and Basic username:sha256hex(auth_hash_url + username + timestamp + password)."
        ),
    )
    username: str = ""
    password: SecretStr = SecretStr("")
    token: SecretStr = SecretStr("")
    auth_hash_url: str = Field(default="", description="The URL string hashed by timestamp_hash (as issued).")

    # ---- limits
    timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds per network phase (connect, send, first byte); the whole answer is due this long "
            "after the call started."
        ),
    )
    max_response_bytes: int = Field(
        default=1024 * 1024, ge=4096, description="Answers larger than this are refused unread (UnsafeResponse)."
    )
    strict_xml: bool = Field(
        default=True,
        description=(
            "zeep strict mode: malformed XML and elements missing from the vendored schema are refused. "
            "Turning it off enables lxml's recover mode; keep it on."
        ),
    )

    # ---- policy for the hub's synchronous path (the hub owns the breaker; the connector only states it)
    breaker_failures: int = Field(default=5, ge=1, description="Consecutive breaker failures that open it.")
    breaker_reset: float = Field(default=30.0, gt=0, description="Seconds the breaker stays open before a probe.")

    # ---- [I] MaLoi codes in the fault detail (dan:ThongTinLoi/dan:MaLoi); normalised as in errors.py
    invalid_codes: tuple[str, ...] = Field(default=("01",), description="Invalid request: permanent.")
    not_authorised_codes: tuple[str, ...] = Field(default=("02",), description="Caller not granted: permanent.")
    not_found_codes: tuple[str, ...] = Field(default=("03",), description="No such citizen: CitizenNotFound.")
    busy_codes: tuple[str, ...] = Field(default=("99",), description="Database busy/overloaded: retryable.")

    def endpoint(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.endpoint_path.lstrip("/")

    def auth_headers(self, now: float | None = None) -> dict[str, str]:
        """HTTP headers of the configured scheme, computed per call (timestamp_hash changes each time)."""
        if self.auth_scheme == "bearer":
            return {"Authorization": f"Bearer {self.token.get_secret_value()}"}
        if self.auth_scheme == "basic":
            return {"Authorization": _basic(self.username, self.password.get_secret_value())}
        if self.auth_scheme == "timestamp_hash":
            stamp = str(int((time.time() if now is None else now) * 1000))
            return {"Timestamp": stamp, "Authorization": _basic(self.username, self.timestamp_hash(stamp))}
        return {}

    def timestamp_hash(self, stamp: str) -> str:
        raw = self.auth_hash_url + self.username + stamp + self.password.get_secret_value()
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
