"""The card query at N positions on PostgreSQL beside SQLite, in the same run; bytes per position.

    python benchmarks/bench_postgres_store.py [--positions 1000000] [--runs 300]
        [--load bulk|triggers] [--postgres postgresql://postgres@127.0.0.1:5432/test]

The SQLite store is the synthetic one of `bench_store.py` (filled once, reused). The same
rows (actors, articles, sentences, positions) are copied into a fresh PostgreSQL database
made for this run (and dropped afterwards, unless --keep). `--load triggers` copies the
positions through the real row triggers, as production writes them (slow: ~750 positions/s
on a busy 2-core machine); `--load bulk` (the default) copies with triggers off and then
builds the summaries with set-based SQL, the way a large store is moved to PostgreSQL. Both
backends must then show the same card (checked). Then, alternating backend by backend: a
plain indexed count (baseline) and the card query of `bench_store.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_store import card_query
from benchmarks.common import percentile, timed
from benchmarks.synthetic import synthetic_store
from bot.models import PositionFilter
from bot.store import open_store

OUT = Path(__file__).resolve().parent / "out"
TABLES = ("actors", "articles", "sentences", "positions")
BATCH = 20_000


def database_url(base: str, name: str) -> str:
    head, _, query = base.partition("?")
    url = head.rsplit("/", 1)[0] + "/" + name
    return f"{url}?{query}" if query else url


# The summaries the triggers keep, built from scratch (PostgreSQL, triggers off).
REBUILD = """
CREATE TEMP TABLE position_topics AS
SELECT p.id, p.article_id, p.guarantee, p.stance, p.party, p.actor_id,
       coalesce(p.published, '') AS published, t.topic
FROM positions AS p CROSS JOIN LATERAL (
    SELECT '*' UNION SELECT p.party UNION SELECT p.guarantor UNION SELECT p.beneficiary
) AS t (topic) WHERE t.topic IS NOT NULL;
INSERT INTO topic_summary
SELECT topic, guarantee, stance, party, actor_id, count(*), max(published),
       (array_agg(id ORDER BY published DESC, id DESC))[1]
FROM position_topics GROUP BY topic, guarantee, stance, party, actor_id;
INSERT INTO cell_summary
SELECT topic, guarantee, stance, party, sum(positions), count(*), max(latest_published),
       (array_agg(latest_position_id ORDER BY latest_published DESC, latest_position_id DESC))[1],
       (array_agg(actor_id ORDER BY latest_published DESC, latest_position_id DESC))[1]
FROM topic_summary GROUP BY topic, guarantee, stance, party;
INSERT INTO topic_articles
SELECT topic, article_id, count(*) FROM position_topics GROUP BY topic, article_id;
INSERT INTO topic_counts SELECT topic, count(*) FROM topic_articles GROUP BY topic;
INSERT INTO guarantee_articles
SELECT topic, guarantee, article_id, count(*) FROM position_topics
GROUP BY topic, guarantee, article_id;
INSERT INTO guarantee_counts
SELECT topic, guarantee, count(*) FROM guarantee_articles GROUP BY topic, guarantee;
DROP TABLE position_topics;
"""


async def copy_into_postgres(sqlite_path: str, url: str, bulk: bool) -> float:
    """Copy the synthetic rows; returns seconds taken."""
    async with open_store(url):
        pass  # the schema, from the real migrations
    source = sqlite3.connect(sqlite_path)
    connection = await asyncpg.connect(url)
    started = time.perf_counter()
    if bulk:  # no triggers, no foreign key checks while copying
        await connection.execute("SET session_replication_role = replica")
    try:
        for table in TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")
            copied = 0
            while batch := cursor.fetchmany(BATCH):
                async with connection.transaction():
                    await connection.copy_records_to_table(table, records=batch, columns=columns)
                copied += len(batch)
                if table == "positions" and copied % 200_000 == 0:
                    print(f"  {copied:,} positions in {time.perf_counter() - started:.0f} s",
                          flush=True)
            if table != "positions":  # identity columns continue after the copied ids
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
        if bulk:
            await connection.execute(REBUILD)
            await connection.execute("SET session_replication_role = DEFAULT")
            await connection.execute("UPDATE store_version SET n = n + 1")
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
        source.close()
    return time.perf_counter() - started


async def postgres_sizes(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        )
        total = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    sizes = {row[0]: int(row[1]) for row in rows}
    sizes["(whole database)"] = int(total)
    return sizes


async def measure(sqlite_path: str, url: str, runs: int, positions: int) -> None:
    topic = PositionFilter(parties=("ukr",))
    count_sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"
    results: dict[str, list[float]] = {}
    async with open_store(sqlite_path) as lite, open_store(url) as pg:
        assert await lite.count_positions() == await pg.count_positions() == positions
        lite_cells = sorted((c.guarantee, c.stance, c.party, c.positions)
                            for c in await lite.cells(topic))
        pg_cells = sorted((c.guarantee, c.stance, c.party, c.positions)
                          for c in await pg.cells(topic))
        assert lite_cells == pg_cells, "the two backends disagree on the card"
        for round_ in range(2):  # alternate, so neither backend gets the quieter minute
            for name, store in (("SQLite", lite), ("PostgreSQL", pg)):

                async def count(store: object = store) -> None:
                    async with store.db.execute(count_sql) as cursor:  # type: ignore[attr-defined]
                        await cursor.fetchone()

                results.setdefault(f"{name}: indexed count (baseline)", []).extend(
                    await timed(runs // 2, count, warm_up=5 if round_ == 0 else 0)
                )
                results.setdefault(f"{name}: card query, topic ukr", []).extend(
                    await timed(runs // 2, lambda s=store: card_query(s, topic))
                )
    print(f"{'query':44s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}")
    for label, samples in sorted(results.items()):
        print(f"{label:44s} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.99):8.2f}"
              f" {statistics.fmean(samples):8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--load", choices=("bulk", "triggers"), default="bulk")
    args = parser.parse_args()

    sqlite_path = synthetic_store(OUT, args.positions)
    name = f"bench_store_{args.positions}_{os.getpid()}"
    url = database_url(args.postgres, name)

    async def run() -> None:
        admin = await asyncpg.connect(args.postgres)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            seconds = await copy_into_postgres(sqlite_path, url, args.load == "bulk")
            how = ("copied, summaries built in SQL" if args.load == "bulk"
                   else "copied through the triggers")
            print(f"PostgreSQL: {args.positions:,} positions {how} in {seconds:.1f} s")
            lite_size = os.path.getsize(sqlite_path)
            sizes = await postgres_sizes(url)
            pg_size = sizes.pop("(whole database)")
            print(f"SQLite file {lite_size / 1e6:.1f} MB: {lite_size / args.positions:.0f}"
                  " bytes per position")
            print(f"PostgreSQL database {pg_size / 1e6:.1f} MB: {pg_size / args.positions:.0f}"
                  " bytes per position")
            for table, size in sorted(sizes.items(), key=lambda item: -item[1])[:8]:
                print(f"  {table:24s} {size / args.positions:6.0f} bytes/position")
            await measure(sqlite_path, url, args.runs, args.positions)
        finally:
            if not args.keep:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
