"""Where an article names parties and guarantees: party mentions (people, names and
adjectives of states and groups) with lists of parties joined into one subject, and the
guarantee phrases the rules resolved, for `features` to describe."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from bot.extraction.rules import Hit
from bot.extraction.rules.pipeline import longest
from bot.vocabulary import Guarantee, actors, parties

LIST_JOINERS = frozenset({",", "and", "&", "or", "as", "well"})
LIST_CLOSERS = frozenset({"and", "&", "or"})  # a list's last joiner
PLACE_BEFORE = frozenset({"in", "at"})  # "In Washington, the ...": a place, not a member
MEMBERSHIP_GENERIC = (Guarantee.NATO_MEMBERSHIP.value, Guarantee.EU_MEMBERSHIP.value)


# a guarantee hit: (start token, end token, guarantee, how it was read: "G", "GI", "Mg")
GuaranteeHit = tuple[int, int, str, str]
# a guarantee phrase: (start token, end token, the guarantees it is read as)
GuaranteePhrase = tuple[int, int, frozenset[str]]


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


def join_lists(mentions: list[PartyMention], lower: list[str],
               speech_at: Collection[int] = ()) -> list[PartyMention]:
    """Mentions of one kind (people, or states and bodies) joined only by `LIST_JOINERS`
    (commas, "and", "or", "as well as") become one list. A member may open with "the" after a
    joiner ("Qatar, the United Arab Emirates and Egypt"), before an adjective only if the
    member before is one too ("the British and the French"); after a comma alone, only if an
    "and" or "or" follows later in the list ("Turkey, the NATO member, ..." is no list), and
    never after a lone place ("In Washington, the United States and ..."). A speaker after a
    comma is not one more member: neither a person ("to Ukraine, Keir Starmer said") nor a
    party that a speech word follows ("to Ukraine, Britain said", "to Ukraine, the United
    States said"; `speech_at`: where the speech words start)."""
    out: list[PartyMention] = []
    group: list[PartyMention] = []
    # for each member after the first: it opened with "the" after a comma alone, and no "and"
    # or "or" has come since; a list that never gets one ends before each such member
    marks: list[bool] = []

    def emit(members: list[PartyMention]) -> None:
        if len(members) == 1:  # no list: the list fields are read only when list_size > 1
            out.extend(members)
            return
        out.extend(replace(m, list_start=members[0].start, list_end=members[-1].end,
                           list_size=len(members)) for m in members)

    def flush() -> None:
        if len(group) == 1:  # most names stand alone
            out.append(group[0])
            return
        after = [w for w in lower[group[-1].end:group[-1].end + 2] if w != ","]
        if after[:1] and after[0] in LIST_CLOSERS:  # "..., the UK and others"
            marks[:] = [False] * len(marks)
        piece = [group[0]]
        for m, mark in zip(group[1:], marks, strict=True):
            if mark:
                emit(piece)
                piece = []
            piece.append(m)
        emit(piece)

    for m in mentions:
        # at most three joiners and a "the" between two members (`_joins`)
        if group and m.start - group[-1].end <= 4 and _joins(group, m, lower, speech_at):
            gap = _gap(group[-1], m, lower)
            closes = not LIST_CLOSERS.isdisjoint(gap)
            if closes:
                marks[:] = [False] * len(marks)
            marks.append(_opens_with_the(group[-1], m, lower) and not closes)
            group.append(m)
            continue
        if group:
            flush()
        group, marks = [m], []
    if group:
        flush()
    return out


def _opens_with_the(last: PartyMention, m: PartyMention, lower: list[str]) -> bool:
    """Whether `m` opens with "the": its own ("the alliance", "The Netherlands") or the word
    just before it, past the name before."""
    return lower[m.start] == "the" or (m.start - last.end >= 2 and lower[m.start - 1] == "the")


def _gap(last: PartyMention, m: PartyMention, lower: list[str]) -> list[str]:
    """The words between two names, a "the" that opens the second left out."""
    gap = lower[last.end:m.start]
    return gap[:-1] if gap and gap[-1] == "the" and len(gap) >= 2 else gap


def _joins(group: list[PartyMention], m: PartyMention, lower: list[str],
           speech_at: Collection[int]) -> bool:
    last = group[-1]
    gap = _gap(last, m, lower)
    if not all(w in LIST_JOINERS for w in gap) or len(gap) > 3:
        return False
    if (m.kind == "A") != (last.kind == "A"):  # people and states make separate lists
        return False
    if gap == [","] and m.end in speech_at:  # "to Ukraine, Britain said"
        return False
    if _opens_with_the(last, m, lower):
        if not gap or (m.kind == "J" and last.kind != "J"):
            return False  # "told Kyiv the United States", "in Kinshasa, the Congolese ..."
        lone_place = (len(group) == 1 and last.start > 0
                      and lower[last.start - 1] in PLACE_BEFORE)
        if gap == [","] and lone_place:  # "In Washington, the United States and Ukraine"
            return False
    return True


def party_mentions(hits: list[Hit]) -> list[PartyMention]:
    """Every person, name or adjective of a known party the rules found, the longest of hits
    that overlap, in text order."""
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


def guarantee_phrases(gs: list[GuaranteeHit]) -> list[GuaranteePhrase]:
    """A sentence's guarantee phrases: hits that overlap merged into one phrase with all their
    guarantees (an unplaced "membership" read as NATO's and the EU's is one phrase); a
    membership word inside a phrase the rules resolved ("EU membership") adds no reading."""
    resolved = [h for h in gs if h[3] != "Mg"]
    generic = [h for h in gs if h[3] == "Mg"
               and not any(h[0] < r[1] and r[0] < h[1] for r in resolved)]
    out: list[GuaranteePhrase] = []
    for start, end, g, _ in sorted(resolved + generic):
        if out and start < out[-1][1]:
            first, last, names = out[-1]
            out[-1] = (first, max(last, end), names | {g})
        else:
            out.append((start, end, frozenset({g})))
    return out
