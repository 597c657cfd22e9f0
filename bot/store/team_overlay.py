"""Each workspace's corrections as an overlay on the shared corpus (issue 10).

The corpus (`positions`) and its summaries (`topic_summary`, `cell_summary`, the article
counts) are one, as extracted, for every workspace. A team's corrections live beside it
(`bot.store.corrections`): `team_withheld` names the shared positions the team does not see,
`team_positions` holds its corrected ones. A read made for a team carries it in
`PositionFilter.team` (or a `team=` argument where there is no filter), and only when the team
has active corrections (`overlay_team`), so a team without any reads the shared tables alone,
at the shared cost, and shares cached cards with every other such team.

For a team with corrections, each read first fetches the team's overlay rows under the same
filter (and window): the withheld shared rows and the team's own rows, a few per correction,
through indexes on the team id. Nothing is kept per team beyond those two tables, so there is
no second summary to keep in step: the overlay is the delta, and it is added at read time.

- Cells and per-actor summary rows: the shared summary's counts plus the team's rows minus the
  withheld ones, per (guarantee, stance, party[, actor]). An actor is counted in a cell when
  it still has a position there; a cell whose freshest position was withheld finds its next
  freshest with one indexed step that skips the team's withheld rows; a cell left with no
  position goes, and a cell only the team's rows fill appears.
- Source counts: the articles the overlay touches are checked before and after, and the
  shared count moved by the difference.
- Position lists (evidence, digests, history, exports; `bot.store.team_positions`): the
  shared query skips the team's withheld rows (`NOT EXISTS` on the team's primary key) and
  the team's own rows, read with the same filter, are merged in. Those rows carry negative ids
  (`-team_positions.id`), which resolve for their team only.

Cached cards: the memo keys hold the filter, hence the team when (and only when) it has
corrections.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from bot.models import DateWindow, PositionFilter, StanceCell, StoredPosition, SummaryRow
from bot.store.position_queries import (
    _NOT_WITHHELD,
    PositionQueryMixin,
    StoreStats,
    _filter_sql,
    _window_sql,
)
from bot.vocabulary import Guarantee, Stance

_ROW = (
    "p.party, p.stance, p.guarantee, p.actor_id, ifnull(p.published, ''), p.article_id,"
    " p.guarantor, p.beneficiary"
)

Key = tuple[Any, ...]  # (guarantee, stance, party) or (guarantee, stance, party, actor id)
Mark = tuple[str, int]  # (publication date or '', id): what "freshest" orders by


@dataclass(frozen=True)
class _Row:
    id: int  # negative: one of the team's own rows
    party: str
    stance: str
    guarantee: str
    actor_id: int
    published: str  # '' when undated
    article_id: int
    guarantor: str | None
    beneficiary: str | None

    @property
    def mark(self) -> Mark:
        return (self.published, self.id)

    def key(self, by_actor: bool) -> Key:
        cell = (self.guarantee, self.stance, self.party)
        return (*cell, self.actor_id) if by_actor else cell


def _row(values: Sequence[Any]) -> _Row:
    return _Row(
        int(values[0]), values[1], values[2], values[3], int(values[4]), values[5] or "",
        int(values[6]), values[7], values[8],
    )


@dataclass(frozen=True)
class _Overlay:
    withheld: list[_Row]
    added: list[_Row]

    def __bool__(self) -> bool:
        return bool(self.withheld or self.added)


@dataclass(frozen=True)
class _Patched:
    """A cell (or one actor's row of it) as the team sees it."""

    positions: int
    actors: int
    latest: _Row | None  # None: the shared freshest position still holds
    deltas: dict[int, int]  # actor id -> positions added (negative: withheld)


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _mark(published: date | None, position_id: int) -> Mark:
    return (published.isoformat() if published else "", position_id)


def _position_mark(position: StoredPosition) -> Mark:
    return _mark(position.published, position.id)


class TeamOverlayMixin(PositionQueryMixin):
    """The reads of `PositionQueryMixin`, each with the filter's team's corrections."""

    # --- the overlay rows ------------------------------------------------------------------

    @staticmethod
    def _scope(filter_: PositionFilter, window: DateWindow | None) -> tuple[str, list[object]]:
        where, params = _filter_sql(filter_, "p")
        if window is not None:
            dates, more = _window_sql(window)
            where += f" AND {dates}"
            params += more
        return where, params

    async def _rows(self, sql: str, params: Sequence[object]) -> list[_Row]:
        async with self.db.execute(sql, params) as cursor:
            return [_row(values) for values in await cursor.fetchall()]

    async def _overlay(self, filter_: PositionFilter, window: DateWindow | None) -> _Overlay:
        if filter_.team is None:
            return _Overlay([], [])
        where, params = self._scope(filter_, window)
        withheld = await self._rows(
            f"SELECT p.id, {_ROW} FROM team_withheld AS w"
            f" JOIN positions AS p ON p.id = w.position_id WHERE w.team_id = ? AND {where}",
            [filter_.team, *params],
        )
        added = await self._rows(
            f"SELECT -p.id, {_ROW} FROM team_positions AS p WHERE p.team_id = ? AND {where}",
            [filter_.team, *params],
        )
        return _Overlay(withheld, added)

    async def _freshest(
        self, filter_: PositionFilter, window: DateWindow | None, key: Key
    ) -> _Row | None:
        """The freshest shared position of a cell (or an actor's row) the team still sees:
        a short walk of the party's (or actor's) date index past the withheld rows."""
        where, params = self._scope(filter_, window)
        cond = "p.guarantee = ? AND p.stance = ? AND p.party = ?"
        if len(key) > 3:
            cond += " AND p.actor_id = ?"
        base = (
            f"SELECT p.id, {_ROW} FROM positions AS p"
            f" WHERE {cond} AND {where} AND {_NOT_WITHHELD}"
        )
        for tail in (
            " AND p.published IS NOT NULL ORDER BY p.published DESC, p.id DESC LIMIT 1",
            " AND p.published IS NULL ORDER BY p.id DESC LIMIT 1",
        ):
            found = await self._rows(base + tail, [*key, *params, filter_.team])
            if found:
                return found[0]
        return None

    async def _has_actor(
        self, filter_: PositionFilter, window: DateWindow | None, cell: Key, actor: int,
        *, team: str | None,
    ) -> bool:
        """Whether the actor holds a shared position in the cell (that `team` still sees)."""
        where, params = self._scope(filter_, window)
        sql = (
            "SELECT 1 FROM positions AS p WHERE p.actor_id = ? AND p.guarantee = ?"
            f" AND p.stance = ? AND p.party = ? AND {where}"
        )
        args: list[object] = [actor, *cell, *params]
        if team is not None:
            sql += f" AND {_NOT_WITHHELD}"
            args.append(team)
        async with self.db.execute(sql + " LIMIT 1", args) as cursor:
            return await cursor.fetchone() is not None

    async def _patch(
        self,
        filter_: PositionFilter,
        window: DateWindow | None,
        overlay: _Overlay,
        shared: Mapping[Key, tuple[int, int, Mark]],
        by_actor: bool,
    ) -> dict[Key, _Patched | None]:
        """The cells the overlay touches, as the team sees them (None: gone). `shared` maps
        each cell to its shared (positions, actors, freshest mark)."""
        touched: dict[Key, tuple[list[_Row], list[_Row]]] = defaultdict(lambda: ([], []))
        for row in overlay.withheld:
            touched[row.key(by_actor)][0].append(row)
        for row in overlay.added:
            touched[row.key(by_actor)][1].append(row)
        counts: dict[Key, int] | None = None
        if window is None and not by_actor:
            counts = await self._actor_counts(filter_.topic, overlay)
        patched: dict[Key, _Patched | None] = {}
        for key, (gone, new) in touched.items():
            positions, actors, mark = shared.get(key, (0, 0, ("", 0)))
            positions += len(new) - len(gone)
            if positions <= 0:
                patched[key] = None
                continue
            cell = key[:3]
            deltas: dict[int, int] = {}
            for actor in {row.actor_id for row in (*gone, *new)}:
                deltas[actor] = sum(r.actor_id == actor for r in new) - sum(
                    r.actor_id == actor for r in gone
                )
                if by_actor:
                    continue
                if counts is not None:  # the summary's count of the actor in the cell
                    shared_rows = counts.get((*cell, actor), 0)
                    before = shared_rows > 0
                    after = shared_rows + deltas[actor] > 0
                    actors += int(after) - int(before)
                    continue
                before = any(r.actor_id == actor for r in gone) or await self._has_actor(
                    filter_, window, cell, actor, team=None
                )
                after = any(r.actor_id == actor for r in new) or await self._has_actor(
                    filter_, window, cell, actor, team=filter_.team
                )
                actors += int(after) - int(before)
            candidates: list[tuple[Mark, _Row | None]] = []
            if key in shared:
                if mark[1] in {row.id for row in gone}:
                    fresh = await self._freshest(filter_, window, key)
                    if fresh is not None:
                        candidates.append((fresh.mark, fresh))
                else:
                    candidates.append((mark, None))
            if new:
                best = max(new, key=lambda r: r.mark)
                candidates.append((best.mark, best))
            if not candidates:
                patched[key] = None
                continue
            latest = max(candidates, key=lambda c: c[0])[1]
            patched[key] = _Patched(positions, 1 if by_actor else actors, latest, deltas)
        return patched

    async def _actor_counts(self, topic: str, overlay: _Overlay) -> dict[Key, int]:
        """The shared positions of each actor in each cell the overlay touches, from
        `topic_summary`: a filter narrows only by what the cell and actor fix (party,
        actor, guarantee, stance), so the topic's count is the filter's."""
        keys = sorted({row.key(True) for row in (*overlay.withheld, *overlay.added)})
        found: dict[Key, int] = {}
        for start in range(0, len(keys), 100):
            part = keys[start : start + 100]
            terms = " OR ".join(
                "(guarantee = ? AND stance = ? AND party = ? AND actor_id = ?)" for _ in part
            )
            async with self.db.execute(
                "SELECT guarantee, stance, party, actor_id, positions FROM topic_summary"
                f" WHERE topic = ? AND ({terms})",
                [topic, *(value for key in part for value in key)],
            ) as cursor:
                found.update({tuple(row[:4]): int(row[4]) async for row in cursor})
        return found

    async def _actor_ids(self, slugs: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(slugs))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        async with self.db.execute(
            f"SELECT slug, id FROM actors WHERE slug IN ({marks})", wanted
        ) as cursor:
            return {row[0]: int(row[1]) async for row in cursor}

    async def _overlay_cells(
        self,
        cells: list[StanceCell],
        filter_: PositionFilter,
        window: DateWindow | None,
        *,
        by_actor: bool = False,
        top_actors: int = 0,
    ) -> list[StanceCell]:
        overlay = await self._overlay(filter_, window)
        if not overlay:
            return cells
        ids = await self._actor_ids(c.latest_actor for c in cells) if by_actor else {}

        def key_of(cell: StanceCell) -> Key:
            key: Key = (str(cell.guarantee), str(cell.stance), cell.party)
            return (*key, ids[cell.latest_actor]) if by_actor else key

        keyed = {key_of(cell): cell for cell in cells}
        shared = {
            key: (c.positions, c.actors, _mark(c.latest_published, c.latest_position_id))
            for key, c in keyed.items()
        }
        patches = await self._patch(filter_, window, overlay, shared, by_actor)
        wanted = {p.latest.actor_id for p in patches.values() if p and p.latest}
        wanted |= {a for p in patches.values() if p for a in p.deltas}
        slugs = await self._actor_slugs(sorted(wanted))
        for key, patch in patches.items():
            old = keyed.pop(key, None)
            if patch is None:
                continue
            latest = patch.latest
            tops = old.top_actors if old else ()
            if top_actors:
                tops = await self._top_actors(filter_, key, tops, patch.deltas, slugs, top_actors)
            keyed[key] = StanceCell(
                guarantee=Guarantee(key[0]),
                stance=Stance(key[1]),
                party=key[2],
                positions=patch.positions,
                actors=patch.actors,
                latest_published=_date(latest.published) if latest else (
                    old.latest_published if old else None
                ),
                latest_position_id=latest.id if latest else (old.latest_position_id if old else 0),
                latest_actor=slugs[latest.actor_id] if latest else (
                    old.latest_actor if old else ""
                ),
                top_actors=tops,
            )
        return list(keyed.values())

    async def _top_actors(
        self,
        filter_: PositionFilter,
        key: Key,
        tops: tuple[tuple[str, int], ...],
        deltas: dict[int, int],
        slugs: dict[int, str],
        limit: int,
    ) -> tuple[tuple[str, int], ...]:
        counts = dict(tops)
        for actor, delta in deltas.items():
            slug = slugs[actor]
            if slug not in counts:  # below the shared top: its shared count, one lookup
                async with self.db.execute(
                    "SELECT positions FROM topic_summary WHERE topic = ? AND guarantee = ?"
                    " AND stance = ? AND party = ? AND actor_id = ?",
                    (filter_.topic, *key[:3], actor),
                ) as cursor:
                    row = await cursor.fetchone()
                counts[slug] = int(row[0]) if row else 0
            counts[slug] += delta
        ranked = sorted((-n, slug) for slug, n in counts.items() if n > 0)[:limit]
        return tuple((slug, -n) for n, slug in ranked)

    async def _source_delta(
        self, filter_: PositionFilter, window: DateWindow | None, overlay: _Overlay
    ) -> int:
        """How many source articles the team sees more (or fewer) than the shared count."""
        articles = sorted({row.article_id for row in (*overlay.withheld, *overlay.added)})
        where, params = self._scope(filter_, window)
        marks = ",".join("?" * len(articles))
        sql = (
            "SELECT DISTINCT p.article_id FROM positions AS p"
            f" WHERE p.article_id IN ({marks}) AND {where}"
        )
        async with self.db.execute(sql, [*articles, *params]) as cursor:
            before = {int(row[0]) async for row in cursor}
        async with self.db.execute(
            f"{sql} AND {_NOT_WITHHELD}", [*articles, *params, filter_.team]
        ) as cursor:
            after = {int(row[0]) async for row in cursor}
        after |= {row.article_id for row in overlay.added}
        return len(after - before) - len(before - after)

    # --- the reads -------------------------------------------------------------------------

    async def cells(self, filter_: PositionFilter, top_actors: int = 0) -> list[StanceCell]:
        if filter_.team is None:
            return await super().cells(filter_, top_actors)

        async def overlaid() -> list[StanceCell]:
            cells = await super(TeamOverlayMixin, self).cells(filter_, top_actors)
            return await self._overlay_cells(cells, filter_, None, top_actors=top_actors)

        # A card reads its cells twice (cells, then stats): the overlay is added once per
        # store version.
        return list(await self.memo(("team-cells", filter_, top_actors), overlaid))

    async def window_cells(
        self, filter_: PositionFilter, window: DateWindow, *, per_actor: bool = False
    ) -> list[StanceCell]:
        cells = await super().window_cells(filter_, window, per_actor=per_actor)
        if filter_.team is None:
            return cells
        return await self._overlay_cells(cells, filter_, window, by_actor=per_actor)

    async def summary(self, filter_: PositionFilter) -> list[SummaryRow]:
        rows = await super().summary(filter_)
        overlay = await self._overlay(filter_, None)
        if not overlay:
            return rows
        ids = await self._actor_ids(row.actor for row in rows)
        keyed: dict[Key, SummaryRow] = {
            (str(r.guarantee), str(r.stance), r.party, ids[r.actor]): r for r in rows
        }
        shared = {
            key: (r.positions, 1, _mark(r.latest_published, r.latest_position_id))
            for key, r in keyed.items()
        }
        patches = await self._patch(filter_, None, overlay, shared, True)
        slugs = await self._actor_slugs(sorted({key[3] for key in patches}))
        for key, patch in patches.items():
            old = keyed.pop(key, None)
            if patch is None:
                continue
            if patch.latest is None:
                assert old is not None
                keyed[key] = replace(old, positions=patch.positions)
                continue
            latest = patch.latest
            keyed[key] = SummaryRow(
                actor=slugs[key[3]],
                party=key[2],
                guarantee=Guarantee(key[0]),
                stance=Stance(key[1]),
                guarantor=latest.guarantor,
                beneficiary=latest.beneficiary,
                positions=patch.positions,
                latest_published=_date(latest.published),
                latest_position_id=latest.id,
            )
        return list(keyed.values())

    async def stats(self, filter_: PositionFilter) -> StoreStats:
        stats = await super().stats(filter_)
        overlay = await self._overlay(filter_, None)
        if not overlay:
            return stats
        latest = [c.latest_published for c in await self.cells(filter_) if c.latest_published]
        return StoreStats(
            positions=stats.positions + len(overlay.added) - len(overlay.withheld),
            sources=stats.sources + await self._source_delta(filter_, None, overlay),
            latest_published=max(latest, default=None),
            sources_at_least=stats.sources_at_least,
        )

    async def window_stats(
        self,
        filter_: PositionFilter,
        window: DateWindow,
        cells: Sequence[StanceCell] | None = None,
    ) -> StoreStats:
        # `cells` (given or read here) are the team's already; only the sources move.
        stats = await super().window_stats(filter_, window, cells)
        overlay = await self._overlay(filter_, window)
        if not overlay:
            return stats
        return replace(
            stats, sources=stats.sources + await self._source_delta(filter_, window, overlay)
        )
