"""Posting a digest to Slack: `SlackPoster` with its own bounded retries, paced per channel.

`ChannelPacer` keeps each channel to about one message a second (a 429 holds the channel for
its Retry-After); `SlackPoster.post` retries 429s, 5xx and network errors within a
`RetryPolicy`, falls back to plain text when Slack refuses the blocks, and after an answer
that leaves open whether Slack took the message, looks in the channel's history
(`bot.digest_history`) before posting again. Its `PostResult.outcome` tells the delivery loop
(`bot.digest`) what to record.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time as monotonic_time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.common import Message
from bot.digest_history import TRANSIENT_ERRORS, HistoryCheck, find_posted
from bot.digest_history import error_code as _error_code
from bot.digest_history import retry_after as _retry_after

if TYPE_CHECKING:
    from bot.services import Services

# Logged under the name these lines had before posting moved out of `bot.digest`.
log = logging.getLogger("bot.digest")

# Posts in flight at once across channels (each channel is still paced on its own).
MAX_CONCURRENT_POSTS = 50
# Slack: about one message per second per channel.
CHANNEL_INTERVAL = 1.0

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]


# Slack answers that no retry will fix for this channel: stop and tell someone.
PAUSE_ERRORS = frozenset({
    "not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "account_inactive",
    "token_revoked", "token_expired", "not_authed", "missing_scope", "no_permission",
    "restricted_action", "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel",
    "team_access_not_granted", "ekm_access_denied", "org_login_required", "access_denied",
})
# The blocks were refused: one more try as plain text rather than nothing.
BLOCK_ERRORS = frozenset({"invalid_blocks", "msg_blocks_too_long", "invalid_blocks_format"})


class Outcome(StrEnum):
    SENT = "sent"
    PAUSE = "pause"  # the channel refused: pause the subscription
    RETRY_LATER = "retry_later"  # Slack unreachable after the in-run retries
    FAILED = "failed"  # refused for another reason: given up for today
    LOST = "lost"  # another process took the claim over (lease expired): not ours to post


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    ts: str | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, when Slack asked
    attempts: int = 1
    rate_limited: int = 0  # 429s seen


class ChannelPacer:
    """At most one message per `interval` seconds per channel; a 429 holds the channel back
    for its Retry-After."""

    def __init__(
        self,
        interval: float = CHANNEL_INTERVAL,
        *,
        clock: Monotonic = monotonic_time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def hold(self, channel: str, seconds: float) -> None:
        """Nothing more to `channel` for `seconds` from now."""
        self._next[channel] = max(self._next.get(channel, 0.0), self.clock() + seconds)

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        """Hold `channel` from its next allowed moment until the post's answer, then book the
        next moment one interval after that answer: Slack counts from when it took the
        message, which our start time would underestimate. Other channels are not held."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            delay = self._next.get(channel, 0.0) - self.clock()
            if delay > 0:
                await self.sleep(delay)
            try:
                yield
            finally:
                self.hold(channel, self.interval)


@dataclass
class RetryPolicy:
    attempts: int = 5  # posts per digest per run
    backoff: float = 1.0  # first wait after a 5xx or network error; doubles, with jitter
    max_backoff: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After ends this run's tries for the digest
    later: timedelta = timedelta(minutes=5)  # when a digest given up in this run is tried again


