"""A store filled with synthetic positions, for the benchmarks.

The schema comes from the real migrations (the store is opened once through `open_store`);
rows are then written with plain `sqlite3.executemany`, so the summary triggers run exactly as
they do in production.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import zlib
from datetime import date, timedelta
from pathlib import Path

from bot.store import open_store
from bot.vocabulary import GUARANTEE_ORDER, Stance

PARTIES = [
    "ukr",
    "usa",
    "rus",
    "gbr",
    "fra",
    "deu",
    "pol",
    "ita",
    "hun",
    "tur",
    "eu",
    "europe",
    "nato",
    "chn",
    "esp",
    "nld",
    "fin",
    "lva",
    "est",
    "ltu",
    "svk",
    "cze",
    "can",
    "jpn",
]
GUARANTORS = ["usa", "europe", "nato", "eu", "gbr", "fra", None]
WORDS = [
    "security",
    "guarantees",
    "troops",
    "ceasefire",
    "Kyiv",
    "Washington",
    "Moscow",
    "Brussels",
    "summit",
    "allies",
    "peacekeepers",
    "minerals",
    "accession",
    "backstop",
    "deterrence",
    "airspace",
    "frontline",
    "talks",
    "envoy",
    "minister",
    "president",
    "coalition",
    "pledge",
    "reject",
    "demand",
    "offer",
    "doubt",
]


def _sentence(rng: random.Random, n: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(18))
    return f"Statement {n}: {words}."


def fill_synthetic(path: str, positions: int, seed: int = 1, per_article: int = 10) -> None:
    """Create (or extend) the store at `path` with `positions` synthetic positions."""

    async def migrate() -> None:
        async with open_store(path):
            pass

    asyncio.run(migrate())
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    actors = [(f"synthetic-actor-{i}", rng.choice(PARTIES)) for i in range(300)]
    db.executemany("INSERT OR IGNORE INTO actors (slug, party) VALUES (?, ?)", actors)
    actor_ids = {slug: row_id for row_id, slug in db.execute("SELECT id, slug FROM actors")}
    start = date(2024, 1, 1)
    stances = list(Stance)
    articles = positions // per_article + 1
    base = db.execute("SELECT ifnull(max(id), 0) FROM articles").fetchone()[0]
    body = zlib.compress(b"synthetic article body " * 40)
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO articles (id, key, url, title, outlet, published, text_hash, body, source,"
        " added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'synthetic', ?)",
        (
            (
                base + i + 1,
                f"syn-{base + i + 1}",
                f"https://news{i % 50}.example/story/{base + i + 1}",
                f"Synthetic story {base + i + 1}",
                f"news{i % 50}.example",
                (start + timedelta(days=i * 730 // articles)).isoformat(),
                f"hash-{base + i + 1}",
                body,
                f"2026-01-01T00:00:{i % 60:02d}.000000Z",
            )
            for i in range(articles)
        ),
    )
    sentence_base = db.execute("SELECT ifnull(max(id), 0) FROM sentences").fetchone()[0]
    db.executemany(
        "INSERT INTO sentences (id, hash, text) VALUES (?, ?, ?)",
        (
            (sentence_base + n + 1, rng.getrandbits(63), _sentence(rng, sentence_base + n + 1))
            for n in range(positions)
        ),
    )

    def rows():  # type: ignore[no-untyped-def]
        for n in range(positions):
            article = base + n // per_article + 1
            slug, party = actors[rng.randrange(len(actors))]
            published = (start + timedelta(days=(article - base - 1) * 730 // articles)).isoformat()
            yield (
                article,
                sentence_base + n + 1,
                actor_ids[slug],
                party,
                str(rng.choice(stances)),
                str(rng.choice(GUARANTEE_ORDER)),
                rng.choice(GUARANTORS),
                "ukr",
                published,
                f"2026-01-01T00:00:{n % 60:02d}.000000Z",
                "synthetic",
                "1",
            )

    db.executemany(
        "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance, guarantee,"
        " guarantor, beneficiary, published, added_at, extractor, extractor_version)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows(),
    )
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()


def synthetic_store(folder: Path, positions: int) -> str:
    """The path of a store with `positions` synthetic positions in `folder`, filled (and the
    time it took printed) the first time it is asked for, reused afterwards."""
    folder.mkdir(exist_ok=True)
    path = folder / f"store-{positions}.db"
    if not path.exists():
        started = time.perf_counter()
        fill_synthetic(str(path), positions)
        print(f"filled {positions:,} positions in {time.perf_counter() - started:.1f} s")
    return str(path)
