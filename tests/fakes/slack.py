"""A fake Slack on loopback, written with aiohttp, for end-to-end tests of the bot.

It serves:
- the Web API methods the bot calls, under `base_url` (`http://127.0.0.1:PORT/api/`):
  `auth.test`, `chat.postMessage`, `chat.postEphemeral`, `views.open`, `views.publish`,
  `apps.connections.open`, `conversations.info`, `conversations.members`,
  `conversations.history`, `files.getUploadURLExternal` and `files.completeUploadExternal`
  (any other method answers `unknown_method`);
- channel timelines: every accepted `chat.postMessage` is kept as a message of its channel
  (`ts` from `clock`, a Unix time, strictly increasing; `bot_id`, `app_id`; `metadata` when
  it came with valid message metadata, else `invalid_metadata_format`), and `add_message()`
  adds other people's. `conversations.history` reads them as Slack does: newest first,
  `oldest` / `latest` exclusive unless `inclusive`, `limit` (default 100, at most 999) with
  `has_more` and a `next_cursor`, metadata only with `include_all_metadata`; it needs the
  token's `channels:history` (C...), `groups:history` (G...), `im:history` (D...) or
  `mpim:history` scope (`missing_scope` with `needed` and `provided` otherwise; take one away
  with `without_scopes`) and the bot in the channel (`not_in_channel`, also for a channel
  marked `not_member`, which takes posts through `chat:write.public`);
- upload URLs (`/upload/<file id>`): the second step of the upload flow; a file is `shared`
  only when all three steps happened in order with the announced length;
- response URLs (`/response/<id>`), handed out by `new_response_url()`; five uses each;
- a Socket Mode websocket (`/socket`): sends `hello`, pushes envelopes, records acks, and can
  send `disconnect` or drop the connection;
- many workspaces (issue 10): `oauth.v2.access` exchanges a code from `issue_code(team,
  user)` (checked against `client_id` / `client_secret`) for a bot token of that workspace,
  `xoxb-<team>`; such tokens are accepted everywhere, `auth.test` answers with their team
  and bot (`bot_id_of(token)`: `B0BOT` for `bot_token`, `B<team>` for a workspace's token;
  the bot's posts carry the same `bot_id`),
  and each call records the team of its token (`Call.team`); `revoke(team)` refuses it.

Every message or view it receives is checked against Slack's Block Kit limits and refused as
Slack would (`invalid_blocks`, `msg_blocks_too_long`, `missing_text`; `slack_limits.py`).
Channel timelines live in `slack_timelines.py`, the Socket Mode server in `slack_socket.py`,
and the signed payloads tests send to the bot in `slack_payloads.py`. Failures can be
scripted: `fail_next(method, status, times)`, `rate_limit_per_channel(seconds)`,
`not_in_channel(channel)`. Everything received is recorded: `calls(method)`, `responses()`,
`acks`. Use it as an async context manager or `await start()` / `await close()`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import math
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.slack_limits import check_message, check_view
from tests.fakes.slack_socket import Envelope, SocketModeServer
from tests.fakes.slack_timelines import DEFAULT_SCOPES, ChannelTimelines, valid_metadata

RESPONSE_PATH = "response"  # the pseudo-method name for posts to response URLs in fail_next
RESPONSE_URL_USES = 5

MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage")
VIEW_METHODS = ("views.open", "views.publish", "views.update", "views.push")


@dataclass
class Call:
    """One request the fake received, and how it answered."""

    method: str
    payload: dict[str, Any]
    headers: dict[str, str]
    status: int = 200
    error: str | None = None
    at: float = field(default_factory=time.monotonic)
    team: str | None = None  # the workspace of the token used (tokens from oauth.v2.access)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None

    @property
    def channel(self) -> str | None:
        return self.payload.get("channel")


@dataclass
class SharedFile:
    """A file that went through all three steps of Slack's upload flow."""

    id: str
    filename: str
    title: str | None
    channel: str | None
    comment: str | None
    data: bytes


@dataclass
class _Failure:
    status: int
    times: int
    error: str | None
    retry_after: int


# --- the server ----------------------------------------------------------------------------


