"""Was this digest already posted? The channel's history answers, so a retry never duplicates.

Every digest is posted with Slack message metadata naming its stable key, the digest log's
(subscription, local date):

    {"event_type": "guarantees_digest",
     "event_payload": {"digest": "<install id>:<subscription>:<date>"}}

The install id is this store's own (random, made once): another deployment of the bot in the
same channel, with its own store and the same small subscription ids, has other keys.

A claim whose date already had a post attempt (`Claim.posting_since`: a process stopped
between Slack's answer and the store's record, or a post whose answer never came) first reads
the channel with `conversations.history` (`oldest` = that first attempt, a minute earlier for
clock skew; `include_all_metadata`) and looks for a message of our own bot (its `bot_id`, from
`auth.test`, asked once per token) carrying the key. Found: the
digest is recorded as sent with that message's ts and not posted again. Not found: it is
posted. The history cannot be read (no `channels:history` / `groups:history` scope, the bot
not a member of the channel, still rate limited after waiting `Retry-After`, Slack down):
`HistoryCheck.error` says why, and the caller posts anyway (at least once rather than never)
and logs it. A first attempt has nothing to look for and reads nothing.

The search holds the digest's claim: between requests it refreshes the claim (the caller's
heartbeat; a claim taken over stops it, `HistoryCheck.lost`, and nothing is posted), and it
gives up after `SEARCH_LIMIT` seconds (Slack allows apps outside the Marketplace one
`conversations.history` a minute), falling back to posting like an unreadable history.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

if TYPE_CHECKING:
    from bot.digest_post import RetryPolicy

EVENT_TYPE = "guarantees_digest"
# Messages a page; more pages are read while Slack says there are more.
PAGE_SIZE = 100
MAX_PAGES = 10
# The longest a search may take, in seconds, well under the claim's 10-minute lease (its
# heartbeat refreshes the claim between requests; this bounds how long the digest waits).
SEARCH_LIMIT = 240.0
# Our clock and Slack's may differ a little: the search starts this much earlier.
CLOCK_MARGIN = timedelta(minutes=1)

# Errors Slack sends with HTTP 200 that are worth another try.
TRANSIENT_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
})

Sleep = Callable[[float], Awaitable[None]]
Heartbeat = Callable[[], Awaitable[bool]]
Monotonic = Callable[[], float]


def digest_key(install_id: str, subscription_id: int, local_date: date) -> str:
    """The stable key of one digest: the same for every attempt on that local date, and
    unique to this store (`install_id`)."""
    return f"{install_id}:{subscription_id}:{local_date.isoformat()}"


def digest_metadata(key: str) -> dict[str, Any]:
    """The message metadata a digest is posted with."""
    return {"event_type": EVENT_TYPE, "event_payload": {"digest": key}}


def carries_key(message: Mapping[str, Any], key: str, bot_id: str) -> bool:
    """Whether a message from `conversations.history` is our bot's (`bot_id`) post of digest
    `key`: another app's, or a person's, with the same metadata is not."""
    metadata = message.get("metadata")
    if not bot_id or message.get("bot_id") != bot_id or not isinstance(metadata, Mapping):
        return False
    payload = metadata.get("event_payload")
    return (
        metadata.get("event_type") == EVENT_TYPE
        and isinstance(payload, Mapping)
        and payload.get("digest") == key
    )


def retry_after(error: SlackApiError) -> float | None:
    """Seconds of a 429's Retry-After header (None: absent or unreadable)."""
    headers = getattr(error.response, "headers", None) or {}
    for name, value in dict(headers).items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None


