"""The one-pass sentence splitter: spaCy's punctuation rule, plus line breaks and quotations."""

from __future__ import annotations

import random

import spacy

from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.sentences import TOKENS_KEY, token_lists

PLAIN = [
    "Ukraine wants guarantees. Hungary said no! Did France agree? Yes.",
    "Mr. Smith met Dr. Jones at 3 p.m. on Monday. They talked about troops...",
    "The U.S. would help, officials said; Germany would not. Poland?! Unclear.",
    "No stop at the end",
    "",
    ". . . Leading dots and trailing ones ...",
]
WORDS = ["Kyiv", "said", "troops", "the", "U.S.", "would", "not", "help", "NATO", "membership",
         ".", ",", "!", "?", ";", "...", "Mr.", "(", ")", "-", "3.5", "e.g."]


def _starts(doc: spacy.tokens.Doc) -> list[int]:
    return [s.start for s in doc.sents]


def test_plain_prose_splits_where_the_spacy_sentencizer_does() -> None:
    nlp = RuleExtractor().nlp
    reference = spacy.blank("en")
    reference.add_pipe("sentencizer")
    rng = random.Random(7)
    texts = PLAIN + [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))
                     for _ in range(300)]
    for text in texts:
        assert _starts(nlp(text)) == _starts(reference(text)), text


def test_a_line_break_starts_a_sentence_even_without_a_stop() -> None:
    doc = RuleExtractor().nlp("KYIV - officials said\nNATO membership remains the goal")
    assert [s.text.strip() for s in doc.sents] == ["KYIV - officials said",
                                                   "NATO membership remains the goal"]


def test_a_short_quotation_stays_in_its_sentence_and_a_stop_before_it_splits() -> None:
    doc = RuleExtractor().nlp('He spoke. "We will help. We will stay," Macron said.')
    sents = [s.text.strip() for s in doc.sents]
    assert sents == ["He spoke.", '"We will help. We will stay," Macron said.']


def test_the_kept_token_lists_match_a_fresh_walk() -> None:
    text = "Kyiv's NATO bid. The U.S. said\n“No,” Washington insisted."
    doc = RuleExtractor().nlp(text)
    kept = token_lists(doc)
    assert kept.words == [t.text for t in doc]
    assert kept.lower == [t.lower_ for t in doc]
    assert kept.title_case == [t.is_title for t in doc]
    assert kept.text == doc.text == text
    # a Doc made without the pass (or edited since) gets a fresh walk, not stale lists
    bare = spacy.blank("en")("Another text")
    assert TOKENS_KEY not in bare.user_data
    assert token_lists(bare).words == ["Another", "text"]
