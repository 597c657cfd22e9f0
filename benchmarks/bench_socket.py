"""Socket Mode under load: `/guarantees ukraine` envelopes through the fake Slack's websocket,
ours beside a bare slack-bolt Socket Mode app, in the same run.

Each server runs in its own process and connects to the fake Slack of `tests/fakes/slack.py`
(in this process) the way it would connect to Slack: `apps.connections.open` through
`SLACK_API_URL`, then the websocket. The bare app is bolt's `AsyncSocketModeHandler` over an
`AsyncApp` whose `/guarantees` listener only acks; ours is `bot.serve.run_socket_mode` (the
deduplicating handler) over `bot.app.build_app` and the synthetic store of `--positions`.

Measured: envelopes/s and ack latency p50/p99, from sending an envelope on the websocket to the
fake receiving its ack, with `--concurrency` envelopes outstanding (closed loop); for ours,
also command-to-card p50/p99 (the card posted to a response URL of the fake, which checks it
against Block Kit's limits). In the throughput runs the cards go to a sink in a third process
(`bench_http.py --sink`), so receiving them does not slow the load generator.

    .venv/bin/python benchmarks/bench_socket.py [--positions 1000000] [--envelopes 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.slack_payloads import slash_command  # noqa: E402

BOT_TOKEN = "xoxb-bench"
APP_TOKEN = "xapp-bench"
OUT = ROOT / "benchmarks" / "out"


# --- the servers (run in a child process) ----------------------------------------------------


async def run_server(kind: str, api_url: str, store: str) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp

    import handlers
    from bot.app import build_app
    from bot.serve import run_socket_mode, settle_heap
    from bot.services import build_slack_client, open_services
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN,
        slack_api_url=api_url,
        store_path=store,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if kind == "bare":
        async with aiohttp.ClientSession() as http:
            bare = AsyncApp(
                client=build_slack_client(settings, http), request_verification_enabled=False
            )

            @bare.command("/guarantees")
            async def ack_only(ack: AsyncAck) -> None:
                await ack()

            settle_heap()  # the same start-up treatment as ours
            handler = AsyncSocketModeHandler(bare, APP_TOKEN, web_client=bare.client)
            await handler.connect_async()
            await stop.wait()
            await handler.close_async()
    else:
        # The synthetic store has no extraction records for the rules extractor: skip the
        # demo-corpus step (and no background re-extraction runs here).
        async with open_services(settings, load_demo_corpus=False) as services:
            app = build_app(settings, services, listeners=handlers.register)
            await run_socket_mode(app, settings, stop)


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Run:
    name: str
    ack_ms: list[float] = field(default_factory=list)
    card_ms: list[float] = field(default_factory=list)
    wall: float = 0.0
    unacked: int = 0
    cards_posted: int = 0

    @property
    def per_second(self) -> float:
        return len(self.ack_ms) / self.wall if self.wall else 0.0


async def envelopes(
    run: Run, fake: FakeSlack, sink: str, count: int, concurrency: int, seconds: float
) -> None:
    """Closed loop: each worker sends an envelope and waits for its ack before the next."""
    queue = iter(range(count))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        for n in queue:
            if time.monotonic() > deadline:
                return
            payload = slash_command("ukraine", response_url=f"{sink}/response/{run.name}-{n}")
            started = time.monotonic()
            envelope = await fake.push("slash_commands", payload)
            try:
                await fake.wait_for(lambda e=envelope: e in fake.first_ack_at, 30)
            except TimeoutError:
                run.unacked += 1
                continue
            run.ack_ms.append((fake.first_ack_at[envelope] - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = time.monotonic() - started


async def cards(run: Run, fake: FakeSlack, count: int, concurrency: int) -> None:
    """Closed loop, ours only: command to card at the fake's response URL."""
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            url = fake.new_response_url()
            started = time.monotonic()
            await fake.push("slash_commands", slash_command("ukraine", response_url=url))
            posted = await fake.wait_for(lambda u=url: fake.responses(u, ok_only=False), 60)
            if posted[0].ok:
                run.cards_posted += 1
            run.card_ms.append((posted[0].at - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def sink_count(http: aiohttp.ClientSession, sink: str) -> int:
    async with http.get(f"{sink}/count") as response:
        return int((await response.json())["received"])


async def settled(http: aiohttp.ClientSession, sink: str, expected: int) -> int:
    """Wait (30 s at most) until the sink has received `expected` cards in all."""
    deadline = time.monotonic() + 30
    while (received := await sink_count(http, sink)) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return received


async def measure(args: argparse.Namespace, store: str) -> None:
    from benchmarks.bench_http import free_port, wait_healthy

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bench_http = str(ROOT / "benchmarks" / "bench_http.py")
    results: list[Run] = []
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        sink = f"http://127.0.0.1:{free_port()}"
        sink_process = subprocess.Popen(
            [sys.executable, bench_http, "--sink", "--port", sink.rsplit(":", 1)[1]], env=env
        )
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, sink)
            for kind in ("bare", "ours"):
                hellos = fake.hellos_sent
                child = subprocess.Popen(
                    [sys.executable, __file__, "--serve", kind, "--api-url", fake.base_url,
                     "--store", store],
                    env=env,
                )  # fmt: skip
                try:
                    await fake.wait_connected(hellos=hellos + 1, timeout=120)
                    run = Run(kind)
                    before = await sink_count(http, sink)
                    warm = Run("warm")
                    await envelopes(warm, fake, sink, 100, args.concurrency, 30)
                    if kind == "ours":
                        # Let the warm-up's cards arrive, then measure command to card.
                        await settled(http, sink, before + len(warm.ack_ms))
                        await cards(run, fake, args.cards, args.concurrency)
                    before = await sink_count(http, sink)
                    await envelopes(
                        run, fake, sink, args.envelopes, args.concurrency, args.seconds
                    )
                    if kind == "ours":
                        posted = await settled(http, sink, before + len(run.ack_ms))
                        run.cards_posted += posted - before
                    results.append(run)
                finally:
                    child.send_signal(signal.SIGTERM)
                    child.wait(30)
                    await fake.wait_for(lambda: fake.connected == 0, 30)
        sink_process.send_signal(signal.SIGTERM)
        sink_process.wait(30)

    bare, ours = results
    print(f"\nSocket Mode, {args.positions:,} positions, {args.concurrency} envelopes outstanding")
    print(f"{'':24}{'env/s':>8}{'ack p50':>10}{'ack p99':>10}{'card p50':>10}{'card p99':>10}")
    for run in results:
        card = (
            f"{percentile(run.card_ms, 0.5):>8.1f}ms{percentile(run.card_ms, 0.99):>8.1f}ms"
            if run.card_ms
            else f"{'-':>10}{'-':>10}"
        )
        print(
            f"{run.name + ' (' + str(len(run.ack_ms)) + ')':24}{run.per_second:>8.0f}"
            f"{percentile(run.ack_ms, 0.5):>8.1f}ms{percentile(run.ack_ms, 0.99):>8.1f}ms{card}"
        )
    ratio = ours.per_second / bare.per_second if bare.per_second else 0.0
    print(f"\nours/bare envelopes/s: {ratio:.0%}")
    print(f"unacked: bare {bare.unacked}, ours {ours.unacked}")
    print(
        f"ours: cards posted {ours.cards_posted} of {len(ours.card_ms) + len(ours.ack_ms)}"
        " (closed-loop card run + throughput run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--envelopes", type=int, default=2000)
    parser.add_argument("--cards", type=int, default=200, help="closed-loop card commands")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="cap on each measured run")
    parser.add_argument("--out", default=str(OUT), help="where the synthetic store is kept")
    parser.add_argument("--serve", choices=("bare", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(run_server(args.serve, args.api_url, args.store))
        return
    from benchmarks.synthetic import synthetic_store

    asyncio.run(measure(args, synthetic_store(Path(args.out), args.positions)))


if __name__ == "__main__":
    main()
