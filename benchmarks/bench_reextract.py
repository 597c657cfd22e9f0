"""`serve` after an extractor upgrade, on the 1,000,000-position store, beside an unchanged store.

For each scenario the real `python -m bot serve` (HTTP mode) starts as its own process over a
fresh copy of the store, against the fake Slack of `tests/fakes/slack.py`:

- unchanged: every article already extracted by the current rules version (the baseline);
- upgraded, in worker processes (`REEXTRACT_WORKERS=1`, the default) and in a thread (`0`):
  every article carries positions from an older version, so all of them are re-extracted by
  the background job while the bot serves.

Measured in the same run: time from process start to the first 200 on `/healthz`; the first
command after that (ack, and command-to-card through a response URL); then a steady load of
`/guarantees ukraine` (2 closed-loop clients, one command every 0.2 s each) for as long as the
catch-up runs (at least `--window` seconds): ack and card p50/p99; the catch-up's own time (as
`/healthz` reports it) and the peak RSS of the bot's process and of its worker processes
(sampled from /proc every 0.5 s; the bot's own peak also from VmHWM).

The store: `benchmarks/synthetic.py`'s (built once into `--out`), with its positions and an
`extractions` row per article marked as the rules extractor's, so that a re-extraction
replaces ten positions per article (delete through the summary triggers, insert what the
rules find in the synthetic text: nothing). Synthetic bodies are short (~900 characters), so
extraction is far cheaper than with real articles; `--bodies corpus` gives every article the
text of one of the bundled corpus's real articles in turn (with `--cap` to bound the run).

    .venv/bin/python benchmarks/bench_reextract.py [--positions 1000000] [--out /tmp/bench]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.slack_payloads import sign, slash_command  # noqa: E402

SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"


@dataclass
class Scenario:
    name: str
    version: str  # the version the store's extractions rows carry
    workers: int
    started_to_healthy: float = 0.0
    first_ack_ms: float = 0.0
    first_card_ms: float = 0.0
    ack_ms: list[float] = field(default_factory=list)
    card_ms: list[float] = field(default_factory=list)
    catch_up_seconds: float | None = None
    catch_up_done: int = 0
    catch_up_failed: int = 0
    pending_at_healthy: int | None = None
    rss_main_mb: float = 0.0
    rss_workers_mb: float = 0.0
    hwm_main_mb: float = 0.0
    failures: int = 0
    cap: float = 0.0
    capped: bool = False


def prepare_base(out: Path, positions: int, bodies: str = "synthetic") -> Path:
    """The synthetic store with its positions and extraction records as the rules extractor's
    (version `base`, set per scenario). Built once. With `bodies="corpus"` every article's
    text is one of the bundled corpus articles (real news, ~4,500 characters) in turn."""
    from benchmarks.synthetic import synthetic_store

    base = out / f"reextract-base-{positions}{'' if bodies == 'synthetic' else '-' + bodies}.db"
    if base.exists():
        return base
    started = time.perf_counter()
    source = synthetic_store(out, positions)
    partial = base.with_suffix(".partial")
    shutil.copyfile(source, partial)
    with sqlite3.connect(partial, isolation_level=None) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN")
        db.execute("UPDATE positions SET extractor = 'rules', extractor_version = 'base'")
        db.execute(
            "INSERT INTO extractions (article_id, extractor, version, extracted_at)"
            " SELECT id, 'rules', 'base', added_at FROM articles"
        )
        if bodies == "corpus":
            texts = corpus_bodies()
            db.executemany(
                "UPDATE articles SET body = ? WHERE id = ?",
                ((texts[n % len(texts)], n) for n in range(1, positions // 10 + 2)),
            )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    partial.rename(base)
    print(f"prepared {base.name} in {time.perf_counter() - started:.1f} s")
    return base


def corpus_bodies() -> list[bytes]:
    import json
    import zlib

    from bot.pipeline import demo_corpus_files

    return [
        zlib.compress(json.loads(line)["text"].encode(), 6)
        for path in demo_corpus_files()
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]


def scenario_store(base: Path, out: Path, version: str) -> Path:
    path = out / "reextract-run.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(base, path)
    with sqlite3.connect(path, isolation_level=None) as db:
        db.execute("UPDATE extractions SET version = ?", (version,))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        children = [
            int(c) for t in tasks for c in (t / "children").read_text().split() if c.strip()
        ]
    except OSError:
        return found
    for child in children:
        found += [child, *descendants(child)]
    return found


async def sample_memory(pid: int, run: Scenario, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.rss_main_mb = max(run.rss_main_mb, rss_mb(pid))
        workers = sum(rss_mb(child) for child in descendants(pid))
        run.rss_workers_mb = max(run.rss_workers_mb, workers)
        run.hwm_main_mb = max(run.hwm_main_mb, rss_mb(pid, "VmHWM"))
        await asyncio.sleep(0.5)


async def command(
    http: aiohttp.ClientSession, fake: FakeSlack, base: str, text: str = "ukraine"
) -> tuple[float, float] | None:
    """(ack ms, command-to-card ms) of one signed command, or None when it failed."""
    url = fake.new_response_url()
    body = urllib.parse.urlencode(slash_command(text, response_url=url))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
    started = time.monotonic()
    async with http.post(f"{base}/slack/events", data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            return None
    ack = (time.monotonic() - started) * 1000
    [posted] = await fake.wait_for(lambda: fake.responses(url, ok_only=False), 60)
    return ack, (posted.at - started) * 1000


async def healthz(http: aiohttp.ClientSession, base: str) -> dict[str, Any] | None:
    try:
        async with http.get(f"{base}/healthz") as response:
            if response.status == 200:
                body: dict[str, Any] = await response.json()
                return body
    except aiohttp.ClientError:
        pass
    return None


async def run_scenario(
    run: Scenario, store: Path, fake: FakeSlack, window: float, cap: float, log: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "STORE_PATH": str(store),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REEXTRACT_WORKERS": str(run.workers),
        "LOG_LEVEL": "INFO",
    }
    async with aiohttp.ClientSession() as http:
        with log.open("w") as stderr:
            started = time.monotonic()
            child = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--mode", "http"],
                env=env,
                cwd=ROOT,
                stdout=stderr,
                stderr=stderr,
            )
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_memory(child.pid, run, stop))
            try:
                while (status := await healthz(http, base)) is None:
                    if child.poll() is not None:
                        raise RuntimeError(f"serve exited; see {log}")
                    await asyncio.sleep(0.01)
                run.started_to_healthy = time.monotonic() - started
                run.pending_at_healthy = status.get("reextract", {}).get("pending")
                first = await command(http, fake, base)
                assert first is not None, "first command failed"
                run.first_ack_ms, run.first_card_ms = first
                await load_until_caught_up(run, http, fake, base, window, cap)
            finally:
                stop.set()
                await sampler
                child.terminate()
                child.wait(60)


async def load_until_caught_up(
    run: Scenario,
    http: aiohttp.ClientSession,
    fake: FakeSlack,
    base: str,
    window: float,
    cap: float,
) -> None:
    started = time.monotonic()
    finished = asyncio.Event()

    async def client() -> None:
        while not finished.is_set():
            result = await command(http, fake, base)
            if result is None:
                run.failures += 1
            else:
                run.ack_ms.append(result[0])
                run.card_ms.append(result[1])
            await asyncio.sleep(0.2)

    async def watch() -> None:
        while True:
            status = (await healthz(http, base) or {}).get("reextract", {})
            caught_up = not status.get("running") and not status.get("pending")
            if caught_up and status.get("done"):
                run.catch_up_seconds = status.get("seconds")
                run.catch_up_done = status.get("done", 0)
                run.catch_up_failed = status.get("failed", 0)
            if caught_up and time.monotonic() - started >= window:
                break
            if time.monotonic() - started > cap:
                # Capped: what it did so far (the rate is still comparable).
                run.catch_up_seconds = status.get("seconds")
                run.catch_up_done = status.get("done", 0)
                run.catch_up_failed = status.get("failed", 0)
                run.capped = True
                break
            await asyncio.sleep(0.5)
        finished.set()

    await asyncio.gather(watch(), client(), client())


def report(runs: list[Scenario], positions: int, bodies: str) -> None:
    print(f"\n`serve` after an extractor upgrade, {positions:,} positions, {bodies} bodies")
    head = (
        f"{'':28}{'healthz':>9}{'pending':>9}{'1st ack':>9}{'1st card':>10}"
        f"{'ack p50':>9}{'ack p99':>9}{'card p50':>10}{'card p99':>10}{'n':>6}"
    )
    print(head)
    for run in runs:
        print(
            f"{run.name:28}{run.started_to_healthy:>8.2f}s"
            f"{'-' if run.pending_at_healthy is None else run.pending_at_healthy:>9}"
            f"{run.first_ack_ms:>7.1f}ms{run.first_card_ms:>8.1f}ms"
            f"{percentile(run.ack_ms, 0.5):>7.1f}ms{percentile(run.ack_ms, 0.99):>7.1f}ms"
            f"{percentile(run.card_ms, 0.5):>8.1f}ms{percentile(run.card_ms, 0.99):>8.1f}ms"
            f"{len(run.ack_ms):>6}"
        )
    print(f"\n{'':28}{'catch-up':>10}{'articles':>10}{'/s':>8}{'peak RSS bot':>14}"
          f"{'(VmHWM)':>9}{'workers':>9}{'failed':>8}")  # fmt: skip
    for run in runs:
        seconds = run.catch_up_seconds
        rate = run.catch_up_done / seconds if seconds else 0.0
        print(
            f"{run.name:28}{(f'{seconds:.1f}s' if seconds else '-'):>10}"
            f"{str(run.catch_up_done) + ('*' if run.capped else ''):>10}"
            f"{rate:>8.0f}{run.rss_main_mb:>11.0f} MB{run.hwm_main_mb:>6.0f} MB"
            f"{run.rss_workers_mb:>6.0f} MB{run.catch_up_failed + run.failures:>8}"
        )
    if any(run.capped for run in runs):
        print("* capped: the run was stopped before the catch-up ended (articles done by then)")


async def measure(args: argparse.Namespace) -> None:
    from bot.extraction import default_extractor

    current = default_extractor().version
    out = Path(args.out)
    base = prepare_base(out, args.positions, args.bodies)
    runs = [Scenario("unchanged store (baseline)", current, 1, cap=args.window)]
    for mode in args.modes.split(","):
        workers = 0 if mode == "thread" else 1
        label = "upgrade, 1 worker process" if workers else "upgrade, in a thread"
        cap = args.thread_cap if mode == "thread" else args.cap
        runs.append(Scenario(label, "0.old", workers, cap=cap))
    async with FakeSlack(bot_token=BOT_TOKEN) as fake:
        for run in runs:
            store = scenario_store(base, out, run.version)
            log = out / f"reextract-{args.bodies}-{run.workers}-{run.version}.log"
            print(f"running: {run.name} (log {log})", flush=True)
            await run_scenario(run, store, fake, args.window, run.cap, log)
    report(runs, args.positions, args.bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    parser.add_argument("--window", type=float, default=30.0, help="least seconds under load")
    parser.add_argument("--cap", type=float, default=1800.0, help="most seconds per scenario")
    parser.add_argument("--thread-cap", type=float, default=1800.0, help="same, thread run")
    parser.add_argument(
        "--bodies", choices=("synthetic", "corpus"), default="synthetic",
        help="article texts: the synthetic ones, or the bundled corpus's real articles in turn",
    )  # fmt: skip
    parser.add_argument("--modes", default="process,thread", help="upgrade runs: process,thread")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    # Outside the event loop: building the synthetic store runs a loop of its own.
    prepare_base(Path(args.out), args.positions, args.bodies)
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
