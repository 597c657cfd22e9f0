"""Whose security an article is about, learned: a small linear ranker over the parties it names.

The rules take the beneficiary from a closed list (`data/beneficiaries.toml`): an article on a
conflict the list lacks (Solomon Islands, Suriname, Mauritania ...) got the listed party it
names most, and failing any, Ukraine. Its positions then read as the wrong party's, and a card
filtered by that party showed them. The ranker scores every party the article names by how
it is named (how often, how soon, in the headline, as a person's party or an adjective), by
whether the list has it, and by how the training articles use that party: mostly as a
receiver of guarantees, mostly as a provider, or neither (a party the training never met is
neither). The likeliest is the beneficiary; an article that names no party keeps the list's
first. The bands favour parties the training knows as receivers: an article on Kuwait that
names Iraq twice reads as Iraq's. Inside the combined extractor the rules read the ranker's
choice too (their seeks and backs follow it); the rules alone still use the list.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

from bot.extraction.learned.features import Chooser
from bot.extraction.learned.mentions import PartyMention
from bot.extraction.learned.model import LinearModel
from bot.extraction.rules.beneficiary import AGGRESSORS, beneficiary_order

# Receiver or provider, from how often the training articles' gold positions have a party as
# beneficiary against as guarantor: the log of the ratio (each count plus one), in bands.
ROLE_BANDS = ((2.0, "B2"), (0.5, "B1"), (-0.5, "N"), (-2.0, "G1"))
ROLE_UNKNOWN = "N"
MAX_COUNT = 6  # "named 6 times or more" is one feature


def party_roles(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each party's band of receiver against provider in the gold positions of `records`."""
    provider: Counter[str] = Counter()
    receiver: Counter[str] = Counter()
    for record in records:
        for p in record.get("positions", []):
            if p.get("beneficiary"):
                receiver[str(p["beneficiary"])] += 1
            if p.get("guarantor"):
                provider[str(p["guarantor"])] += 1
    return {party: _band(math.log((receiver[party] + 1) / (provider[party] + 1)))
            for party in sorted(receiver.keys() | provider.keys())}


def _band(log_ratio: float) -> str:
    for floor, name in ROLE_BANDS:
        if log_ratio > floor:
            return name
    return "G2"


def features(party: str, mentions: Sequence[PartyMention], title_end: int,
             roles: Mapping[str, str]) -> dict[str, float]:
    """What the ranker reads about one named party of an article."""
    counts = Counter(m.party for m in mentions)
    most = max(counts.values())
    by_count = sorted(counts, key=lambda p: -counts[p])  # ties in order of first mention
    first_named = list(counts)  # Counter keeps first-mention order
    order = beneficiary_order()
    place = order.index(party) if party in order else -1
    listed = "0" if place == 0 else "1-5" if 1 <= place <= 5 else "6+" if place > 5 else "no"
    share = counts[party] / most
    share_band = "top" if share == 1 else ">=.5" if share >= 0.5 else "<.5"
    own = [m for m in mentions if m.party == party]
    return {
        "L=" + listed: 1.0,
        "share=" + share_band: 1.0,
        f"L={listed}&share={share_band}": 1.0,
        f"rank={min(by_count.index(party) + 1, 4)}": 1.0,
        f"first={min(first_named.index(party) + 1, 4)}": 1.0,
        f"n={min(counts[party], MAX_COUNT)}": 1.0,
        "role=" + roles.get(party, ROLE_UNKNOWN): 1.0,
        "title": float(any(m.start < title_end for m in own)),
        "aggressor": float(party in AGGRESSORS),
        "adjective": float(any(m.kind == "J" for m in own)),
        "person": float(any(m.kind == "A" for m in own)),
    }


def choose(model: LinearModel, mentions: Sequence[PartyMention], title_end: int) -> str:
    """The likeliest beneficiary among the parties named (the first named of equals); the
    list's first when the article names none."""
    named = list(dict.fromkeys(m.party for m in mentions))
    if not named:
        return beneficiary_order()[0]
    roles = model.meta["roles"]
    assert isinstance(roles, dict)  # checked by `chooser`
    scores = model.label_scores([features(p, mentions, title_end, roles) for p in named], "yes")
    return named[scores.index(max(scores))]


def chooser(model: LinearModel) -> Chooser:
    """`choose` with its model bound, for `build_view` (a partial, so an extractor holding it
    still pickles into a re-extraction worker process)."""
    if not isinstance(model.meta.get("roles"), dict):
        raise ValueError("the beneficiary model has no `roles` in its metadata: run `make train`")
    return partial(choose, model)


def gold_beneficiary(record: Mapping[str, Any]) -> str | None:
    """The beneficiary most of an annotated article's positions have (the first of equals;
    positions without one are not counted)."""
    counts = Counter(str(p["beneficiary"]) for p in record.get("positions", [])
                     if p.get("beneficiary"))
    return counts.most_common(1)[0][0] if counts else None


def examples(articles: Iterable[tuple[Sequence[PartyMention], int, Mapping[str, Any]]],
             roles: Mapping[str, str]) -> list[tuple[dict[str, float], str]]:
    """For each annotated article whose beneficiary it names, every named party, labelled."""
    out = []
    for mentions, title_end, record in articles:
        gold = gold_beneficiary(record)
        named = list(dict.fromkeys(m.party for m in mentions))
        if gold is None or gold not in named:
            continue
        out += [(features(p, mentions, title_end, roles), "yes" if p == gold else "no")
                for p in named]
    return out
