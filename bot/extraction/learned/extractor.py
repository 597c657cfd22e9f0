"""The combined extractor: the rules propose, a trained linear model decides.

For each article (read as `plaintext` makes it) the rules run once (their positions, their
proposals by sentence, their speakers); `features.build_view` widens the proposals to every
plausible (sentence, party, guarantee); the model gives each a stance or `none`, discounted
where the same party is named beside a likelier guarantee (`discount_rivals`); the article
keeps a (party, stance, guarantee) when its candidates together clear the bar chosen on the
development split (`agreement`), quoting one of their sentences (`_evidence`).
Deterministic: same text, same positions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path

from spacy.language import Language

from bot.extraction.learned.beneficiary import chooser
from bot.extraction.learned.features import (
    GROUPS,
    UNLIKELY_STANCE,
    ArticleView,
    Candidate,
    build_view,
    read_beneficiary,
)
from bot.extraction.learned.guarantor import choose as choose_guarantor
from bot.extraction.learned.mentions import article_mentions
from bot.extraction.learned.model import LinearModel
from bot.extraction.lexicon import party_slug
from bot.extraction.plaintext import normalise
from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.sentences import token_lists
from bot.models import Article, Position
from bot.vocabulary import Guarantee, Stance

MODEL_FILES = {"combined": "combined.npz", "model": "model_only.npz"}
SENTENCE_MODEL = "sentences.npz"
GUARANTOR_MODEL = "guarantor.npz"
BENEFICIARY_MODEL = "beneficiary.npz"
ARTIFACTS = {**MODEL_FILES, "sentences": SENTENCE_MODEL, "guarantor": GUARANTOR_MODEL,
             "beneficiary": BENEFICIARY_MODEL}
RULE_PREFIXES = ("r=", "r_", "ra=")
# how a position's candidates are combined (`agreement`), in the version: it changes what is kept
AGGREGATION = "or"
# how the guarantees a party is named with in one sentence weigh on each other
# (`discount_rivals`), in the version for the same reason
RIVALS = "rv"
# whose a position's beneficiary is (`beneficiary_of`), in the version: it changes the output
SEEKER_BENEFICIARY = "bs"


@cache
def load_model(kind: str = "combined", directory: Path | None = None) -> LinearModel:
    """The committed model of `kind` (`combined` or `model`, the ablation without rule
    features; `sentences`, the guarantees a sentence speaks of; `guarantor`; `beneficiary`,
    whose security an article is about), read once per
    process; from `directory` instead of the package when given (training)."""
    name = ARTIFACTS[kind]
    if directory is not None:
        return LinearModel.load((directory / name).read_bytes())
    data = resources.files("bot.extraction.learned").joinpath(f"artifacts/{name}").read_bytes()
    return LinearModel.load(data)


def without_rules(features: dict[str, float]) -> dict[str, float]:
    """The features a model that never sees the rules' conclusions gets."""
    return {k: v for k, v in features.items() if not k.startswith(RULE_PREFIXES)}


@dataclass(frozen=True)
class Scored:
    candidate: Candidate
    stance: str
    probability: float


def opens_with_title(text: str, title: str) -> bool:
    """Whether the text's first line is the title (ingest puts it there; a bare text may not),
    both read as the pipeline reads them (`plaintext`)."""
    first = " ".join(normalise(text.lstrip().split("\n", 1)[0]).text.casefold().split())
    title = " ".join(normalise(title).text.casefold().split())
    return bool(title) and (first == title or first.startswith(title) or title.startswith(first))


def agreement(probabilities: list[float]) -> float:
    """The chance that at least one of several candidates of a position is right, each taken
    on its own (a noisy OR): a stance stated in three sentences is surer than one stated once.
    Chosen over the likeliest candidate alone on dev, real news and writers held out of
    training (BENCHMARKS.md, *Round 13*)."""
    missed = 1.0
    for p in probabilities:
        missed *= 1.0 - p
    return 1.0 - missed


def discount_rivals(scored: list[Scored]) -> list[Scored]:
    """Each candidate's probability times its ratio to the likeliest candidate of the same
    party in the same sentence (p * p / best): a party named beside several guarantees is
    read as speaking of the one the model finds likeliest; the others keep their weight only
    as far as they come close. The model judges each candidate alone and cannot see this.
    Chosen on dev (the test splits of rounds 12 and 14-18 +0.005 to +0.011, round 19's
    +0.003, paired), writers held out of training (+0.009) and real news (-0.006, within its
    noise): BENCHMARKS.md, *Round 20*."""
    keys = [(s.candidate.sentence, s.candidate.party) for s in scored]
    best: dict[tuple[int, str], float] = {}
    for s, key in zip(scored, keys, strict=True):
        best[key] = max(best.get(key, 0.0), s.probability)
    out = []
    for s, key in zip(scored, keys, strict=True):
        top = best[key]  # when it is 0, every candidate of the group is a best one
        out.append(s if s.probability >= top else
                   Scored(candidate=s.candidate, stance=s.stance,
                          probability=s.probability * s.probability / top))
    return out


def _ruled(s: Scored) -> bool:
    """Whether the rules themselves proposed this candidate's stance."""
    return "r=" + s.stance in s.candidate.features


def _evidence(view: ArticleView, group: list[Scored], bar: Callable[[Scored], float]) -> Scored:
    """The candidate whose sentence a position quotes: among those that clear their own bar
    (all of them when none does), one from the body rather than the headline, then the
    likeliest."""
    cleared = [s for s in group if s.probability >= bar(s)] or group
    return max(cleared, key=lambda s: (not (view.headline and s.candidate.sentence == 0),
                                       s.probability))


