"""Where an article names parties and guarantees: party mentions (people, names and
adjectives of states and groups) with lists of parties joined into one subject, and the
guarantee phrases the rules resolved, for `features` to describe."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from bot.extraction.rules import Hit
from bot.vocabulary import Guarantee, actors, parties

LIST_JOINERS = frozenset({",", "and", "&", "or", "as", "well"})
LIST_CLOSERS = frozenset({"and", "&", "or"})  # a list's last joiner
MEMBERSHIP_GENERIC = (Guarantee.NATO_MEMBERSHIP.value, Guarantee.EU_MEMBERSHIP.value)


# a guarantee phrase: (start token, end token, guarantee, how it was read: "G", "GI", "Mg")
GuaranteeHit = tuple[int, int, str, str]


@dataclass(frozen=True)
class PartyMention:
    """Where a party is named (tokens), how, and the list it is part of."""

    start: int
    end: int
    party: str
    kind: str  # A actor, P name, J adjective, S speaker carried, R rule proposal only
    actor: str | None = None
    # a coordinated list of parties ("Germany, Italy and Poland") acts as one subject
    list_start: int = -1
    list_end: int = -1
    list_size: int = 1

    @property
    def head_start(self) -> int:
        return self.list_start if self.list_size > 1 else self.start

    @property
    def head_end(self) -> int:
        return self.list_end if self.list_size > 1 else self.end


def longest(hits: list[Hit]) -> list[Hit]:
    """Of hits that overlap, the longest (the first of equals), in text order."""
    taken: set[int] = set()
    out = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        if any(i in taken for i in range(hit.start, hit.end)):
            continue
        taken.update(range(hit.start, hit.end))
        out.append(hit)
    return sorted(out, key=lambda h: h.start)


def join_lists(mentions: list[PartyMention], lower: list[str],
               speech_at: Collection[int] = ()) -> list[PartyMention]:
    """Mentions of one kind (people, or states and bodies) joined only by `LIST_JOINERS`
    (commas, "and", "or", "as well as") become one list. A member may open with "the" after a
    joiner ("Qatar, the United Arab Emirates and Egypt"), unless it is an adjective ("in
    Kinshasa, the Congolese ministry"); after a comma alone, only if an "and" or "or" joins a
    later member ("Turkey, the NATO member, ..." is no list). A speaker after a comma is not
    one more member: neither a person ("to Ukraine, Keir Starmer said") nor a party that a
    speech word follows ("to Ukraine, Britain said", "to Ukraine, the United States said";
    `speech_at`: where the speech words start)."""
    out: list[PartyMention] = []
    group: list[PartyMention] = []
    # for each member after the first: did it join after ", the" with no "and"/"or"?
    tentative: list[bool] = []

    def emit(members: list[PartyMention]) -> None:
        if len(members) == 1:  # no list: the list fields are read only when list_size > 1
            out.extend(members)
            return
        out.extend(replace(m, list_start=members[0].start, list_end=members[-1].end,
                           list_size=len(members)) for m in members)

    def flush() -> None:
        # a member that joined after ", the" stands only if an "and" or "or" joined a member
        # after it (which clears the mark): else the list ends before it
        cut = next((i + 1 for i, mark in enumerate(tentative) if mark), len(group))
        emit(group[:cut])
        if cut < len(group):
            emit(group[cut:])

    for m in mentions:
        gap = lower[group[-1].end:m.start] if group else []
        the = len(gap) >= 2 and gap[-1] == "the" and m.kind != "J"
        if the:  # the name's own article, after a joiner
            gap = gap[:-1]
        if group and all(w in LIST_JOINERS for w in gap) and \
                m.start - group[-1].end <= 3 and (m.kind == "A") == (group[-1].kind == "A") \
                and not (gap == [","] and m.end in speech_at):
            group.append(m)
            closes = not LIST_CLOSERS.isdisjoint(gap)
            tentative.append(the and not closes)
            if closes:
                tentative[:] = [False] * len(tentative)
            continue
        flush()
        group = [m]
        tentative = []
    flush()
    return out


def party_mentions(hits: list[Hit]) -> list[PartyMention]:
    known = actors()
    states = parties()
    out = []
    for h in longest([h for h in hits if h.kind in ("A", "P", "J")]):
        if h.kind == "A":
            actor = known.get(h.value)
            if actor is not None and actor.party in states:
                out.append(PartyMention(h.start, h.end, actor.party, "A", h.value))
        elif h.value in states:
            out.append(PartyMention(h.start, h.end, h.value, h.kind))
    return out


def guarantee_hits(resolved: list[Hit], hits: list[Hit]) -> list[GuaranteeHit]:
    """(start, end, guarantee, how) for each guarantee phrase the rules resolved (`G` direct,
    `GI` inverse: "a cap on the army"; references such as "the mission" included), and each
    membership word they could not place, read as either NATO or EU membership (`Mg`)."""
    out = [(h.start, h.end, h.value, h.kind) for h in resolved]
    placed = {h.start for h in resolved}
    for h in hits:
        if h.kind == "M" and h.start not in placed:
            out += [(h.start, h.end, v, "Mg") for v in MEMBERSHIP_GENERIC]
    return out


def article_mentions(hits: list[Hit], lower: list[str]) -> list[PartyMention]:
    """Every party the article names, in text order, lists of parties joined."""
    speech_at = {h.start for h in hits if h.kind in ("S", "SP")}
    return join_lists(party_mentions(hits), lower, speech_at)


def guarantee_phrases(gs: list[GuaranteeHit]) -> list[tuple[int, int, frozenset[str]]]:
    """A sentence's guarantee phrases, hits that overlap merged into one phrase with all their
    guarantees (a "membership" read as NATO's and the EU's, inside "NATO membership" or not)."""
    out: list[tuple[int, int, frozenset[str]]] = []
    for start, end, g, _ in sorted(gs):
        if out and start < out[-1][1]:
            first, last, names = out[-1]
            out[-1] = (first, max(last, end), names | {g})
        else:
            out.append((start, end, frozenset({g})))
    return out
