"""Parties side by side (`/guarantees compare france italy`): for each guarantee, each party's
latest stance and the position that carries it.

"Latest" is the freshest position the party holds on the guarantee (publication date, then
id), whatever the actor; read from the store's per-party cells (or, with a window, from the
positions published inside it), then one lookup for the quotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from bot.models import DateWindow, PositionFilter, StanceCell, StoredPosition
from bot.query import CompareRequest
from bot.topics import party_label
from bot.vocabulary import GUARANTEE_ORDER, GUARANTEES, Guarantee, Stance

if TYPE_CHECKING:
    from bot.store import Store


@dataclass(frozen=True)
class CompareCell:
    """One party's latest stance on one guarantee: the stance, its position (for the quote
    and link), and how many positions the party holds on the guarantee in all."""

    stance: Stance
    position: StoredPosition | None
    positions: int


@dataclass(frozen=True)
class CompareRow:
    guarantee: Guarantee
    label: str
    cells: tuple[CompareCell | None, ...]  # one per party, None: nothing known

    @property
    def split(self) -> bool:
        """The parties shown disagree: some for (seeks/backs), some against."""
        stances = {c.stance for c in self.cells if c is not None}
        return bool(stances & {Stance.SEEKS, Stance.BACKS}) and bool(
            stances & {Stance.OPPOSES, Stance.DOUBTS}
        )


@dataclass(frozen=True)
class Comparison:
    parties: tuple[str, ...]
    names: tuple[str, ...]
    rows: tuple[CompareRow, ...]  # only guarantees some party holds a stance on
    window: DateWindow | None = None

    @property
    def is_empty(self) -> bool:
        return not self.rows


def _latest(cells: list[StanceCell]) -> dict[tuple[Guarantee, str], tuple[StanceCell, int]]:
    """The freshest cell per (guarantee, party), with the party's positions on it in all."""
    best: dict[tuple[Guarantee, str], tuple[StanceCell, int]] = {}
    for cell in cells:
        key = (cell.guarantee, cell.party)
        held = best.get(key)
        total = cell.positions + (held[1] if held else 0)
        mark = (cell.latest_published or date.min, cell.latest_position_id)
        if held is None or mark > (held[0].latest_published or date.min,
                                   held[0].latest_position_id):
            best[key] = (cell, total)
        else:
            best[key] = (held[0], total)
    return best


async def build_comparison(store: Store, request: CompareRequest) -> Comparison:
    filter_ = PositionFilter(
        held_by=frozenset(request.parties),
        guarantees=request.guarantees,
        stances=request.stances,
        team=request.team,
    )
    if request.window is None:
        cells = await store.cells(filter_)
    else:
        cells = await store.window_cells(filter_, request.window)
    latest = _latest(cells)
    quotes = {
        p.id: p for p in await store.positions_by_ids(
            (c.latest_position_id for c, _ in latest.values()), team=request.team
        )
    }
    rows: list[CompareRow] = []
    for guarantee in sorted(GUARANTEE_ORDER, key=lambda g: not GUARANTEES[g].hard):
        row: list[CompareCell | None] = []
        for party in request.parties:
            found = latest.get((guarantee, party))
            if found is None:
                row.append(None)
                continue
            cell, total = found
            row.append(CompareCell(cell.stance, quotes.get(cell.latest_position_id), total))
        if any(row):
            rows.append(CompareRow(guarantee, GUARANTEES[guarantee].label, tuple(row)))
    return Comparison(
        parties=request.parties,
        names=tuple(party_label(p) for p in request.parties),
        rows=tuple(rows),
        window=request.window,
    )
