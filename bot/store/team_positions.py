"""A team's corrections in the position lists: evidence, digests, history, exports, and the
positions a card quotes by id. How the overlay works: `bot.store.team_overlay`.

The shared query skips the team's withheld rows (`NOT EXISTS` on the team's primary key) and
the team's own rows (negative ids), read with the same filter, are merged in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime

from bot.models import DateWindow, PositionFilter, StoredPosition
from bot.store.position_queries import (
    _NOT_WITHHELD,
    _POSITION_COLUMNS,
    _POSITION_JOINS,
    _filter_sql,
    _positions_where,
)
from bot.store.team_overlay import TeamOverlayMixin, _position_mark
from bot.vocabulary import Guarantee, Stance

# A team's rows are analysts' corrections: checked, so the extractor's confidence no longer
# applies to them (NULL, and `team_positions` keeps none).
_TEAM_COLUMNS = _POSITION_COLUMNS.replace("p.id,", "-p.id AS id,", 1).replace(
    "p.confidence", "NULL AS confidence", 1
)
_TEAM_JOINS = _POSITION_JOINS.replace("FROM positions AS p", "FROM team_positions AS p", 1)


class TeamPositionsMixin(TeamOverlayMixin):
    """Position lists with the filter's (or `team`'s) corrections."""

    async def positions(
        self,
        filter_: PositionFilter,
        *,
        limit: int = 100,
        added_since: datetime | None = None,
        added_before: datetime | None = None,
        window: DateWindow | None = None,
    ) -> list[StoredPosition]:
        # The team's overlay under the filter: none (most filters of most teams) is the
        # shared query as it is; else the few withheld ids are left out by value.
        overlay = await self._overlay(filter_, window)
        if not overlay:
            return await super().positions(
                filter_, limit=limit, added_since=added_since, added_before=added_before,
                window=window,
            )
        where, params, order = _positions_where(filter_, added_since, added_before, window)
        tail = f" ORDER BY {order} DESC, p.id DESC LIMIT ?"
        withheld = sorted({row.id for row in overlay.withheld})
        if withheld:
            where_shared = f"{where} AND p.id NOT IN ({','.join('?' * len(withheld))})"
        else:
            where_shared = where
        shared = await self._read_positions(
            f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE {where_shared}" + tail,
            [*params, *withheld, limit],
        )
        own: list[StoredPosition] = []
        if overlay.added:
            own = await self._read_positions(
                f"SELECT {_TEAM_COLUMNS} {_TEAM_JOINS} WHERE p.team_id = ? AND {where}" + tail,
                [filter_.team, *params, limit],
            )
        return sorted((*shared, *own), key=_position_mark, reverse=True)[:limit]

    async def positions_by_ids(
        self, ids: Iterable[int], *, team: str | None = None
    ) -> list[StoredPosition]:
        """Positions by id as `team` sees them: its withheld rows are not found, its own
        (negative ids) are, and no other team's are."""
        wanted = set(ids)
        shared_ids = sorted(i for i in wanted if i > 0)
        found: list[StoredPosition] = []
        if shared_ids:
            marks = ",".join("?" * len(shared_ids))
            sql = f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE p.id IN ({marks})"
            params: list[object] = list(shared_ids)
            if team is not None:
                sql += f" AND {_NOT_WITHHELD}"
                params.append(team)
            found += await self._read_positions(sql, params)
        own = sorted(-i for i in wanted if i < 0)
        if own and team is not None:
            marks = ",".join("?" * len(own))
            found += await self._read_positions(
                f"SELECT {_TEAM_COLUMNS} {_TEAM_JOINS} WHERE p.team_id = ? AND p.id IN ({marks})",
                [team, *own],
            )
        return found

    async def latest_before(
        self,
        filter_: PositionFilter,
        keys: Sequence[tuple[str, str, Guarantee]],
        before: date,
    ) -> dict[tuple[str, str, Guarantee], StoredPosition]:
        found = await super().latest_before(filter_, keys, before)  # withheld rows skipped
        if filter_.team is None:
            return found
        where, params = _filter_sql(
            replace(filter_, actors=frozenset(), guarantees=frozenset()), "p"
        )
        own = await self._read_positions(
            f"SELECT {_TEAM_COLUMNS} {_TEAM_JOINS} WHERE p.team_id = ?"
            f" AND p.published < ? AND {where}",
            [filter_.team, before.isoformat(), *params],
        )
        for kind, who, guarantee in keys:
            mine = [
                p for p in own
                if p.guarantee is guarantee and (p.actor if kind == "actor" else p.party) == who
            ]
            if not mine:
                continue
            best = max(mine, key=_position_mark)
            held = found.get((kind, who, guarantee))
            if held is None or _position_mark(best) > _position_mark(held):
                found[(kind, who, guarantee)] = best
        return found

    async def first_published(
        self, party: str, guarantee: Guarantee, stance: Stance, after: str,
        *, team: str | None = None,
    ) -> str | None:
        """The first publication date (ISO) after `after` of the party's stance on a
        guarantee: one seek of `positions_party_stance` (and the team's rows)."""
        key = "p.party = ? AND p.guarantee = ? AND p.stance = ? AND p.published > ?"
        args: list[object] = [party, str(guarantee), str(stance), after]
        sql = f"SELECT min(p.published) FROM positions AS p WHERE {key}"
        if team is not None:  # one round trip: the shared rows it sees, and its own
            sql = (
                "SELECT min(found) FROM (SELECT min(p.published) AS found FROM positions AS p"
                f" WHERE {key} AND {_NOT_WITHHELD} UNION ALL SELECT min(p.published)"
                f" FROM team_positions AS p WHERE p.team_id = ? AND {key}) AS firsts"
            )
            args = [*args, team, team, *args]
        async with self.db.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return row[0] if row and row[0] else None

    async def stance_changes(
        self, party: str, guarantee: Guarantee | None, limit: int, *, team: str | None = None
    ) -> tuple[list[tuple[int, Stance | None]], int]:
        """The positions where the party's stance on a guarantee changed (the first position
        on each guarantee included), as (position id, stance before), in time order: the last
        `limit` of them, and how many there are in all."""
        where = "p.party = ?"
        params: list[object] = [party]
        if guarantee is not None:
            where += " AND p.guarantee = ?"
            params.append(str(guarantee))
        source = (
            f"SELECT p.id, p.published, p.stance, p.guarantee FROM positions AS p WHERE {where}"
        )
        if team is not None:
            source = (
                f"{source} AND {_NOT_WITHHELD} UNION ALL SELECT -p.id, p.published, p.stance,"
                f" p.guarantee FROM team_positions AS p WHERE p.team_id = ? AND {where}"
            )
            params = [*params, team, team, *params]
        sql = (
            "SELECT id, before FROM (SELECT id, published, stance, lag(stance) OVER ("
            " PARTITION BY guarantee ORDER BY ifnull(published, ''), id) AS before"
            f" FROM ({source}) AS found) AS changes"
            " WHERE before IS NULL OR before != stance ORDER BY ifnull(published, ''), id"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = [(int(r[0]), Stance(r[1]) if r[1] else None) async for r in cursor]
        return rows[-limit:], len(rows)

    async def earliest_published(self, filter_: PositionFilter) -> date | None:
        """The first publication date under a filter: per guarantee, a walk of the
        (guarantee, published) index that stops at the first match (and the team's rows)."""
        where, params = _filter_sql(filter_, "p")
        extra = f" AND {_NOT_WITHHELD}" if filter_.team is not None else ""
        more = [filter_.team] if filter_.team is not None else []
        guarantees = sorted(filter_.guarantees) or list(Guarantee)
        found: list[str] = []
        for guarantee in guarantees:
            async with self.db.execute(
                "SELECT p.published FROM positions AS p INDEXED BY positions_guarantee_fresh"
                f" WHERE p.guarantee = ? AND p.published IS NOT NULL AND {where}{extra}"
                " ORDER BY p.published LIMIT 1",
                [str(guarantee), *params, *more],
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0]:
                found.append(row[0])
        if filter_.team is not None:
            async with self.db.execute(
                "SELECT min(p.published) FROM team_positions AS p WHERE p.team_id = ?"
                f" AND {where}",
                [filter_.team, *params],
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0]:
                found.append(row[0])
        return date.fromisoformat(min(found)) if found else None

    async def iter_positions(
        self, filter_: PositionFilter, batch: int = 5000
    ) -> AsyncIterator[list[StoredPosition]]:
        """Every position under a filter, oldest row first, in batches (keyset pages, so no
        read stays open between them); a team's own rows come last."""
        where, params = _filter_sql(filter_, "p")
        if filter_.team is not None:
            where += f" AND {_NOT_WITHHELD}"
            params.append(filter_.team)
        last = 0
        while True:
            sql = (
                f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS}"
                f" WHERE {where} AND p.id > ? ORDER BY p.id LIMIT {int(batch)}"
            )
            rows = await self._read_positions(sql, [*params, last])
            if not rows:
                break
            yield rows
            last = rows[-1].id
        if filter_.team is not None:
            where, params = _filter_sql(filter_, "p")
            own = await self._read_positions(
                f"SELECT {_TEAM_COLUMNS} {_TEAM_JOINS} WHERE p.team_id = ? AND {where}"
                " ORDER BY p.id",
                [filter_.team, *params],
            )
            for start in range(0, len(own), batch):
                yield own[start : start + batch]
