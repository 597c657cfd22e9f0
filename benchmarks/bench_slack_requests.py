"""The cost of reading a Slack HTTP request ourselves, beside bolt's stock path, in process.

Per signed slash-command body (the form Slack sends, about 500 bytes):

- baseline: what slack-bolt's aiohttp adapter does: `AsyncBoltRequest(body=text)` (bolt's
  parser) plus bolt's signature check (`SignatureVerifier.is_valid`);
- ours: `bot.slack_requests.read_slack_request` (UTF-8 decode, our signature check, our
  parser, `ParsedBoltRequest`) plus bolt's signature check, which stays on behind it.

Both are timed in alternating rounds in the same process; the median round is reported.
No network: the HTTP server and bolt's dispatch cost the same on both paths.

    .venv/bin/python benchmarks/bench_slack_requests.py [--requests 20000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_bolt.request.async_request import AsyncBoltRequest  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bot.slack_requests import ParsedBoltRequest, read_slack_request  # noqa: E402
from tests.fakes.slack_payloads import sign, slash_command  # noqa: E402

SECRET = "bench-signing-secret"


def requests(n: int) -> list[tuple[bytes, dict[str, str]]]:
    out = []
    for i in range(n):
        fields = slash_command(f"ukraine nato {i}", response_url=f"https://hooks.example/{i}")
        raw = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, raw)}
        out.append((raw, headers))
    return out


def stock(batch: list[tuple[bytes, dict[str, str]]], verifier: SignatureVerifier) -> float:
    started = time.perf_counter()
    for raw, headers in batch:
        request = AsyncBoltRequest(body=raw.decode(), query="", headers=headers)  # type: ignore[arg-type]
        stamp = request.headers["x-slack-request-timestamp"][0]
        assert verifier.is_valid(request.raw_body, stamp, request.headers["x-slack-signature"][0])
        assert request.body["command"] == "/guarantees"
    return time.perf_counter() - started


def ours(batch: list[tuple[bytes, dict[str, str]]], verifier: SignatureVerifier) -> float:
    started = time.perf_counter()
    for raw, headers in batch:
        request = read_slack_request(raw, headers=headers, query="", verifier=verifier)
        assert isinstance(request, ParsedBoltRequest)
        stamp = request.headers["x-slack-request-timestamp"][0]
        signature = request.headers["x-slack-signature"][0]
        assert verifier.is_valid(request.raw_body, stamp, signature)
        assert request.body["command"] == "/guarantees"
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    batch = requests(args.requests)
    verifier = SignatureVerifier(SECRET)
    stock_times, our_times = [], []
    for _ in range(args.rounds):
        stock_times.append(stock(batch, verifier))
        our_times.append(ours(batch, verifier))
    base = statistics.median(stock_times) / args.requests * 1e6
    mine = statistics.median(our_times) / args.requests * 1e6
    print(f"{args.requests:,} signed command bodies, median of {args.rounds} alternating rounds")
    print(f"  bolt's stock parser + signature check : {base:7.1f} us/request")
    print(f"  ours (check + parse) + bolt's check   : {mine:7.1f} us/request")
    print(f"  ours / stock                          : {mine / base:7.2f}x (+{mine - base:.1f} us)")


if __name__ == "__main__":
    main()
