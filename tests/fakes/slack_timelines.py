"""The fake Slack's channel timelines: messages kept per channel and `conversations.history`.

A mixin of `FakeSlack` (see its docstring for what is served); kept apart so each file stays
short.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.slack import Call

# What the fake's bot token was granted: the manifest's bot scopes.
DEFAULT_SCOPES = frozenset({
    "commands", "chat:write", "chat:write.public", "im:write", "files:write",
    "channels:history", "groups:history",
})
HISTORY_SCOPES = {"C": "channels:history", "G": "groups:history", "D": "im:history"}
MAX_HISTORY_LIMIT = 999


class ChannelTimelines:
    """Per-channel messages, oldest first, and Slack's way of reading them back."""

    clock: Callable[[], float]
    scopes: set[str]
    messages: dict[str, list[dict[str, Any]]]
    _last_ts: float
    _not_in_channel: set[str]
    _not_member: set[str]

    def _new_ts(self) -> str:
        """A message ts: the clock's Unix time, unique and increasing within the fake."""
        self._last_ts = max(round(self.clock(), 6), round(self._last_ts + 0.000001, 6))
        return f"{self._last_ts:.6f}"

    def _keep(self, channel: str, message: dict[str, Any]) -> None:
        self.messages.setdefault(channel, []).append(message)

    def add_message(
        self, channel: str, text: str, *, user: str = "U0OTHER",
        metadata: dict[str, Any] | None = None, bot_id: str | None = None,
    ) -> str:
        """Someone else's message in `channel`, now; returns its ts."""
        ts = self._new_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "text": text, "user": user,
                                   "metadata": metadata}
        if bot_id:
            message["bot_id"] = bot_id
        self._keep(channel, message)
        return ts

    def without_scopes(self, *scopes: str) -> None:
        """The bot token was installed without these scopes."""
        self.scopes -= set(scopes)

    def _history(self, payload: dict[str, Any], call: Call) -> web.Response:
        channel = str(payload.get("channel") or "")
        if not channel:
            return _api_error(call, "channel_not_found")
        needed = HISTORY_SCOPES.get(channel[:1], "mpim:history")
        if needed not in self.scopes:
            call.error = "missing_scope"
            return web.json_response({
                "ok": False, "error": "missing_scope", "needed": needed,
                "provided": ",".join(sorted(self.scopes)),
            })
        if channel in self._not_in_channel or channel in self._not_member:
            return _api_error(call, "not_in_channel")
        try:
            oldest = float(payload.get("oldest") or 0)
            latest = float(payload["latest"]) if payload.get("latest") else math.inf
            limit = int(payload.get("limit") or 100)
            start = _cursor_offset(payload.get("cursor"))
        except ValueError:
            return _api_error(call, "invalid_arguments")
        limit = min(max(limit, 1), MAX_HISTORY_LIMIT)
        inclusive = _truthy(payload.get("inclusive"))
        with_metadata = _truthy(payload.get("include_all_metadata"))

        def inside(ts: float) -> bool:
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [m for m in reversed(self.messages.get(channel, [])) if inside(float(m["ts"]))]
        page = found[start : start + limit]
        more = start + limit < len(found)
        messages = []
        for message in page:
            shown = {k: v for k, v in message.items() if k != "metadata" and v is not None}
            if with_metadata and message.get("metadata") is not None:
                shown["metadata"] = message["metadata"]
            messages.append(shown)
        cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return web.json_response({
            "ok": True, "messages": messages, "has_more": more, "pin_count": 0,
            "response_metadata": {"next_cursor": cursor},
        })


def _cursor_offset(cursor: Any) -> int:
    """Where a `next_cursor` handed out by `_history` resumes (0: the first page)."""
    if not cursor:
        return 0
    return int(base64.b64decode(str(cursor)).decode().removeprefix("next:"))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true"}


def valid_metadata(metadata: Any) -> bool:
    """Slack's message metadata: an `event_type` string and an `event_payload` object."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return False
    return (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and bool(metadata["event_type"])
        and isinstance(metadata.get("event_payload"), dict)
    )


def _api_error(call: Call, error: str) -> web.Response:
    call.error = error
    return web.json_response({"ok": False, "error": error})
