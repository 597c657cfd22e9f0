"""Sentence boundaries in one pass over the tokens, and the token lists later stages read.

News puts a sentence after every line break (datelines, bullets, Q&A turns) and must not be
split inside a short quotation; elsewhere a sentence ends at final punctuation, as spaCy's
`sentencizer` decides it. Walking a `Doc` builds a Python object per token, so this one walk
also keeps each token's text, lower case and title case, and the text, for
`state.read_article`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from spacy.attrs import IS_PUNCT, IS_SPACE, IS_TITLE, LOWER, ORTH, SENT_START, SPACY
from spacy.language import Language
from spacy.pipeline.sentencizer import Sentencizer
from spacy.tokens import Doc
from thinc.types import Ints2d

QUOTES_OPEN = {"“", "«", "‘"}
QUOTES_CLOSE = {"”", "»", "’"}
MAX_QUOTE_TOKENS = 120
FINAL_PUNCTUATION = frozenset(Sentencizer.default_punct_chars)
TOKENS_KEY = "guarantees_tokens"
SENTENCES_COMPONENT = "guarantees_sentences"  # registered with spaCy when this module loads


@dataclass(frozen=True)
class TokenLists:
    """What the rules read of each token, by token index."""

    words: list[str]
    lower: list[str]
    title_case: list[bool]
    text: str  # the Doc's text: `Doc.text` walks every token again to rebuild it


def token_lists(doc: Doc) -> TokenLists:
    """The lists the sentence pass kept, or a fresh walk for a `Doc` made without it."""
    kept = doc.user_data.get(TOKENS_KEY)
    if isinstance(kept, list | tuple) and len(kept) == 4 and len(kept[0]) == len(doc):
        words, lower, title_case, text = kept  # a serialised Doc gives them back as tuples
        return TokenLists(list(words), list(lower), list(title_case), str(text))
    return TokenLists([t.text for t in doc], [t.lower_ for t in doc], [t.is_title for t in doc],
                      doc.text)


@Language.component(SENTENCES_COMPONENT)
def split_sentences(doc: Doc) -> Doc:
    """Mark sentence starts: line breaks and quotation rules first, final punctuation (the
    `sentencizer`'s reading) for every token they leave open."""
    # one array call and C-level maps instead of a Token object (and six properties) a token
    columns = doc.to_array([ORTH, LOWER, SPACY, IS_SPACE, IS_PUNCT, IS_TITLE]).T.tolist()
    lookup = doc.vocab.strings.__getitem__
    words: list[str] = list(map(lookup, columns[0]))
    lower: list[str] = list(map(lookup, columns[1]))
    spaces = [" " if trailing else "" for trailing in columns[2]]
    is_space, is_punct = columns[3], columns[4]
    title_case = [bool(t) for t in columns[5]]
    starts: list[int] = []  # 1 starts a sentence, -1 does not
    inside = False
    opened = -1
    # the previous token's text and whether it is a space token ("" for none); a trailing
    # space (`whitespace_`) is one " " at most, so a line break is always a token's own text
    prev_text, prev_space = "", False
    seen_period = False
    for i, text in enumerate(words):
        space = bool(is_space[i])  # an int from the array; compiled, a bool is checked
        # the sentencizer's guess: a token after final punctuation that is no punctuation
        final = text in FINAL_PUNCTUATION
        guess = i == 0
        if seen_period and not final and not is_punct[i]:
            guess, seen_period = True, False
        elif final:
            seen_period = True
        mark = 0
        if i > 0 and "\n" in prev_text and not space:
            mark, inside = 1, False
        else:
            if i > 0 and prev_space:
                mark = -1
            opens = text in QUOTES_OPEN or (text == '"' and not inside)
            if opens and i > 0 and prev_text in (".", "!", "?"):
                mark = 1
            if text == '"':
                inside, opened = not inside, i
            elif text in QUOTES_OPEN:
                inside, opened = True, i
            elif text in QUOTES_CLOSE:
                inside = False
            elif inside and i - opened < MAX_QUOTE_TOKENS and i > 0:
                mark = -1
        starts.append(mark or (1 if guess else -1))
        prev_text, prev_space = text, space
    if len(doc):
        # spaCy reads attribute arrays as uint64: -1 goes in as its two's complement
        array = np.array(starts, dtype=np.int64).astype(np.uint64).reshape(-1, 1)
        doc.from_array([SENT_START], cast(Ints2d, array))
    text = "".join(w + s for w, s in zip(words, spaces, strict=True))
    # plain lists and a string, so that the Doc still serialises (msgpack, DocBin, n_process)
    doc.user_data[TOKENS_KEY] = (words, lower, title_case, text)
    return doc
