"""The read side of the position store: the briefing card's cells and counts, windowed
questions, evidence rows and what changed before a date.

The summaries these read (`topic_summary`, `cell_summary`, `topic_articles`, ...) are built
in `bot.store.positions_schema`; the writes that fill them are in `bot.store.positions`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from bot.models import DateWindow, PositionFilter, StanceCell, StoredPosition, SummaryRow
from bot.store.base import StoreBase, from_db_time, to_db_time
from bot.vocabulary import Guarantee, Stance


@dataclass(frozen=True)
class StoreStats:
    positions: int
    sources: int  # distinct articles
    latest_published: date | None
    sources_at_least: bool = False  # True: `sources` is SOURCES_CAP, there are more


# Narrowed topics count their source articles up to this many, then say "N+".
SOURCES_CAP = 1000

_GUARANTEES = {str(g): g for g in Guarantee}
_STANCES = {str(s): s for s in Stance}


def _parse_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


_POSITION_COLUMNS = """
    p.id, a.key AS article_key, ac.slug AS actor, p.party, p.stance, p.guarantee, p.guarantor,
    p.beneficiary, s.text AS evidence, a.url, a.title, a.outlet, p.published, p.added_at,
    p.extractor, a.cluster_id, p.found_by, p.extractor_version, c.user_id AS corrected_by,
    p.confidence
"""
_POSITION_JOINS = """
    FROM positions AS p
    JOIN articles AS a ON a.id = p.article_id
    JOIN sentences AS s ON s.id = p.sentence_id
    JOIN actors AS ac ON ac.id = p.actor_id
    LEFT JOIN corrections AS c ON c.id = p.correction_id
