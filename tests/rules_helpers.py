"""What the tests of the rule stages share: one short text read into an `ArticleState`, and the
pieces of one of its sentences as the extractor hands them to a stage."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from spacy.tokens import Span

from bot.extraction.attribution import Mention, Tracker
from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.pipeline import Hit, bucket
from bot.extraction.rules.speakers import find_speaker, sentence_mentions
from bot.extraction.rules.state import ArticleState, read_article


@dataclass
class Sentence:
    """One sentence of a read text, with its mentions, cues, guarantees and speaker."""

    st: ArticleState
    sent: Span
    mentions: list[Mention]
    cues: list[Hit]
    guarantees: list[Hit]

    def guarantee(self, value: str) -> Hit:
        found = [g for g in self.guarantees if g.value == value]
        assert found, self.guarantees
        return found[0]

    def speaker(self) -> str | None:
        actor = find_speaker(self.st, self.sent, self.mentions, self.cues)
        return actor.slug if actor else None


def read(extractor: RuleExtractor, text: str) -> ArticleState:
    doc = extractor.nlp(text)
    return read_article(doc, extractor.hits(doc))


def sentences(extractor: RuleExtractor, text: str) -> list[Sentence]:
    """Every sentence of `text`, mentions resolved in order as the extractor does."""
    st = read(extractor, text)
    sents = list(st.doc.sents)
    names, cues, guarantees = (bucket(hits, sents) for hits in (st.names, st.cues,
                                                                 st.guarantees))
    tracker = Tracker()
    return [Sentence(st, sent, sentence_mentions(st, sent, names[k], tracker), cues[k],
                     guarantees[k]) for k, sent in enumerate(sents)]


def sentence(extractor: RuleExtractor, text: str) -> Sentence:
    """The last sentence of `text` (earlier ones set the scene)."""
    return sentences(extractor, text)[-1]


def words(st: ArticleState, hit: Hit) -> str:
    return " ".join(st.words[hit.start:hit.end])


@cache
def shared_extractor() -> RuleExtractor:
    """One extractor for all the stage tests (its matchers take a moment to build)."""
    return RuleExtractor()
