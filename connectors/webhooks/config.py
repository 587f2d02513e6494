"""Settings of the webhook connector, from ``HUB_WEBHOOK_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub.ports import DeliveryPolicy


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

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy.of(self)
