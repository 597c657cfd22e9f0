"""What every stage of the rules reads about one article: its tokens and its matches.

`read_article` runs the stages that only look at matches (guarantee spans, cues) once per
article; the stages that work sentence by sentence (speakers, polarity, holders) take the
resulting `ArticleState` as their first argument and never change it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spacy.tokens import Doc

from bot.extraction.lexicon import AttributionLexicon, attribution_lexicon, cue_lexicon
from bot.extraction.rules.beneficiary import beneficiary_of, not_guarantors
from bot.extraction.rules.guarantees import find_guarantees
from bot.extraction.rules.pipeline import Hit, longest, longest_per_kind
from bot.extraction.rules.sentences import token_lists

# A reported future or possibility: "Macron said European allies would ...".
MODALS = frozenset({"would", "will", "could", "can", "might", "may", "should", "'ll", "’ll"})
BE = frozenset({"is", "are", "was", "were", "be", "been", "being"})


@dataclass
class ArticleState:
    """One article's tokens and matches, shared by the stages."""

    doc: Doc
    words: list[str]
    lower: list[str]
    title_case: list[bool]
    hits: list[Hit]  # every phrase match, as the matchers gave them
    # actors, parties, adjectives and titles, without overlaps, in text order; never changed
    # once the state is built (`name_starts` is read from it then)
    names: list[Hit]
    beneficiary: str
    not_guarantors: frozenset[str]
    attr: AttributionLexicon
    timing_words: frozenset[str]
    after_words: frozenset[str]  # one-word praise after a guarantee ("bid")
    guarantees: list[Hit] = field(default_factory=list)  # resolved, in text order
    in_guarantee: set[int] = field(default_factory=set)
    cues: list[Hit] = field(default_factory=list)  # stance, speech and after cues
    cue_tokens: set[int] = field(default_factory=set)

    text: str = ""  # the doc's text, kept once: spaCy rebuilds it from the tokens each time
    name_starts: list[int] = field(init=False)  # where each of `names` starts, in order

    def __post_init__(self) -> None:
        self.name_starts = [n.start for n in self.names]


def read_article(doc: Doc, hits: list[Hit], beneficiary: str | None = None) -> ArticleState:
    """The state of one parsed article with its phrase matches: guarantees resolved (party
    words, memberships, references, copulas), cues outside guarantees and names. The
    beneficiary is read from the list (`beneficiary_of`) unless a later stage gives its own."""
    if beneficiary is None:
        beneficiary = beneficiary_of(hits)
    cues_lex = cue_lexicon()
    tokens = token_lists(doc)  # kept by the sentence pass: no second walk over the Doc
    words, lower, title_case = tokens.words, tokens.lower, tokens.title_case
    st = ArticleState(
        text=tokens.text,
        doc=doc,
        words=words,
        lower=lower,
        title_case=title_case,
        hits=list(hits),
        names=longest([h for h in hits if h.kind in ("A", "P", "J", "T")]),
        beneficiary=beneficiary,
        not_guarantors=not_guarantors(beneficiary),
        attr=attribution_lexicon(),
        timing_words=frozenset(cues_lex.words.get("timing", ())),
        after_words=frozenset(w for w in cues_lex.after.get("positive", ()) if " " not in w),
    )
    hits = list(hits)
    guarantees, praise = find_guarantees(st, hits)
    st.guarantees = guarantees
    st.in_guarantee = {i for g in guarantees for i in range(g.start, g.end)}
    cue_hits = [h for h in [*hits, *praise] if h.kind in ("C", "CA", "S", "SP")]
    cue_hits = [h for h in cue_hits if not any(i in st.in_guarantee
                                              for i in range(h.start, h.end))]
    in_name = {i for n in st.names for i in range(n.start, n.end)}
    # "United States" is no "states"; "Western-supplied" is a modifier, no stance
    cue_hits = [h for h in cue_hits if not (h.kind in ("S", "SP") and h.start in in_name)
                and not (h.kind == "C" and h.start > 1 and st.lower[h.start - 1] == "-"
                         and st.words[h.start - 2].isalpha())]
    st.cues = longest_per_kind(cue_hits)
    st.cue_tokens = {i for c in st.cues if c.kind == "C" for i in range(c.start, c.end)}
    return st
