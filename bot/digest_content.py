"""What a daily digest says, built from the store (delivery is `bot.digest`).

Content of a digest (window = positions added since the last delivered digest of this
subscription, or the last 24 hours for the first):
- new positions, grouped by guarantee;
- shifts: for each (actor, guarantee), the latest stance before the window against the latest
  inside it ("latest" = publication date, then position id); the same per party (any actor of
  the party). A change is a shift only when the newer position is not older by publication
  than the one it replaces (an old article ingested late does not flip a stance). A party
  shift already told by one of its actors' shifts (same stances) is not repeated;
- contested guarantees among those touched: some party's current stance seeks or backs it while
  another's opposes it (a party's current stance is its freshest position under the topic).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.models import DateWindow, PositionFilter, StoredPosition, Subscription
from bot.query import Topic
from bot.store.corrections import correction_team
from bot.store.subscriptions import topic_key
from bot.vocabulary import GUARANTEE_ORDER, Guarantee, Stance

if TYPE_CHECKING:
    from bot.store import Store

# How many positions of one window a digest reads (the card shows far fewer).
MAX_WINDOW_POSITIONS = 500

PRO_STANCES = frozenset({Stance.SEEKS, Stance.BACKS})


class ShiftKind(StrEnum):
    ACTOR = "actor"
    PARTY = "party"


@dataclass(frozen=True)
class Shift:
    """An actor or a party whose stance on a guarantee changed across the window."""

    kind: ShiftKind
    who: str  # actor slug or party code
    guarantee: Guarantee
    before: StoredPosition
    after: StoredPosition


@dataclass(frozen=True)
class Contest:
    guarantee: Guarantee
    pro: tuple[str, ...]  # parties that seek or back it
    con: tuple[str, ...]  # parties that oppose it


@dataclass(frozen=True)
class Changes:
    """What a window holds for a topic: its new positions, the shifts, the contests touched.
    A digest is this for the positions added since the last one; `/guarantees what changed
    this week` is this for the positions published in the window."""

    new: tuple[tuple[Guarantee, tuple[StoredPosition, ...]], ...] = ()
    shifts: tuple[Shift, ...] = ()
    contested: tuple[Contest, ...] = ()

    @property
    def new_count(self) -> int:
        return sum(len(items) for _, items in self.new)

    @property
    def is_empty(self) -> bool:
        return not self.new and not self.shifts


@dataclass(frozen=True, kw_only=True)
class Digest(Changes):
    """What one digest says (the changes since the last one, for one subscription); rendered
    by `bot.cards.digest.render_digest`."""

    subscription: Subscription
    local_date: date
    since: datetime
    until: datetime


def _when(position: StoredPosition) -> tuple[date, int]:
    """Order of "latest": publication date (the day it was added when unknown), then id."""
    return (position.published or position.added_at.date(), position.id)


ShiftKey = tuple[ShiftKind, str, Guarantee]


def _keys(position: StoredPosition) -> tuple[ShiftKey, ShiftKey]:
    return (
        (ShiftKind.ACTOR, position.actor, position.guarantee),
        (ShiftKind.PARTY, position.party, position.guarantee),
    )


def latest_by_key(positions: Sequence[StoredPosition]) -> dict[ShiftKey, StoredPosition]:
    """The latest position per (actor, guarantee) and per (party, guarantee)."""
    latest: dict[ShiftKey, StoredPosition] = {}
    for position in positions:
        for key in _keys(position):
            held = latest.get(key)
            if held is None or _when(position) > _when(held):
                latest[key] = position
    return latest


def find_shifts(
    inside: Mapping[ShiftKey, StoredPosition], before: Mapping[ShiftKey, StoredPosition]
) -> list[Shift]:
    """Shifts by the rule in the module docstring: actors first, then parties not already told."""
    shifts: list[Shift] = []
    for (kind, who, guarantee), after in inside.items():
        old = before.get((kind, who, guarantee))
        if old is None or old.stance == after.stance or _when(after) < _when(old):
            continue
        shifts.append(Shift(kind, who, guarantee, old, after))
    told = {
        (s.after.party, s.guarantee, s.before.stance, s.after.stance)
        for s in shifts
        if s.kind is ShiftKind.ACTOR
    }
    shifts = [
        s
        for s in shifts
        if s.kind is ShiftKind.ACTOR
        or (s.who, s.guarantee, s.before.stance, s.after.stance) not in told
    ]
    order = {g: i for i, g in enumerate(GUARANTEE_ORDER)}
    shifts.sort(key=lambda s: (order[s.guarantee], s.kind != ShiftKind.ACTOR, s.who))
    return shifts


def group_by_guarantee(
    positions: Sequence[StoredPosition],
) -> tuple[tuple[Guarantee, tuple[StoredPosition, ...]], ...]:
    groups: dict[Guarantee, list[StoredPosition]] = {}
    for position in positions:
        groups.setdefault(position.guarantee, []).append(position)
    return tuple(
        (g, tuple(sorted(groups[g], key=_when, reverse=True)))
        for g in GUARANTEE_ORDER
        if g in groups
    )


async def _latest_before(
    store: Store, topic: PositionFilter, keys: Sequence[ShiftKey], before: datetime
) -> dict[ShiftKey, StoredPosition]:
    """The latest position of each key added before `before`, under the topic's filter."""
    found: dict[ShiftKey, StoredPosition] = {}
    for kind, who, guarantee in keys:
        if kind is ShiftKind.ACTOR:
            narrowed = replace(topic, actors=frozenset({who}), guarantees=frozenset({guarantee}))
        else:
            narrowed = replace(topic, held_by=frozenset({who}), guarantees=frozenset({guarantee}))
        rows = await store.positions(narrowed, limit=1, added_before=before)
        if rows:
            found[(kind, who, guarantee)] = rows[0]
    return found


