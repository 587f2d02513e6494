"""The console's settings, from environment variables (prefix ``HUB_CONSOLE_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_USERNAME = "dev"


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_CONSOLE_", extra="ignore")

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the console's session cookies. Set it (long, random) in production and give every api "
        "replica the same one; unset, each process makes its own and sessions end when it restarts.",
    )
    idle_minutes: float = Field(default=60.0, gt=0, description="A session unused this long has ended.")
    session_hours: float = Field(default=12.0, gt=0, description="A session ends this long after the login.")
    max_failures: int = Field(default=5, ge=1, description="Wrong passwords in a row that lock an operator out.")
    lockout_minutes: float = Field(default=15.0, gt=0, description="How long a lock-out lasts.")
    cookie_secure: bool = Field(
        default=False, description="Always mark cookies Secure (they are anyway when the request came over https)."
    )
    dev_password: SecretStr = Field(
        default=SecretStr("dev-console-password"),
        description="Password of the 'dev' admin operator that `lgsp dev` creates.",
    )
