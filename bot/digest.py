"""Daily digests: what is new for a subscription, and its delivery exactly once per local day.

Flow of one run (`send_due_digests`): claim what is due in one store transaction
(`bot.schedule` decides, `bot.store.subscriptions` records), build each digest from the store,
render it with `bot.cards.digest`, post it through `SlackPoster` (paced one message per second
per channel, 429 and 5xx retried with bounds) with message metadata naming its key, then
record how it ended. Claims never posted are given back on a clean shutdown; the lease in
`bot.schedule` covers a crash, and a claim whose date already had a post attempt looks in the
channel's history first (`bot.digest_history`), so a post Slack took before the crash is
recorded, not repeated.

What a digest says (new positions, shifts, contested guarantees) is built in
`bot.digest_content`; its names are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time as monotonic_time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.common import Message
from bot.digest_content import (
    MAX_WINDOW_POSITIONS,
    PRO_STANCES,
    Changes,
    Contest,
    Digest,
    DigestBuilder,
    Shift,
    ShiftKey,
    ShiftKind,
    TopicResolver,
    build_digest,
    default_resolve_topic,
    find_changes,
    find_shifts,
    group_by_guarantee,
    latest_by_key,
)
from bot.digest_history import (
    TRANSIENT_ERRORS,
    HistoryCheck,
    digest_key,
    digest_metadata,
    find_posted,
)
from bot.digest_history import error_code as _error_code
from bot.digest_history import retry_after as _retry_after
from bot.query import UserError
from bot.schedule import LogStatus, next_wakeup
from bot.store.subscriptions import Claim

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Posts in flight at once across channels (each channel is still paced on its own).
MAX_CONCURRENT_POSTS = 50
# Slack: about one message per second per channel.
CHANNEL_INTERVAL = 1.0
# The scheduler never sleeps longer than this, so clock jumps and new subscriptions are seen.
MAX_SLEEP = 60.0

Sleep = Callable[[float], Awaitable[None]]
Monotonic = Callable[[], float]
T = TypeVar("T")


# --- delivery -------------------------------------------------------------------------------

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
        self, channel: str, key: str, since: datetime, token: str | None = None
    ) -> HistoryCheck:
        """Whether digest `key` is in `channel` since `since` (see `bot.digest_history`);
        429s wait for Retry-After and 5xx back off, as posts do."""
        return await find_posted(self.client, channel, key, since, policy=self.policy,
                                 sleep=self.sleep, token=token)

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


# --- one run --------------------------------------------------------------------------------


@dataclass
class RunReport:
    """What a run did, for logs, the command line and the benchmark."""

    claimed: int = 0
    sent: int = 0
    empty: int = 0
    paused: int = 0
    retry_later: int = 0
    failed: int = 0
    rate_limited: int = 0
    found_in_history: int = 0  # an earlier attempt's post was found: recorded, not reposted
    history_unreadable: int = 0  # could not look: posted again, maybe a duplicate
    outcomes: dict[tuple[int, date], str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.retry_later or self.failed)


def interleave(claims: Sequence[Claim]) -> list[Claim]:
    """Every channel's first digest, then every channel's second...: the pacer makes a
    channel's later ones wait, so they go last."""
    rank: dict[str, int] = {}
    ordered = []
    for claim in claims:
        channel = claim.subscription.channel_id
        ordered.append((rank.get(channel, 0), claim))
        rank[channel] = rank.get(channel, 0) + 1
    ordered.sort(key=lambda item: item[0])
    return [claim for _, claim in ordered]


def new_token() -> str:
    return uuid.uuid4().hex


def _settle(write: Awaitable[T]) -> Awaitable[T]:
    """A store write that completes even if this task is cancelled meanwhile: a transaction
    cut in half by a cancellation would leave the shared connection inside BEGIN."""
    return asyncio.shield(write)


