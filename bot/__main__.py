"""The command line: `python -m bot serve | ingest | extract | ask | digest | eval | reextract |
matrix | export`.

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
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.models import Position
    from bot.services import Services

log = logging.getLogger("bot")

EXTRACTORS = ("rules", "llm", "hybrid")


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
        pending = await pending_note(services)
    for problem in report.problems:
        print(f"skipped {problem}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(report.summary())
    if pending:
        print(pending, file=sys.stderr)
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
        _print_positions(item.id, extractor.extract(item))
    return 1 if failed else 0


def _print_positions(article_id: str, positions: Sequence[Position]) -> None:
    for position in positions:
        row: dict[str, str | float | None] = {
            "article_id": article_id,
            "actor": position.actor,
            "party": position.party,
            "stance": str(position.stance),
            "guarantee": str(position.guarantee),
            "guarantor": position.guarantor,
            "beneficiary": position.beneficiary,
            "evidence": position.evidence,
        }
        if position.found_by:
            row["found_by"] = position.found_by
        if position.confidence is not None:
            row["confidence"] = position.confidence
        print(json.dumps(row, ensure_ascii=False))


async def cmd_extract_model(settings: Settings, file: str, kind: str) -> int:
    """`extract --extractor llm|hybrid`: through the model endpoint of the settings, with the
    store's cache and token budget; a fallback to the rules is said on stderr."""
    from bot.extraction import AsyncExtractor
    from bot.extraction.choice import open_extractor
    from bot.ingest import IngestProblem, read_file
    from bot.store import open_store

    items = list(read_file(Path(file)))
    failed = False
    async with open_store(settings.store_location) as store, open_extractor(
        settings, store, kind, queue_fallbacks=False
    ) as extractor:
        assert isinstance(extractor, AsyncExtractor)
        articles = [item for item in items if not isinstance(item, IngestProblem)]
        results = await asyncio.gather(*(extractor.extract_async(a) for a in articles))
    for item in items:
        if isinstance(item, IngestProblem):
            print(f"skipped {item}", file=sys.stderr)
            failed = True
    for article, result in zip(articles, results, strict=True):
        if not result.complete:
            print(f"{article.id}: the rules stood in for the model ({result.reason})",
                  file=sys.stderr)
        _print_positions(article.id, result.positions)
    return 1 if failed else 0


async def cmd_eval_model(settings: Settings, file: str, kind: str, as_json: bool,
                         verbose: bool) -> int:
    """`eval --extractor llm|hybrid`: the gold file through the model endpoint."""
    from bot.evaluate import evaluate_records_async, format_report, read_gold
    from bot.extraction.choice import open_extractor
    from bot.extraction.llm.extractor import LLMExtractor
    from bot.extraction.llm.hybrid import HybridExtractor
    from bot.store import open_store

    try:
        records = read_gold(Path(file))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read {file}: {exc}", file=sys.stderr)
        return 2
    async with open_store(settings.store_location) as store, open_extractor(
        settings, store, kind, queue_fallbacks=False
    ) as extractor:
        result, fallbacks = await evaluate_records_async(records, extractor)
    llm = extractor.llm if isinstance(extractor, HybridExtractor) else extractor
    assert isinstance(llm, LLMExtractor)
    stats = llm.stats
    model = {
        "extractor": kind, "model": llm.client.model, "version": extractor.version,
        "requests": stats.requests, "cached": stats.cached, "fallbacks": fallbacks,
        "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
        "positions_offered": stats.grounding.offered, "positions_kept": stats.grounding.kept,
        "dropped": dict(stats.grounding.dropped),
    }
    if as_json:
        print(json.dumps({**result.as_dict(verbose=verbose), "model": model}, indent=2,
                         ensure_ascii=False))
    else:
        print(format_report(result, verbose))
        print(f"\n{kind} ({llm.client.model}): {stats.requests} answers, {stats.cached} cached,"
              f" {stats.prompt_tokens} prompt + {stats.completion_tokens} completion tokens;"
              f" grounding {stats.grounding.describe()}")
    if fallbacks:
        print(f"warning: the rules stood in for the model on {fallbacks} of"
              f" {len(records)} articles ({', '.join(sorted(stats.fallbacks))}); this score"
              " does not measure the model alone", file=sys.stderr)
    return 0


