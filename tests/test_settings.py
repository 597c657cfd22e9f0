"""Settings: interface.md's names, one-line errors naming the variable, secrets hidden."""

from __future__ import annotations

from datetime import time

import pytest

from bot.settings import SLACK_PUBLIC_API_URL, SettingsError, load_settings

ALL_VARIABLES = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL", "HOST",
    "PORT", "STORE_PATH", "DIGEST_TIME", "DIGEST_TIMEZONE", "FEEDS", "FEED_POLL_MINUTES",
    "ADMIN_USER_IDS", "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env file


def test_defaults_of_interface_md() -> None:
    settings = load_settings()
    assert settings.slack_api_url == SLACK_PUBLIC_API_URL
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.store_path == "data/guarantees.db"
    assert (settings.digest_time, settings.digest_timezone) == (time(8, 0), "UTC")
    assert settings.feeds == () and settings.admin_user_ids == ()
    assert settings.feed_poll_minutes == 30 and settings.log_level == "INFO"
    assert not settings.socket_mode
    assert settings.missing_for_serve() == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]


def test_values_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDS", "https://a.example/rss, https://b.example/atom ,")
    monkeypatch.setenv("ADMIN_USER_IDS", "U1,U2")
    monkeypatch.setenv("DIGEST_TIME", "7:05")
    monkeypatch.setenv("DIGEST_TIMEZONE", "Europe/Kyiv")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.feeds == ("https://a.example/rss", "https://b.example/atom")
    assert settings.admin_user_ids == ("U1", "U2")
    assert settings.digest_time == time(7, 5)
    assert settings.zone.key == "Europe/Kyiv"
    assert settings.slack_api_url == "http://127.0.0.1:9999/api/"
    assert settings.socket_mode and settings.missing_for_serve() == []
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PORT", "http", "PORT: "),
        ("PORT", "70000", "PORT: "),
        ("DIGEST_TIME", "25:00", "DIGEST_TIME: must be HH:MM"),
        ("DIGEST_TIMEZONE", "Mars/Olympus", "DIGEST_TIMEZONE: must be an IANA time zone"),
        ("FEED_POLL_MINUTES", "0", "FEED_POLL_MINUTES: "),
        ("SLACK_API_URL", "slack.com", "SLACK_API_URL: must be an http(s) URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: "),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_secrets_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-very-secret")
    settings = load_settings()
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"


def test_empty_secret_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "  ")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    assert load_settings().missing_for_serve() == ["SLACK_SIGNING_SECRET"]


def test_env_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    Path(".env").write_text("STORE_PATH=/tmp/from-env-file.db\nPORT=8080\n", encoding="utf-8")
    settings = load_settings()
    assert (settings.store_path, settings.port) == ("/tmp/from-env-file.db", 8080)
