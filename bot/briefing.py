"""Store + topic -> `Briefing`: who seeks, backs, opposes or doubts each guarantee.

What `python -m bot ask`, `/guarantees` and the Home tab show. It reads only the store's
summary rows (one per guarantee, stance, party and actor under the topic) and the handful of
positions that carry the freshest quote of each guarantee, so it costs the same with a
thousand positions or a million.

Contested rule: a guarantee is contested when some party seeks or backs it and a *different*
party opposes or doubts it. One party that both backs and doubts (Ukraine seeking a guarantee
while doubting it will be honoured) is hesitation, not contest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from bot.confidence import marked_unsure
from bot.models import DateWindow, PositionFilter, StanceCell, StoredPosition, SummaryRow
from bot.query import Topic
from bot.topics import actor_display_name, normalise, party_label
from bot.vocabulary import GUARANTEE_ORDER, GUARANTEES, Guarantee, Stance, actors, parties

if TYPE_CHECKING:
    from bot.store import Store

STANCE_ORDER: tuple[Stance, ...] = (Stance.SEEKS, Stance.BACKS, Stance.OPPOSES, Stance.DOUBTS)
FOR_STANCES = frozenset({Stance.SEEKS, Stance.BACKS})
AGAINST_STANCES = frozenset({Stance.OPPOSES, Stance.DOUBTS})
# Above this many (actor, stance, guarantee) rows under a topic, actors are counted, not named.
NAMED_ACTORS_LIMIT = 300


@dataclass(frozen=True)
class Holder:
    """One party holding a stance, with the actors who voiced it (most positions first)."""

    party: str
    name: str
    actors: tuple[str, ...]  # short display names; the party speaking as itself is left out
    positions: int
    more_actors: int = 0  # actors counted but not named (a whole topic on a big store)
    earlier: bool = False  # the party's latest stance on this guarantee is another one


@dataclass(frozen=True)
class StanceShift:
    """A party whose latest stance on a guarantee differs from an earlier one."""

    party: str
    name: str
    stance: Stance  # the latest
    since: date | None  # first position of the latest stance after the earlier one
    before: Stance
    # the extractor is unsure of the latest position of either stance: maybe a misreading
    possible: bool = False


@dataclass(frozen=True)
class StanceLine:
    stance: Stance
    holders: tuple[Holder, ...]  # most positions first

    @property
    def positions(self) -> int:
        return sum(holder.positions for holder in self.holders)


@dataclass(frozen=True)
class GuaranteeBriefing:
    """One guarantee under the topic: its stance lines, whether it is contested, and the
    freshest position as evidence."""

    guarantee: Guarantee
    label: str
    hard: bool
    stances: tuple[StanceLine, ...]  # only stances someone holds, in STANCE_ORDER
    contested: bool
    positions: int
    latest: StoredPosition | None
    shifts: tuple[StanceShift, ...] = ()

    def line(self, stance: Stance) -> StanceLine | None:
        return next((line for line in self.stances if line.stance is stance), None)


@dataclass(frozen=True)
class Briefing:
    topic: Topic
    guarantees: tuple[GuaranteeBriefing, ...]  # hard first, in vocabulary order
    positions: int
    sources: int
    last_update: date | None
    sources_at_least: bool = False  # `sources` is a lower bound ("1,000+")
    # Publication dates the card covers (`/guarantees ukraine this week`); None: all time.
    window: DateWindow | None = None
    # How an ambiguous question was read ("Hungary on EU membership"), shown when it says
    # something the label does not; and a nearby question that has positions, when empty.
    read_as: str | None = None
    suggestion: str | None = None
    # The question in canonical words, carried by the card's evidence buttons.
    question: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.guarantees

    @property
    def contested(self) -> tuple[GuaranteeBriefing, ...]:
        return tuple(g for g in self.guarantees if g.contested)


def is_contested(holders_by_stance: dict[Stance, set[str]]) -> bool:
    """Some party for (seeks/backs) and a different party against (opposes/doubts)."""
    for_ = set().union(*(holders_by_stance.get(s, set()) for s in FOR_STANCES))
    against = set().union(*(holders_by_stance.get(s, set()) for s in AGAINST_STANCES))
    return any(a != b for a in for_ for b in against)


@lru_cache(maxsize=8192)
def short_actor_name(slug: str, party: str) -> str | None:
    """How an actor reads inside "Ukraine (Zelensky, officials)"; None for the party itself.

    A known person goes by the surname ("Zelensky", "von der Leyen"); an extracted group
    named after its party loses the party word ("ukrainian-officials" -> "officials").
    """
    known = actors().get(slug)
    if known:
        suffixes = [a for a in known.aliases if known.name.endswith(" " + a)]
        return min(suffixes, key=len) if suffixes else known.name
    words = normalise(slug).split()
    party_words = _party_words(party)
    if not words or " ".join(words) in party_words or all(w in party_words for w in words):
        return None
    if words[0] in party_words:
        return " ".join(words[1:])
    return actor_display_name(slug)


@cache
def _party_words(code: str) -> frozenset[str]:
    party = parties().get(code)
    if party is None:
        return frozenset({code})
    phrases = {normalise(word) for word in party.all_words()}
    return frozenset(phrases | {w for phrase in phrases for w in phrase.split()})


def fold_rows(rows: list[SummaryRow]) -> dict[Guarantee, dict[Stance, list[Holder]]]:
    """Summary rows (one per actor) to holders per guarantee and stance, every actor named."""
    counts: dict[tuple[Guarantee, Stance, str], dict[str, int]] = defaultdict(dict)
    for row in rows:
        actors_of = counts[(row.guarantee, row.stance, row.party)]
        actors_of[row.actor] = actors_of.get(row.actor, 0) + row.positions
    folded: dict[Guarantee, dict[Stance, list[Holder]]] = defaultdict(dict)
    for (guarantee, stance, party), by_actor in counts.items():
        names: list[str] = []
        for slug, _ in sorted(by_actor.items(), key=lambda item: (-item[1], item[0])):
            name = short_actor_name(slug, party)
            if name and name not in names:
                names.append(name)
        holder = Holder(party, party_label(party), tuple(names), sum(by_actor.values()))
        folded[guarantee].setdefault(stance, []).append(holder)
    return _sorted(folded)


def fold_cells(cells: list[StanceCell]) -> dict[Guarantee, dict[Stance, list[Holder]]]:
    """Cells (one per party) to holders: only the freshest actor is named, the rest counted."""
    folded: dict[Guarantee, dict[Stance, list[Holder]]] = defaultdict(dict)
    for cell in cells:
        name = short_actor_name(cell.latest_actor, cell.party)
        names = (name,) if name else ()
        holder = Holder(
            cell.party, party_label(cell.party), names, cell.positions,
            more_actors=cell.actors - len(names),
        )
        folded[cell.guarantee].setdefault(cell.stance, []).append(holder)
    return _sorted(folded)


def _sorted(
    folded: dict[Guarantee, dict[Stance, list[Holder]]],
) -> dict[Guarantee, dict[Stance, list[Holder]]]:
    for stances in folded.values():
        for holders in stances.values():
            holders.sort(key=lambda h: (-h.positions, h.name))
    return folded


def _freshest(cells: list[StanceCell]) -> dict[Guarantee, int]:
    """The freshest position id of each guarantee (by publication date, then id)."""
    best: dict[Guarantee, tuple[date, int]] = {}
    for cell in cells:
        mark = (cell.latest_published or date.min, cell.latest_position_id)
        if mark > best.get(cell.guarantee, (date.min, -1)):
            best[cell.guarantee] = mark
    return {guarantee: mark[1] for guarantee, mark in best.items()}


async def build_briefing(
    store: Store, topic: Topic, window: DateWindow | None = None
) -> Briefing:
    """The briefing for a topic, from the folded summary and one position per guarantee.

    The store's cells (one per guarantee, stance and party) give counts, contest and the
    freshest evidence. When the topic has at most `NAMED_ACTORS_LIMIT` actor rows, the
    per-actor rows are read too so every actor is named; above that (a whole topic on a big
    store) only the freshest actor of each party is named and the others counted.

    With a `window` the same folds are made from the positions published inside it (the
    summaries are all-time totals), read through the store's publication-date index.
    """
    if window is None:
        cells = await store.cells(topic.filter)
    else:
        cells = await store.window_cells(topic.filter, window)
    if sum(cell.actors for cell in cells) <= NAMED_ACTORS_LIMIT:
        if window is None:
            rows = await store.summary(topic.filter)
        else:
            rows = [
                _as_row(cell)
                for cell in await store.window_cells(topic.filter, window, per_actor=True)
            ]
        folded = fold_rows(rows)
    else:
        folded = fold_cells(cells)
    latest_ids = _freshest(cells)
    team = topic.filter.team
    latest = {p.id: p for p in await store.positions_by_ids(latest_ids.values(), team=team)}
    current = latest_stances(cells)
    folded = _latest_first(folded, current)
    shifts = await find_shifts(store, cells, current, team=team)
    sections: list[GuaranteeBriefing] = []
    for guarantee in sorted(GUARANTEE_ORDER, key=lambda g: not GUARANTEES[g].hard):
        stances = folded.get(guarantee)
        if not stances:
            continue
        lines = tuple(
            StanceLine(stance, tuple(stances[stance]))
            for stance in STANCE_ORDER
            if stance in stances
        )
        info = GUARANTEES[guarantee]
        sections.append(
            GuaranteeBriefing(
                guarantee=guarantee,
                label=info.label,
                hard=info.hard,
                stances=lines,
                contested=is_contested(
                    {line.stance: {h.party for h in line.holders} for line in lines}
                ),
                positions=sum(line.positions for line in lines),
                latest=latest.get(latest_ids.get(guarantee, -1)),
                shifts=tuple(shifts.get(guarantee, ())),
            )
        )
    if window is None:
        stats = await store.stats(topic.filter)
    else:
        stats = await store.window_stats(topic.filter, window, cells)
    return Briefing(
        topic=topic,
        guarantees=tuple(sections),
        positions=stats.positions,
        sources=stats.sources,
        last_update=stats.latest_published,
        sources_at_least=stats.sources_at_least,
        window=window,
    )


def _as_row(cell: StanceCell) -> SummaryRow:
    """A one-actor cell (`window_cells(per_actor=True)`) as the summary row it stands for."""
    return SummaryRow(
        actor=cell.latest_actor,
        party=cell.party,
        guarantee=cell.guarantee,
        stance=cell.stance,
        guarantor=None,
        beneficiary=None,
        positions=cell.positions,
        latest_published=cell.latest_published,
        latest_position_id=cell.latest_position_id,
    )


# --- latest stances and shifts -------------------------------------------------------------

Mark = tuple[date, int]


def latest_stances(cells: list[StanceCell]) -> dict[tuple[Guarantee, str], tuple[Stance, Mark]]:
    """Each party's latest stance on each guarantee (by publication date, then position id)."""
    current: dict[tuple[Guarantee, str], tuple[Stance, Mark]] = {}
    for cell in cells:
        mark = (cell.latest_published or date.min, cell.latest_position_id)
        key = (cell.guarantee, cell.party)
        if key not in current or mark > current[key][1]:
            current[key] = (cell.stance, mark)
    return current


