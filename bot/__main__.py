"""The command line: `python -m bot serve | ingest | extract | ask | digest | eval`.

This is the only place that calls `asyncio.run` and configures logging.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("bot")


def _is_url(text: str) -> bool:
    """Anything with a scheme is a URL; the fetcher refuses the schemes it does not allow."""
    return re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", text) is not None


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def cmd_ingest(settings: Settings, targets: Sequence[str]) -> int:
    from rich.progress import Progress

    from bot.ingest import read_paths
    from bot.pipeline import IngestReport, ingest_articles
    from bot.services import open_services

    urls = [t for t in targets if _is_url(t)]
    paths = [Path(t) for t in targets if not _is_url(t)]
    report = IngestReport()
    async with open_services(settings, with_slack=False, load_demo_corpus=False) as services:
        if paths:
            items = list(read_paths(paths))
            with Progress(transient=True, disable=len(items) < 20) as bar:
                task = bar.add_task("ingesting", total=len(items))
                report.merge(
                    await ingest_articles(
                        services.store,
                        services.extractor,
                        items,
                        progress=lambda n: bar.advance(task, n),
                    )
                )
        if urls:
            from bot.feeds import ingest_urls

            with Progress(transient=True) as bar:
                task = bar.add_task("fetching", total=len(urls))

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                report.merge(await ingest_urls(services, urls, progress=advance))
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(report.summary())
    return 0 if report.added or report.duplicates or not report.problems else 1


def cmd_extract(file: str) -> int:
    from bot.extraction import default_extractor
    from bot.ingest import IngestProblem, read_file_guarded

    extractor = default_extractor()
    failed = False
    for item in read_file_guarded(Path(file)):
        if isinstance(item, IngestProblem):
            print(f"skipped {item}", file=sys.stderr)
            failed = True
            continue
        for position in extractor.extract(item):
            row = {
                "article_id": item.id,
                "actor": position.actor,
                "party": position.party,
                "stance": str(position.stance),
                "guarantee": str(position.guarantee),
                "guarantor": position.guarantor,
                "beneficiary": position.beneficiary,
                "evidence": position.evidence,
            }
            print(json.dumps(row, ensure_ascii=False))
    return 1 if failed else 0


async def cmd_ask(settings: Settings, text: str, as_json: bool) -> int:
    from bot.commands import CommandContext, answer
    from bot.services import open_services
    from bot.terminal import print_reply

    async with open_services(settings, with_slack=False) as services:
        reply = await answer(services, text, CommandContext.terminal())
    if as_json:
        print(json.dumps(reply.message.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_reply(reply)
    return 0


async def cmd_digest(settings: Settings, dry_run: bool) -> int:
    from bot.digest import run_due_digests
    from bot.services import open_services

    async with open_services(settings, with_slack=not dry_run) as services:
        return await run_due_digests(services, dry_run=dry_run)


def cmd_eval(file: str, as_json: bool, verbose: bool) -> int:
    from bot.evaluate import run_eval

    return run_eval(Path(file), as_json=as_json, verbose=verbose)


async def cmd_serve(settings: Settings, mode: str) -> int:
    from bot.serve import ServeError, serve

    socket_mode = settings.socket_mode if mode == "auto" else mode == "socket"
    missing = settings.missing_for_serve(socket_mode=socket_mode)
    if missing:
        mode = "Socket Mode" if socket_mode else "HTTP mode"
        print(f"cannot serve in {mode}: set {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        await serve(settings, socket_mode=socket_mode)
    except ServeError as exc:  # a refused token, a missing setting: one line, no traceback
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Who seeks, backs, opposes or doubts the guarantees behind a ceasefire.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the Slack bot (Socket Mode or HTTP mode)")
    serve.add_argument(
        "--mode",
        choices=("auto", "http", "socket"),
        default="auto",
        help="auto: Socket Mode when SLACK_APP_TOKEN is set, else HTTP mode",
    )
    ingest = commands.add_parser("ingest", help="add articles from files, folders, URLs, feeds")
    ingest.add_argument("targets", nargs="+", metavar="PATH_OR_URL")
    extract = commands.add_parser("extract", help="print the positions of an article as JSONL")
    extract.add_argument("file", metavar="FILE")
    ask = commands.add_parser("ask", help="answer TEXT as /guarantees TEXT would")
    ask.add_argument("text", nargs="*", metavar="TEXT")
    ask.add_argument("--json", action="store_true", help="print the Block Kit payload")
    digest = commands.add_parser("digest", help="send the digests that are due now")
    digest.add_argument("--dry-run", action="store_true", help="print them instead")
    evaluate = commands.add_parser("eval", help="score extraction against a gold .jsonl file")
    evaluate.add_argument("file", metavar="FILE")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--verbose", "-v", action="store_true", help="list misses and false hits")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "extract":
        return cmd_extract(args.file)
    if args.command == "eval":
        return cmd_eval(args.file, args.json, args.verbose)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from bot.store.base import StoreUnavailable

    try:
        return _run_command(args, settings)
    except StoreUnavailable as exc:  # e.g. STORE_URL's PostgreSQL is down: one line
        print(f"cannot open the store: {exc}", file=sys.stderr)
        return 2


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "ask":
        # The terminal shows the card; INFO lines about loading the corpus would only clutter it.
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
        return asyncio.run(cmd_ask(settings, " ".join(args.text), args.json))
    if args.command == "ingest":
        return asyncio.run(cmd_ingest(settings, args.targets))
    if args.command == "digest":
        return asyncio.run(cmd_digest(settings, args.dry_run))
    if args.command == "serve":
        try:
            return asyncio.run(cmd_serve(settings, args.mode))
        except KeyboardInterrupt:
            return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
