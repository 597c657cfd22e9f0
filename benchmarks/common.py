"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import asyncio
import math
import signal
import statistics
import time
from collections.abc import Awaitable, Callable

from aiohttp import web


def percentile(samples: list[float], q: float) -> float:
    """The q-quantile (0..1) of the samples, nearest rank; NaN when there are none."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(
    runs: int, call: Callable[[], Awaitable[object]], warm_up: int = 5
) -> list[float]:
    """Milliseconds of each of `runs` awaited calls, after `warm_up` untimed ones."""
    for _ in range(warm_up):
        await call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def print_timings(rows: list[tuple[str, list[float]]], width: int = 48) -> None:
    """A table of p50, p99 and mean milliseconds, one row per (label, samples)."""
    print(f"{'step':{width}s} {'p50 ms':>10s} {'p99 ms':>10s} {'mean ms':>10s} {'runs':>5s}")
    for label, samples in rows:
        print(
            f"{label:{width}s} {percentile(samples, 0.5):10.2f} {percentile(samples, 0.99):10.2f}"
            f" {statistics.fmean(samples):10.2f} {len(samples):5d}"
        )


async def serve_until_terminated(app: web.Application, port: int) -> None:
    """Serve `app` on 127.0.0.1:`port` until the process gets SIGTERM (a benchmark's helper
    process: a fake response_url sink, a stand-in for Slack)."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await stop.wait()
    await runner.cleanup()
