"""The fake Slack's Socket Mode server: `hello`, envelopes pushed to the bot, its acks, and
`disconnect` or a dropped connection.

A mixin of `FakeSlack` (see its docstring for what is served); kept apart so each file stays
short.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]


class SocketModeServer:
    """The `/socket` websocket: what was sent to the bot and what it acknowledged."""

    acks: dict[str, list[dict[str, Any]]]
    first_ack_at: dict[str, float]  # envelope id -> time.monotonic() of its ack
    envelopes: list[Envelope]
    hellos_sent: int
    _sockets: list[tuple[web.WebSocketResponse, web.BaseRequest]]
    _envelope_ids = itertools.count(1)
    _notify: Callable[[], Awaitable[None]]
    wait_for: Callable[..., Awaitable[Any]]

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        entry = (ws, request)
        self._sockets.append(entry)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                "connection_info": {"app_id": "A0APP"},
            }
        )
        self.hellos_sent += 1
        await self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    data = json.loads(message.data)
                    envelope_id = data.get("envelope_id")
                    if envelope_id:
                        self.first_ack_at.setdefault(envelope_id, time.monotonic())
                        self.acks.setdefault(envelope_id, []).append(data)
                        await self._notify()
        finally:
            if entry in self._sockets:
                self._sockets.remove(entry)
            await self._notify()
        return ws

    @property
    def connected(self) -> int:
        """How many Socket Mode connections are open now."""
        return sum(1 for ws, _ in self._sockets if not ws.closed)

    async def wait_connected(self, hellos: int = 1, timeout: float = 10.0) -> None:
        """Wait until `hellos` hellos were sent in all and a connection is open."""
        await self.wait_for(lambda: self.hellos_sent >= hellos and self.connected, timeout)

    async def push(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int | None = None,
    ) -> str:
        """Send an envelope (`slash_commands`, `interactive`, `events_api`) on the newest open
        connection; returns its envelope id (reuse it to simulate a re-send)."""
        envelope_id = envelope_id or f"env-{next(self._envelope_ids)}"
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            message["retry_attempt"] = retry_attempt or 0
            message["retry_reason"] = "timeout" if retry_attempt else ""
        ws = self._live_socket()
        self.envelopes.append(Envelope(envelope_id, kind, payload))
        await ws.send_json(message)
        return envelope_id

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does every few hours."""
        await self._live_socket().send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        )

    async def drop_connections(self) -> None:
        """Cut every socket without a close handshake, as a lost network would."""
        for _ws, request in list(self._sockets):
            transport = request.transport
            if transport is not None:
                transport.abort()

    def _live_socket(self) -> web.WebSocketResponse:
        for ws, _ in reversed(self._sockets):
            if not ws.closed:
                return ws
        raise RuntimeError("no Socket Mode connection is open")
