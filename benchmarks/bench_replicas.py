"""Several replicas on one PostgreSQL, behind haproxy: throughput, a replica killed, digests
and feed polling shared. Loopback only.

    python benchmarks/bench_replicas.py [--requests 2000] [--concurrency 20] [--digests 500]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--haproxy /usr/sbin/haproxy]

Each replica is a real `python -m bot serve --mode http` process (STORE_URL on a database made
for this run and dropped after it; the demo corpus loaded once beforehand). haproxy (Debian's
package) balances round-robin, checks `GET /healthz` every 500 ms, redispatches a refused
connection, and names the replica that answered in `X-Served-By`. The fake Slack (Web API:
`auth.test`, the digests' `chat.postMessage`) and a feed site run in this process; the cards
go to response URLs on a sink process that records each one.

1. One replica behind haproxy: signed `/guarantees ukraine` at concurrency 20, acks/s.
2. Three replicas: the same load, acks/s; then `--digests` subscriptions due at the same
   minute, each must be posted exactly once (duplicates and missing counted at the fake).
3. The same load again; a third of the way in, the replica holding the feed-polling lease
   is killed with SIGKILL. Counted: commands acked by a live replica whose card never came
   (target 0), commands lost with the dead one, and the time until a survivor held the lease
   and polled the feed (the lease is FEED_LEASE_SECONDS=6).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_http import free_port, wait_healthy  # noqa: E402
from benchmarks.bench_postgres_store import database_url  # noqa: E402
from benchmarks.common import percentile, serve_until_terminated  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.fakes.slack_payloads import sign, slash_command  # noqa: E402

SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench"
LEASE_SECONDS = 6


# --- the sink: records which response URLs received a card (its own process) ---------------


async def run_sink(port: int) -> None:
    received: dict[str, float] = {}

    async def response(request: web.Request) -> web.Response:
        await request.read()
        received.setdefault(request.match_info["rid"], time.time())
        return web.Response(text="ok")

    async def ids(_: web.Request) -> web.Response:
        return web.json_response(sorted(received))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/response/{rid}", response)
    app.router.add_get("/ids", ids)
    app.router.add_get("/healthz", healthz)
    await serve_until_terminated(app, port)


# --- replicas and the balancer --------------------------------------------------------------


@dataclass
class Replica:
    name: str
    port: int
    process: subprocess.Popen[bytes]


def start_replica(name: str, env: dict[str, str], log_dir: Path) -> Replica:
    port = free_port()
    log = (log_dir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--mode", "http"],
        env={**env, "PORT": str(port)}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    return Replica(name, port, process)


def start_haproxy(
    binary: str, port: int, replicas: list[Replica], folder: Path
) -> subprocess.Popen[bytes]:
    servers = "\n".join(
        f"  server {r.name} 127.0.0.1:{r.port} check inter 500 fall 2 rise 1" for r in replicas
    )
    config = folder / f"haproxy-{len(replicas)}.cfg"
    config.write_text(
        f"""global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  retries 2
  option redispatch
frontend replicas
  bind 127.0.0.1:{port}
  default_backend serve
