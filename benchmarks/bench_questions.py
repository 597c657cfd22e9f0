"""Questions benchmark: what reading a question costs, and what a time window costs a card on a
large store, each beside its baseline measured in the same run.

    python benchmarks/bench_questions.py [--positions 1000000] [--runs 200]

1. Parsing: every typed question of the table test (`tests/test_questions.py`, over 110:
   stance words, time windows, typos, compare, what changed, errors) through `parse_command`
   against the topic index of the synthetic store, each timed on its own; the baseline is the
   plain topic lookup every command made before (`TopicIndex.resolve(["ukraine"])`). Dates in
   rare formats go through dateparser once and are then cached per day; the first call is
   timed separately (`cold dateparser`).
2. Cards at 1,000,000 positions (the synthetic store of `bench_store.py`, published over
   2024-2025, so "today" is 2025-12-31): `build_briefing` + render for the whole topic `ukraine`
   (the baseline: the all-time summaries) against the same topic with a window, and the whole
   `answer()` of both right after a store write (nothing cached). The window is read through
   the covering index `positions_published_window`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import percentile
from benchmarks.synthetic import synthetic_store
from bot.briefing import build_briefing
from bot.cards.briefing import briefing_message
from bot.commands import answer
from bot.models import DateWindow
from bot.query import BriefingRequest, UserError, parse_command
from bot.replies import CommandContext
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store
from bot.topics import TopicIndex, load_topic_index
from tests.test_questions import QUESTIONS

OUT = Path(__file__).resolve().parent / "out"
NOW = datetime(2025, 12, 31, 12, 0, tzinfo=UTC)  # the synthetic store's last day


Samples = tuple[list[float], list[float]]  # wall-clock ms, CPU ms (all threads of the process)


def row(label: str, samples: Samples) -> str:
    wall, cpu = samples
    return (
        f"{label:52s} {percentile(wall, 0.5):8.3f} {percentile(wall, 0.99):8.3f}"
        f" {statistics.fmean(wall):8.3f} {percentile(cpu, 0.5):8.3f} {percentile(cpu, 0.99):8.3f}"
    )


HEAD = (
    f"{'step':52s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s} {'cpu p50':>8s} {'cpu p99':>8s}"
)


async def timed_both(runs: int, call, warm_up: int = 5) -> Samples:  # type: ignore[no-untyped-def]
    """Wall-clock and CPU milliseconds of each call. The machine is shared: CPU time (this
    process, every thread, SQLite's included) is what the work costs when others take the
    cores; wall-clock is what a user waits."""
    for _ in range(warm_up):
        await call()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        await call()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def bench_parsing(index: TopicIndex, runs: int) -> None:
    from bot.questions import windows

    def once(text: str) -> tuple[float, float]:
        start, start_cpu = time.perf_counter(), time.process_time()
        with contextlib.suppress(UserError):
            parse_command(text, index, now=NOW)
        return (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000

    def add(samples: Samples, took: tuple[float, float]) -> None:
        samples[0].append(took[0])
        samples[1].append(took[1])

    texts = [text for text, _ in QUESTIONS]
    for text in texts:  # warm up: imports, caches of the vocabulary and of the index's words
        once(text)
    baseline: Samples = ([], [])
    for _ in range(runs * 10):
        start, start_cpu = time.perf_counter(), time.process_time()
        index.resolve(["ukraine"])
        add(baseline, ((time.perf_counter() - start) * 1000,
                       (time.process_time() - start_cpu) * 1000))
    samples: Samples = ([], [])
    by_text: dict[str, Samples] = {}
    for _ in range(runs):
        for text in texts:
            took = once(text)
            add(samples, took)
            add(by_text.setdefault(text, ([], [])), took)
    cold: Samples = ([], [])
    for _ in range(20):
        windows._dateparser.cache_clear()
        add(cold, once("ukraine since 01/02/2025"))
    print(f"parsing: {len(texts)} typed questions x {runs} runs, each call timed")
    print(HEAD)
    print(row("TopicIndex.resolve(['ukraine']) (baseline)", baseline))
    print(row("parse_command, every question of the table", samples))
    slowest = sorted(by_text.items(), key=lambda item: -percentile(item[1][1], 0.99))[:3]
    for text, own in slowest:
        print(row(f"  slowest: {text[:42]!r}", own))
    print(row("'ukraine since 01/02/2025', cold dateparser", cold))


async def bench_cards(path: str, runs: int) -> None:
    async with open_store(path) as store:
        settings = Settings(_env_file=None, store_path=path)  # type: ignore[call-arg]
        services = Services(settings, store, None, None, None, lambda: NOW)  # type: ignore[arg-type]
        ctx = CommandContext(user_id="U1", channel_id="C1")
        index = await load_topic_index(store)
        bench_parsing(index, max(20, runs // 10))

        topic = index.resolve(["ukraine"])
        windows = {
            "last 7 days": DateWindow(date(2025, 12, 25), date(2026, 1, 1), "last 7 days"),
            "this month": DateWindow(date(2025, 12, 1), date(2026, 1, 1), "this month"),
            "last 90 days": DateWindow(date(2025, 10, 3), date(2026, 1, 1), "last 90 days"),
        }

        def card(window: DateWindow | None):  # type: ignore[no-untyped-def]
            async def run() -> None:
                briefing_message(await build_briefing(store, topic, window))

            return run

        def cold(text: str):  # type: ignore[no-untyped-def]
            async def run() -> None:
                store._commits += 1  # a write between commands: nothing cached
                await answer(services, text, ctx)

            return run

        rows = [("card 'ukraine', all time (baseline)", await timed_both(runs, card(None)))]
        for label, window in windows.items():
            rows.append((f"card 'ukraine', window {label}", await timed_both(runs, card(window))))
        rows.append((
            "answer('ukraine'), store just changed", await timed_both(runs, cold("ukraine"))
        ))
        rows.append((
            "answer('ukraine last 7 days'), store just changed",
            await timed_both(runs, cold("ukraine last 7 days")),
        ))
        rows.append((
            "answer('who opposes peacekeepers this week')",
            await timed_both(runs, cold("who opposes peacekeepers this week")),
        ))
        rows.append((
            "answer('compare france italy poland')",
            await timed_both(runs, cold("compare france italy poland")),
        ))
        rows.append((
            "answer('what changed in ukraine this week')",
            await timed_both(max(10, runs // 10), cold("what changed in ukraine this week")),
        ))
        request = parse_command("ukraine last 7 days", index, now=NOW)
        assert isinstance(request, BriefingRequest) and request.window is not None
        windowed = await build_briefing(store, request.topic, request.window)
        whole = await build_briefing(store, topic)
    print("\ncards")
    print(HEAD)
    for label, samples in rows:
        print(row(label, samples))

    def ratio(a: Samples, b: Samples, which: int) -> float:
        return percentile(a[which], 0.99) / percentile(b[which], 0.99)

    for label, samples in rows[1:4]:
        print(f"p99 ratio {label.split('window ')[1]!r} / all time: wall"
              f" {ratio(samples, rows[0][1], 0):.2f}, cpu {ratio(samples, rows[0][1], 1):.2f}")
    print(
        f"p99 ratio answer() last 7 days / all time: wall {ratio(rows[5][1], rows[4][1], 0):.2f},"
        f" cpu {ratio(rows[5][1], rows[4][1], 1):.2f}"
    )
    print(
        f"window 'last 7 days' = {request.window.since} .. {request.window.until}:"
        f" {windowed.positions:,} of {whole.positions:,} positions,"
        f" {windowed.sources:,} sources"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    path = synthetic_store(OUT, args.positions)
    print(f"store: {args.positions:,} synthetic positions ({os.path.getsize(path) / 1e6:.0f} MB)")
    asyncio.run(bench_cards(path, args.runs))


if __name__ == "__main__":
    main()
