"""HTTP mode under load: signed `/guarantees ukraine` at concurrency 20, beside a bare bolt app.

Both servers run in their own process on aiohttp: ours through `bot.serve`'s
`POST /slack/events` route (signature and body checked by `bot.slack_requests`, then bolt),
the bare app through slack-bolt's stock aiohttp adapter. The fake Slack (Web API, and the
response URLs of the card runs, where every card is checked against Block Kit's limits)
shares this process with the load generator; the throughput runs send their cards to a plain
sink in a third process, so that receiving cards does not slow the load generator. Measured
in the same run:

- acks/s and ack latency p50/p99 (HTTP answer to the signed request), ours vs. the bare app
  whose `/guarantees` listener only acks;
- command-to-card p50/p99: from sending the command to the fake receiving the card, measured
  first and closed-loop (each of the 20 workers waits for its card before the next command);
  the throughput run then sends as fast as acks return, faster than cards can be built.

The store holds `--positions` synthetic positions (`benchmarks/synthetic.py`), kept in
`benchmarks/out/` between runs. Targets: ours >= 70 % of the bare app's acks/s, p99 ack <=
100 ms, p99 command-to-card <= 500 ms. Loopback only; bounded by `--requests` and `--seconds`.

    .venv/bin/python benchmarks/bench_http.py [--positions 1000000] [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile, serve_until_terminated  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.slack_payloads import sign, slash_command  # noqa: E402

SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
OUT = ROOT / "benchmarks" / "out"


# --- the servers (run in a child process) ----------------------------------------------------


async def run_server(kind: str, port: int, api_url: str, store: str) -> None:
    from slack_bolt.async_app import AsyncAck, AsyncApp

    import handlers
    from bot.app import build_app
    from bot.serve import run_http
    from bot.services import build_slack_client, open_services
    from bot.settings import Settings

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        store_path=store,
        host="127.0.0.1",
        port=port,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if kind == "bare":
        async with aiohttp.ClientSession() as http:
            bare = AsyncApp(client=build_slack_client(settings, http), signing_secret=SECRET)

            @bare.command("/guarantees")
            async def ack_only(ack: AsyncAck) -> None:
                await ack()

            await run_stock_bolt(bare, settings.host, port, stop)
    else:
        # The synthetic store has no extraction records: skip the demo-corpus step, which
        # would try to extract every synthetic article.
        async with open_services(settings, load_demo_corpus=False) as services:
            app = build_app(settings, services, listeners=handlers.register)
            await run_http(app, settings.host, port, stop, signing_secret=SECRET)


async def run_stock_bolt(app: object, host: str, port: int, stop: asyncio.Event) -> None:
    """The bare app behind slack-bolt's own aiohttp adapter (its body parser, its signature
    check), as a bolt user would serve it; ours goes through `bot.slack_requests` first."""
    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

    async def events(request: web.Request) -> web.Response:
        response = await app.async_dispatch(await to_bolt_request(request))  # type: ignore[attr-defined]
        return await to_aiohttp_response(response)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    from bot.serve import settle_heap

    settle_heap()  # as run_http does for ours
    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def run_sink(port: int) -> None:
    """Where the throughput run's cards go: answers 200 like a response URL and counts, in a
    process of its own, so receiving cards does not slow the load generator (the real Slack
    is not on this machine either). Card content is checked by the fake in the card runs."""
    from aiohttp import web

    received = 0

    async def response(request: web.Request) -> web.Response:
        nonlocal received
        await request.read()
        received += 1
        return web.Response(text="ok")

    async def count(_: web.Request) -> web.Response:
        return web.json_response({"received": received})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/response/{rid}", response)
    app.router.add_get("/count", count)
    app.router.add_get("/healthz", healthz)
    await serve_until_terminated(app, port)


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Run:
    name: str
    ack_ms: list[float] = field(default_factory=list)
    card_ms: list[float] = field(default_factory=list)
    cold_card_ms: list[float] = field(default_factory=list)
    posted_eventually: int = 0
    drain_seconds: float = 0.0
    failures: int = 0
    wall: float = 0.0
    posted_ok: int = 0

    @property
    def acks_per_second(self) -> float:
        return len(self.ack_ms) / self.wall if self.wall else 0.0




async def sink_count(http: aiohttp.ClientSession, sink: str) -> int:
    async with http.get(f"{sink}/count") as response:
        return int((await response.json())["received"])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_healthy(http: aiohttp.ClientSession, base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with http.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{base} never became healthy")


async def load(
    name: str,
    base: str,
    sink: str,
    http: aiohttp.ClientSession,
    requests: int,
    concurrency: int,
    seconds: float,
) -> tuple[Run, dict[str, float]]:
    run = Run(name)
    sent_at: dict[str, float] = {}
    queue = iter(range(requests))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        for n in queue:
            if time.monotonic() > deadline:
                return
            url = f"{sink}/response/{name}-{n}"
            body = urllib.parse.urlencode(slash_command("ukraine", response_url=url))
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
            started = time.monotonic()
            sent_at[url.rsplit("/", 1)[-1]] = started
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    run.failures += 1
                    continue
            run.ack_ms.append((time.monotonic() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = time.monotonic() - started
    return run, sent_at


# Distinct topic texts, each a different filter: a card for one of them is never in the
# bot's card cache, so their latency is the cost of building a card from the store.
PARTY_WORDS = ["ukraine", "usa", "russia", "uk", "france", "germany", "poland", "italy",
               "hungary", "turkey", "eu", "europe", "nato", "china", "spain", "netherlands",
               "finland", "latvia", "estonia", "lithuania", "slovakia", "czechia", "canada",
               "japan"]
GUARANTEE_WORDS = ["security", "membership", "peacekeepers", "army", "no-fly", "dmz",
                   "accession", "minerals"]
COLD_TOPICS = [f"{p} {g}" for p in PARTY_WORDS for g in GUARANTEE_WORDS] + PARTY_WORDS


async def cards(
    base: str,
    fake: FakeSlack,
    http: aiohttp.ClientSession,
    count: int,
    concurrency: int,
    seconds: float,
    topics: list[str] | None = None,
) -> list[float]:
    """Closed loop: each worker sends a command and waits for its card before the next, so
    the latency is not inflated by an unbounded backlog of cards still being built.
    `topics` cycles through distinct topic texts (cold cards); default: always "ukraine"."""
    latencies: list[float] = []
    queue = iter(range(count))
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        for n in queue:
            if time.monotonic() > deadline:
                return
            url = fake.new_response_url()
            text = topics[n % len(topics)] if topics else "ukraine"
            body = urllib.parse.urlencode(slash_command(text, response_url=url))
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
            started = time.monotonic()
            async with http.post(f"{base}/slack/events", data=body, headers=headers) as resp:
                await resp.read()
            posted = await fake.wait_for(lambda u=url: fake.responses(u, ok_only=False), 60)
            latencies.append((posted[0].at - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def measure(args: argparse.Namespace, store: str) -> None:
    async with (
        FakeSlack(bot_token=BOT_TOKEN) as fake,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency * 2)) as http,
    ):
        sink_port = free_port()
        sink = f"http://127.0.0.1:{sink_port}"
        sink_process = subprocess.Popen(
            [sys.executable, __file__, "--sink", "--port", str(sink_port)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        await wait_healthy(http, sink)
        results: list[Run] = []
        for kind in ("bare", "ours"):
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            child = subprocess.Popen(
                [sys.executable, __file__, "--serve", kind, "--port", str(port),
                 "--api-url", fake.base_url, "--store", store],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )  # fmt: skip
            try:
                await wait_healthy(http, base)
                card_ms: list[float] = []
                cold_ms: list[float] = []
                if kind == "ours":
                    # Command-to-card first, before any backlog exists: distinct topics
                    # (each card built from the store), then the same topic again and again.
                    cold_ms = await cards(
                        base, fake, http, len(COLD_TOPICS), args.concurrency, args.seconds,
                        topics=COLD_TOPICS,
                    )  # fmt: skip
                    card_ms = await cards(
                        base, fake, http, args.cards, args.concurrency, args.seconds
                    )
                else:
                    await load("warm", base, sink, http, 100, args.concurrency, 30)
                before = await sink_count(http, sink)
                run, _ = await load(
                    kind, base, sink, http, args.requests, args.concurrency, args.seconds
                )
                run.card_ms = card_ms
                run.cold_card_ms = cold_ms
                run.posted_ok = await sink_count(http, sink) - before
                # Then let the cards still being built arrive (bounded wait).
                settle = time.monotonic() + 30
                while time.monotonic() < settle:
                    run.posted_eventually = await sink_count(http, sink) - before
                    if kind == "bare" or run.posted_eventually >= len(run.ack_ms):
                        break
                    await asyncio.sleep(0.2)
                run.drain_seconds = 30 - max(0.0, settle - time.monotonic())
                results.append(run)
            finally:
                child.send_signal(signal.SIGTERM)
                child.wait(30)
        sink_process.send_signal(signal.SIGTERM)
        sink_process.wait(30)

    bare, ours = results
    print(f"\nHTTP mode, {args.positions:,} positions, concurrency {args.concurrency}")
    print(f"{'':24}{'acks/s':>10}{'ack p50':>10}{'ack p99':>10}{'card p50':>10}{'card p99':>10}")
    for run in results:
        card = (
            f"{percentile(run.card_ms, 0.5):>8.1f}ms{percentile(run.card_ms, 0.99):>8.1f}ms"
            if run.card_ms
            else f"{'-':>10}{'-':>10}"
        )
        print(
            f"{run.name + ' (' + str(len(run.ack_ms)) + ' acks)':24}{run.acks_per_second:>10.0f}"
            f"{percentile(run.ack_ms, 0.5):>8.1f}ms{percentile(run.ack_ms, 0.99):>8.1f}ms{card}"
        )
    ratio = ours.acks_per_second / bare.acks_per_second if bare.acks_per_second else 0.0
    print(f"\nours/bare acks/s: {ratio:.0%} (target >= 70%)")
    print(f"ours ack p99: {percentile(ours.ack_ms, 0.99):.1f} ms (target <= 100 ms)")
    print(
        f"ours card p99: {percentile(ours.card_ms, 0.99):.1f} ms repeated topic,"
        f" {percentile(ours.cold_card_ms, 0.99):.1f} ms distinct topics"
        f" (p50 {percentile(ours.cold_card_ms, 0.5):.1f} ms, {len(ours.cold_card_ms)} cards)"
        " (target <= 500 ms)"
    )
    print(
        f"cards of the throughput run posted before it ended: {ours.posted_ok}/{len(ours.ack_ms)},"
        f" all posted {ours.drain_seconds:.1f} s later: {ours.posted_eventually}/{len(ours.ack_ms)}"
    )
    print(f"failed requests: bare {bare.failures}, ours {ours.failures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--cards", type=int, default=200, help="closed-loop card requests")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="cap on each measured run")
    parser.add_argument("--serve", choices=("bare", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(run_server(args.serve, args.port, args.api_url, args.store))
        return
    if args.sink:
        asyncio.run(run_sink(args.port))
        return
    from benchmarks.synthetic import synthetic_store

    asyncio.run(measure(args, synthetic_store(OUT, args.positions)))


if __name__ == "__main__":
    main()