def _latest_first(
    folded: dict[Guarantee, dict[Stance, list[Holder]]],
    current: dict[tuple[Guarantee, str], tuple[Stance, Mark]],
) -> dict[Guarantee, dict[Stance, list[Holder]]]:
    """Within each stance line, parties for whom it is the latest stance come first; the
    others are marked `earlier` and follow."""
    for guarantee, stances in folded.items():
        for stance, holders in stances.items():
            marked = [
                replace(h, earlier=current.get((guarantee, h.party), (stance,))[0] is not stance)
                for h in holders
            ]
            marked.sort(key=lambda h: (h.earlier, -h.positions, h.name))
            holders[:] = marked
    return folded


async def find_shifts(
    store: Store,
    cells: list[StanceCell],
    current: dict[tuple[Guarantee, str], tuple[Stance, Mark]],
    *,
    team: str | None = None,
) -> dict[Guarantee, list[StanceShift]]:
    """Parties whose latest stance differs from an earlier one, with the date since which
    they hold it ("backs since 7 Jan, opposed before"): one index seek per shifted party. A
    shift is `possible` when the extractor is unsure of the latest position of either side."""
    earlier: dict[tuple[Guarantee, str], tuple[Stance, Mark]] = {}
    for cell in cells:
        key = (cell.guarantee, cell.party)
        if current[key][0] is cell.stance:
            continue
        mark = (cell.latest_published or date.min, cell.latest_position_id)
        if key not in earlier or mark > earlier[key][1]:
            earlier[key] = (cell.stance, mark)
    moved = [
        (guarantee, party, before, before_mark, *current[(guarantee, party)])
        for (guarantee, party), (before, before_mark) in sorted(earlier.items())
        # held on the same day: hesitation, not a change
        if current[(guarantee, party)][1][0] > before_mark[0]
    ]
    sides: set[int] = set()  # the latest position of each side, read once for all shifts
    for *_, before_mark, _, mark in moved:
        sides |= {before_mark[1], mark[1]}
    unsure = {p.id for p in await store.positions_by_ids(sides, team=team) if marked_unsure(p)}
    found: dict[Guarantee, list[StanceShift]] = defaultdict(list)
    for guarantee, party, before, before_mark, stance, mark in moved:
        since = await store.first_published(
            party, guarantee, stance, before_mark[0].isoformat(), team=team
        )
        found[guarantee].append(
            StanceShift(
                party, party_label(party), stance,
                date.fromisoformat(since) if since else mark[0], before,
                possible=bool({before_mark[1], mark[1]} & unsure),
            )
        )
    return found


