"""The stance matrix of a topic: parties down, guarantees across, each cell a party's latest
stance, from the store's folded cells (a few hundred rows whatever the number of positions).

A guarantee is contested as on the card (`bot.briefing.is_contested`); a cell is *divided*
when the party itself holds a stance for it and one against it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.briefing import AGAINST_STANCES, FOR_STANCES, is_contested, latest_stances
from bot.query import Topic
from bot.topics import party_label
from bot.vocabulary import GUARANTEE_ORDER, GUARANTEES, Guarantee, Stance

if TYPE_CHECKING:
    from bot.store import Store

MAX_PARTIES = 18  # rows a phone screen can still read


@dataclass(frozen=True)
class MatrixCell:
    stance: Stance  # the latest
    stances: frozenset[Stance]
    positions: int

    @property
    def divided(self) -> bool:
        return bool(self.stances & FOR_STANCES) and bool(self.stances & AGAINST_STANCES)


@dataclass(frozen=True)
class Matrix:
    label: str
    parties: tuple[tuple[str, str], ...]  # (code, name), most positions first
    guarantees: tuple[Guarantee, ...]
    cells: dict[tuple[str, Guarantee], MatrixCell]
    contested: frozenset[Guarantee]
    first: date | None
    last: date | None
    positions: int
    sources: int
    sources_at_least: bool = False
    more_parties: int = 0  # parties left out for room

    @property
    def is_empty(self) -> bool:
        return not self.cells


async def build_matrix(store: Store, topic: Topic, max_parties: int = MAX_PARTIES) -> Matrix:
    cells = await store.cells(topic.filter)
    current = latest_stances(cells)
    stances: dict[tuple[str, Guarantee], set[Stance]] = defaultdict(set)
    counts: dict[tuple[str, Guarantee], int] = defaultdict(int)
    per_party: dict[str, int] = defaultdict(int)
    holders: dict[Guarantee, dict[Stance, set[str]]] = defaultdict(lambda: defaultdict(set))
    for cell in cells:
        key = (cell.party, cell.guarantee)
        stances[key].add(cell.stance)
        counts[key] += cell.positions
        per_party[cell.party] += cell.positions
        holders[cell.guarantee][cell.stance].add(cell.party)
    ranked = sorted(per_party, key=lambda p: (-per_party[p], party_label(p)))
    shown = ranked[:max_parties]
    guarantees = tuple(
        g for g in sorted(GUARANTEE_ORDER, key=lambda g: not GUARANTEES[g].hard) if g in holders
    )
    matrix_cells = {
        (party, g): MatrixCell(current[(g, party)][0], frozenset(stances[(party, g)]),
                               counts[(party, g)])
        for party in shown
        for g in guarantees
        if (party, g) in stances
    }
    stats = await store.stats(topic.filter)
    return Matrix(
        label=topic.label,
        parties=tuple((p, party_label(p)) for p in shown),
        guarantees=guarantees,
        cells=matrix_cells,
        contested=frozenset(g for g in guarantees if is_contested(dict(holders[g]))),
        first=await store.earliest_published(topic.filter) if cells else None,
        last=stats.latest_published,
        positions=stats.positions,
        sources=stats.sources,
        sources_at_least=stats.sources_at_least,
        more_parties=len(ranked) - len(shown),
    )