class SlackPoster:
    """chat.postMessage with our own bounded retries: the client passed in must not retry
    itself (`digest_client`), so waits are paced, counted and testable."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: ChannelPacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        concurrency: int = MAX_CONCURRENT_POSTS,
    ) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer(sleep=sleep)
        self.policy = policy or RetryPolicy()
        self.sleep = sleep
        # Bounds requests in flight, not waiting digests: a channel waiting for its next
        # second does not hold up the others.
        self.gate = asyncio.Semaphore(concurrency)
        self._bot_ids: dict[str, str] = {}  # token -> its bot's id, from auth.test
        self._bot_id_lock = asyncio.Lock()  # channels recovering at once ask only once

    async def post(
        self,
        channel: str,
        message: Message,
        heartbeat: Callable[[], Awaitable[bool]] | None = None,
        token: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        recheck: Callable[[], Awaitable[HistoryCheck]] | None = None,
    ) -> PostResult:
        """Post once, retrying what may pass. `heartbeat` runs before every attempt; when it
        answers False (our claim was taken over) nothing more is posted. `token`: the
        workspace's own bot token when many workspaces installed the app. `metadata`: the
        message metadata. `recheck`: after an answer that leaves open whether Slack took the
        message (a 5xx, a timeout, a dropped connection), asked before the next attempt;
        when it finds the message, that is the result and nothing is posted again."""
        policy = self.policy
        as_team: dict[str, Any] = {"token": token} if token else {}
        extra: dict[str, Any] = {"metadata": metadata} if metadata else {}
        payload = message.to_dict()
        rate_limited = 0
        last_error = "no attempt"
        uncertain = False  # the last attempt may have reached the channel
        for attempt in range(1, policy.attempts + 1):
            if uncertain and recheck is not None:
                check = await recheck()
                rate_limited += check.rate_limited
                if check.lost:
                    return PostResult(Outcome.LOST, error="claim_lost", attempts=attempt - 1,
                                      rate_limited=rate_limited)
                if check.ts:
                    log.info("%s: the post whose answer was lost is in the channel (ts %s)",
                             channel, check.ts)
                    return PostResult(Outcome.SENT, ts=check.ts, attempts=attempt - 1,
                                      rate_limited=rate_limited)
                if check.error:
                    log.warning("%s: could not check the history after a lost answer (%s);"
                                " posting again, which may duplicate it", channel, check.error)
                    recheck = None
            uncertain = False
            try:
                async with self.pacer.slot(channel), self.gate:
                    if heartbeat is not None and not await heartbeat():
                        return PostResult(Outcome.LOST, error="claim_lost",
                                          attempts=attempt - 1, rate_limited=rate_limited)
                    response = await self.client.chat_postMessage(
                        channel=channel,
                        text=payload["text"],
                        blocks=payload["blocks"] or None,
                        unfurl_links=False,
                        unfurl_media=False,
                        **extra,
                        **as_team,
                    )
                return PostResult(Outcome.SENT, ts=response.get("ts"), attempts=attempt,
                                  rate_limited=rate_limited)
            except SlackApiError as exc:
                status = getattr(exc.response, "status_code", 0) or 0
                code = _error_code(exc)
                last_error = code
                uncertain = status >= 500 or code in TRANSIENT_ERRORS - {"ratelimited"}
                if status == 429 or code == "ratelimited":
                    rate_limited += 1
                    wait = _retry_after(exc)
                    wait = 1.0 if wait is None else wait
                    self.pacer.hold(channel, wait)
                    if wait > policy.max_retry_after:
                        return PostResult(Outcome.RETRY_LATER, error=code, retry_after=wait,
                                          attempts=attempt, rate_limited=rate_limited)
                    continue  # the pacer waits out Retry-After before the next attempt
                if code in PAUSE_ERRORS:
                    return PostResult(Outcome.PAUSE, error=code, attempts=attempt,
                                      rate_limited=rate_limited)
                if code in BLOCK_ERRORS and payload["blocks"]:
                    log.warning("blocks refused in %s (%s): sending plain text", channel, code)
                    payload = {"text": payload["text"], "blocks": []}
                    continue
                if status < 500 and code not in TRANSIENT_ERRORS:
                    return PostResult(Outcome.FAILED, error=code, attempts=attempt,
                                      rate_limited=rate_limited)
            except (aiohttp.ClientError, TimeoutError, SlackClientError) as exc:
                last_error = type(exc).__name__
                uncertain = True
            if attempt < policy.attempts:
                wait = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
                await self.sleep(wait * (0.5 + random.random() / 2))
        return PostResult(Outcome.RETRY_LATER, error=last_error, attempts=policy.attempts,
                          rate_limited=rate_limited)

    async def find_posted(
        self,
        channel: str,
        key: str,
        since: datetime,
        token: str | None = None,
        heartbeat: Callable[[], Awaitable[bool]] | None = None,
    ) -> HistoryCheck:
        """Whether digest `key` is in `channel` since `since` (see `bot.digest_history`);
        429s wait for Retry-After and 5xx back off, as posts do. Only our own bot's messages
        count: its id is asked of `auth.test` once per token. `heartbeat` refreshes the
        claim between requests; False stops the search (`HistoryCheck.lost`)."""
        bot_id = await self.own_bot_id(token)
        if bot_id is None:
            return HistoryCheck(error="auth.test did not give our bot_id")
        return await find_posted(self.client, channel, key, since, bot_id=bot_id,
                                 policy=self.policy, sleep=self.sleep, token=token,
                                 heartbeat=heartbeat, clock=self.pacer.clock)

    async def own_bot_id(self, token: str | None = None) -> str | None:
        """The `bot_id` of the bot posting with `token` (None: the client's), cached; None
        when `auth.test` fails (asked again next time)."""
        key = token or self.client.token or ""
        async with self._bot_id_lock:
            if key not in self._bot_ids:
                as_team: dict[str, Any] = {"token": token} if token else {}
                try:
                    response = await self.client.auth_test(**as_team)
                except (SlackApiError, aiohttp.ClientError, TimeoutError,
                        SlackClientError) as exc:
                    log.info("auth.test failed (%s)", type(exc).__name__)
                    return None
                bot_id = response.get("bot_id")
                if not bot_id:
                    return None
                self._bot_ids[key] = str(bot_id)
            return self._bot_ids[key]

    async def notify(
        self, user_id: str | None, channel: str, message: Message, token: str | None = None
    ) -> bool:
        """Tell one person privately: ephemeral in the channel, else a direct message (an
        ephemeral cannot reach a channel the bot was removed from)."""
        if not user_id:
            return False
        payload = message.to_dict()
        as_team: dict[str, Any] = {"token": token} if token else {}
        try:
            await self.client.chat_postEphemeral(
                channel=channel, user=user_id, text=payload["text"], blocks=payload["blocks"],
                **as_team,
            )
            return True
        except (SlackApiError, aiohttp.ClientError, TimeoutError, SlackClientError) as exc:
            log.info("ephemeral to the subscriber failed (%s); trying a direct message",
                     type(exc).__name__)
        try:
            await self.client.chat_postMessage(
                channel=user_id, text=payload["text"], blocks=payload["blocks"],
                unfurl_links=False, unfurl_media=False, **as_team,
            )
            return True
        except (SlackApiError, aiohttp.ClientError, TimeoutError, SlackClientError) as exc:
            log.warning("could not tell the subscriber about a paused digest (%s)",
                        type(exc).__name__)
            return False


def digest_client(services: Services) -> AsyncWebClient:
    """A Web API client like `services.slack` (token, base URL, session) without its retry
    handlers: `SlackPoster` owns every retry, so 429s are paced per channel and a 5xx outage
    is waited out with bounded, counted backoff instead of being retried twice over."""
    if services.slack is None:
        raise RuntimeError("no Slack client: digests need SLACK_BOT_TOKEN")
    base = services.slack
    return AsyncWebClient(
        token=base.token,
        base_url=base.base_url,
        session=base.session,
        timeout=base.timeout,
        retry_handlers=[],
    )