# --- evidence and latest positions ---------------------------------------------------------

EVIDENCE_LIMIT = 40


@dataclass(frozen=True)
class Evidence:
    """Every position on one guarantee under a topic, freshest first (the first `limit`)."""

    topic: Topic
    guarantee: Guarantee
    label: str
    positions: tuple[StoredPosition, ...]
    total: int  # how many positions the topic holds on this guarantee


async def build_evidence(
    store: Store,
    topic: Topic,
    guarantee: Guarantee,
    limit: int = EVIDENCE_LIMIT,
    *,
    window: DateWindow | None = None,
) -> Evidence:
    narrowed = replace(topic.filter, guarantees=frozenset({guarantee}))
    positions = await store.positions(narrowed, limit=limit, window=window)
    total = len(positions)
    if total == limit:  # more may exist: count them from the summary rows
        if window is None:
            total = sum(row.positions for row in await store.summary(narrowed))
        else:
            total = (await store.window_stats(narrowed, window)).positions
    return Evidence(topic, guarantee, GUARANTEES[guarantee].label, tuple(positions), total)


async def latest_positions(
    store: Store, limit: int = 8, *, team: str | None = None
) -> list[StoredPosition]:
    """The freshest positions in the store (with `team`'s corrections), read through the
    summary rows (no scan)."""
    cells = await store.cells(PositionFilter(team=team))
    cells.sort(key=lambda c: (c.latest_published or date.min, c.latest_position_id), reverse=True)
    found = await store.positions_by_ids(
        (cell.latest_position_id for cell in cells[:limit]), team=team
    )
    return sorted(found, key=lambda p: (p.published or date.min, p.id), reverse=True)
