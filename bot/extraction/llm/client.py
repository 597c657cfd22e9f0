"""A small client of the OpenAI-compatible Chat Completions API (hosted APIs, Ollama, vLLM,
llama.cpp's server): one POST to `{base_url}/chat/completions`.

Steady under a flaky or busy endpoint:
- at most `max_concurrency` requests in flight;
- 429 waits for `Retry-After` (seconds or an HTTP date, capped), and every other request waits
  with it, since the limit is the endpoint's and not one request's;
- 5xx, timeouts and connection errors back off exponentially (with jitter, capped);
- after `max_attempts` the endpoint is taken as down for `down_for` seconds: requests fail at
  once meanwhile, so a batch of articles falls back to the rules in moments, not minutes;
- a 400 to a `json_schema` response format (servers without structured output) is retried once
  in plain JSON mode, and the client remembers.

The key is a SecretStr and only ever reaches the Authorization header, never a log line.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from pydantic import SecretStr

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class EndpointError(Exception):
    """The endpoint gave no answer to use. `reason` is short and safe to log and store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EndpointDown(EndpointError):
    """Retries are spent (5xx, timeouts, refused connections), or it was down moments ago."""


class EndpointRefused(EndpointError):
    """A 4xx other than 429: the request itself is refused (key, model name, size)."""


@dataclass(frozen=True)
class Completion:
    content: str
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool  # False: the server sent no `usage`; the counts are estimates


def estimate_tokens(text: str) -> int:
    """A stated estimate where no usage is reported: about four characters a token (English
    text under the common BPE vocabularies)."""
    return max(1, (len(text) + 3) // 4)


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: SecretStr | None = None,
        *,
        max_concurrency: int = 4,
        timeout: float = 120.0,
        max_attempts: int = 4,
        backoff: float = 1.0,
        backoff_cap: float = 30.0,
        retry_after_cap: float = 300.0,
        down_for: float = 60.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key
        self._slots = asyncio.Semaphore(max_concurrency)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.down_for = down_for
        self._session = session
        self._own_session = session is None
        self._sleep = sleep
        self._clock = clock
        self._not_before = 0.0  # a 429's Retry-After holds every request until then
        self._down_until = 0.0
        self._schema_ok = True
        self.in_flight = 0
        self.most_in_flight = 0  # the highest number of requests at once, for tests and logs

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    @property
    def down(self) -> bool:
        return self._clock() < self._down_until

    async def complete(
        self,
        messages: list[dict[str, str]],
        response_format: Callable[[bool], dict[str, Any]],
        max_tokens: int,
    ) -> Completion:
        """One answer, retried as described above; raises EndpointError subclasses."""
        if self.down:
            raise EndpointDown("endpoint down (recently failed)")
        last = "no attempt"
        for attempt in range(1, self.max_attempts + 1):
            wait = self._not_before - self._clock()
            if wait > 0:
                await self._sleep(wait)
            body = {
                "model": self.model,
                "messages": messages,
                "temperature": 0,
                "max_tokens": max_tokens,
                "response_format": response_format(self._schema_ok),
            }
            try:
                status, headers, payload = await self._post(body)
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
                status, headers, payload = 0, {}, None
            if status == 200 and isinstance(payload, dict):
                return _completion(payload, messages)
            if status == 200:
                last = "unreadable response body"
            elif status == 429:
                delay = self._retry_after(headers.get("Retry-After"), attempt)
                self._not_before = max(self._not_before, self._clock() + delay)
                log.warning("model endpoint rate-limited; waiting %.1f s", delay)
                continue
            elif status == 400 and self._schema_ok:
                log.warning("model endpoint refused a json_schema response format; "
                            "retrying in plain JSON mode")
                self._schema_ok = False
                continue
            elif 400 <= status < 500:
                raise EndpointRefused(f"HTTP {status}")
            elif status:
                last = f"HTTP {status}"
            if attempt < self.max_attempts:
                delay = self._backoff(attempt)
                log.warning("model request failed (%s); retrying in %.1f s", last, delay)
                await self._sleep(delay)
        self._down_until = self._clock() + self.down_for
        log.warning("model endpoint down after %d attempts (%s); using the rules for %.0f s",
                    self.max_attempts, last, self.down_for)
        raise EndpointDown(f"endpoint down ({last})")

    async def _post(self, body: dict[str, Any]) -> tuple[int, dict[str, str], object]:
        headers = {"Content-Type": "application/json"}
        if self._api_key is not None:
            headers["Authorization"] = f"Bearer {self._api_key.get_secret_value()}"
        async with self._slots:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                async with self._http().post(
                    self.url, json=body, headers=headers, timeout=self._timeout
                ) as response:
                    payload: object = None
                    if response.status == 200:
                        try:
                            payload = await response.json(content_type=None)
                        except ValueError:
                            payload = None
                    else:
                        await response.read()
                    return response.status, dict(response.headers), payload
            finally:
                self.in_flight -= 1

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff_cap, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    def _retry_after(self, value: str | None, attempt: int) -> float:
        if value:
            try:
                seconds = float(value)
            except ValueError:
                try:
                    when = parsedate_to_datetime(value)
                    seconds = (when - datetime.now(UTC)).total_seconds()
                except (TypeError, ValueError):
                    seconds = self._backoff(attempt)
            return min(max(seconds, 0.0), self.retry_after_cap)
        return self._backoff(attempt)


def _completion(payload: dict[str, Any], messages: list[dict[str, str]]) -> Completion:
    choices = payload.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    content = content if isinstance(content, str) else ""
    usage = payload.get("usage")
    if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
        prompt = int(usage["prompt_tokens"])
        completion = int(usage.get("completion_tokens") or 0)
        reported = True
    else:
        prompt = sum(estimate_tokens(m["content"]) for m in messages)
        completion = estimate_tokens(content)
        reported = False
    return Completion(content, choice.get("finish_reason"), prompt, completion, reported)
