"""The spaCy side of the rules: a blank English pipeline with a quote- and line-aware sentence
splitter, and the PhraseMatchers built once from the TOML lexicons.

Every later stage works on `Hit`s (a token range, a kind and a value) and on plain token lists;
none of them touches spaCy beyond the `Doc` and its sentences.

Kinds of hit: G guarantee phrase, GI inverse guarantee ("a cap on the army"), GP guarantee only
right after a party word, M membership word, R reference ("the proposal"), C stance cue (its value
is the cue class), CA cue after the guarantee, S speech verb, SP speech phrase, T title,
A actor, P party name, J party adjective, L place below the state (`bot/data/places.toml`),
which `places.official_places` turns into its party's name where an official of it speaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from bot.extraction.lexicon import (
    attribution_lexicon,
    cue_lexicon,
    guarantee_lexicons,
    reference_lexicon,
)
from bot.extraction.rules.sentences import SENTENCES_COMPONENT
from bot.vocabulary import actors, parties, places

# Tables of cues.toml that are word lists for rules, not cue classes.
NOT_CUES = frozenset({"sending", "leading"})


@dataclass(frozen=True)
class Hit:
    """One matched phrase: token range, what it is and its value."""

    start: int
    end: int
    kind: str
    value: str


class Matchers:
    """The pipeline and its two PhraseMatchers (lower-cased and case-exact), built on first use."""

    def __init__(self) -> None:
        self._nlp: Language | None = None
        self._lower: PhraseMatcher | None = None
        self._orth: PhraseMatcher | None = None
        self._labels: dict[int, tuple[str, str]] = {}

    def _build(self) -> None:
        nlp = spacy.blank("en")
        nlp.add_pipe(SENTENCES_COMPONENT)
        lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        labels: dict[int, tuple[str, str]] = {}

        def add(matcher: PhraseMatcher, kind: str, value: str, phrases: list[str]) -> None:
            key = f"{kind}|{value}"
            labels[nlp.vocab.strings.add(key)] = (kind, value)
            docs = [nlp.make_doc(p) for p in dict.fromkeys(phrases) if p.strip()]
            if docs:
                matcher.add(key, docs)

        for lex in guarantee_lexicons():
            add(lower, "G", lex.guarantee.value, list(lex.phrases))
            add(lower, "GI", lex.guarantee.value, list(lex.inverse))
            add(lower, "GP", lex.guarantee.value, list(lex.after_party))
        cues = cue_lexicon()
        for cls, words in cues.words.items():
            if cls not in NOT_CUES:
                add(lower, "C", cls, list(words))
        for cls, words in cues.after.items():
            add(lower, "CA", cls, list(words))
        refs = reference_lexicon()
        add(lower, "M", "eu", list(refs.membership_eu))
        add(lower, "M", "", list(refs.membership_other))
        add(lower, "R", "generic", list(refs.generic))
        for value, nouns in refs.typed.items():
            add(lower, "R", value, list(nouns))
        attr = attribution_lexicon()
        add(lower, "S", "speech", list(attr.speech))
        add(lower, "SP", "speech", list(attr.speech_phrases))
        add(lower, "T", "title", list(attr.titles))
        for slug, actor in actors().items():
            cased = [a for a in actor.aliases if a != a.lower()]
            add(orth, "A", slug, with_the(cased))
            add(lower, "A", slug, [a for a in actor.aliases if a == a.lower()])
        for code, party in parties().items():
            names = [*party.names, *party.capitals, *party.metonyms]
            add(orth, "P", code, with_the([n for n in names if n != n.lower()]))
            add(lower, "P", code, [n for n in names if n == n.lower()])
            only_adjectives = [a for a in party.adjectives if a not in names]
            add(orth, "J", code, only_adjectives)
        by_party: dict[str, list[str]] = {}
        for place, code in places().items():
            by_party.setdefault(code, []).append(place)
        for code, names in by_party.items():
            add(orth, "L", code, names)
        self._nlp, self._lower, self._orth, self._labels = nlp, lower, orth, labels

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._build()
        assert self._nlp is not None
        return self._nlp

    def hits(self, doc: Doc) -> list[Hit]:
        """Every phrase of every lexicon in the parsed text, overlaps included."""
        if self._lower is None:
            self._build()
        assert self._lower is not None and self._orth is not None
        found = []
        for matcher in (self._lower, self._orth):
            for match_id, start, end in matcher(doc):
                kind, value = self._labels[match_id]
                found.append(Hit(start, end, kind, value))
        return found


def with_the(names: list[str]) -> list[str]:
    """Names with a leading "the" also match without it and with "The"."""
    out: list[str] = []
    for name in names:
        if name.startswith("the "):
            bare = name[4:]
            out += [bare, "The " + bare]
        else:
            out.append(name)
    return out


def longest(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping hits, longer first, then earlier."""
    taken: set[int] = set()
    result = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        span = range(hit.start, hit.end)
        if not taken.isdisjoint(span):
            continue
        taken.update(span)
        result.append(hit)
    return sorted(result, key=lambda h: h.start)


def longest_per_kind(hits: list[Hit]) -> list[Hit]:
    """Cue hits: speech cues and stance cues may share a token, stance cues among themselves
    keep the longest."""
    speech = longest([h for h in hits if h.kind in ("S", "SP")])
    stance = longest([h for h in hits if h.kind == "C" and h.value not in (
        "negator", "timing", "boundary", "partial")])
    after = longest([h for h in hits if h.kind == "CA"])
    extra = [h for h in hits if h.kind == "C" and h.value in ("negator", "timing", "boundary",
                                                              "partial")]
    taken = {i for h in stance for i in range(h.start, h.end)}
    extra = [h for h in longest(extra) if not any(i in taken for i in range(h.start, h.end))
             or h.value == "timing"]
    return sorted(speech + stance + after + extra, key=lambda h: (h.start, h.end))


def bucket(hits: list[Any], sents: list[Span]) -> list[list[Any]]:
    """Hits grouped by the sentence they start in."""
    out: list[list[Any]] = [[] for _ in sents]
    starts = [s.start for s in sents]
    k = 0
    for hit in sorted(hits, key=lambda h: h.start):
        while k + 1 < len(starts) and starts[k + 1] <= hit.start:
            k += 1
        out[k].append(hit)
    return out