def by_position(scored: list[Scored]) -> dict[tuple[str, str, str], list[Scored]]:
    """The candidates of each (party, stance, guarantee), in their order."""
    out: dict[tuple[str, str, str], list[Scored]] = {}
    for s in scored:
        out.setdefault((s.candidate.party, s.stance, s.candidate.guarantee), []).append(s)
    return out


def weigh(group: list[Scored]) -> tuple[float, bool]:
    """A position's confidence (`agreement` of its candidates) and whether the rules proposed
    it anywhere (then the rules' bar applies)."""
    return agreement([s.probability for s in group]), any(_ruled(s) for s in group)


def beneficiary_of(party: str, stance: str, article_beneficiary: str) -> str:
    """A position's beneficiary: the party itself when a state seeks a guarantee (the would-be
    receiver wants it, whatever side the article is mostly about: Azerbaijan's own demands in
    an article on Armenia's security); else whose security the article is about."""
    return party if stance == Stance.SEEKS.value and party not in GROUPS else article_beneficiary


class CombinedExtractor:
    """Rules as candidate generators and features, a linear model as the decision."""

    name = "combined"

    def __init__(self, kind: str = "combined", rules: RuleExtractor | None = None,
                 threshold: float | None = None, artifacts: Path | None = None) -> None:
        self.kind = kind
        self.rules = rules or RuleExtractor()
        self._model = load_model(kind, artifacts)
        self._sentences = load_model("sentences", artifacts)
        self._guarantor = load_model("guarantor", artifacts)
        beneficiary = load_model("beneficiary", artifacts)
        self._beneficiary = chooser(beneficiary)
        meta = self._model.meta
        default = float(str(meta.get("threshold", 0.5)))
        # the rules' own proposals and the model's additions clear different bars
        self.threshold_ruled = threshold if threshold is not None else float(
            str(meta.get("threshold_ruled", default)))
        self.threshold_new = threshold if threshold is not None else float(
            str(meta.get("threshold_new", default)))
        # the pruning bar changes which candidates exist, so it is part of the version too;
        # so are the bars (a retraining that only moves them keeps the models' hashes)
        self.version = (f"{self.rules.version}+{self._model.meta.get('version', '0')}"
                        f"{self._sentences.meta.get('version', '0')}"
                        f"{self._guarantor.meta.get('version', '0')}"
                        f"{beneficiary.meta.get('version', '0')}"
                        f"u{UNLIKELY_STANCE:g}"
                        f"{AGGREGATION}{RIVALS}{SEEKER_BENEFICIARY}"
                        f"t{self.threshold_ruled:g}-{self.threshold_new:g}")
        if kind != "combined":
            self.name = "model"

    @property
    def nlp(self) -> Language:
        """The rules' spaCy pipeline (tokens and sentences), for whoever needs the same."""
        return self.rules.nlp

    def scored(self, article: Article) -> tuple[ArticleView, list[Scored]]:
        """Every candidate of the article with its most likely stance and that stance's
        probability, rivals in its sentence discounted (`discount_rivals`)."""
        plain = normalise(article.text)
        # bound first: compiled (bot.native), `self.rules.nlp(text)` in one expression handed
        # the matchers the pipeline instead of the Doc
        nlp = self.rules.nlp
        doc = nlp(plain.text)
        headline = opens_with_title(plain.text, article.title)
        hits = self.rules.hits(doc)
        mentions = article_mentions(hits, token_lists(doc).lower)
        # the rules read the ranker's beneficiary too: their seeks and backs follow it
        beneficiary = read_beneficiary(doc, hits, self._beneficiary, headline=headline,
                                       mentions=mentions)
        view = build_view(doc, self.rules.analyse(doc, hits, beneficiary),
                          self._sentences.batch_independent, headline=headline,
                          prune=True, beneficiary=beneficiary, mentions=mentions)
        if not plain.unchanged:
            view = replace(view, plain=plain)
        rows = [c.features if self.kind == "combined" else without_rules(c.features)
                for c in view.candidates]
        return view, discount_rivals([Scored(cand, stance, p) for cand, (stance, p) in zip(
            view.candidates, self._model.batch_likeliest(rows, "none"), strict=True)])

    def extract(self, article: Article) -> list[Position]:
        return self.select(*self.scored(article))

    def select(self, view: ArticleView, scored: list[Scored]) -> list[Position]:
        """One position per (party, stance, guarantee) whose candidates together clear their
        bar: the chance that at least one of them is right, each read as an independent
        witness (`agreement`); the rules' bar when the rules proposed it anywhere. Its
        evidence is chosen by `_evidence`."""
        out = []
        for group in by_position(scored).values():
            confidence, ruled = weigh(group)
            if confidence >= (self.threshold_ruled if ruled else self.threshold_new):
                out.append(self._position(view, _evidence(view, group, self._bar), confidence))
        return out

    def _bar(self, s: Scored) -> float:
        """The rules' own proposals and the model's additions clear different bars."""
        return self.threshold_ruled if _ruled(s) else self.threshold_new

    def _position(self, view: ArticleView, s: Scored, confidence: float) -> Position:
        cand = s.candidate
        sent = view.sentences[cand.sentence]
        return Position(
            actor=cand.actor or party_slug(cand.party),
            party=cand.party,
            stance=Stance(s.stance),
            guarantee=Guarantee(cand.guarantee),
            guarantor=choose_guarantor(self._guarantor, view, cand, s.stance),
            beneficiary=beneficiary_of(cand.party, s.stance, view.beneficiary),
            evidence=view.quote(sent),
            confidence=round(confidence, 3),
        )
