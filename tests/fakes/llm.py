"""A fake OpenAI-compatible Chat Completions server on loopback, with scripted answers.

`POST /v1/chat/completions` answers from `script` (a queue of `Reply`s, used first, one a
request) and then from `responder(article_text, request_json)`, which returns a `Reply`. A
`Reply` can be a good answer, malformed JSON, an answer cut off (`finish_reason: length`), an
HTTP status (429 with `Retry-After`, 500, 401, ...), or a hang (`delay=HANG`) to make the
client's timeout fire. Every request is recorded (body and Authorization header), and the
highest number of requests in flight at once is kept.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.extraction.llm.prompt import BEGIN, END

HANG = math.inf


@dataclass
class Reply:
    content: str | None = None  # the message content (the model's JSON)
    status: int = 200
    finish_reason: str = "stop"
    usage: tuple[int, int] | None = (900, 120)  # (prompt, completion); None: no usage field
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering; HANG never answers
    body: str | None = None  # a raw body instead of the JSON envelope


def positions_json(*positions: dict[str, Any]) -> str:
    return json.dumps({"positions": list(positions)})


def position(
    party: str, stance: str, guarantee: str, evidence: str, *, actor: str = "",
    guarantor: str | None = None, beneficiary: str | None = "ukr",
) -> dict[str, Any]:
    return {"actor": actor or party, "party": party, "stance": stance, "guarantee": guarantee,
            "guarantor": guarantor, "beneficiary": beneficiary, "evidence": evidence}


def article_text(body: dict[str, Any]) -> str:
    """The article between the prompt's markers in the user message."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    start = user.index(BEGIN) + len(BEGIN) + 1
    return str(user[start:user.rindex(END) - 1])


Responder = Callable[[str, dict[str, Any]], Reply]


class FakeModel:
    def __init__(self, responder: Responder | None = None) -> None:
        self.script: deque[Reply] = deque()
        self.responder: Responder = responder or (lambda text, body: Reply(positions_json()))
        self.requests: list[dict[str, Any]] = []
        self.authorization: list[str | None] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()  # lets hanging handlers go when the fake stops
        self.base_url = ""

    async def __aenter__(self) -> FakeModel:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        self._closing.set()
        await self._runner.cleanup()

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.authorization.append(request.headers.get("Authorization"))
        reply = self.script.popleft() if self.script else self.responder(
            article_text(body), body)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if reply.delay == HANG:
                await self._closing.wait()  # never answers while the fake runs
            elif reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self.in_flight -= 1
        if reply.status != 200:
            return web.json_response({"error": {"message": "scripted"}}, status=reply.status,
                                     headers=reply.headers)
        if reply.body is not None:
            return web.Response(text=reply.body, content_type="application/json")
        envelope: dict[str, Any] = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                         "message": {"role": "assistant", "content": reply.content or ""}}],
        }
        if reply.usage is not None:
            envelope["usage"] = {"prompt_tokens": reply.usage[0],
                                 "completion_tokens": reply.usage[1],
                                 "total_tokens": sum(reply.usage)}
        return web.json_response(envelope, headers=reply.headers)