def error_code(error: SlackApiError) -> str:
    data = getattr(error.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"http_{getattr(error.response, 'status_code', 'error')}"


@dataclass(frozen=True)
class HistoryCheck:
    """What the channel's history said about one digest."""

    ts: str | None = None  # found: the earlier post's ts
    error: str | None = None  # the history could not be read: nobody knows
    pages: int = 0
    rate_limited: int = 0  # 429s seen
    lost: bool = False  # our claim was taken over mid-search: nothing more is ours to do


async def find_posted(
    client: AsyncWebClient,
    channel: str,
    key: str,
    since: datetime,
    *,
    bot_id: str,
    policy: RetryPolicy,
    sleep: Sleep = asyncio.sleep,
    token: str | None = None,
    heartbeat: Heartbeat | None = None,
    clock: Monotonic = time.monotonic,
    limit: float = SEARCH_LIMIT,
) -> HistoryCheck:
    """Look in `channel` from `since` on for a message of our bot (`bot_id`) carrying digest
    `key`.

    A 429 waits its `Retry-After` (up to `policy.max_retry_after`) and tries again, a 5xx or
    a network error backs off; each page gets `policy.attempts` tries in all. Before every
    request but the first, `heartbeat` refreshes our claim (False: it was taken over, the
    search stops with `lost`); a search that would go on past `limit` seconds (of `clock`)
    stops with an error, so the caller posts while its claim is still safely held."""
    as_team: dict[str, Any] = {"token": token} if token else {}
    oldest = f"{(since - CLOCK_MARGIN).timestamp():.6f}"
    cursor: str | None = None
    rate_limited = 0
    started = clock()
    requests = 0

    def over(page: int, wait: float = 0.0) -> HistoryCheck | None:
        if clock() + wait - started <= limit:
            return None
        return HistoryCheck(error=f"searched {limit:.0f} s (the cap) without finding it",
                            pages=page - 1, rate_limited=rate_limited)

    async def ask(page: int) -> Mapping[str, Any] | HistoryCheck:
        """One page's request, after the heartbeat and the cap."""
        nonlocal requests
        requests += 1
        if requests > 1:
            if (stop := over(page)) is not None:
                return stop
            if heartbeat is not None and not await heartbeat():
                return HistoryCheck(lost=True, pages=page - 1, rate_limited=rate_limited)
        response = await client.conversations_history(
            channel=channel, oldest=oldest, include_all_metadata=True,
            limit=PAGE_SIZE, cursor=cursor, **as_team,
        )
        return response.data if isinstance(response.data, dict) else {}

    for page in range(1, MAX_PAGES + 1):
        data: Mapping[str, Any] | None = None
        last_error = "no attempt"
        for attempt in range(1, policy.attempts + 1):
            try:
                answer = await ask(page)
                if isinstance(answer, HistoryCheck):
                    return answer
                data = answer
                break
            except SlackApiError as exc:
                status = getattr(exc.response, "status_code", 0) or 0
                code = last_error = error_code(exc)
                if status == 429 or code == "ratelimited":
                    rate_limited += 1
                    wait = retry_after(exc)
                    wait = 1.0 if wait is None else wait
                    if wait > policy.max_retry_after or attempt == policy.attempts:
                        break
                    if (stop := over(page, wait)) is not None:
                        return stop
                    await sleep(wait)
                    continue
                if status < 500 and code not in TRANSIENT_ERRORS:
                    if code == "missing_scope":
                        needed = (exc.response.data or {}).get("needed")
                        last_error = f"missing_scope {needed}" if needed else code
                    return HistoryCheck(error=last_error, pages=page - 1,
                                        rate_limited=rate_limited)
            except (aiohttp.ClientError, TimeoutError, SlackClientError) as exc:
                last_error = type(exc).__name__
            if attempt < policy.attempts:
                wait = min(policy.max_backoff, policy.backoff * 2 ** (attempt - 1))
                wait *= 0.5 + random.random() / 2
                if (stop := over(page, wait)) is not None:
                    return stop
                await sleep(wait)
        if data is None:
            return HistoryCheck(error=last_error, pages=page - 1, rate_limited=rate_limited)
        for message in data.get("messages") or []:
            if isinstance(message, Mapping) and carries_key(message, key, bot_id):
                return HistoryCheck(ts=str(message.get("ts")), pages=page,
                                    rate_limited=rate_limited)
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
        if not data.get("has_more") or not cursor:
            return HistoryCheck(pages=page, rate_limited=rate_limited)
    return HistoryCheck(error=f"more than {MAX_PAGES * PAGE_SIZE} messages since the first try",
                        pages=MAX_PAGES, rate_limited=rate_limited)