async def _contested(
    store: Store, topic: PositionFilter, guarantees: set[Guarantee]
) -> tuple[Contest, ...]:
    if not guarantees:
        return ()
    current: dict[tuple[Guarantee, str], tuple[tuple[str, int], Stance]] = {}
    for cell in await store.cells(topic):
        if cell.guarantee not in guarantees:
            continue
        rank = (cell.latest_published.isoformat() if cell.latest_published else "",
                cell.latest_position_id)
        key = (cell.guarantee, cell.party)
        if key not in current or rank > current[key][0]:
            current[key] = (rank, cell.stance)
    contests = []
    for guarantee in GUARANTEE_ORDER:
        if guarantee not in guarantees:
            continue
        stances = {p: s for (g, p), (_, s) in current.items() if g == guarantee}
        pro = tuple(sorted(p for p, s in stances.items() if s in PRO_STANCES))
        con = tuple(sorted(p for p, s in stances.items() if s is Stance.OPPOSES))
        if pro and con:
            contests.append(Contest(guarantee, pro, con))
    return tuple(contests)


async def find_changes(
    store: Store,
    filter_: PositionFilter,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    window: DateWindow | None = None,
) -> Changes:
    """The changes of a window: positions added in [since, until), or, with `window`,
    published inside it; shifts are judged against the latest position before the window."""
    if window is not None:
        new = await store.positions(filter_, limit=MAX_WINDOW_POSITIONS, window=window)
        inside = latest_by_key(new)
        before: dict[ShiftKey, StoredPosition] = {}
        if window.since is not None:
            found = await store.latest_before(filter_, list(inside), window.since)
            before = {(ShiftKind(k), who, g): p for (k, who, g), p in found.items()}
    else:
        assert since is not None, "a digest window starts somewhere"
        new = await store.positions(
            filter_, limit=MAX_WINDOW_POSITIONS, added_since=since, added_before=until
        )
        inside = latest_by_key(new)
        before = await _latest_before(store, filter_, list(inside), since)
    return Changes(
        new=group_by_guarantee(new),
        shifts=tuple(find_shifts(inside, before)),
        contested=await _contested(store, filter_, {p.guarantee for p in new}),
    )


async def build_digest(
    store: Store,
    subscription: Subscription,
    topic: Topic,
    *,
    local_date: date,
    since: datetime,
    until: datetime,
) -> Digest:
    """Read the window [since, until) of the topic and fold it into a `Digest`."""
    changes = await find_changes(store, topic.filter, since=since, until=until)
    return Digest(
        subscription=subscription,
        local_date=local_date,
        since=since,
        until=until,
        new=changes.new,
        shifts=changes.shifts,
        contested=changes.contested,
    )


TopicResolver = Callable[["Store", Sequence[str]], Awaitable[Topic]]


async def default_resolve_topic(store: Store, words: Sequence[str]) -> Topic:
    """Topic words as stored, resolved against today's vocabulary and store (`bot.topics`)."""
    from bot.topics import resolve_topic

    return await resolve_topic(store, words)


class DigestBuilder:
    """Builds digests for one run; channels on the same topic and window share one build."""

    def __init__(
        self, store: Store, resolve: TopicResolver = default_resolve_topic, *, oauth: bool = False
    ) -> None:
        self.store = store
        self.resolve = resolve
        self.oauth = oauth  # many workspaces: each subscription reads its own's corrections
        self._topics: dict[str, asyncio.Task[Topic]] = {}
        self._built: dict[tuple[str, str | None, datetime, datetime], asyncio.Task[Digest]] = {}

    async def topic(self, words: Sequence[str]) -> Topic:
        key = topic_key(words)
        if key not in self._topics:
            self._topics[key] = asyncio.ensure_future(self.resolve(self.store, words))
        return await self._topics[key]

    async def build(self, subscription: Subscription, day: date, since: datetime,
                    until: datetime) -> Digest:
        team = await self.store.overlay_team(correction_team(self.oauth, subscription.team_id))
        key = (topic_key(subscription.topic_words), team, since, until)
        if key not in self._built:
            self._built[key] = asyncio.ensure_future(
                self._build(subscription, team, day, since, until)
            )
        digest = await self._built[key]
        return replace(digest, subscription=subscription, local_date=day)

    async def _build(self, subscription: Subscription, team: str | None, day: date,
                     since: datetime, until: datetime) -> Digest:
        topic = (await self.topic(subscription.topic_words)).for_team(team)
        return await build_digest(
            self.store, subscription, topic, local_date=day, since=since, until=until
        )
