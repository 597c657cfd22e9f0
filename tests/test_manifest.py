"""The Slack app manifest stays in step with what the code registers and needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.workspaces import BOT_SCOPES
from handlers.commands import COMMAND

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


def test_manifest_declares_what_the_bot_uses() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    features = manifest["features"]
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert COMMAND in commands
    assert commands[COMMAND]["url"].endswith("/slack/events")
    assert features["app_home"]["home_tab_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # /guarantees, digests in channels, DMs to a digest's subscriber
    assert {"commands", "chat:write", "im:write"} <= scopes
    # the matrix picture and exports are files shared in the channel
    assert "files:write" in scopes
    # a digest re-sent after a stopped process is first looked for in the channel's history
    assert {"channels:history", "groups:history"} <= scopes
    assert set(BOT_SCOPES) <= scopes  # what the OAuth install asks for is in the manifest
    settings = manifest["settings"]
    assert "app_home_opened" in settings["event_subscriptions"]["bot_events"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    # the buttons (Show all evidence, Subscribe) need interactivity on the same path
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert settings["socket_mode_enabled"] is True
    assert len(manifest["display_information"]["name"]) <= 35
