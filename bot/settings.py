"""Settings read from the environment (or a `.env` file) with pydantic-settings.

The names are fixed by `interface.md`. A missing or malformed value stops start-up with one
line naming the variable (`SettingsError`); secrets are `SecretStr` so they never reach a log.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SLACK_PUBLIC_API_URL = "https://slack.com/api/"

CommaList = Annotated[tuple[str, ...], NoDecode]


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Every setting of interface.md, plus a few operational knobs with safe defaults."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = SLACK_PUBLIC_API_URL
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=1, le=65535)
    store_path: str = "data/guarantees.db"
    digest_time: time = time(8, 0)
    digest_timezone: str = "UTC"
    feeds: CommaList = ()
    feed_poll_minutes: int = Field(default=30, ge=1, le=24 * 60)
    admin_user_ids: CommaList = ()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # The model tier (issue 8): an OpenAI-compatible endpoint. `extractor` comes after the
    # llm_* fields so that its check can see them.
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_max_concurrency: int = Field(default=4, ge=1, le=64)
    llm_daily_token_budget: int | None = Field(default=None, ge=1)
    extractor: Literal["rules", "llm", "hybrid"] = "rules"

    # Operational settings beyond interface.md (documented in .env.example).
    subscription_managers: Literal["members", "admins"] = "members"
    # Who may correct positions from Slack (interface.md).
    correctors: Literal["members", "admins"] = "members"
    fetch_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    fetch_timeout_seconds: float = Field(default=20.0, gt=0)
    # Test-only: lets the fetcher reach loopback servers. Never set in production.
    fetch_allow_loopback: bool = False
    # The User-Agent of every fetch, also the name robots.txt rules are matched against.
    fetch_user_agent: str = Field(default="guarantees-bot/0.1 (news reader)", min_length=1)
    # An HTTP proxy for all fetches (trusted; targets are still checked). May hold credentials.
    fetch_proxy: SecretStr | None = None
    # Seconds one model request may take (local models on a CPU are slow).
    llm_timeout_seconds: float = Field(default=120.0, gt=0)
    # Worker processes re-extracting stored articles after an extractor upgrade (0: a thread).
    reextract_workers: int = Field(default=1, ge=0, le=16)
    # Issue 10: the store as a URL (a SQLite path, or postgresql://... for several replicas);
    # DATABASE_URL is read too, as platforms set it. Takes precedence over STORE_PATH.
    store_url: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("store_url", "database_url")
    )
    # Issue 10: one replica polls feeds, holding a lease this long (renewed every third).
    feed_lease_seconds: int = Field(default=90, ge=3, le=3600)
    # Issue 10: multi-workspace installs through bolt's OAuth flow, when all three are set.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_state_secret: SecretStr | None = None

    @field_validator("slack_bot_token", "slack_signing_secret", "slack_app_token", mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("fetch_proxy", mode="before")
    @classmethod
    def _check_proxy(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not re.match(r"^https?://[^\s/]+", value.strip()):
                raise ValueError("must be an http:// proxy URL, for example http://proxy:3128")
            return value.strip()
        return value

    @field_validator("llm_api_key", "llm_base_url", "llm_model", "llm_daily_token_budget",
                     mode="before")
    @classmethod
    def _empty_llm_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("llm_base_url")
    @classmethod
    def _check_llm_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL such as http://localhost:11434/v1")
        return value.rstrip("/")

    @field_validator("extractor", mode="before")
    @classmethod
    def _lower_extractor(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("extractor")
    @classmethod
    def _model_tier_configured(cls, value: str, info: ValidationInfo) -> str:
        if value != "rules":
            missing = [name.upper() for name in ("llm_base_url", "llm_model")
                       if not info.data.get(name)]
            if missing:
                raise ValueError(f"'{value}' needs {' and '.join(missing)} set")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _check_api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("digest_time", mode="before")
    @classmethod
    def _parse_hh_mm(cls, value: object) -> object:
        if isinstance(value, str):
            match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value.strip())
            if not match:
                raise ValueError("must be HH:MM, for example 08:00")
            return time(int(match.group(1)), int(match.group(2)))
        return value

    @field_validator("digest_timezone")
    @classmethod
    def _check_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be an IANA time zone such as Europe/Kyiv") from exc
        return value

    @field_validator("feeds", "admin_user_ids", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "store_url", "slack_client_id", "slack_client_secret", "slack_state_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("store_url")
    @classmethod
    def _check_store_url(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value() if value is not None else ""
        if "://" in text and not text.startswith(
            ("postgresql://", "postgres://", "sqlite:///")
        ):
            raise ValueError("must be a SQLite path or a postgresql:// URL")
        return value

    @property
    def store_location(self) -> str:
        """Where the store is: STORE_URL (or DATABASE_URL) when set, else STORE_PATH."""
        if self.store_url is None:
            return self.store_path
        return self.store_url.get_secret_value().removeprefix("sqlite:///")

    @property
    def oauth(self) -> bool:
        """All three OAuth settings are set: many workspaces install the app."""
        return None not in (
            self.slack_client_id, self.slack_client_secret, self.slack_state_secret
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.digest_timezone)

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    def missing_for_serve(self, socket_mode: bool | None = None) -> list[str]:
        """The variables `serve` needs in the chosen mode that are not set."""
        socket_mode = self.socket_mode if socket_mode is None else socket_mode
        missing = []
        if self.slack_bot_token is None and not self.oauth:  # OAuth: a token per workspace
            missing.append("SLACK_BOT_TOKEN")
        if socket_mode and self.slack_app_token is None:
            missing.append("SLACK_APP_TOKEN")
        if not socket_mode and self.slack_signing_secret is None:
            missing.append("SLACK_SIGNING_SECRET")
        return missing


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise `SettingsError` with one line naming the first bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error.get("loc") else "settings"
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None