"""


def _filter_sql(filter_: PositionFilter, alias: str) -> tuple[str, list[object]]:
    """WHERE clauses for a filter over `positions` (alias `p`) or `topic_summary` (alias `s`,
    whose rows are already restricted to the filter's topic)."""
    clauses: list[str] = []
    params: list[object] = []
    if alias == "s":
        clauses.append("s.topic = ?")
        params.append(filter_.topic)
    else:
        for party in filter_.parties:
            clauses.append(
                f"({alias}.party = ? OR {alias}.guarantor = ? OR {alias}.beneficiary = ?)"
            )
            params += [party, party, party]
    if filter_.held_by:
        marks = ",".join("?" * len(filter_.held_by))
        clauses.append(f"{alias}.party IN ({marks})")
        params += sorted(filter_.held_by)
    if filter_.actors:
        marks = ",".join("?" * len(filter_.actors))
        clauses.append(f"{alias}.actor_id IN (SELECT id FROM actors WHERE slug IN ({marks}))")
        params += sorted(filter_.actors)
    if filter_.guarantees:
        marks = ",".join("?" * len(filter_.guarantees))
        clauses.append(f"{alias}.guarantee IN ({marks})")
        params += sorted(str(g) for g in filter_.guarantees)
    if filter_.stances:
        marks = ",".join("?" * len(filter_.stances))
        clauses.append(f"{alias}.stance IN ({marks})")
        params += sorted(str(s) for s in filter_.stances)
    return (" AND ".join(clauses) or "TRUE"), params


def _window_sql(window: DateWindow, alias: str = "p") -> tuple[str, list[object]]:
    """The publication-date range of a window over `positions` (alias p) or `articles`;
    undated positions fall outside every window."""
    clauses = [f"{alias}.published IS NOT NULL"]
    params: list[object] = []
    if window.since is not None:
        clauses.append(f"{alias}.published >= ?")
        params.append(window.since.isoformat())
    if window.until is not None:
        clauses.append(f"{alias}.published < ?")
        params.append(window.until.isoformat())
    return " AND ".join(clauses), params


def _pg_window_cells_sql(where: str, dates: str, per_actor: bool) -> str:
    """`window_cells` on PostgreSQL (parameters: the window's, then the filter's twice).

    Per-cell sorted `array_agg`s over half a large table cost most of a windowed card, so the
    positions of the window are counted in one grouped pass per (cell, actor), folded per cell,
    and each cell's freshest position (latest date, then highest id) is then one step of
    `positions_published_window` at that date: a few rows per cell, whatever the window."""
    keys = "p.guarantee, p.stance, p.party, p.actor_id"
    counted = f"SELECT {keys}, count(*) AS n, max(p.published) AS latest FROM positions AS p"
    counted += f" WHERE {dates} AND {where} GROUP BY {keys}"
    if per_actor:
        cells = (
            "SELECT guarantee, stance, party, actor_id, n, 1 AS actors, latest"
            f" FROM ({counted}) AS g"
        )
        same_actor = " AND p.actor_id = c.actor_id"
    else:
        cells = (
            "SELECT guarantee, stance, party, sum(n) AS n, count(*) AS actors, max(latest)"
            f" AS latest FROM ({counted}) AS g GROUP BY guarantee, stance, party"
        )
        same_actor = ""
    return (
        "SELECT c.guarantee, c.stance, c.party, c.n, c.actors, c.latest, f.id, f.actor_id"
        f" FROM ({cells}) AS c CROSS JOIN LATERAL (SELECT p.id, p.actor_id FROM positions AS p"
        " WHERE p.published = c.latest AND p.guarantee = c.guarantee AND p.stance = c.stance"
        f" AND p.party = c.party{same_actor} AND {where} ORDER BY p.id DESC LIMIT 1) AS f"
    )


def _positions_where(
    filter_: PositionFilter,
    added_since: datetime | None,
    added_before: datetime | None,
    window: DateWindow | None,
) -> tuple[str, list[object], str]:
    """The WHERE clause (alias p) and ordering column of `positions`."""
    where, params = _filter_sql(filter_, "p")
    if window is not None:
        dates, more = _window_sql(window)
        where += f" AND {dates}"
        params += more
    if added_since is not None:
        where += " AND p.added_at >= ?"
        params.append(to_db_time(added_since))
    if added_before is not None:
        where += " AND p.added_at < ?"
        params.append(to_db_time(added_before))
    # Inside a window every position is dated, so the order can follow an index.
    order = "p.published" if window is not None else "ifnull(p.published, '')"
    return where, params, order


# A shared position (alias p) that the team bound to its `?` has not withheld (corrections
# per workspace: `bot.store.team_overlay`).
_NOT_WITHHELD = (
    "NOT EXISTS (SELECT 1 FROM team_withheld AS w WHERE w.team_id = ? AND w.position_id = p.id)"
)


class PositionQueryMixin(StoreBase):
    """Summaries, counts and evidence out of the position tables."""

    _slug_cache: dict[int, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slug_cache = {}

    async def summary(self, filter_: PositionFilter) -> list[SummaryRow]:
        """One row per (actor, guarantee, stance) under the filter. For narrow filters (an
        actor, a guarantee); a whole topic is better read folded, with `cells`."""
        where, params = _filter_sql(filter_, "s")
        sql = (
            "SELECT ac.slug, s.party, s.guarantee, s.stance, p.guarantor, p.beneficiary,"
            " s.positions, s.latest_published, s.latest_position_id"
            " FROM topic_summary AS s JOIN actors AS ac ON ac.id = s.actor_id"
            " JOIN positions AS p ON p.id = s.latest_position_id"
            f" WHERE {where}"
        )
        async with self.db.execute(sql, params) as cursor:
            return [
                SummaryRow(
                    actor=row[0],
                    party=row[1],
                    guarantee=Guarantee(row[2]),
                    stance=Stance(row[3]),
                    guarantor=row[4],
                    beneficiary=row[5],
                    positions=int(row[6]),
                    latest_published=_parse_date(row[7]),
                    latest_position_id=int(row[8]),
                )
                async for row in cursor
            ]

    async def cells(self, filter_: PositionFilter, top_actors: int = 0) -> list[StanceCell]:
        """Who stands where under the filter, folded per (guarantee, stance, party): what the
        briefing card shows.

        Without an actor filter this reads `cell_summary`, at most a few hundred rows per
        topic; with one (or when `top_actors` > 0, which lists each cell's most prominent
        actors) it folds the per-actor rows of `topic_summary`.
        """
        if not filter_.actors and not top_actors:
            return await self._folded_cells(filter_)
        where, params = _filter_sql(filter_, "s")
        folded = (
            ", " + self.dialect.string_agg("s.positions || ':' || s.actor_id")
            if top_actors
            else ""
        )
        if self.dialect.postgres:
            newest = "s.latest_published DESC, s.latest_position_id DESC"
            latest = (
                f"(array_agg(s.latest_position_id ORDER BY {newest}))[1],"
                f" (array_agg(s.actor_id ORDER BY {newest}))[1]"
            )
        else:
            # SQLite returns the bare columns (actor, position id) of the row holding max().
            latest = "s.latest_position_id, s.actor_id"
        sql = (
            "SELECT s.guarantee, s.stance, s.party, sum(s.positions), count(*),"
            f" max(s.latest_published), {latest}{folded}"
            f" FROM topic_summary AS s WHERE {where} GROUP BY s.guarantee, s.stance, s.party"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        folds: list[list[tuple[int, int]]] = []
        for row in rows:
            counted: list[tuple[int, int]] = []
            if top_actors:
                pairs = (pair.split(":") for pair in row[8].split(","))
                counted = sorted((-int(count), int(actor)) for count, actor in pairs)[:top_actors]
            folds.append(counted)
        return await self._make_cells(rows, folds)

    async def window_cells(
        self, filter_: PositionFilter, window: DateWindow, *, per_actor: bool = False
    ) -> list[StanceCell]:
        """`cells` over the positions published inside `window`, read from the covering index
        `positions_published_window`: one range scan, whatever the store holds outside it.
        `per_actor` gives one cell per actor (positions and freshest position of each)."""
        where, params = _filter_sql(filter_, "p")
        dates, more = _window_sql(window)
        if self.dialect.postgres:
            sql = _pg_window_cells_sql(where, dates, per_actor)
            async with self.db.execute(sql, [*more, *params, *params]) as cursor:
                rows = await cursor.fetchall()
            return await self._make_cells(rows, [[] for _ in rows])
        by_actor = ", p.actor_id" if per_actor else ""
        distinct = "1" if per_actor else "count(DISTINCT p.actor_id)"
        # SQLite returns the bare columns (position id, actor) of the row holding max().
        sql = (
            f"SELECT p.guarantee, p.stance, p.party, count(*), {distinct}, max(p.published),"
            f" p.id, p.actor_id FROM positions AS p INDEXED BY positions_published_window"
            f" WHERE {dates} AND {where} GROUP BY p.guarantee, p.stance, p.party{by_actor}"
        )
        async with self.db.execute(sql, [*more, *params]) as cursor:
            rows = await cursor.fetchall()
        return await self._make_cells(rows, [[] for _ in rows])

    async def window_stats(
        self,
        filter_: PositionFilter,
        window: DateWindow,
        cells: Sequence[StanceCell] | None = None,
    ) -> StoreStats:
        """`stats` over the positions published inside `window` (exact source count). Pass
        the `window_cells` of the same filter and window to count positions from them."""
        if cells is None:
            cells = await self.window_cells(filter_, window)
        latest = [c.latest_published for c in cells if c.latest_published is not None]
        return StoreStats(
            positions=sum(c.positions for c in cells),
            sources=await self._window_sources(filter_, window),
            latest_published=max(latest, default=None),
        )

    async def _window_sources(self, filter_: PositionFilter, window: DateWindow) -> int:
        """Distinct articles behind a filter in a window. A topic, or a topic and guarantees,
        walk the articles published in the window (`articles_published`) and keep those the
        topic draws on; other narrowings count distinct articles of the window's positions."""
        dates, more = _window_sql(window, "a")
        if filter_.held_by or filter_.actors or filter_.stances:
            where, params = _filter_sql(filter_, "p")
            sql = (
                "SELECT count(DISTINCT p.article_id) FROM positions AS p"
                f" INDEXED BY positions_published_window WHERE {_window_sql(window)[0]}"
                f" AND {where}"
            )
            params = [*more, *params]
        elif not filter_.guarantees:
            sql = (
                "SELECT count(*) FROM articles AS a INDEXED BY articles_published"
                f" WHERE {dates} AND EXISTS (SELECT 1 FROM topic_articles AS t"
                " WHERE t.topic = ? AND t.article_id = a.id)"
            )
            params = [*more, filter_.topic]
        else:
            marks = ",".join("?" * len(filter_.guarantees))
            sql = (
                "SELECT count(*) FROM articles AS a INDEXED BY articles_published"
                f" WHERE {dates} AND EXISTS (SELECT 1 FROM guarantee_articles AS t"
                f" WHERE t.topic = ? AND t.guarantee IN ({marks}) AND t.article_id = a.id)"
            )
            params = [*more, filter_.topic, *sorted(str(g) for g in filter_.guarantees)]
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _folded_cells(self, filter_: PositionFilter) -> list[StanceCell]:
        where, params = _filter_sql(filter_, "s")
        sql = (
            "SELECT s.guarantee, s.stance, s.party, s.positions, s.actors, s.latest_published,"
            f" s.latest_position_id, s.latest_actor_id FROM cell_summary AS s WHERE {where}"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return await self._make_cells(rows, [[] for _ in rows])

    async def _make_cells(
        self, rows: Iterable[Sequence[Any]], folds: list[list[tuple[int, int]]]
    ) -> list[StanceCell]:
        """Rows of (guarantee, stance, party, positions, actors, latest_published,
        latest_position_id, latest_actor_id) to cells, with actor slugs from the cache."""
        rows = list(rows)
        wanted = {row[7] for row in rows} | {a for counted in folds for _, a in counted}
        slugs = await self._actor_slugs(list(wanted))
        dates: dict[str, date | None] = {}
        return [
            StanceCell(
                guarantee=_GUARANTEES[row[0]],
                stance=_STANCES[row[1]],
                party=row[2],
                positions=int(row[3]),
                actors=int(row[4]),
                latest_published=dates.setdefault(row[5], _parse_date(row[5] or None)),
                latest_position_id=row[6],
                latest_actor=slugs[row[7]],
                top_actors=tuple((slugs[actor], -count) for count, actor in counted),
            )
            for row, counted in zip(rows, folds, strict=True)
        ]

    async def _actor_slugs(self, ids: list[int]) -> dict[int, str]:
        """Actor ids to slugs through a cache: actors are only ever added, never renamed."""
        missing = [i for i in ids if i not in self._slug_cache]
        if missing:
            async with self.db.execute("SELECT id, slug FROM actors") as cursor:
                self._slug_cache.update({int(r[0]): r[1] async for r in cursor})
        return {i: self._slug_cache[i] for i in ids}

    async def positions_by_ids(
        self, ids: Iterable[int], *, team: str | None = None
    ) -> list[StoredPosition]:
        """Shared positions by id (`bot.store.team_overlay` adds a team's own rows)."""
        wanted = sorted(i for i in set(ids) if i > 0)
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE p.id IN ({marks})"
        return await self._read_positions(sql, wanted)

    async def positions(
        self,
        filter_: PositionFilter,
        *,
        limit: int = 100,
        added_since: datetime | None = None,
        added_before: datetime | None = None,
        window: DateWindow | None = None,
    ) -> list[StoredPosition]:
        """Positions matching the filter, freshest first (by publication date, then id);
        `window` keeps those published inside it."""
        where, params, order = _positions_where(filter_, added_since, added_before, window)
        sql = (
            f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE {where}"
            f" ORDER BY {order} DESC, p.id DESC LIMIT ?"
        )
        return await self._read_positions(sql, [*params, limit])

    async def latest_before(
        self,
        filter_: PositionFilter,
        keys: Sequence[tuple[str, str, Guarantee]],
        before: date,
    ) -> dict[tuple[str, str, Guarantee], StoredPosition]:
        """The freshest position published before `before` under the filter, for each key
        `("actor", slug, guarantee)` or `("party", code, guarantee)` (freshest: publication
        date, then id). One indexed backward step per key and stance (`positions_key`,
        `positions_party_fresh`), then one read of the positions found."""
        # The key names the actor or party and the guarantee; the topic (and who holds it)
        # still applies; the stances are walked one by one below.
        base = replace(filter_, actors=frozenset(), guarantees=frozenset(), stances=frozenset())
        where, params = _filter_sql(base, "p")
        if filter_.team is not None:  # what the team's corrections withheld is not found
            where += f" AND {_NOT_WITHHELD}"
            params.append(filter_.team)
        stances = sorted(str(s) for s in (filter_.stances or set(Stance)))
        slugs = sorted({who for kind, who, _ in keys if kind == "actor"})
        ids: dict[str, int] = {}
        if slugs:
            marks = ",".join("?" * len(slugs))
            async with self.db.execute(
                f"SELECT slug, id FROM actors WHERE slug IN ({marks})", slugs
            ) as cursor:
                ids = {row[0]: int(row[1]) async for row in cursor}
        one = (
            "SELECT * FROM (SELECT p.id, p.published FROM positions AS p INDEXED BY {index}"
            " WHERE {key} AND p.published < ? AND {where}"
            " ORDER BY p.published DESC, p.id DESC LIMIT 1) AS latest"
        )
        found: dict[tuple[str, str, Guarantee], int] = {}
        for kind, who, guarantee in keys:
            if kind == "actor":
                if who not in ids:
                    continue
                parts = [
                    one.format(
                        index="positions_key",
                        key="p.actor_id = ? AND p.guarantee = ? AND p.stance = ?",
                        where=where,
                    )
                    for _ in stances
                ]
                args: list[object] = []
                for stance in stances:
                    args += [ids[who], str(guarantee), stance, before.isoformat(), *params]
            else:
                parts = [
                    one.format(
                        index="positions_party_fresh",
                        key="p.party = ? AND p.guarantee = ?",
                        where=where + (
                            f" AND p.stance IN ({','.join('?' * len(stances))})"
                            if filter_.stances else ""
                        ),
                    )
                ]
                args = [who, str(guarantee), before.isoformat(), *params]
                if filter_.stances:
                    args += stances
            async with self.db.execute(" UNION ALL ".join(parts), args) as cursor:
                rows = await cursor.fetchall()
            if rows:
                best = max(rows, key=lambda row: (row[1], row[0]))
                found[(kind, who, guarantee)] = int(best[0])
        positions = {
            p.id: p for p in await self.positions_by_ids(found.values(), team=filter_.team)
        }
        return {key: positions[i] for key, i in found.items() if i in positions}

    async def _read_positions(self, sql: str, params: Sequence[object]) -> list[StoredPosition]:
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        outlets = await self._cluster_outlets({row["cluster_id"] for row in rows})
        return [
            StoredPosition(
                id=row["id"],
                article_id=row["article_key"],
                actor=row["actor"],
                party=row["party"],
                stance=Stance(row["stance"]),
                guarantee=Guarantee(row["guarantee"]),
                guarantor=row["guarantor"],
                beneficiary=row["beneficiary"],
                evidence=row["evidence"],
                url=row["url"],
                title=row["title"],
                outlet=row["outlet"],
                published=_parse_date(row["published"]),
                added_at=from_db_time(row["added_at"]),
                extractor=row["extractor"],
                outlets=outlets.get(row["cluster_id"], 1),
                found_by=row["found_by"],
                extractor_version=row["extractor_version"],
                corrected_by=row["corrected_by"],
                confidence=row["confidence"],
            )
            for row in rows
        ]

    async def _cluster_outlets(self, cluster_ids: set[int | None]) -> dict[int, int]:
        """How many articles each story cluster holds (filled by clustering, issue 5)."""
        wanted = sorted(c for c in cluster_ids if c is not None)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        sql = (
            "SELECT cluster_id, count(DISTINCT ifnull(outlet, key)) FROM articles"
            f" WHERE cluster_id IN ({marks}) GROUP BY cluster_id"
        )
        async with self.db.execute(sql, wanted) as cursor:
            return {int(row[0]): int(row[1]) async for row in cursor}

    async def stats(self, filter_: PositionFilter) -> StoreStats:
        """Counts for the card's context line."""
        where, params = _filter_sql(filter_, "s")
        # The per-party fold has the same sums in fewer rows; per-actor rows only for actors.
        table = "topic_summary" if filter_.actors else "cell_summary"
        async with self.db.execute(
            f"SELECT ifnull(sum(positions), 0), max(latest_published) FROM {table} AS s"
            f" WHERE {where}",
            params,
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        sources, at_least = await self._count_sources(filter_)
        return StoreStats(
            positions=int(row[0]),
            sources=sources,
            latest_published=_parse_date(row[1] or None),
            sources_at_least=at_least,
        )

    async def _count_sources(self, filter_: PositionFilter) -> tuple[int, bool]:
        """Distinct articles behind the filter, and whether that is only a lower bound.

        A topic, or a topic and one guarantee, read their exact count from `topic_counts` or
        `guarantee_counts`. Other narrowings count distinct articles and stop at SOURCES_CAP,
        so a broad narrowing of a huge store costs no more than a small one.
        """
        if filter_.held_by or filter_.actors or filter_.stances:
            where, params = _filter_sql(filter_, "p")
            table = "positions AS p"
        elif not filter_.guarantees:
            return await self._counted_sources(
                "SELECT ifnull(sum(articles), 0) FROM topic_counts WHERE topic = ?",
                [filter_.topic],
            )
        elif len(filter_.guarantees) == 1:
            return await self._counted_sources(
                "SELECT ifnull(sum(articles), 0) FROM guarantee_counts"
                " WHERE topic = ? AND guarantee = ?",
                [filter_.topic, str(next(iter(filter_.guarantees)))],
            )
        else:
            marks = ",".join("?" * len(filter_.guarantees))
            where = f"p.topic = ? AND p.guarantee IN ({marks})"
            params = [filter_.topic, *sorted(str(g) for g in filter_.guarantees)]
            table = "guarantee_articles AS p"
        # The cap is written into the SQL, not bound: with a bound LIMIT SQLite plans a walk
        # of the article index for DISTINCT instead of using the filter's index (100x slower).
        sql = (
            f"SELECT count(*) FROM (SELECT DISTINCT p.article_id FROM {table}"
            f" WHERE {where} LIMIT {int(SOURCES_CAP)}) AS found"
        )
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        count = int(row[0]) if row else 0
        return count, count >= SOURCES_CAP

    async def _counted_sources(self, sql: str, params: list[object]) -> tuple[int, bool]:
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]) if row else 0), False

    async def known_actors(self) -> dict[str, str]:
        """Every actor the store has positions for: slug -> party."""
        async with self.db.execute(
            "SELECT slug, party FROM actors"
            " WHERE id IN (SELECT actor_id FROM topic_summary WHERE topic = '*')"
        ) as cursor:
            return {row[0]: row[1] async for row in cursor}

    async def known_parties(self) -> set[str]:
        """Every party some position involves (as holder, guarantor or beneficiary)."""
        # A loose index scan: one B-tree seek per distinct topic, not a scan of every row.
        async with self.db.execute(
            "WITH RECURSIVE t (topic) AS ("
            " SELECT min(topic) FROM topic_summary"
            " UNION ALL SELECT (SELECT min(topic) FROM topic_summary WHERE topic > t.topic)"
            " FROM t WHERE t.topic IS NOT NULL)"
            " SELECT topic FROM t WHERE topic IS NOT NULL AND topic != '*'"
        ) as cursor:
            return {row[0] async for row in cursor}

    async def count_positions(self) -> int:
        async with self.db.execute("SELECT count(*) FROM positions") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
