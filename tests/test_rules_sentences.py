"""The one-pass sentence splitter: spaCy's punctuation rule, plus line breaks and quotations."""

from __future__ import annotations

import random

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.sentences import (
    MAX_QUOTE_TOKENS,
    QUOTES_CLOSE,
    QUOTES_OPEN,
    TOKENS_KEY,
    token_lists,
)

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


@Language.component("reference_sentence_marks")
def _reference_marks(doc: Doc) -> Doc:
    """The splitter before the one-pass rewrite, kept as the oracle: these marks ran first and
    spaCy's `sentencizer` (overwrite=False) filled in every token they left open."""
    inside = False
    opened = -1
    prev_text, prev_ws, prev_space = "", "", False
    for token in doc:
        text, ws, space = token.text, token.whitespace_, token.is_space
        if token.i > 0 and ("\n" in prev_text or "\n" in prev_ws) and not space:
            token.is_sent_start = True
            inside = False
            prev_text, prev_ws, prev_space = text, ws, space
            continue
        if token.i > 0 and prev_space:
            token.is_sent_start = False
        if (text in QUOTES_OPEN or (text == '"' and not inside)) and token.i > 0 \
                and prev_text in (".", "!", "?"):
            token.is_sent_start = True
        if text == '"':
            inside, opened = not inside, token.i
        elif text in QUOTES_OPEN:
            inside, opened = True, token.i
        elif text in QUOTES_CLOSE:
            inside = False
        elif inside and token.i - opened < MAX_QUOTE_TOKENS and token.i > 0:
            token.is_sent_start = False
        prev_text, prev_ws, prev_space = text, ws, space
    return doc


NEWS_BITS = ["Kyiv", "said", "troops", "NATO", "would", "not", ".", "!", "?", "...", ",", '"',
             "“", "”", "«", "»", "‘", "’", "\n", "\n\n", "  ", "\t", "—", "Q:", "A:", "•",
             "Mr.", "U.S.", "(", ")", "'s"]


def test_news_text_splits_as_the_previous_two_component_splitter_did() -> None:
    nlp = RuleExtractor().nlp
    reference = spacy.blank("en")
    reference.add_pipe("reference_sentence_marks")
    reference.add_pipe("sentencizer")
    rng = random.Random(11)
    texts = ["", " ", "\n", '"', "word", "“" + " x" * (MAX_QUOTE_TOKENS + 5) + ". y”. Next."]
    texts += ["".join(rng.choice(NEWS_BITS) + rng.choice(["", " ", " ", "\n"])
                      for _ in range(rng.randint(1, 80))) for _ in range(1500)]
    for text in texts:
        assert _starts(nlp(text)) == _starts(reference(text)), repr(text)


def test_parsed_docs_still_serialise() -> None:
    nlp = RuleExtractor().nlp
    doc = nlp('KYIV - "We want guarantees," he said.\nNATO said no.')
    again = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert [s.text for s in again.sents] == [s.text for s in doc.sents]
    assert token_lists(again).words == [t.text for t in doc]
    bin_ = DocBin(store_user_data=True)
    bin_.add(doc)
    assert len(list(DocBin().from_bytes(bin_.to_bytes()).get_docs(nlp.vocab))) == 1
