"""Signed requests and payloads as Slack sends them to the bot: slash commands, block
actions, overflow menus, view submissions, Events API callbacks, and the signature headers."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any

_ids = itertools.count(1)  # trigger, view and event ids, unique within a test run


def slash_command(
    text: str,
    *,
    response_url: str,
    trigger_id: str | None = None,
    user_id: str = "U0USER",
    channel_id: str = "C0CHAN",
    team_id: str = "T0TEAM",
    command: str = "/guarantees",
    channel_name: str = "general",
    user_name: str = "someone",
) -> dict[str, str]:
    """The fields Slack sends for a slash command (form fields in HTTP mode, a dict in
    Socket Mode)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": "example",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": "A0APP",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or f"trigger-{next(_ids)}",
    }


def block_action(
    action_id: str,
    value: str,
    *,
    response_url: str,
    trigger_id: str | None = None,
    user_id: str = "U0USER",
    channel_id: str = "C0CHAN",
    team_id: str = "T0TEAM",
    message_ts: str = "1700000000.000100",
    channel_name: str = "general",
    user_name: str = "someone",
) -> dict[str, Any]:
    """A `block_actions` payload for a button click on a message."""
    return {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "example"},
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id},
        "trigger_id": trigger_id or f"trigger-{next(_ids)}",
        "channel": {"id": channel_id, "name": channel_name},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def overflow_action(
    action_id: str,
    selected: str,
    *,
    response_url: str | None,
    in_view: str | None = None,
    user_id: str = "U0USER",
    channel_id: str = "C0CHAN",
    team_id: str = "T0TEAM",
) -> dict[str, Any]:
    """A `block_actions` payload for an option chosen in an overflow menu, on a message (with a
    response_url) or inside a modal (`in_view`: its view id; no response_url)."""
    payload = block_action(
        action_id, "", response_url=response_url or "", user_id=user_id, channel_id=channel_id,
        team_id=team_id,
    )
    payload["actions"] = [
        {
            "type": "overflow",
            "action_id": action_id,
            "block_id": "b",
            "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": selected},
            "action_ts": f"{time.time():.6f}",
        }
    ]
    if in_view is not None:
        payload["container"] = {"type": "view", "view_id": in_view}
        payload["view"] = {"id": in_view, "type": "modal"}
        del payload["response_url"]
        del payload["channel"]
    return payload


def view_submission(
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    *,
    user_id: str = "U0USER",
    team_id: str = "T0TEAM",
) -> dict[str, Any]:
    """A `view_submission` payload for a modal the bot opened, with its input `values`
    (`{block_id: {action_id: {...}}}`) as Slack fills `view.state.values`."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "example"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": "A0APP",
        "token": "legacy-verification-token",
        "trigger_id": f"trigger-{next(_ids)}",
        "view": {**view, "id": f"V{next(_ids)}", "state": {"values": values}},
        "response_urls": [],
    }


def event_callback(
    event: dict[str, Any], *, event_id: str | None = None, team_id: str = "T0TEAM"
) -> dict[str, Any]:
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": "A0APP",
        "type": "event_callback",
        "event": event,
        "event_id": event_id or f"Ev{next(_ids)}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "U0BOT", "is_bot": True}],
    }


def sign(signing_secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's signature headers for a request body (as `SignatureVerifier` checks them)."""
    raw = body.encode() if isinstance(body, str) else body
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + stamp.encode() + b":" + raw
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}
