"""Speakers: who a sentence reports ("X said", "said X", "according to X", a quotation whose
speaker is named next to it), and where a name is no subject at all (after a preposition, a
place, a dateline).

Mentions themselves (names, titles, pronouns and what they refer to) are built and resolved in
`bot.extraction.attribution`; this stage reads them.
"""

from __future__ import annotations

from spacy.tokens import Span

from bot.extraction.attribution import (
    Actor,
    Mention,
    Tracker,
    build_mentions,
    coordinated,
    resolve,
)
from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.state import ArticleState
from bot.vocabulary import actors

# Between the comma closing an appositive and the speech verb: "X, which ..., has said".
APPOSITIVE_AUX = frozenset({"has", "have", "had", "also", "later", "then", "again",
                            "previously", "repeatedly", "publicly"})
# Words that open an inserted phrase after a name: "Medvedev, now deputy head of ...",
# "Romania and Bulgaria, both NATO members, said".
APPOSITIVE_OPENERS = frozenset({"who", "which", "a", "an", "the", "now", "both", "then",
                                "himself", "herself", "itself", "formerly", "once", "whose"})
# Words between a preposition and a place: "in western Ukraine" is no subject.
REGIONS = frozenset({"western", "eastern", "southern", "northern", "central", "occupied",
                     "southeastern", "northeastern", "southwestern", "northwestern", "free",
                     "independent", "wartime", "postwar", "post-war", "neighbouring",
                     "neighboring"})
# Prepositions of place: "flying from bases in Poland and Romania" names no subject.
PLACE_PREPOSITIONS = frozenset({"in", "from", "at", "near", "across", "over", "via", "through",
                                "within", "inside"})


def sentence_mentions(st: ArticleState, sent: Span, names: list[Hit], tracker: Tracker
                      ) -> list[Mention]:
    """The mentions of one sentence from its name matches (not those of a dateline), resolved
    against the actors named before (`tracker`, updated)."""
    dateline = dateline_end(st, sent)
    spans = [(h.start, h.end, h.kind, h.value) for h in names if h.start >= dateline]
    mentions = build_mentions(
        st.words, st.lower, st.title_case, spans, sent.start, sent.end,
        st.attr, st.in_guarantee, st.cue_tokens,
    )
    resolve(mentions, tracker, st.lower)
    return mentions


def dateline_end(st: ArticleState, sent: Span) -> int:
    """"ROME, Aug 21 (Reuters) - Italy will ...": the place and date before the dash name
    no one who speaks; the first token after the dash, else the sentence start."""
    first = st.words[sent.start]
    if not (first.isalpha() and first.isupper() and len(first) > 1):
        return sent.start
    for j in range(sent.start + 1, min(sent.end, sent.start + 15)):
        if st.lower[j] in ("-", "—", "–", "--"):
            return j + 1
    return sent.start


def find_speaker(st: ArticleState, sent: Span, mentions: list[Mention], cues: list[Hit]
                 ) -> Actor | None:
    """Who the sentence reports: "X said", "said X", "X told", "according to X"."""
    speech = [c for c in cues if c.kind in ("S", "SP")]
    for cue in speech:
        if cue.kind == "SP":
            after = [m for m in mentions if cue.end <= m.start <= cue.end + 1 and m.actor]
            if after:
                return after[0].actor
            continue
        after = [m for m in mentions if m.start == cue.end and m.actor]
        if after and after[0].kind.endswith("pronoun") and st.lower[cue.start - 1] == ",":
            after = []  # "X and Y, both members, said they ...": no inverted subject
        if after and (cue.start == sent.start or st.lower[cue.start - 1] in (",", '"', "”")):
            return after[0].actor
        head = appositive_subject(st, sent, cue, mentions)
        if head is not None:
            return head
        before = [m for m in mentions if m.end <= cue.start and m.actor
                  and cue.start - m.end <= 3 and not m.possessive
                  and not object_context(st, m)]
        if before:
            actor = before[-1].actor
            if before[-1].kind == "first":
                continue
            return actor
    return None