async def _found_earlier_post(
    services: Services,
    claim: Claim,
    key: str,
    poster: SlackPoster,
    report: RunReport,
    token: str | None,
) -> bool:
    """An earlier attempt on this date began posting (and its process stopped, or its answer
    was lost): True when the channel's history shows that post, now recorded as sent. False
    when it is not there, or when the history cannot be read (then the caller posts: at
    least once, with one line in the log)."""
    assert claim.posting_since is not None
    sub = claim.subscription
    check = await poster.find_posted(sub.channel_id, key, claim.posting_since, token)
    report.rate_limited += check.rate_limited
    if check.ts:
        await _settle(services.store.finish_digest(claim, LogStatus.SENT, message_ts=check.ts))
        log.info("digest %s for %s was already in %s (ts %s) from an earlier attempt;"
                 " recorded as sent, not posted again", sub.id, claim.due.local_date,
                 sub.channel_id, check.ts)
        report.sent += 1
        report.found_in_history += 1
        report.outcomes[claim.key] = "found_in_history"
        return True
    if check.error:
        log.warning("digest %s: could not read the history of %s to see whether an earlier"
                    " attempt posted it (%s); posting again, which may duplicate it (needs"
                    " channels:history / groups:history and the bot in the channel)",
                    sub.id, sub.channel_id, check.error)
        report.history_unreadable += 1
    return False


async def _deliver(
    services: Services,
    claim: Claim,
    builder: DigestBuilder,
    poster: SlackPoster,
    report: RunReport,
) -> None:
    from bot.cards.digest import pause_notice, render_digest

    store = services.store
    sub = claim.subscription
    token: str | None = None
    if services.settings.oauth:  # many workspaces: post with this one's own bot token
        from bot.workspaces import bot_token

        token = await bot_token(store, sub.team_id)
        if token is None:
            await _settle(store.pause_subscription(sub.id, "app_uninstalled"))
            await _settle(store.finish_digest(claim, LogStatus.DROPPED, error="no_installation"))
            log.warning("digest %s paused: its workspace has no installation", sub.id)
            report.paused += 1
            report.outcomes[claim.key] = "paused"
            return
    key = digest_key(sub.id, claim.due.local_date)
    if claim.posting_since is not None and await _found_earlier_post(
        services, claim, key, poster, report, token
    ):
        return
    try:
        digest = await builder.build(sub, claim.due.local_date, claim.window_start,
                                     claim.window_end)
    except UserError as exc:
        # The topic words no longer resolve: nothing to send until someone re-subscribes.
        reason = f"topic not understood: {exc.message}"
        await _settle(store.pause_subscription(sub.id, reason))
        await _settle(store.finish_digest(claim, LogStatus.DROPPED, error="topic_not_understood"))
        await poster.notify(sub.created_by, sub.channel_id, pause_notice(sub, reason), token)
        report.paused += 1
        report.outcomes[claim.key] = "paused"
        return
    if digest.is_empty and sub.skip_when_empty:
        await _settle(store.finish_digest(claim, LogStatus.EMPTY))
        report.empty += 1
        report.outcomes[claim.key] = "empty"
        return
    message = render_digest(digest)
    since = claim.posting_since or services.clock()

    def recheck() -> Awaitable[HistoryCheck]:
        return poster.find_posted(sub.channel_id, key, since, token)

    result = await poster.post(
        sub.channel_id, message, heartbeat=lambda: _settle(store.mark_posting(claim)),
        token=token, metadata=digest_metadata(key), recheck=recheck,
    )
    report.rate_limited += result.rate_limited
    report.outcomes[claim.key] = str(result.outcome)
    if result.outcome is Outcome.SENT:
        await _settle(store.finish_digest(claim, LogStatus.SENT, message_ts=result.ts))
        report.sent += 1
    elif result.outcome is Outcome.PAUSE:
        await _settle(store.pause_subscription(sub.id, result.error or "refused"))
        await _settle(store.finish_digest(claim, LogStatus.DROPPED, error=result.error))
        log.warning("digest %s paused: Slack said %s", sub.id, result.error)
        await poster.notify(
            sub.created_by, sub.channel_id, pause_notice(sub, result.error or ""), token
        )
        report.paused += 1
    elif result.outcome is Outcome.LOST:
        log.warning("digest %s: claim taken over by another process", sub.id)
    elif result.outcome is Outcome.RETRY_LATER:
        later = services.clock() + max(
            poster.policy.later, timedelta(seconds=result.retry_after or 0)
        )
        await _settle(store.finish_digest(claim, LogStatus.FAILED, error=result.error,
                                          next_attempt_at=later))
        log.warning("digest %s not delivered (%s); next try after %s", sub.id, result.error,
                    later.isoformat())
        report.retry_later += 1
    else:
        await _settle(store.finish_digest(claim, LogStatus.DROPPED, error=result.error))
        log.error("digest %s refused by Slack: %s", sub.id, result.error)
        report.failed += 1


