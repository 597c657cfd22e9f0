"""Small helpers the benchmark scripts share."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable


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
