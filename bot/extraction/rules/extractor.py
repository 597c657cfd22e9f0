"""The rule-based extractor: the stages put together, sentence by sentence.

For each article: `state.read_article` resolves its guarantees and cues; then for each sentence
the mentions are built (`bot.extraction.attribution`), its speaker found (`speakers`), and for
each guarantee in it the clause's polarity and holders read (`polarity`, `holders`), its
guarantor found (`guarantor`), and the stance named by the article's beneficiary
(`beneficiary`). Positions are kept per (party, stance, guarantee), the best sentence winning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from spacy.language import Language
from spacy.tokens import Doc, Span

from bot.extraction.attribution import Actor, Mention, Tracker
from bot.extraction.plaintext import normalise
from bot.extraction.rules.beneficiary import default_guarantor, stance_of
from bot.extraction.rules.clauses import (
    clause_boundaries,
    continued_guarantee,
    coordinated_guarantees,
    reported_future,
)
from bot.extraction.rules.guarantees import compared, skip
from bot.extraction.rules.guarantor import as_member, find_guarantor
from bot.extraction.rules.holders import answer_after, passive_after, relative_clause
from bot.extraction.rules.pipeline import Hit, Matchers, bucket
from bot.extraction.rules.places import official_places
from bot.extraction.rules.polarity import cues_before, read_stance
from bot.extraction.rules.speakers import (
    dateline_end,
    find_speaker,
    group_of_speaker,
    pronoun_after_speech,
    quote_speaker,
    sentence_mentions,
)
from bot.extraction.rules.state import ArticleState, read_article
from bot.models import Article, Position
from bot.vocabulary import Guarantee, Stance, parties


@dataclass(frozen=True)
class Proposal:
    """One (holder, stance, guarantee) the rules proposed in one sentence, before the article's
    positions were deduplicated: `quality` 0 headline, 1 lead, 2 body."""

    sentence: int
    actor: str
    party: str
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    quality: int


@dataclass(frozen=True)
class RuleAnalysis:
    """What the rules saw in one article: their positions, their proposals by sentence, the
    speaker they resolved for each sentence, and every phrase match."""

    positions: list[Position]
    proposals: list[Proposal]
    speakers: list[Actor | None]
    hits: list[Hit]
    guarantees: list[Hit]  # guarantee phrases, memberships and references resolved
    beneficiary: str = "ukr"  # the party the article's guarantees are for
    # the article's text and lower-cased tokens, for later stages (spaCy rebuilds them)
    text: str = ""
    lower: list[str] = field(default_factory=list)


@dataclass
class Found:
    """A position before it becomes a `Position`: kept per article by its key."""

    actor: Actor
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    evidence: str
    quality: int


class RuleExtractor:
    """Rules over spaCy matches; `extract` is safe to call from one thread at a time."""

    name = "rules"
    version = "1.33"

    def __init__(self) -> None:
        self._matchers = Matchers()

    @property
    def nlp(self) -> Language:
        return self._matchers.nlp

    def extract(self, article: Article) -> list[Position]:
        """Positions of one article, at most one per (party, stance, guarantee), their
        evidence quoted from the article as it came (`plaintext`)."""
        plain = normalise(article.text)
        # bound first: compiled (bot.native), `self.nlp(text)` in one expression handed the
        # matchers the pipeline instead of the Doc
        nlp = self.nlp
        positions = self.analyse(nlp(plain.text)).positions
        if plain.unchanged:
            return positions
        return [replace(p, evidence=plain.restore(p.evidence)) for p in positions]

    def analyse(self, doc: Doc, hits: list[Hit] | None = None,
                beneficiary: str | None = None) -> RuleAnalysis:
        """The rules' positions for a parsed article, with every proposal they made on the way
        (for a later stage that decides among them) and the speaker of each sentence.
        `hits`: the article's phrase matches when already found (`RuleExtractor.hits`);
        `beneficiary`: whose security the article is about when a later stage has read it
        (else the rules' list)."""
        st = read_article(doc, self.hits(doc) if hits is None else hits, beneficiary)
        run = _Collected(st)
        positions = run.run()
        return RuleAnalysis(positions, run.proposals, run.speakers, st.hits, st.guarantees,
                            st.beneficiary, st.text, st.lower)

    def hits(self, doc: Doc) -> list[Hit]:
        """Every phrase match of the lexicons in a parsed article, a place below the state
        only where an official of it speaks (`places.official_places`)."""
        return official_places(self._matchers.hits(doc), doc)


@dataclass
class _Collected:
    """What one article's run gathers sentence by sentence."""

    st: ArticleState
    tracker: Tracker = field(default_factory=Tracker)
    found: dict[tuple[str, Stance, Guarantee], Found] = field(default_factory=dict)
    proposals: list[Proposal] = field(default_factory=list)
    speakers: list[Actor | None] = field(default_factory=list)
    sentence_index: int = 0
    speaker_group: list[Actor] = field(default_factory=list)

    def run(self) -> list[Position]:
        st = self.st
        sents = list(st.doc.sents)
        names_by_sent = bucket(st.names, sents)
        guarantees_by_sent = bucket(st.guarantees, sents)
        cues_by_sent = bucket(st.cues, sents)
        speakers = self.speakers
        for k, sent in enumerate(sents):
            mentions = sentence_mentions(st, sent, names_by_sent[k], self.tracker)
            speaker = find_speaker(st, sent, mentions, cues_by_sent[k])
            if speaker is not None:
                pronoun_after_speech(st, speaker, mentions, cues_by_sent[k])
            self.speaker_group = group_of_speaker(st, speaker, mentions, cues_by_sent[k])
            speakers.append(speaker)
            if speaker is not None and speaker.person:
                # "he" in the next sentence is most often the one who just spoke, not the
                # last person named inside an aside ("X, who met Y, said ...")
                self.tracker.person = speaker
            if guarantees_by_sent[k]:
                self._sentence(sent, k, sents, mentions, guarantees_by_sent[k], cues_by_sent[k])
        # A headline squeezes several clauses into one line: where the body gives the same
        # party a stance on the same guarantee, the body's stance stands alone.
        stated = {(key[0], key[2]) for key, f in self.found.items() if f.quality > 0}
        kept = [f for key, f in self.found.items()
                if f.quality > 0 or (key[0], key[2]) not in stated]
        return [
            Position(
                actor=f.actor.slug,
                party=f.actor.party,
                stance=f.stance,
                guarantee=f.guarantee,
                guarantor=f.guarantor,
                beneficiary=st.beneficiary,
                evidence=f.evidence,
            )
            for f in kept
        ]

    def _sentence(
        self,
        sent: Span,
        k: int,
        sents: list[Span],
        mentions: list[Mention],
        guarantees: list[Hit],
        cues: list[Hit],
    ) -> None:
        st, speakers = self.st, self.speakers
        self.sentence_index = k
        speaker = speakers[k] or quote_speaker(st, k, sents, speakers)
        own_speaker = speakers[k] is not None
        text = st.text
        evidence = text[sent.start_char:sent.end_char].strip()
        # A headline is a poor piece of evidence, the lead's summary a weak one: a body
        # sentence saying the same wins.
        headline = sent.start_char == 0 and "\n" in text
        lead = dateline_end(st, sent) > sent.start or (
            k == 1 and "\n" in text[:sent.start_char]
            and "\n" not in text[sents[0].end_char:sent.start_char].strip())
        quality = 0 if headline else (1 if lead else 2)
        boundaries = clause_boundaries(st, sent, cues)
        previous: Hit | None = None
        previous_result: tuple[list[Actor], str | None, str | None] | None = None
        provider: str | None = None
        done: set[tuple[str, Guarantee]] = set()
        for g in guarantees:
            guarantee = Guarantee(g.value)
            if skip(st, g) or compared(st, g, sent):
                continue
            clause = max([b + 1 for b in boundaries if b < g.start], default=sent.start)
            start = max(clause, previous.end if previous else sent.start)
            if previous is not None and previous_result and (
                coordinated_guarantees(st, previous, g) or continued_guarantee(st, previous, g)
                or (g.start - previous.end <= 3 and not cues_before(st, start, g, cues))
            ):
                holders, polarity, _ = previous_result
            else:
                holders, polarity, provider = read_stance(st, sent, g, start, cues, mentions,
                                                          speaker, clause, own_speaker)
                if polarity is None:
                    holders, polarity = relative_clause(st, sent, g, cues, mentions, speaker)
                if polarity is None:
                    holders, polarity = passive_after(st, sent, g, cues, mentions)
            previous = g
            if speaker is not None and holders == [speaker] and self.speaker_group and \
                    own_speaker:
                holders = list(self.speaker_group)
            guarantor = find_guarantor(st, g, guarantee, cues, mentions, sent) or provider
            if reported_future(st, clause, g.start):
                holders, guarantor = as_member(holders, speaker, guarantor)
            previous_result = (holders, polarity, guarantor)
            answer = answer_after(st, sent, g, cues, mentions, guarantees)
            if answer is not None and (answer.party, guarantee) not in done:
                done.add((answer.party, guarantee))
                self._add(answer, Stance.OPPOSES, guarantee, guarantor
                          if guarantor and guarantor == answer.party else None, evidence, quality)
            if polarity is None:
                continue
            for holder in holders:
                if (holder.party, guarantee) in done:
                    continue
                done.add((holder.party, guarantee))
                stance = stance_of(polarity, holder, st.beneficiary)
                self._add(holder, stance, guarantee, guarantor, evidence, quality)

    def _add(self, holder: Actor, stance: Stance, guarantee: Guarantee, guarantor: str | None,
             evidence: str, quality: int) -> None:
        if not holder.party or holder.party not in parties():
            return
        if guarantor is None:
            guarantor = default_guarantor(holder, stance, guarantee, self.st.beneficiary)
        self.proposals.append(Proposal(self.sentence_index, holder.slug, holder.party, stance,
                                       guarantee, guarantor, quality))
        key = (holder.party, stance, guarantee)
        old = self.found.get(key)
        if old is not None and old.quality >= quality:
            return
        if old is not None:  # keep the first holder and guarantor, take the better sentence
            holder, guarantor = old.actor, old.guarantor
        self.found[key] = Found(holder, stance, guarantee, guarantor, evidence, quality)