class FakeSlack(ChannelTimelines, SocketModeServer):
    """Slack's Web API, response URLs and Socket Mode on 127.0.0.1 and a free port."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.clock = clock  # Unix time of message ts values
        self.scopes: set[str] = set(DEFAULT_SCOPES)
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel -> oldest first
        self._last_ts = 0.0
        self.received: list[Call] = []
        self.acks: dict[str, list[dict[str, Any]]] = {}
        self.first_ack_at: dict[str, float] = {}  # envelope id -> time.monotonic() of its ack
        self.envelopes: list[Envelope] = []
        self.connections_opened = 0
        self.hellos_sent = 0
        self._failures: dict[str, list[_Failure]] = {}
        self._per_channel_seconds: float | None = None
        self._per_channel_methods: tuple[str, ...] = ("chat.postMessage",)
        self._last_post: dict[tuple[str, str], float] = {}
        self._not_in_channel: set[str] = set()
        self._not_member: set[str] = set()
        self._response_uses: dict[str, int] = {}
        self._sockets: list[tuple[web.WebSocketResponse, web.BaseRequest]] = []
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._ts = itertools.count(1)
        self._response_ids = itertools.count(1)
        self._ids = itertools.count(1)  # view and file ids
        # files.getUploadURLExternal -> POST upload_url -> files.completeUploadExternal
        self._pending_uploads: dict[str, tuple[str, int]] = {}  # file id -> (filename, length)
        self.uploaded: dict[str, bytes] = {}
        self.shared: list[SharedFile] = []
        self.client_id = "1111.2222"
        self.client_secret = "fake-client-secret"
        self.team_tokens: dict[str, str] = {}  # bot token -> team id
        self._codes: dict[str, tuple[str, str]] = {}  # OAuth code -> (team, installer)

    def issue_code(self, team_id: str, user_id: str = "U0INSTALLER") -> str:
        """An OAuth code, as Slack would append to the redirect after the user approves."""
        code = f"code-{team_id}-{next(self._ts)}"
        self._codes[code] = (team_id, user_id)
        return code

    def bot_id_of(self, token: str) -> str:
        """The `bot_id` of the bot behind `token`: in `auth.test` and on its posts."""
        team = self.team_tokens.get(token)
        return f"B{team}" if team is not None and token != self.bot_token else "B0BOT"

    def revoke(self, team_id: str) -> None:
        for token, team in list(self.team_tokens.items()):
            if team == team_id:
                del self.team_tokens[token]

    # lifecycle ---------------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._web_api)
        app.router.add_get("/api/{method}", self._web_api)
        app.router.add_post("/response/{rid}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        for ws, _ in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What SLACK_API_URL should be."""
        return f"{self.url}/api/"

    def new_response_url(self) -> str:
        return f"{self.url}/response/r{next(self._response_ids)}"

    # scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int,
        times: int = 1,
        *,
        error: str | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` (or `RESPONSE_PATH`) with HTTP `status`
        (429 comes with `Retry-After: retry_after`), or with HTTP 200 and `{"ok": false,
        "error": error}` when `error` is given."""
        self._failures.setdefault(method, []).append(_Failure(status, times, error, retry_after))

    def rate_limit_per_channel(
        self, seconds: float, methods: tuple[str, ...] = ("chat.postMessage",)
    ) -> None:
        """At most one post per channel every `seconds`; beyond, 429 with Retry-After."""
        self._per_channel_seconds = seconds
        self._per_channel_methods = methods

    def not_in_channel(self, channel: str) -> None:
        """chat.postMessage to `channel` answers `not_in_channel`."""
        self._not_in_channel.add(channel)

    def not_member(self, channel: str) -> None:
        """The bot posts to public `channel` through `chat:write.public` without being a
        member: posts are taken, `conversations.history` answers `not_in_channel`."""
        self._not_member.add(channel)

    # records -----------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        return [c for c in self.received if method is None or c.method == method]

    def responses(self, response_url: str | None = None, *, ok_only: bool = True) -> list[Call]:
        """Posts to response URLs (all, or to one), accepted ones unless ok_only=False."""
        rid = response_url.rsplit("/", 1)[-1] if response_url else None
        return [
            c
            for c in self.received
            if c.method == RESPONSE_PATH
            and (rid is None or c.headers.get("x-fake-rid") == rid)
            and (c.ok or not ok_only)
        ]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked whenever the fake records something)."""

        async def until() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(until(), timeout)

    async def _record(self, call: Call) -> None:
        self.received.append(call)
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    # Web API -----------------------------------------------------------------------------

    async def _web_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        payload = await _read_payload(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = Call(method, payload, headers)
        response = self._answer_web_api(method, payload, headers, call)
        await self._record(call)
        return response

    def _answer_web_api(
        self, method: str, payload: dict[str, Any], headers: dict[str, str], call: Call
    ) -> web.Response:
        failure = self._take_failure(method)
        if failure is not None:
            call.status = failure.status
            call.error = failure.error or f"http_{failure.status}"
            return self._failure_response(failure)
        if method == "oauth.v2.access":
            return self._oauth_access(payload, headers, call)
        token = headers.get("authorization", "").removeprefix("Bearer ").strip()
        token = token or str(payload.get("token", ""))
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return _api_error(call, "not_authed")
        call.team = self.team_tokens.get(token)
        if token != expected and call.team is None:
            return _api_error(call, "invalid_auth")
        if method in self._per_channel_methods and self._per_channel_seconds is not None:
            channel = str(payload.get("channel", ""))
            now = time.monotonic()
            last = self._last_post.get((method, channel))
            if last is not None and now - last < self._per_channel_seconds:
                wait = math.ceil(self._per_channel_seconds - (now - last))
                call.status, call.error = 429, "ratelimited"
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(max(1, wait))},
                )
        if method in MESSAGE_METHODS:
            if not payload.get("channel"):
                return _api_error(call, "channel_not_found")
            if method == "chat.postMessage" and payload["channel"] in self._not_in_channel:
                return _api_error(call, "not_in_channel")
            error = check_message(payload)
            if error:
                return _api_error(call, error)
            metadata = payload.get("metadata")
            if metadata is not None and not valid_metadata(metadata):
                return _api_error(call, "invalid_metadata_format")
            if method in self._per_channel_methods:
                self._last_post[(method, str(payload["channel"]))] = time.monotonic()
            ts = self._new_ts()
            if method == "chat.postEphemeral":
                return web.json_response({"ok": True, "message_ts": ts})
            if method == "chat.postMessage":
                self._keep(str(payload["channel"]), {
                    "type": "message", "ts": ts, "text": payload.get("text", ""),
                    "user": "U0BOT", "bot_id": self.bot_id_of(token), "app_id": "A0APP",
                    "blocks": payload.get("blocks") or [], "metadata": metadata,
                })
            return web.json_response({"ok": True, "channel": payload["channel"], "ts": ts})
        if method == "conversations.history":
            return self._history(payload, call)
        if method in VIEW_METHODS:
            if method == "views.open" and not payload.get("trigger_id"):
                return _api_error(call, "invalid_trigger_id")
            if method == "views.publish" and not payload.get("user_id"):
                return _api_error(call, "user_not_found")
            error = check_view(payload.get("view"))
            if error:
                return _api_error(call, error)
            return web.json_response({"ok": True, "view": {"id": f"V{next(self._ids)}"}})
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://example.slack.com/",
                    "team": "Example",
                    "user": "guarantees",
                    "team_id": call.team or "T0TEAM",
                    "user_id": "U0BOT",
                    "bot_id": self.bot_id_of(token),
                    "is_enterprise_install": False,
                }
            )
        if method == "apps.connections.open":
            self.connections_opened += 1
            url = f"ws://127.0.0.1:{self.port}/socket?ticket={self.connections_opened}"
            return web.json_response({"ok": True, "url": url})
        if method == "conversations.info":
            channel = str(payload.get("channel", ""))
            member = channel not in self._not_in_channel
            return web.json_response({"ok": True, "channel": {"id": channel, "is_member": member}})
        if method == "files.getUploadURLExternal":
            return self._upload_url(payload, call)
        if method == "files.completeUploadExternal":
            return self._complete_upload(payload, call)
        if method == "conversations.members":
            return web.json_response({"ok": True, "members": ["U0USER", "U0BOT"]})
        return _api_error(call, "unknown_method")

    def _oauth_access(
        self, payload: dict[str, Any], headers: dict[str, str], call: Call
    ) -> web.Response:
        client_id, client_secret = payload.get("client_id"), payload.get("client_secret")
        basic = headers.get("authorization", "")
        if basic.startswith("Basic "):
            decoded = base64.b64decode(basic.removeprefix("Basic ")).decode()
            client_id, _, client_secret = decoded.partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return _api_error(call, "invalid_client_id")
        found = self._codes.pop(str(payload.get("code", "")), None)
        if found is None:
            return _api_error(call, "invalid_code")
        team, installer = found
        token = f"xoxb-{team}"
        self.team_tokens[token] = team
        call.team = team
        return web.json_response(
            {
                "ok": True,
                "access_token": token,
                "token_type": "bot",
                "scope": ",".join(sorted(DEFAULT_SCOPES - {"im:write"})),
                "bot_user_id": f"U0BOT{team}",
                "app_id": "A0APP",
                "team": {"id": team, "name": f"Workspace {team}"},
                "enterprise": None,
                "authed_user": {"id": installer},
                "is_enterprise_install": False,
            }
        )

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        if failure.error is not None:
            return web.json_response({"ok": False, "error": failure.error}, status=failure.status)
        headers = {"Retry-After": str(failure.retry_after)} if failure.status == 429 else {}
        if failure.status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers=headers
            )
        return web.Response(status=failure.status, text="fake failure")

    # files -------------------------------------------------------------------------------

    def _upload_url(self, payload: dict[str, Any], call: Call) -> web.Response:
        filename = str(payload.get("filename") or "")
        try:
            length = int(payload.get("length") or 0)
        except ValueError:
            length = 0
        if not filename or length <= 0:
            return _api_error(call, "invalid_arguments")
        file_id = f"F{next(self._ids):06d}"
        self._pending_uploads[file_id] = (filename, length)
        return web.json_response(
            {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        )

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        data = await request.read()
        call = Call("upload", {"file_id": file_id, "bytes": len(data)}, dict(request.headers))
        pending = self._pending_uploads.get(file_id)
        if pending is None or len(data) != pending[1]:
            call.status, call.error = 400, "bad_upload"
            await self._record(call)
            return web.Response(status=400, text="bad upload")
        self.uploaded[file_id] = data
        await self._record(call)
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, payload: dict[str, Any], call: Call) -> web.Response:
        try:
            files = json.loads(str(payload.get("files") or "[]"))
        except ValueError:
            return _api_error(call, "invalid_arguments")
        if not isinstance(files, list) or not files:
            return _api_error(call, "invalid_arguments")
        channel = payload.get("channel_id")
        if channel and channel in self._not_in_channel:
            return _api_error(call, "not_in_channel")
        done = []
        for entry in files:
            file_id = entry.get("id") if isinstance(entry, dict) else None
            if file_id not in self.uploaded:  # never uploaded: Slack says so
                return _api_error(call, "file_not_found")
            filename, _ = self._pending_uploads.pop(file_id)
            self.shared.append(
                SharedFile(
                    file_id, filename, entry.get("title"), channel,
                    payload.get("initial_comment"), self.uploaded[file_id],
                )
            )
            done.append({"id": file_id, "title": entry.get("title") or filename})
        return web.json_response({"ok": True, "files": done})

    # response URLs -----------------------------------------------------------------------

    async def _response(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        payload = await _read_payload(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        headers["x-fake-rid"] = rid
        call = Call(RESPONSE_PATH, payload, headers)
        response = self._answer_response(rid, payload, call)
        await self._record(call)
        return response

    def _answer_response(self, rid: str, payload: dict[str, Any], call: Call) -> web.Response:
        uses = self._response_uses.get(rid, 0) + 1
        self._response_uses[rid] = uses
        if uses > RESPONSE_URL_USES:
            call.status, call.error = 404, "used_url"
            return web.Response(status=404, text="used_url")
        failure = self._take_failure(RESPONSE_PATH)
        if failure is not None:
            call.status = failure.status
            call.error = failure.error or f"http_{failure.status}"
            return self._failure_response(failure)
        error = check_message(payload)
        if error:
            call.status, call.error = 400, error
            return web.Response(status=400, text=error)
        return web.Response(text="ok")


def _api_error(call: Call, error: str) -> web.Response:
    call.error = error
    return web.json_response({"ok": False, "error": error})


async def _read_payload(request: web.Request) -> dict[str, Any]:
    """A Web API body as a dict: JSON, or form fields whose JSON values are decoded."""
    raw = await request.read()
    if not raw:
        return dict(request.query)
    if request.content_type == "application/json":
        data = json.loads(raw)
        return data if isinstance(data, dict) else {"_": data}
    fields = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    for key in ("blocks", "view", "attachments", "metadata"):
        if isinstance(fields.get(key), str):
            with contextlib.suppress(ValueError):
                fields[key] = json.loads(fields[key])
    return fields