def pronoun_after_speech(st: ArticleState, speaker: Actor, mentions: list[Mention],
                          cues: list[Hit]) -> None:
    """"Finland, which borders Russia, has said it will not ...": a pronoun right after
    the speech verb is the speaker when it fits (a person for "he", a state for "it")."""
    ends = {c.end for c in cues if c.kind == "S"}
    for m in mentions:
        if m.start not in ends and not (m.start - 1 in ends and st.lower[m.start - 1]
                                        == "that"):
            continue
        fits = (m.kind == "person-pronoun" and speaker.person) or (
            m.kind == "thing-pronoun" and not speaker.person)
        if fits and m.actor != speaker:
            m.actor, m.members = speaker, [speaker]
        if m.kind == "group-pronoun":
            # "Romania and Bulgaria, both NATO members, said they were ready"
            idx = next((n for n, s in enumerate(mentions) if s.actor == speaker
                        and s.end <= m.start), None)
            group = coordinated(mentions, idx, st.lower) if idx is not None else []
            if len(group) > 1:
                m.actor, m.members = group[0], group


def group_of_speaker(st: ArticleState, speaker: Actor | None, mentions: list[Mention],
                   cues: list[Hit]) -> list[Actor]:
    """"Both leaders said": everyone the speaking mention stands for."""
    if speaker is None:
        return []
    speech = {c.start for c in cues if c.kind == "S"}
    for m in mentions:
        if m.actor == speaker and len(m.members) > 1 and m.kind in ("pair", "group-pronoun") \
                and any(0 <= s - m.end <= 2 for s in speech):
            return list(m.members)
    return []


def appositive_subject(st: ArticleState, sent: Span, cue: Hit, mentions: list[Mention]
                        ) -> Actor | None:
    """"Lavrov, Russia's foreign minister, said" and "Healey, who co-chaired the meeting
    with Lecornu, said": the name before the inserted phrase speaks, not the last name."""
    j = cue.start - 1
    while j > sent.start and st.lower[j] in APPOSITIVE_AUX:
        j -= 1  # "Finland, which borders Russia, has said"
    if j <= sent.start or st.lower[j] != ",":
        return None
    name_starts = {n.start for n in st.names}
    for m in mentions:
        if m.end >= cue.start - 1 or m.actor is None or m.possessive or m.kind == "first":
            continue
        if m.end + 1 >= sent.end or st.lower[m.end] != ",":
            continue
        if object_context(st, m):
            continue
        nxt = st.lower[m.end + 1]
        if nxt in APPOSITIVE_OPENERS or m.end + 1 in name_starts:
            return m.actor
    return None


def object_context(st: ArticleState, m: Mention) -> bool:
    """Is the mention after a preposition ("to Ukraine") or "not" ("not the US")?"""
    k = word_before(st.lower, m.start)
    return k >= 0 and st.lower[k] in st.attr.not_subject


def word_before(lower: list[str], start: int, floor: int = 0) -> int:
    """The token before `start` that governs a name, past articles and words of region ("to
    the United States", "in eastern Ukraine"), not before `floor`; -1 if there is none."""
    k = start - 1
    while k >= floor and (lower[k] in ("the", "a", "an") or lower[k] in REGIONS):
        k -= 1
    return k if k >= floor else -1


def in_place(st: ArticleState, m: Mention) -> bool:
    """Is the mention a place after a preposition of place ("bases in Poland")?"""
    k = m.start - 1
    while k >= 0 and (st.lower[k] in ("the", "a", "an") or st.lower[k] in REGIONS):
        k -= 1
    return k >= 0 and st.lower[k] in PLACE_PREPOSITIONS


def _blank(sent: Span) -> bool:
    """Is the sentence only white space (a paragraph break)?"""
    return all(t.is_space for t in sent)


def quote_speaker(st: ArticleState, k: int, sents: list[Span], speakers: list[Actor | None]
                   ) -> Actor | None:
    """A quotation whose speaker is named in the sentence before or after."""
    sent = sents[k]
    if not any(w in ('"', "“", "”") for w in st.lower[sent.start:sent.end]):
        return None
    if k + 1 < len(sents) and speakers[k] is None:
        nxt = sents[k + 1]
        mentions_next = [n for n in st.names if nxt.start <= n.start < nxt.start + 3]
        if mentions_next and mentions_next[0].kind == "A":
            return Actor(mentions_next[0].value, actors()[mentions_next[0].value].party,
                         person=True)
    j = k - 1
    # a paragraph that opens with a quotation goes on with the speaker before the blank (the
    # test outside the loop: with it inside, mypyc wrote C that does not compile)
    if st.lower[sent.start] in ('"', "“"):
        while j > 0 and speakers[j] is None and _blank(sents[j]):
            j -= 1
    return speakers[j] if j >= 0 and k > 0 else None
