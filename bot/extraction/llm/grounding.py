"""From a model's answer to positions the article carries: validated, in the vocabulary,
grounded in a sentence, and about who and what the sentence names.

Each proposed position passes, in order:
1. pydantic validation of its fields (an item that fails is dropped, not the whole answer);
2. the vocabulary: party, stance and guarantee must be known ids (a guarantor or beneficiary
   outside it is cleared);
3. grounding: the evidence must occur verbatim in the article once whitespace and quotes are
   normalised (an elision "..." splits it into pieces that must all occur, in order, in one
   sentence); it is then replaced by its whole sentence, split as the rule extractor splits;
4. the sentence must not be addressed to a model (data/injection.toml);
5. the sentence (or the one before, for "he said" and quotes) must name the party, by one of
   its names or an actor of it, and must name the guarantee by the rules' lexicon (or refer
   back to one named just before).

Every drop is counted by reason and logged, so a model that invents is visible in the logs
and in `eval`.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from bot.extraction.lexicon import (
    guarantee_lexicons,
    memberships,
    party_slug,
    reference_lexicon,
    slugify,
)
from bot.models import Position
from bot.vocabulary import Guarantee, Stance, actors, parties

log = logging.getLogger(__name__)

BENEFICIARY = "ukr"
MIN_EVIDENCE_CHARS = 12
CONTEXT_SENTENCES = 1  # sentences before the evidence that may name the party
REFERENCE_WINDOW = 2  # sentences before a "the proposal" that may name its guarantee

QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"',
                        "‘": "'", "’": "'", "‚": "'", "‛": "'", "`": "'", "´": "'"})
ELISION = re.compile(r"\.\.\.|…|\[\.\.\.\]")


class ModelPosition(BaseModel):
    """One position as the model proposes it (fields of the prompt's schema)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    actor: str = ""
    party: str
    stance: str
    guarantee: str
    guarantor: str | None = None
    beneficiary: str | None = None
    evidence: str


class ModelAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    positions: list[Any]


class AnswerError(ValueError):
    """The answer as a whole is unusable (not JSON, not the schema's shape)."""


def parse_answer(content: str) -> list[Any]:
    """The raw items of an answer; raises AnswerError when it is not the schema's object."""
    text = content.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnswerError(f"malformed JSON ({exc.msg})") from None
    if isinstance(data, list):  # a bare list: lenient, the items are checked one by one
        data = {"positions": data}
    try:
        return ModelAnswer.model_validate(data).positions
    except ValidationError:
        raise AnswerError("JSON without a 'positions' list") from None


@dataclass
class GroundingReport:
    """What became of one answer's positions."""

    offered: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    instruction_sentences: int = 0

    def merge(self, other: GroundingReport) -> None:
        self.offered += other.offered
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.instruction_sentences += other.instruction_sentences

    def describe(self) -> str:
        drops = ", ".join(f"{reason} {n}" for reason, n in sorted(self.dropped.items()))
        return f"kept {self.kept} of {self.offered}" + (f"; dropped: {drops}" if drops else "")


def normalise(text: str) -> tuple[str, list[int]]:
    """Text with quotes unified, compatibility forms folded and whitespace runs as one space;
    with the offset in `text` of each character of the result."""
    out: list[str] = []
    origin: list[int] = []
    space = False
    for i, char in enumerate(text):
        if char.isspace():
            if out and not space:
                out.append(" ")
                origin.append(i)
            space = True
            continue
        space = False
        for piece in unicodedata.normalize("NFKC", char.translate(QUOTES)).translate(QUOTES):
            out.append(piece)
            origin.append(i)
    return "".join(out), origin


def _pieces(evidence: str) -> list[str]:
    """The evidence as normalised pieces: split at elisions, without wrapping quotes."""
    text, _ = normalise(evidence)
    pieces = []
    for piece in ELISION.split(text):
        piece = piece.strip().strip("\"'").strip()
        if piece:
            pieces.append(piece)
    return pieces


@cache
def injection_phrases() -> tuple[str, ...]:
    raw = resources.files("bot.extraction").joinpath("data", "injection.toml").read_text(
        encoding="utf-8")
    table = tomllib.loads(raw)
    return tuple(p.lower() for p in table["addressed_to_model"]["phrases"])


def addressed_to_model(sentence: str) -> bool:
    folded = normalise(sentence)[0].lower()
    return any(phrase in folded for phrase in injection_phrases())


@dataclass(frozen=True)
class _Sentence:
    start: int  # character offsets in the article
    end: int
    text: str
    parties: frozenset[str]
    guarantees: frozenset[str]
    references: frozenset[str]  # guarantee ids a reference noun here may stand for; "*": any
    to_model: bool  # addressed to a language model: never evidence, never context


class Grounder:
    """Grounds answers against articles. Built once; uses the rule extractor's pipeline for
    the sentences (the same splitting as the rules) and its vocabulary for the matchers."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self._matchers: tuple[PhraseMatcher, PhraseMatcher] | None = None
        self._labels: dict[int, tuple[str, str]] = {}
        self._actor_by_name: dict[str, str] = {}

    def _build(self) -> tuple[PhraseMatcher, PhraseMatcher]:
        lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        orth = PhraseMatcher(self.nlp.vocab, attr="ORTH")

        def add(matcher: PhraseMatcher, kind: str, value: str, phrases: list[str]) -> None:
            key = f"llm-grounding|{kind}|{value}"
            self._labels[self.nlp.vocab.strings.add(key)] = (kind, value)
            docs = [self.nlp.make_doc(p) for p in dict.fromkeys(phrases) if p.strip()]
            if docs:
                matcher.add(key, docs)

        for lex in guarantee_lexicons():
            add(lower, "G", lex.guarantee.value,
                [*lex.phrases, *lex.inverse, *lex.after_party])
        refs = reference_lexicon()
        add(lower, "R", "*", list(refs.generic))
        for value, nouns in refs.typed.items():
            add(lower, "R", value, list(nouns))
        add(lower, "G", Guarantee.EU_MEMBERSHIP.value, list(refs.membership_eu))
        add(lower, "R", "membership", list(refs.membership_other))
        for code, party in parties().items():
            words = [*party.names, *party.capitals, *party.metonyms, *party.adjectives]
            add(orth, "P", code, [w for w in words if w != w.lower()])
            add(lower, "P", code, [w for w in words if w == w.lower()])
        for slug, actor in actors().items():
            names = [actor.name, *actor.aliases]
            add(orth, "A", actor.party, [n for n in names if n != n.lower()])
            for name in names:
                self._actor_by_name.setdefault(name.lower(), slug)
        return lower, orth

    def sentences(self, text: str) -> list[_Sentence]:
        if self._matchers is None:
            self._matchers = self._build()
        doc: Doc = self.nlp(text)
        found: dict[int, list[tuple[str, str]]] = {}
        sents = list(doc.sents)
        starts = [s.start for s in sents]
        for matcher in self._matchers:
            for match_id, start, _end in matcher(doc):
                k = max(i for i, s in enumerate(starts) if s <= start)
                found.setdefault(k, []).append(self._labels[match_id])
        out = []
        for k, sent in enumerate(sents):
            body = text[sent.start_char:sent.end_char].strip()
            if not body:  # the blank "sentence" between two line breaks
                continue
            labels = found.get(k, [])
            named = {v for kind, v in labels if kind in ("P", "A")}
            # a group is named through its members too: "French and British troops"
            named |= {g for code in list(named) for g in memberships().get(code, ())}
            out.append(_Sentence(
                start=sent.start_char,
                end=sent.end_char,
                text=body,
                parties=frozenset(named),
                guarantees=frozenset(v for kind, v in labels if kind == "G"),
                references=frozenset(v for kind, v in labels if kind == "R"),
                to_model=addressed_to_model(body),
            ))
        return out

    def ground(
        self, article_id: str, text: str, items: list[Any]
    ) -> tuple[list[Position], GroundingReport]:
        """The positions of `items` the article carries; every drop counted by reason."""
        report = GroundingReport(offered=len(items))
        sentences = self.sentences(text)
        report.instruction_sentences = sum(s.to_model for s in sentences)
        if report.instruction_sentences:
            log.warning("article %s: %d sentence(s) addressed to a language model; no position"
                        " is taken from them", article_id, report.instruction_sentences)
        norm, origin = normalise(text)
        known = parties()
        kept: dict[tuple[str, str, str], Position] = {}
        for item in items:
            reason, position = self._one(item, norm, origin, sentences, known)
            if position is None:
                report.dropped[reason] += 1
                continue
            if position.key in kept:
                report.dropped["duplicate"] += 1
                continue
            kept[position.key] = position
        report.kept = len(kept)
        if report.dropped:
            log.info("article %s: model positions %s", article_id, report.describe())
        return list(kept.values()), report

    def _one(
        self, item: Any, norm: str, origin: list[int], sentences: list[_Sentence],
        known: dict[str, Any],
    ) -> tuple[str, Position | None]:
        try:
            proposed = ModelPosition.model_validate(item)
        except ValidationError:
            return "malformed_item", None
        party = proposed.party.lower()
        if party not in known:
            return "unknown_party", None
        if proposed.stance.lower() not in Stance.__members__.values():
            return "unknown_stance", None
        if proposed.guarantee.lower() not in Guarantee.__members__.values():
            return "unknown_guarantee", None
        stance, guarantee = Stance(proposed.stance.lower()), Guarantee(proposed.guarantee.lower())
        pieces = _pieces(proposed.evidence)
        if sum(len(p) for p in pieces) < MIN_EVIDENCE_CHARS:
            return "evidence_too_short", None
        candidates = _sentences_holding(pieces, norm, origin, sentences)
        if not candidates:
            return "evidence_not_in_article", None
        reason = "party_not_named"
        for k in candidates:
            sentence = sentences[k]
            if sentence.to_model:
                reason = "addressed_to_model"
                continue
            context = sentences[max(0, k - CONTEXT_SENTENCES):k + 1]
            if not any(party in s.parties for s in context if not s.to_model):
                reason = "party_not_named"
                continue
            if not _names_guarantee(guarantee, sentences, k):
                reason = "guarantee_not_named"
                continue
            guarantor = proposed.guarantor.lower() if proposed.guarantor else None
            beneficiary = proposed.beneficiary.lower() if proposed.beneficiary else None
            return "", Position(
                actor=self._actor_slug(proposed.actor, party),
                party=party,
                stance=stance,
                guarantee=guarantee,
                guarantor=guarantor if guarantor in known else None,
                beneficiary=beneficiary if beneficiary in known else BENEFICIARY,
                evidence=sentence.text,
            )
        return reason, None

    def _actor_slug(self, name: str, party: str) -> str:
        if self._matchers is None:
            self._matchers = self._build()
        folded = " ".join(name.split()).lower()
        if folded in self._actor_by_name:
            return self._actor_by_name[folded]
        party_names = {n.lower() for n in (parties()[party].name, *parties()[party].names)}
        if not folded or folded in party_names or folded == party:
            return party_slug(party)
        return slugify(folded)[:80] or party_slug(party)


def _sentences_holding(
    pieces: list[str], norm: str, origin: list[int], sentences: list[_Sentence]
) -> list[int]:
    """Indices of the sentences that hold the evidence: every piece in order within one
    sentence; a single piece spanning sentences gives each sentence it touches."""
    starts = [s.start for s in sentences]

    def sentence_at(offset: int) -> int:
        k = 0
        while k + 1 < len(starts) and starts[k + 1] <= offset:
            k += 1
        return k

    found: list[int] = []
    at = norm.find(pieces[0])
    while at != -1:
        first = sentence_at(origin[at])
        end = at + len(pieces[0])
        last = sentence_at(origin[end - 1])
        ok, cursor = True, end
        for piece in pieces[1:]:
            nxt = norm.find(piece, cursor)
            if nxt == -1 or sentence_at(origin[nxt + len(piece) - 1]) != first:
                ok = False
                break
            cursor = nxt + len(piece)
        if ok:
            for k in range(first, (last if len(pieces) == 1 else first) + 1):
                if k not in found:
                    found.append(k)
        at = norm.find(pieces[0], at + 1)
    return found


def _names_guarantee(guarantee: Guarantee, sentences: list[_Sentence], k: int) -> bool:
    """The sentence names the guarantee, or refers back ("the force", "the proposal",
    "membership") to it named in the sentences just before."""
    sentence = sentences[k]
    if guarantee.value in sentence.guarantees:
        return True
    refs = sentence.references
    fits = "*" in refs or guarantee.value in refs or (
        "membership" in refs
        and guarantee in (Guarantee.NATO_MEMBERSHIP, Guarantee.EU_MEMBERSHIP))
    if not fits:
        return False
    before = [s for s in sentences[max(0, k - REFERENCE_WINDOW):k] if not s.to_model]
    return any(guarantee.value in s.guarantees for s in before) or (
        "membership" in refs and guarantee == Guarantee.NATO_MEMBERSHIP
        and "nato" in sentence.parties)
