"""Posting a `Reply` through a command's `response_url`, checked and retried.

bolt's `respond()` opens a new HTTP session for every call and does not raise on 4xx/5xx, so a
lost answer would be silent. `Responder` posts JSON on the shared session (a cached card's
bytes are encoded once), reads the status, retries
429 (after `Retry-After`), 5xx and connection errors a bounded number of times with backoff, and
logs an answer it could not deliver. A `response_url` allows five uses; at most
`attempts` are spent here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.replies import Reply

log = logging.getLogger(__name__)

MAX_RETRY_AFTER = 10.0  # seconds; a response_url lives 30 minutes, a user waits much less
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass(frozen=True)
class Delivery:
    """How a post to a response_url ended."""

    ok: bool
    status: int | None
    attempts: int


class Responder:
    """Sends messages to response URLs; one per app, sharing the services' HTTP session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        in_flight: int = 8,
    ) -> None:
        self.session = session
        self.attempts = max(1, attempts)
        self.backoff = backoff
        # A burst of commands would otherwise post a burst of cards in one turn of the event
        # loop, and the acks of the next commands would wait behind them.
        self._slots = asyncio.Semaphore(in_flight)

    async def send_reply(self, response_url: str, reply: Reply) -> Delivery:
        """Post a `Reply`: to the channel when public (works in DMs and private channels),
        else only to the caller."""
        response_type = "in_channel" if reply.public else "ephemeral"
        return await self.send(response_url, reply.message.to_json(response_type=response_type))

    async def send(self, response_url: str, payload: dict[str, Any] | bytes) -> Delivery:
        """Post a JSON payload (a dict, or bytes already encoded), checked and retried."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        status: int | None = None
        for attempt in range(1, self.attempts + 1):
            delay = self.backoff * 2 ** (attempt - 1)
            try:
                async with self._slots, self.session.post(
                    response_url, data=body, headers=JSON_HEADERS, timeout=TIMEOUT
                ) as response:
                    status = response.status
                    text = await response.text() if status != 200 else ""
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning(
                    "response_url post failed (attempt %d): %s", attempt, type(exc).__name__
                )
            else:
                if status == 200:
                    return Delivery(True, status, attempt)
                if status == 429:
                    delay = _retry_after(retry_after, default=delay)
                elif status < 500:
                    # 4xx other than 429: the URL expired, was used up, or the payload is
                    # refused; sending it again would not help.
                    log.error("response_url refused the reply: HTTP %d %s", status, text[:200])
                    return Delivery(False, status, attempt)
                log.warning("response_url answered HTTP %d (attempt %d)", status, attempt)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
        log.error("gave up posting a reply after %d attempts (last HTTP %s)", self.attempts, status)
        return Delivery(False, status, self.attempts)


def _retry_after(value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return default
