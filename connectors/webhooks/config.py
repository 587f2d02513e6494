"""Settings of the webhook connector, from ``HUB_WEBHOOK_*`` variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from hub.ports import DeliveryPolicy
from hub.ssrf import AddressPolicy


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_WEBHOOK_", extra="ignore")

    timeout: float = Field(default=10.0, gt=0, description="Seconds per POST.")
    max_attempts: int = Field(default=20, ge=1)
    max_age: float = Field(default=3 * 24 * 3600.0, gt=0, description="Seconds after which retries stop.")
    backoff_base: float = Field(default=5.0, gt=0)
    backoff_max: float = Field(default=3600.0, gt=0)
    # One receiver being down must not stop the others: the breaker only opens when very many
    # deliveries in a row fail (the hub's own network is down).
    breaker_failures: int = Field(default=500, ge=1)
    breaker_reset: float = Field(default=30.0, gt=0)
    # The SSRF guard (hub/ssrf.py): checked when a client subscribes and again at each delivery.
    allow_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Networks (CIDR, comma-separated) receivers may be in although private, e.g. the province's "
        "own LAN: 10.56.0.0/16,192.168.20.0/24. Empty: only globally routable addresses.",
    )
    allow_loopback: bool = Field(default=False, description="Allow 127.0.0.0/8 and ::1 (`lgsp dev` sets it).")

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        AddressPolicy.of(value)  # ValueError names the bad network
        return value

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy.of(self)

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.of(self.allow_networks, self.allow_loopback)
