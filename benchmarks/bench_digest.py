"""Digest fan-out benchmark: N subscribed channels against the fake Slack on loopback, which
allows one message per second per channel and answers 429 (Retry-After) beyond.

    python benchmarks/bench_digest.py [--channels 500] [--topics 2] [--timeout 120]

Prints, for the real `send_due_digests` run: messages delivered, wall time, 429s seen, beside
the ideal time the per-channel rate limit allows ((topics - 1) seconds: every channel's
messages must be a second apart) and, as a baseline in the same run, a naive fan-out
(`asyncio.gather` of chat.postMessage through the services' client with slack_sdk's own 429
retry handler, no pacing). Loopback only; every run is bounded by --timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp

from bot.digest import send_due_digests
from bot.services import Services, build_slack_client
from bot.settings import Settings
from bot.store import open_store
from tests.fakes.slack import FakeSlack

TOPICS = [("ukraine",), ("nato",), ("peacekeepers",), ("usa",), ("russia",)]


def settings_for(fake: FakeSlack, path: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token="xoxb-test", slack_api_url=fake.base_url,
        store_path=path,
    )


async def run_digests(channels: int, topics: int, timeout: float) -> dict[str, float]:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    async with FakeSlack(bot_token="xoxb-test") as fake:
        fake.rate_limit_per_channel(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "bench.db")
            settings = settings_for(fake, path)
            yesterday = now - timedelta(days=1)
            async with open_store(path, clock=lambda: yesterday) as store:
                for c in range(channels):
                    for words in TOPICS[:topics]:
                        await store.subscribe(
                            channel_id=f"C{c:05d}", topic_words=words, label=" ".join(words),
                            at=clock_time(0, 0), zone="UTC",
                        )
            async with open_store(path) as store, aiohttp.ClientSession() as http:
                slack = build_slack_client(settings, http)
                services = Services(settings, store, None, http, slack)  # type: ignore[arg-type]
                started = time.perf_counter()
                report = await asyncio.wait_for(send_due_digests(services), timeout)
                elapsed = time.perf_counter() - started
        delivered = sum(1 for c in fake.calls("chat.postMessage") if c.ok)
        seen_429 = sum(1 for c in fake.calls("chat.postMessage") if c.status == 429)
    return {
        "messages": channels * topics,
        "delivered": delivered,
        "sent_reported": report.sent,
        "seconds": elapsed,
        "429s": seen_429,
        "ideal_seconds": float(topics - 1),
    }


async def run_naive(channels: int, topics: int, timeout: float) -> dict[str, float]:
    """Baseline: all posts at once through the services' client (slack_sdk retries 429)."""
    async with FakeSlack(bot_token="xoxb-test") as fake:
        fake.rate_limit_per_channel(1.0)
        settings = settings_for(fake, ":memory:")
        async with aiohttp.ClientSession() as http:
            slack = build_slack_client(settings, http, max_retries=5)
            started = time.perf_counter()

            async def post(channel: str, n: int) -> None:
                await slack.chat_postMessage(channel=channel, text=f"digest {n}")

            jobs = [post(f"C{c:05d}", t) for c in range(channels) for t in range(topics)]
            results = await asyncio.wait_for(
                asyncio.gather(*jobs, return_exceptions=True), timeout
            )
            elapsed = time.perf_counter() - started
        delivered = sum(1 for c in fake.calls("chat.postMessage") if c.ok)
        seen_429 = sum(1 for c in fake.calls("chat.postMessage") if c.status == 429)
        errors = sum(1 for r in results if isinstance(r, BaseException))
    return {"messages": channels * topics, "delivered": delivered, "seconds": elapsed,
            "429s": seen_429, "errors": errors}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--channels", type=int, default=500)
    parser.add_argument("--topics", type=int, default=2, help="subscriptions per channel (1-5)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    topics = max(1, min(len(TOPICS), args.topics))
    for n_topics in sorted({1, topics}):
        ours = asyncio.run(run_digests(args.channels, n_topics, args.timeout))
        naive = asyncio.run(run_naive(args.channels, n_topics, args.timeout))
        print(
            f"{args.channels} channels x {n_topics} topic(s) = {ours['messages']} messages\n"
            f"  send_due_digests: delivered {ours['delivered']}/{ours['messages']} in "
            f"{ours['seconds']:.2f} s, 429s seen {ours['429s']}; ideal under 1 msg/s/channel "
            f"{ours['ideal_seconds']:.1f} s (+ request time)\n"
            f"  naive gather + slack_sdk 429 retry: delivered {naive['delivered']}/"
            f"{naive['messages']} in {naive['seconds']:.2f} s, 429s seen {naive['429s']}, "
            f"errors {naive['errors']}"
        )


if __name__ == "__main__":
    main()