async def send_due_digests(
    services: Services,
    *,
    poster: SlackPoster | None = None,
    builder: DigestBuilder | None = None,
    token: str | None = None,
) -> RunReport:
    """Claim what is due now and deliver it; channels in parallel, each paced."""
    store = services.store
    claims = await _settle(store.claim_due_digests(services.clock(), token or new_token()))
    report = RunReport(claimed=len(claims))
    if not claims:
        return report
    poster = poster or SlackPoster(digest_client(services))
    builder = builder or DigestBuilder(store, oauth=services.settings.oauth)

    async def one(claim: Claim) -> None:
        try:
            await _deliver(services, claim, builder, poster, report)
        except Exception:
            # One digest's bug must not stop the others; it is retried later.
            log.exception("digest %s failed", claim.subscription.id)
            later = services.clock() + poster.policy.later
            await _settle(store.finish_digest(claim, LogStatus.FAILED,
                                              error="internal_error", next_attempt_at=later))
            report.failed += 1

    try:
        await asyncio.gather(*(one(claim) for claim in interleave(claims)))
    finally:
        # Claims never posted (shutdown, crash of this task) go back at once; posts in flight
        # stay `posting` and are settled by the lease.
        released = await _settle(store.release_claims(claims))
        if released:
            log.info("gave back %d unsent digest claims", released)
    log.info(
        "digests: %d claimed, %d sent, %d empty, %d paused, %d to retry, %d failed, %d 429s",
        report.claimed, report.sent, report.empty, report.paused, report.retry_later,
        report.failed, report.rate_limited,
    )
    return report


async def run_due_digests(services: Services, *, dry_run: bool = False) -> int:
    """Send (or with dry_run print) the digests due now; returns a process exit code."""
    if dry_run:
        from bot.cards.digest import digest_as_text

        now = services.clock()
        builder = DigestBuilder(services.store, oauth=services.settings.oauth)
        due = await services.store.due_now(now)
        for item in due:
            since = await services.store.window_start(item.subscription.id, now)
            try:
                digest = await builder.build(item.subscription, item.local_date, since, now)
            except UserError as exc:
                print(f"# {item.subscription.channel_id}: topic not understood ({exc.message})")
                continue
            print(digest_as_text(digest))
            print()
        print(f"{len(due)} digest{'s' if len(due) != 1 else ''} due (dry run: nothing sent)",
              file=sys.stderr)
        return 0
    report = await send_due_digests(services)
    print(
        f"{report.claimed} due: {report.sent} sent, {report.empty} empty, {report.paused} paused,"
        f" {report.retry_later} to retry, {report.failed} failed",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


async def seconds_until_next(services: Services) -> float:
    """How long the scheduler may sleep: until the next due moment, at most a minute."""
    now = services.clock()
    scheduled = await services.store.scheduled_subscriptions()
    from bot.schedule import candidate_dates, index_log

    log_index = index_log(await services.store.digest_log(candidate_dates(now)))
    wake = next_wakeup(scheduled, log_index, now)
    if wake is None:
        return MAX_SLEEP
    return min(MAX_SLEEP, max(1.0, (wake - now).total_seconds()))


async def run_scheduler(
    services: Services,
    *,
    poster: SlackPoster | None = None,
    sleep: Sleep = asyncio.sleep,
    resolve: TopicResolver = default_resolve_topic,
) -> None:
    """Send due digests, then sleep until the next is due (at most a minute); until cancelled."""
    log.info("digest scheduler started")
    while True:
        try:
            await send_due_digests(
                services, poster=poster, builder=DigestBuilder(
                    services.store, resolve, oauth=services.settings.oauth
                )
            )
            delay = await seconds_until_next(services)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("digest run failed; trying again in a minute")
            delay = MAX_SLEEP
        await sleep(delay)


__all__ = [
    "MAX_WINDOW_POSITIONS",
    "PRO_STANCES",
    "Changes",
    "ChannelPacer",
    "Contest",
    "Digest",
    "DigestBuilder",
    "Outcome",
    "PostResult",
    "RetryPolicy",
    "RunReport",
    "Shift",
    "ShiftKey",
    "ShiftKind",
    "SlackPoster",
    "TopicResolver",
    "build_digest",
    "default_resolve_topic",
    "find_changes",
    "find_shifts",
    "group_by_guarantee",
    "latest_by_key",
    "run_due_digests",
    "run_scheduler",
    "send_due_digests",
]