async def cmd_ask(settings: Settings, text: str, as_json: bool) -> int:
    from bot.commands import CommandContext, answer
    from bot.services import open_services
    from bot.terminal import print_reply

    async with open_services(settings, with_slack=False) as services:
        reply = await answer(services, text, CommandContext.terminal())
        pending = await pending_note(services)
    if as_json:
        print(json.dumps(reply.message.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_reply(reply)
    if pending:
        print(pending, file=sys.stderr)
    return 0


async def pending_note(services: Services) -> str | None:
    """One line for stderr when stored articles still carry an older extractor's positions:
    the answer came from those; `serve` (or `reextract`) brings them up to date."""
    from bot.reextract import pending_count

    pending = await pending_count(services.store, services.extractor)
    if not pending:
        return None
    extractor = services.extractor
    return (
        f"note: {pending} article{'s' if pending != 1 else ''} still carry positions from"
        f" another extractor version than {extractor.name} {extractor.version}; `serve`"
        " re-extracts them in the background, `python -m bot reextract` does it now"
    )


async def cmd_reextract(settings: Settings) -> int:
    from bot.reextract import LOG_EVERY_SECONDS, catch_up
    from bot.services import open_services

    async with open_services(settings, with_slack=False) as services:
        progress = await catch_up(
            services.store,
            services.extractor,
            workers=settings.reextract_workers,
            log_every_seconds=min(LOG_EVERY_SECONDS, 10.0),
        )
    print(
        f"{progress.done} article{'s' if progress.done != 1 else ''} re-extracted,"
        f" {progress.positions} positions, {progress.failed} failed"
    )
    return 1 if progress.failed else 0


async def cmd_digest(settings: Settings, dry_run: bool) -> int:
    from bot.digest import run_due_digests
    from bot.services import open_services

    async with open_services(settings, with_slack=not dry_run) as services:
        return await run_due_digests(services, dry_run=dry_run)


def cmd_eval(file: str | None, as_json: bool, verbose: bool, split: str | None = None,
             ablation: bool = False) -> int:
    from bot.evaluate import run_eval

    if (file is None) == (split is None):
        print("eval: give a gold FILE or --split NAME (one of them)", file=sys.stderr)
        return 2
    return run_eval(Path(file) if file else None, as_json=as_json, verbose=verbose,
                    split=split, ablation=ablation)


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


async def cmd_matrix(settings: Settings, topic_words: Sequence[str], out: str) -> int:
    from bot.analysts import matrix_png
    from bot.corrections import reading_team
    from bot.query import UserError
    from bot.services import open_services
    from bot.topics import resolve_topic

    async with open_services(settings, with_slack=False) as services:
        try:
            topic = await resolve_topic(services.store, topic_words)
        except UserError as exc:
            print(exc.message, file=sys.stderr)
            return 2
        topic = topic.for_team(await reading_team(services, None))
        png, caption = await matrix_png(services, topic)
    Path(out).write_bytes(png)
    print(f"{out}: {caption}")
    return 0


async def cmd_export(
    settings: Settings, topic_words: Sequence[str], fmt: str, out: str | None,
    corrections: str | None, team: str | None = None,
) -> int:
    """`team`: the workspace whose corrections apply (with OAuth; a single workspace's apply
    without it). With OAuth and no team, positions are exported as extracted and
    `--corrections` writes every workspace's, each record naming its team."""
    from bot.corrections import reading_team, write_gold
    from bot.export import write_export
    from bot.query import UserError
    from bot.services import open_services
    from bot.topics import resolve_topic

    async with open_services(settings, with_slack=False) as services:
        if corrections is not None:
            with open(corrections, "w", encoding="utf-8") as file:
                whose = team if team is not None else (None if settings.oauth else "")
                count = await write_gold(services.store, file, whose)
            print(f"{corrections}: {count} article(s) with analysts' corrections"
                  + (f" of team {whose or '(single workspace)'}" if whose is not None else ""))
            return 0
        if not topic_words:
            print("name a topic (python -m bot export ukraine) or --corrections FILE",
                  file=sys.stderr)
            return 2
        try:
            topic = await resolve_topic(services.store, topic_words)
        except UserError as exc:
            print(exc.message, file=sys.stderr)
            return 2
        topic = topic.for_team(await reading_team(services, team))
        if out is None:
            count = await write_export(services.store, topic.filter, sys.stdout, fmt)
        else:
            with open(out, "w", encoding="utf-8", newline="") as file:
                count = await write_export(services.store, topic.filter, file, fmt)
    print(f"{count:,} positions", file=sys.stderr)
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
    extract.add_argument("--extractor", choices=EXTRACTORS, default=None,
                         help="rules (default), llm or hybrid (needs LLM_BASE_URL, LLM_MODEL)")
    ask = commands.add_parser("ask", help="answer TEXT as /guarantees TEXT would")
    ask.add_argument("text", nargs="*", metavar="TEXT")
    ask.add_argument("--json", action="store_true", help="print the Block Kit payload")
    commands.add_parser(
        "reextract", help="bring stored articles up to the current extractor version now"
    )
    digest = commands.add_parser("digest", help="send the digests that are due now")
    digest.add_argument("--dry-run", action="store_true", help="print them instead")
    evaluate = commands.add_parser("eval", help="score extraction against a gold .jsonl file")
    evaluate.add_argument("file", metavar="FILE", nargs="?")
    evaluate.add_argument("--split", choices=("train", "dev", "test"),
                          help="score a split of the repository's annotated sets instead")
    evaluate.add_argument("--ablation", action="store_true",
                          help="rules alone, the learned model alone and both combined")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--verbose", "-v", action="store_true", help="list misses and false hits")
    evaluate.add_argument("--extractor", choices=EXTRACTORS, default=None,
                          help="rules (default), llm or hybrid (needs LLM_BASE_URL, LLM_MODEL)")
    matrix = commands.add_parser("matrix", help="the stance matrix of a topic as a PNG")
    matrix.add_argument("topic", nargs="+", metavar="TOPIC")
    matrix.add_argument("--out", required=True, metavar="FILE.png")
    export = commands.add_parser(
        "export", help="the positions behind a card (CSV or JSONL), or analysts' corrections"
    )
    export.add_argument("topic", nargs="*", metavar="TOPIC")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--out", metavar="FILE", help="default: standard output")
    export.add_argument(
        "--corrections", metavar="FILE", help="write corrections in the gold format instead"
    )
    export.add_argument(
        "--team", metavar="TEAM_ID",
        help="with OAuth: the workspace whose corrections apply (default: none; --corrections"
        " then writes every workspace's, each record naming its team)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    model_tier = args.command in ("extract", "eval") and args.extractor not in (None, "rules")
    if args.command == "extract" and not model_tier:
        return cmd_extract(args.file)
    if args.command == "eval" and not model_tier:
        return cmd_eval(args.file, args.json, args.verbose, args.split, args.ablation)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from bot.store.base import StoreUnavailable

    try:
        return _run_command(args, settings, model_tier)
    except StoreUnavailable as exc:  # e.g. STORE_URL's PostgreSQL is down: one line
        print(f"cannot open the store: {exc}", file=sys.stderr)
        return 2


def _run_command(args: argparse.Namespace, settings: Settings, model_tier: bool) -> int:
    if model_tier:
        if not settings.llm_base_url or not settings.llm_model:
            print(f"configuration error: --extractor {args.extractor} needs LLM_BASE_URL and"
                  " LLM_MODEL set", file=sys.stderr)
            return 2
        if args.command == "extract":
            return asyncio.run(cmd_extract_model(settings, args.file, args.extractor))
        return asyncio.run(
            cmd_eval_model(settings, args.file, args.extractor, args.json, args.verbose))
    if args.command == "ask":
        # The terminal shows the card; INFO lines about loading the corpus would only clutter it.
        logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
        return asyncio.run(cmd_ask(settings, " ".join(args.text), args.json))
    if args.command == "ingest":
        return asyncio.run(cmd_ingest(settings, args.targets))
    if args.command == "digest":
        return asyncio.run(cmd_digest(settings, args.dry_run))
    if args.command == "reextract":
        return asyncio.run(cmd_reextract(settings))
    if args.command == "matrix":
        return asyncio.run(cmd_matrix(settings, args.topic, args.out))
    if args.command == "export":
        return asyncio.run(
            cmd_export(settings, args.topic, args.format, args.out, args.corrections, args.team)
        )
    if args.command == "serve":
        try:
            return asyncio.run(cmd_serve(settings, args.mode))
        except KeyboardInterrupt:
            return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