backend serve
  balance roundrobin
  option httpchk GET /healthz
  http-response set-header X-Served-By %[srv_name]
{servers}
"""
    )
    return subprocess.Popen([binary, "-f", str(config), "-db"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- load -----------------------------------------------------------------------------------


@dataclass
class Load:
    name: str
    ack_ms: list[float] = field(default_factory=list)
    served_by: dict[str, str] = field(default_factory=dict)  # response id -> replica
    refused: int = 0  # not acked: 5xx from haproxy or a broken connection
    wall: float = 0.0

    @property
    def acks_per_second(self) -> float:
        return len(self.ack_ms) / self.wall if self.wall else 0.0


async def load(
    name: str, base: str, sink: str, http: aiohttp.ClientSession, requests: int,
    concurrency: int, at_third: asyncio.Event | None = None,
) -> Load:
    run = Load(name)
    queue = iter(range(requests))

    async def worker() -> None:
        for n in queue:
            if at_third is not None and n == requests // 3:
                at_third.set()
            rid = f"{name}-{n}"
            body = urllib.parse.urlencode(
                slash_command("ukraine", response_url=f"{sink}/response/{rid}")
            )
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
            started = time.monotonic()
            try:
                async with http.post(f"{base}/slack/events", data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        run.refused += 1
                        continue
                    run.served_by[rid] = r.headers.get("X-Served-By", "?")
            except aiohttp.ClientError:
                run.refused += 1
                continue
            run.ack_ms.append((time.monotonic() - started) * 1000)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = time.monotonic() - started
    return run


async def cards_received(http: aiohttp.ClientSession, sink: str, wanted: set[str],
                         wait: float = 30.0) -> set[str]:
    deadline = time.monotonic() + wait
    while True:
        async with http.get(f"{sink}/ids") as response:
            got = set(await response.json()) & wanted
        if got == wanted or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.5)


# --- the run --------------------------------------------------------------------------------


async def prepare_store(url: str) -> None:
    """The demo corpus, loaded once, so replicas start on a filled store."""
    from bot.services import open_services
    from bot.settings import Settings

    settings = Settings(_env_file=None, store_url=url)  # type: ignore[call-arg]
    async with open_services(settings, with_slack=False):
        pass


async def add_subscriptions(url: str, count: int, due: datetime) -> None:
    from bot.store import open_store

    async with open_store(url) as store:
        for n in range(count):
            await store.subscribe(
                channel_id=f"CDIG{n:04d}", topic_words=("ukraine",), label="Ukraine",
                at=due.time().replace(second=0, microsecond=0), zone="UTC", team_id="T0TEAM",
            )


async def lease_holder(url: str) -> str | None:
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(
            "SELECT holder FROM leases WHERE name = 'feed-polling' AND expires_at > $1",
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )
    finally:
        await connection.close()


def feed_site(polls: list[float]) -> web.Application:
    item = (
        "<item><title>Allies weigh guarantees</title><link>{base}/story</link>"
        "<guid>bench-story-1</guid><pubDate>Mon, 02 Mar 2026 06:00:00 GMT</pubDate></item>"
    )

    async def feed(request: web.Request) -> web.Response:
        polls.append(time.monotonic())
        base = f"http://{request.host}"
        channel = f"<channel><title>t</title>{item.format(base=base)}</channel>"
        body = f"<rss version='2.0'>{channel}</rss>"
        return web.Response(text=body, content_type="application/rss+xml")

    async def story(_: web.Request) -> web.Response:
        text = "The minister said Europe would send troops to Ukraine after a ceasefire. " * 5
        return web.Response(text=f"<html><body><article><p>{text}</p></article></body></html>",
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/story", story)
    return app


async def scenario(args: argparse.Namespace) -> None:
    name = f"bench_replicas_{os.getpid()}"
    url = database_url(args.postgres, name)
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    folder = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    processes: list[subprocess.Popen[bytes]] = []
    feed_runner: web.AppRunner | None = None
    try:
        started = time.monotonic()
        await prepare_store(url)
        print(f"demo corpus loaded into PostgreSQL in {time.monotonic() - started:.1f} s")
        polls: list[float] = []
        feed_runner = web.AppRunner(feed_site(polls), access_log=None)
        await feed_runner.setup()
        feed_port = free_port()
        await web.TCPSite(feed_runner, "127.0.0.1", feed_port).start()
        async with (
            FakeSlack(bot_token=BOT_TOKEN) as fake,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http,
        ):
            sink_port = free_port()
            sink = f"http://127.0.0.1:{sink_port}"
            sink_process = subprocess.Popen(
                [sys.executable, __file__, "--sink", "--port", str(sink_port)],
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            processes.append(sink_process)
            await wait_healthy(http, sink)
            env = {
                **os.environ, "PYTHONPATH": str(ROOT), "STORE_URL": url,
                "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": fake.base_url, "HOST": "127.0.0.1", "LOG_LEVEL": "INFO",
                "FEEDS": f"http://127.0.0.1:{feed_port}/feed.xml", "FEED_POLL_MINUTES": "1",
                "FEED_LEASE_SECONDS": str(LEASE_SECONDS), "FETCH_ALLOW_LOOPBACK": "true",
                "DIGEST_TIMEZONE": "UTC",
            }  # fmt: skip
            lb_port = free_port()
            base = f"http://127.0.0.1:{lb_port}"

            # 1. One replica.
            one = start_replica("r0", env, folder)
            processes.append(one.process)
            balancer = start_haproxy(args.haproxy, lb_port, [one], folder)
            await wait_healthy(http, f"http://127.0.0.1:{one.port}")
            await wait_healthy(http, base)
            await load("warm1", base, sink, http, 100, args.concurrency)
            single = await load("one", base, sink, http, args.requests, args.concurrency)
            got = await cards_received(http, sink, set(single.served_by))
            print(f"one replica: {single.acks_per_second:.0f} acks/s, ack p50"
                  f" {percentile(single.ack_ms, 0.5):.1f} ms, p99"
                  f" {percentile(single.ack_ms, 0.99):.1f} ms; cards {len(got)}/"
                  f"{len(single.served_by)}; refused {single.refused}", flush=True)
            stop(balancer)

            # 2. Three replicas (r0 stays up).
            replicas = [one, start_replica("r1", env, folder), start_replica("r2", env, folder)]
            processes += [r.process for r in replicas[1:]]
            for replica in replicas:
                await wait_healthy(http, f"http://127.0.0.1:{replica.port}")
            balancer = start_haproxy(args.haproxy, lb_port, replicas, folder)
            processes.append(balancer)
            await wait_healthy(http, base)
            await asyncio.sleep(1.5)  # haproxy's first checks mark every server up
            await load("warm3", base, sink, http, 100, args.concurrency)
            three = await load("three", base, sink, http, args.requests, args.concurrency)
            got = await cards_received(http, sink, set(three.served_by))
            spread = Counter(three.served_by.values())
            print(f"three replicas: {three.acks_per_second:.0f} acks/s, ack p50"
                  f" {percentile(three.ack_ms, 0.5):.1f} ms, p99"
                  f" {percentile(three.ack_ms, 0.99):.1f} ms; cards {len(got)}/"
                  f"{len(three.served_by)}; spread {dict(spread)}; refused {three.refused}",
                  flush=True)

            # 2b. Digests due at the same minute, with three replicas racing for them.
            now = datetime.now(UTC)
            due = (now + timedelta(seconds=75)).replace(second=0, microsecond=0)
            await add_subscriptions(url, args.digests, due)
            print(f"{args.digests} subscriptions due at {due:%H:%M} UTC", flush=True)
            deadline = time.monotonic() + (due - now).total_seconds() + 150
            while time.monotonic() < deadline:
                posted = Counter(
                    c.channel for c in fake.calls("chat.postMessage")
                    if c.ok and (c.channel or "").startswith("CDIG")
                )
                if len(posted) >= args.digests:
                    await asyncio.sleep(3)  # late duplicates would show now
                    break
                await asyncio.sleep(1)
            posted = Counter(
                c.channel for c in fake.calls("chat.postMessage")
                if c.ok and (c.channel or "").startswith("CDIG")
            )
            duplicates = sum(n - 1 for n in posted.values())
            missing = args.digests - len(posted)
            claimants = await digest_claimants(url)
            print(f"digests: {len(posted)} channels posted, {duplicates} duplicates,"
                  f" {missing} missing; claims by {claimants} scheduler runs", flush=True)

            # 3. Kill the feed-lease holder a third of the way into a load run.
            holder = await lease_holder(url)
            victim = next(
                (r for r in replicas if holder and f":{r.process.pid}:" in holder), replicas[0]
            )
            at_third = asyncio.Event()
            killed_at = 0.0

            takeover: float | None = None

            async def kill_when_due() -> None:
                nonlocal killed_at, takeover
                await at_third.wait()
                victim.process.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                # Watch the lease from the moment of the kill until a survivor holds it.
                while time.monotonic() - killed_at < 3 * LEASE_SECONDS + 10:
                    now_holder = await lease_holder(url)
                    if now_holder and now_holder != holder:
                        takeover = time.monotonic() - killed_at
                        return
                    await asyncio.sleep(0.2)

            killer = asyncio.create_task(kill_when_due())
            crash = await load("kill", base, sink, http, args.requests, args.concurrency,
                               at_third=at_third)
            got = await cards_received(http, sink, set(crash.served_by))
            await killer
            unanswered = Counter(crash.served_by[rid] for rid in set(crash.served_by) - got)
            live_unanswered = sum(n for who, n in unanswered.items() if who != victim.name)
            wait_until = time.monotonic() + 3 * LEASE_SECONDS
            while not any(t > killed_at for t in polls) and time.monotonic() < wait_until:
                await asyncio.sleep(0.2)
            later_polls = [t - killed_at for t in polls if t > killed_at]
            print(f"kill run: {crash.acks_per_second:.0f} acks/s; {victim.name} (lease holder)"
                  f" SIGKILLed; acked by live replicas but unanswered: {live_unanswered};"
                  f" acked by {victim.name} then lost: {unanswered.get(victim.name, 0)};"
                  f" refused (routed to the dead one): {crash.refused}", flush=True)
            print(f"feed lease taken over {takeover:.1f} s after the kill"
                  if takeover is not None else "feed lease NOT taken over", flush=True)
            print(f"feed polled again {later_polls[0]:.1f} s after the kill"
                  f" (lease {LEASE_SECONDS} s)" if later_polls else "feed NOT polled again",
                  flush=True)
    finally:
        for process in reversed(processes):
            stop(process)
        if feed_runner is not None:
            await feed_runner.cleanup()
        with contextlib.suppress(Exception):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        print(f"replica logs in {folder}")


async def digest_claimants(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT count(DISTINCT claim_token) FROM digest_log"))
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--digests", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--haproxy", default="/usr/sbin/haproxy")
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(run_sink(args.port))
        return
    asyncio.run(scenario(args))


if __name__ == "__main__":
    main()
