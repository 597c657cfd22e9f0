"""A party's stances over time: each change of stance on each guarantee, with its quote.

"Change" is read from the party's positions in publication order, per guarantee: the first
position on a guarantee opens its timeline, and every later position whose stance differs from
the one before it is a change. Corrections count as written by the analyst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.models import StoredPosition
from bot.query import Topic
from bot.topics import party_label
from bot.vocabulary import GUARANTEES, Guarantee, Stance

if TYPE_CHECKING:
    from bot.store import Store

HISTORY_LIMIT = 30  # the most recent changes a timeline shows


@dataclass(frozen=True)
class Change:
    position: StoredPosition
    before: Stance | None  # None: the first position on this guarantee

    @property
    def guarantee_label(self) -> str:
        return GUARANTEES[self.position.guarantee].label


@dataclass(frozen=True)
class History:
    party: str
    label: str
    guarantee: Guarantee | None
    changes: tuple[Change, ...]  # oldest first
    total: int  # changes in all (only the last HISTORY_LIMIT are kept)

    @property
    def title(self) -> str:
        if self.guarantee is None:
            return self.label
        return f"{self.label} · {GUARANTEES[self.guarantee].label}"


async def build_history(store: Store, topic: Topic, limit: int = HISTORY_LIMIT) -> History:
    party = topic.filter.parties[0]
    guarantee = next(iter(topic.filter.guarantees), None)
    team = topic.filter.team
    found, total = await store.stance_changes(party, guarantee, limit, team=team)
    positions = {
        p.id: p for p in await store.positions_by_ids((i for i, _ in found), team=team)
    }
    changes = tuple(
        Change(positions[i], before) for i, before in found if i in positions
    )
    return History(party, party_label(party), guarantee, changes, total)
