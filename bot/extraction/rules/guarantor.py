"""Guarantor: who would provide a guarantee, where the text says ("European peacekeepers",
"troops from NATO countries", "expects Europe, not the US, to provide"), and a group speaking
through one of its members ("Macron said European allies would ...").
"""

from __future__ import annotations

from bisect import bisect_left
from functools import cache
from itertools import pairwise

from spacy.tokens import Span

from bot.extraction.attribution import FUNCTION_WORDS, Actor, Mention
from bot.extraction.lexicon import guarantee_lexicons, memberships
from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.speakers import object_context
from bot.extraction.rules.state import ArticleState
from bot.vocabulary import Guarantee, actors


def find_provider(
    st: ArticleState, chain: list[Hit], mentions: list[Mention], holders: list[Actor]
) -> str | None:
    """"expects Europe, not the US, to provide": the subject of a later cue in the chain."""
    held = {h.party for h in holders}
    for before, cue in pairwise(chain):
        for m in reversed(mentions):
            if before.end <= m.start and m.end <= cue.start and m.actor is not None \
                    and not m.possessive and not object_context(st, m) \
                    and m.kind not in ("first",) and m.actor.party not in held \
                    and m.actor.party not in st.not_guarantors:
                return m.actor.party
    return None


@cache
def _fixed_guarantors() -> dict[Guarantee, str | None]:
    """The guarantees whose guarantor the lexicon fixes (NATO for NATO membership)."""
    return {lex.guarantee: lex.guarantor for lex in guarantee_lexicons()}


def names_near(st: ArticleState, g: Hit, sent: Span) -> list[Hit]:
    """The names `find_guarantor` can take for a guarantee: those that start between the
    sentence's (or the guarantee's) start and end, in text order (as `st.names` is); found by
    bisection, not by reading every name of the article."""
    return st.names[bisect_left(st.name_starts, min(sent.start, g.start)):
                    bisect_left(st.name_starts, max(sent.end, g.end))]


def find_guarantor(
    st: ArticleState,
    g: Hit,
    guarantee: Guarantee,
    cues: list[Hit],
    mentions: list[Mention],
    sent: Span,
) -> str | None:
    """Who would provide it, where the text says: "European peacekeepers", "troops from
    NATO countries", "expects Europe to provide"."""
    fixed = _fixed_guarantors().get(guarantee)
    if fixed:
        return fixed
    names = names_near(st, g, sent)
    modifiers = [n.value for n in names if n.kind in ("J", "P")
                 and (g.start <= n.start < g.end or 0 <= g.start - n.end <= 3)
                 and all(w in ("and", ",", "-", '"', "“", "”", "'s", "’s")
                         or (w.isalpha() and w not in FUNCTION_WORDS)
                         for w in st.lower[n.end:g.start])
                 and not any(i in st.cue_tokens for i in range(n.end, g.start))
                 and not (n.start > 0 and st.lower[n.start - 1] == "not")
                 and n.start >= sent.start]
    modifiers = [m for m in modifiers if m not in st.not_guarantors]
    if modifiers:
        return group_guarantor(modifiers)
    after = [n for n in names if n.kind in ("J", "P", "A") and g.end <= n.start
             < min(sent.end, g.end + 12) and n.start > 0
             and (st.lower[n.start - 1] in ("from", "by")
                  or (n.start > 1 and st.lower[n.start - 2] in ("from", "by")
                      and st.lower[n.start - 1] == "the"))]
    for n in after:
        party = party_of(n)
        if party and party not in st.not_guarantors:
            return party
    return None


def as_member(holders: list[Actor], speaker: Actor | None, guarantor: str | None
               ) -> tuple[list[Actor], str | None]:
    """"Macron said European allies would ...": a group the speaker's state belongs to speaks
    through the speaker, who holds the position with the group as guarantor (the caller
    checks the clause is a reported future or possibility)."""
    if speaker is None:
        return holders, guarantor
    groups = memberships().get(speaker.party, frozenset())
    out: list[Actor] = []
    for holder in holders:
        if holder.party in groups:
            guarantor = guarantor or holder.party
            holder = speaker
        if holder not in out:
            out.append(holder)
    return out, guarantor


def party_of(hit: Hit) -> str | None:
    if hit.kind == "A":
        return actors()[hit.value].party
    return hit.value


def group_guarantor(codes: list[str]) -> str:
    """One guarantor for "British and French troops" (Europe) or "American" (usa)."""
    unique = list(dict.fromkeys(codes))
    if len(unique) > 1 and all("europe" in memberships().get(c, ()) or c in ("europe", "eu")
                                for c in unique):
        return "europe"
    return unique[0]
