"""Daily digests: what is new for a subscription, and its delivery exactly once per local day.

Flow of one run (`send_due_digests`): claim what is due in one store transaction
(`bot.schedule` decides, `bot.store.subscriptions` records), build each digest from the store,
render it with `bot.cards.digest`, post it through `bot.digest_post.SlackPoster` (paced one
message per second per channel, 429 and 5xx retried with bounds) with message metadata naming
its key, then record how it ended. Claims never posted are given back on a clean shutdown; the
lease in `bot.schedule` covers a crash, and a claim whose date already had a post attempt looks
in the channel's history first (`bot.digest_history`), so a post Slack took before the crash is
recorded, not repeated.

What a digest says (new positions, shifts, contested guarantees) is built in
`bot.digest_content`; its names are re-exported here.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypeVar

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
from bot.digest_history import HistoryCheck, digest_key, digest_metadata
from bot.digest_post import Outcome, SlackPoster, Sleep, digest_client
from bot.query import UserError
from bot.schedule import LogStatus, next_wakeup
from bot.store.subscriptions import Claim

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# The scheduler never sleeps longer than this, so clock jumps and new subscriptions are seen.
MAX_SLEEP = 60.0

T = TypeVar("T")


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
    was lost): True when the channel's history shows that post, now recorded as sent, or
    when the claim was taken over during the search (the other process goes on). False
    when it is not there, or when the history cannot be read (then the caller posts: at
    least once, with one line in the log)."""
    assert claim.posting_since is not None
    sub = claim.subscription
    check = await poster.find_posted(
        sub.channel_id, key, claim.posting_since, token,
        heartbeat=lambda: _settle(services.store.refresh_claim(claim)),
    )
    report.rate_limited += check.rate_limited
    if check.lost:
        log.warning("digest %s: claim taken over by another process during the history"
                    " search; not posted by this one", sub.id)
        report.outcomes[claim.key] = str(Outcome.LOST)
        return True
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
    key = digest_key(await store.install_id(), sub.id, claim.due.local_date)
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
        return poster.find_posted(sub.channel_id, key, since, token,
                                  heartbeat=lambda: _settle(store.refresh_claim(claim)))

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
    "Contest",
    "Digest",
    "DigestBuilder",
    "RunReport",
    "Shift",
    "ShiftKey",
    "ShiftKind",
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
