"""Configuration from the environment (prefix ``SCHEDULER_``) or a ``.env`` file."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SCHEDULER_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./scheduler.db"
    admin_token: SecretStr | None = None
    public_base_url: str = "http://localhost:8000"
    slack_signing_secret: SecretStr | None = None
    # The Slack app (app.slack.install): its OAuth client, and the Web API's base (tests
    # point it at a local stand-in).
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # Fernet key (app.secret_box) sealing what must be shown again, e.g. feed links.
    secret_key: SecretStr | None = None
    # Where delayed Slack replies may be posted (scheme, host, port and path prefix must
    # match): Slack's response_url comes from the request body, so it is never trusted as is.
    slack_response_url_prefixes: list[str] = ["https://hooks.slack.com/"]
    # Seconds a connection attempt may take before the request gets 503 instead of hanging.
    database_connect_timeout: float = Field(default=3.0, gt=0, le=60)
    database_pool_size: int = Field(default=5, ge=1, le=100)
    # Requests a worker works on at once; the rest wait their turn in arrival order, at
    # most database_connect_timeout seconds (app.serving.admission). 0: no limit, no order.
    requests_in_flight: int = Field(default=2, ge=0, le=1000)
    # Big plans run in a pool of low-priority child processes per worker (app.serving.heavy): this
    # many at once, this many more waiting (at most heavy_wait_seconds, then 503); plans
    # estimated under heavy_inline_seconds of CPU run in the request's thread. 0: no pool.
    heavy_processes: int = Field(default=1, ge=0, le=16)
    heavy_queue: int = Field(default=2, ge=0, le=100)
    heavy_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    heavy_inline_seconds: float = Field(default=0.05, ge=0)
    heavy_niceness: int = Field(default=10, ge=0, le=19)
    heavy_tasks_per_process: int = Field(default=4, ge=1)
    # All solver runs of one plan together; past it the plan is greedy and says so.
    plan_time_budget_seconds: float = Field(default=2.0, gt=0, le=60)
    # Memory per worker for repeated API reads (app.api.read_cache); 0 turns it off.
    read_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # Participants' own calendars (app.db.calendars): refreshed in the background this often;
    # private, loopback and link-local addresses are refused unless allowed (tests, intranets).
    calendar_refresh_minutes: int = Field(default=30, ge=1, le=24 * 60)
    calendar_allow_private_addresses: bool = False
    # How often each worker looks for sources that are due (claimed by a lease: one reads).
    calendar_poll_seconds: float = Field(default=60.0, gt=0, le=3600)
    # Invitations by email (app.db.invitations): the SMTP relay, the sender, how long
    # changes are gathered into one message per member, and how often dispatchers look.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    mail_from: str = "Meeting scheduler <scheduler@localhost>"
    mail_coalesce_seconds: float = Field(default=60.0, ge=0, le=3600)
    mail_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    log_level: str = "INFO"
    # Rate limits (per worker process): bursts, then a steady rate a minute.
    feed_burst: int = Field(default=120, ge=1)
    feed_per_minute: float = Field(default=120, ge=0)
    unknown_link_burst: int = Field(default=30, ge=1)
    unknown_link_per_minute: float = Field(default=30, ge=0)
    auth_failure_burst: int = Field(default=20, ge=1)
    auth_failure_per_minute: float = Field(default=10, ge=0)

    @field_validator(
        "admin_token",
        "slack_signing_secret",
        "slack_client_secret",
        "secret_key",
        "smtp_password",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("secret_key")
    @classmethod
    def _a_fernet_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                raw = value.get_secret_value().encode("ascii")
                # A Fernet key as generate_key() writes it: 44 characters, padded. (Newer
                # cryptography releases also take the unpadded 43; a key is checked once.)
                if len(raw) != 44 or len(base64.urlsafe_b64decode(raw)) != 32:
                    raise ValueError("not a Fernet key")
                Fernet(raw)
            except (ValueError, UnicodeError, binascii.Error):
                raise ValueError(
                    "SCHEDULER_SECRET_KEY must be a Fernet key (32 random bytes in URL-safe "
                    "base64, 44 characters); make one with: python -c 'from "
                    "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
                ) from None
        return value

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            weak = {"changeme", "secret", "admin", "password", ""}
            if self.admin_token is not None and self.admin_token.get_secret_value() in weak:
                raise ValueError("SCHEDULER_ADMIN_TOKEN is a default value; set a real secret.")
            if self.database_url.startswith("sqlite"):
                raise ValueError("Production needs PostgreSQL in SCHEDULER_DATABASE_URL.")
            if self.secret_key is None:
                raise ValueError(
                    "Production needs SCHEDULER_SECRET_KEY (a Fernet key; see the README's "
                    "configuration section): it seals the feed links the service shows again."
                )
        return self

    @property
    def public_base(self) -> str:
        return self.public_base_url.rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
