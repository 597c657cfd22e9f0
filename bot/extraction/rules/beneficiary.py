"""Whose security an article is about: its beneficiary, taken from the text.

`data/beneficiaries.toml` lists the parties that receive guarantees, most common first; an
article's beneficiary is the one of them it names most often (ties: the earlier in the list; the
first of the list when it names none). For the rules the beneficiary decides how a position reads:
a holder that is the beneficiary `seeks` a guarantee, any other party `backs` it, and the
beneficiary (like the aggressors) is never the guarantor of its own guarantee. Inside the
combined extractor the learned ranker (`bot.extraction.learned.beneficiary`, which also finds
parties off the list) reads the beneficiary and gives it to the rules (`RuleExtractor.analyse`);
its model, not this rule, decides the stance.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Protocol

from bot.extraction.attribution import Actor
from bot.extraction.rules.pipeline import Hit, longest
from bot.vocabulary import Guarantee, Stance, actors, parties

# Parties whose troops are never the guarantee ("Russian troops would not enter"), whatever the
# conflict; the article's beneficiary joins them.
AGGRESSORS = frozenset({"rus", "blr", "prk"})


class Named(Protocol):
    """Anything that names one party: a mention of the learned stage, a rule's name hit."""

    @property
    def party(self) -> str: ...


@cache
def beneficiary_order() -> tuple[str, ...]:
    """Parties that receive guarantees, most common first (`beneficiaries.toml`)."""
    path = resources.files("bot.extraction").joinpath("data/beneficiaries.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return tuple(str(code) for code in data["parties"])


def article_beneficiary(mentions: Iterable[Named]) -> str:
    """The conflict party the article names most often ('ukr', the first listed, when it names
    none)."""
    order = beneficiary_order()
    counts = Counter(m.party for m in mentions if m.party in order)
    if not counts:
        return order[0]
    return max(counts, key=lambda code: (counts[code], -order.index(code)))


class _Party:
    __slots__ = ("party",)

    def __init__(self, party: str) -> None:
        self.party = party


def named_parties(hits: list[Hit]) -> list[_Party]:
    """The party of each name in the text (actors by their party, names and adjectives), the
    longest match where names overlap."""
    known = actors()
    states = parties()
    out = []
    for h in longest([h for h in hits if h.kind in ("A", "P", "J")]):
        party = known[h.value].party if h.kind == "A" and h.value in known else (
            h.value if h.kind != "A" else None)
        if party is not None and party in states:
            out.append(_Party(party))
    return out


def beneficiary_of(hits: list[Hit]) -> str:
    """The beneficiary of an article from its phrase matches."""
    return article_beneficiary(named_parties(hits))


def not_guarantors(beneficiary: str) -> frozenset[str]:
    """Parties that never provide the guarantee in an article about `beneficiary`."""
    return AGGRESSORS | {beneficiary}


def stance_of(polarity: str, holder: Actor, beneficiary: str) -> Stance:
    """The stance a polarity gives a holder: support is `seeks` from the beneficiary."""
    if polarity == "doubt":
        return Stance.DOUBTS
    if polarity == "negative":
        return Stance.OPPOSES
    return Stance.SEEKS if holder.party == beneficiary else Stance.BACKS


def default_guarantor(holder: Actor, stance: Stance, guarantee: Guarantee, beneficiary: str
                      ) -> str | None:
    """A party that backs or refuses a guarantee would give it, unless it is the beneficiary."""
    if holder.party == beneficiary:
        return None
    if stance in (Stance.BACKS, Stance.OPPOSES):
        return holder.party
    return None
