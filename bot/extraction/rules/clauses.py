"""Clauses: where the clause a cue governs ends (boundary words, "said that", a closing quote,
", and the Kremlin ...", "as Washington weighs ..."), and how two guarantees of one sentence
relate (a list, a part named after "including").
"""

from __future__ import annotations

from itertools import pairwise

from spacy.tokens import Span

from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.state import MODALS, ArticleState

# Adverbs that end no clause when set off by commas: "He questioned, however, whether".
PARENTHETICAL = frozenset({"however", "meanwhile"})
SUBJECT_PRONOUNS = frozenset({"he", "she", "they", "we", "i", "it"})
# An obligation is reported like a modal: "Macron said Europe had to be ready to ...".
OBLIGATION = frozenset({"must", "ought", "needs", "has to", "have to", "had to"})
# After a comma, words that add a part to what was just named.
CONTINUATIONS = frozenset({"including", "notably", "especially", "particularly", "such",
                           "namely", "chiefly", "mainly", "starting"})


# The words the token checks below can start from (each checks its own word first).
OPENS_A_CLAUSE = frozenset({":", '"', "”", "as", "and", "with"})


def clause_boundaries(st: ArticleState, sent: Span, cues: list[Hit]) -> list[int]:
    """Tokens that end the clause a cue governs: boundary words, "said that" / "adding
    that", the closing quote of '"...," X said', a colon, and "as" opening a new clause
    with its own subject ("X pledges troops as Y signals support")."""
    out = [c.start for c in cues if c.kind == "C" and c.value == "boundary"
           and not parenthetical(st, c)]
    name_starts = {n.start for n in st.names}
    for c in cues:
        if c.kind == "S" and subject_at(st, c.end, sent, name_starts) and \
                st.lower[c.start] not in st.attr.not_subject:
            # "he said this week he opposed ...": the reported clause starts after the verb
            out.append(c.end - 1)
        if c.kind == "S":
            for j in range(c.end, min(c.end + 4, sent.end)):
                if st.lower[j] == "that":
                    out.append(j)
                    break
                if st.lower[j] in (",", ".", '"', "“", "”", ":"):
                    break
    lower = st.lower
    out += [i for i in range(sent.start + 1, sent.end - 1)
            if lower[i] in OPENS_A_CLAUSE and (
                colon(st, i, sent) or closing_quote(st, i)
                or as_clause(st, i, name_starts) or and_clause(st, i, sent, name_starts)
                or with_clause(st, i, sent, name_starts))]
    return sorted(set(out))


def with_clause(st: ArticleState, i: int, sent: Span, name_starts: set[int]) -> bool:
    """", with Brazil's adviser suggesting a buffer zone": an absolute clause with a
    subject of its own ends the clause before it."""
    return st.lower[i] == "with" and st.lower[i - 1] == "," and \
        subject_at(st, i + 1, sent, name_starts) and \
        st.lower[i + 1] not in SUBJECT_PRONOUNS and \
        "," not in st.lower[i + 1:min(sent.end, i + 9)]  # not ", with X's support, are"


def parenthetical(st: ArticleState, c: Hit) -> bool:
    """"He questioned, however, whether ...": an adverb between commas ends no clause."""
    return (st.lower[c.start] in PARENTHETICAL and c.start > 0 and c.end < len(st.lower)
            and st.lower[c.start - 1] == "," and st.lower[c.end] == ",")


def subject_at(st: ArticleState, j: int, sent: Span, name_starts: set[int]) -> bool:
    """Does a subject (a name, "the" and a name, or a personal pronoun) start at `j`?"""
    if j >= sent.end:
        return False
    if j in name_starts or st.lower[j] in SUBJECT_PRONOUNS:
        return True
    return st.lower[j] == "the" and j + 1 in name_starts


def and_clause(st: ArticleState, i: int, sent: Span, name_starts: set[int]) -> bool:
    """", and the Kremlin has insisted ...": a new subject after ", and" opens a clause
    of its own, so a cue of the clause before does not compose with its cues."""
    if st.lower[i] != "and":
        return False
    that = i + 1 < sent.end and st.lower[i + 1] == "that"
    if that and "that" in st.lower[sent.start:i]:
        return True  # "said that X ... and that Y": a second reported clause
    return st.lower[i - 1] == "," and (
        subject_at(st, i + 1, sent, name_starts) or that)  # ", and that ..."


def colon(st: ArticleState, i: int, sent: Span) -> bool:
    return st.lower[i] == ":" and i > sent.start + 2


def closing_quote(st: ArticleState, i: int) -> bool:
    """The closing mark of '"...," X said' (after punctuation, or before a comma)."""
    return st.lower[i] in ('"', "”") and (
        st.lower[i - 1] in (",", ".", "?", "!") or st.lower[i + 1] == ",")


def as_clause(st: ArticleState, i: int, name_starts: set[int]) -> bool:
    """"as Washington weighs ...", not "such as Britain" or "as well as"."""
    if st.lower[i] != "as" or st.lower[i - 1] in ("such", "well", "same", "so", "just",
                                                       "known"):
        return False
    return i + 1 in name_starts or (st.lower[i + 1] == "the" and i + 2 in name_starts)


def reported_future(st: ArticleState, begin: int, end: int) -> bool:
    """A modal or an obligation in the clause: "would", "could", "had to", "must"."""
    words = st.lower[begin:end]
    return any(w in MODALS or w in OBLIGATION for w in words) or any(
        f"{a} {b}" in OBLIGATION for a, b in pairwise(words))


def continued_guarantee(st: ArticleState, previous: Hit, g: Hit) -> bool:
    """"... Ukraine's security, including through a presence on the ground": a part of
    the guarantee before shares its stance."""
    gap = [w for w in st.lower[previous.end:g.start] if w not in ('"', "“", "”")]
    return 2 <= len(gap) <= 6 and gap[0] == "," and gap[1] in CONTINUATIONS and not any(
        w in (",", ";", ".") for w in gap[2:])


def coordinated_guarantees(st: ArticleState, previous: Hit, g: Hit) -> bool:
    gap = st.lower[previous.end:g.start]
    return len(gap) <= 3 and all(w in (",", "and", "or", "nor", "as", "well", "&")
                                 for w in gap)
