"""Scoring extraction against gold files (vocabulary.md, "Matching").

Positions match when article, party, stance and guarantee are equal; precision, recall and F1
are micro-averaged over unique tuples. Guarantor and evidence are scored on matched tuples:
a system sentence is right evidence when it contains the gold span or one of its `also` spans.
`score` is pure (records and predictions in, `EvalResult` out); `run_eval` is the CLI.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.confidence import ConfidenceBands, load_bands
from bot.models import Position
from bot.vocabulary import GUARANTEE_ORDER, Stance

Key = tuple[str, str, str, str]  # article id, party, stance, guarantee


# the row that pools every conflict but Ukraine's (the hidden set reports it apart)
BEYOND_UKRAINE = "(all but ukraine)"
# The F1 interval: how many times the articles are drawn again, with which seed (the same
# interval every run), and the share of the draws' F1s it spans.
INTERVAL_DRAWS = 2000
INTERVAL_SEED = 20261206
INTERVAL_LEVEL = 0.95


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives, with P/R/F1."""

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp, "fp": self.fp, "fn": self.fn,
            "precision": round(self.precision, 4), "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True)
class Miss:
    """A gold tuple not found, or a system tuple not in the gold, with its sentence."""

    article_id: str
    party: str
    stance: str
    guarantee: str
    actor: str
    evidence: str


@dataclass(frozen=True)
class BandScore:
    """The kept positions whose confidence falls in one band, and how many of them are right:
    the extractor is calibrated when `precision` is close to `mean_confidence`."""

    band: str
    kept: int
    right: int
    mean_confidence: float
    unsure: bool  # below the bar cards mark as "extractor unsure"

    @property
    def precision(self) -> float:
        return self.right / self.kept if self.kept else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "band": self.band, "kept": self.kept, "right": self.right,
            "precision": round(self.precision, 4),
            "mean_confidence": round(self.mean_confidence, 4), "unsure": self.unsure,
        }


@dataclass(frozen=True)
class EvalResult:
    overall: Counts
    guarantor_correct: int
    evidence_correct: int
    per_guarantee: dict[str, Counts]
    beneficiary_correct: int = 0
    per_stance: dict[str, Counts] = field(default_factory=dict)
    # by the records' `style` and `set` fields (empty when the records carry none)
    per_style: dict[str, Counts] = field(default_factory=dict)
    per_set: dict[str, Counts] = field(default_factory=dict)
    # by the records' `conflict` field; and every conflict but Ukraine's pooled (None when
    # the records name no other conflict), kept apart so that the table still sums
    per_conflict: dict[str, Counts] = field(default_factory=dict)
    beyond_ukraine: Counts | None = None
    misses: list[Miss] = field(default_factory=list)
    false_hits: list[Miss] = field(default_factory=list)
    articles: int = 0
    # precision by confidence band, for extractors that give a confidence (else empty)
    calibration: list[BandScore] = field(default_factory=list)
    # by article id, every article scored (one with no gold and no position counts zeros)
    per_article: dict[str, Counts] = field(default_factory=dict)

    def f1_interval(self) -> tuple[float, float] | None:
        """Where F1 would fall on other articles like these (`f1_interval`)."""
        return f1_interval(self.per_article)

    @property
    def guarantor_accuracy(self) -> float:
        return self.guarantor_correct / self.overall.tp if self.overall.tp else 0.0

    @property
    def evidence_accuracy(self) -> float:
        return self.evidence_correct / self.overall.tp if self.overall.tp else 0.0

    @property
    def beneficiary_accuracy(self) -> float:
        return self.beneficiary_correct / self.overall.tp if self.overall.tp else 0.0

    def as_dict(self, verbose: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "articles": self.articles,
            **self.overall.as_dict(),
            "guarantor_accuracy": round(self.guarantor_accuracy, 4),
            "evidence_accuracy": round(self.evidence_accuracy, 4),
            "beneficiary_accuracy": round(self.beneficiary_accuracy, 4),
            "per_guarantee": {g: c.as_dict() for g, c in self.per_guarantee.items()},
            "per_stance": {g: c.as_dict() for g, c in self.per_stance.items()},
            "per_style": {g: c.as_dict() for g, c in self.per_style.items()},
            "per_set": {g: c.as_dict() for g, c in self.per_set.items()},
            "per_conflict": {g: c.as_dict() for g, c in self.per_conflict.items()},
            "beyond_ukraine": self.beyond_ukraine.as_dict() if self.beyond_ukraine else None,
            "calibration": [b.as_dict() for b in self.calibration],
        }
        interval = self.f1_interval()
        out["f1_interval"] = [round(x, 4) for x in interval] if interval else None
        if verbose:
            out["misses"] = [asdict(m) for m in self.misses]
            out["false_hits"] = [asdict(m) for m in self.false_hits]
        return out


@dataclass(frozen=True)
class _Gold:
    actor: str
    guarantor: str | None
    spans: tuple[str, ...]
    beneficiary: str | None = None


def _gold_tuples(records: Iterable[Mapping[str, Any]]) -> dict[Key, _Gold]:
    gold: dict[Key, _Gold] = {}
    for record in records:
        article_id = str(record["id"])
        for p in record.get("positions", []):
            key = (article_id, str(p["party"]), str(p["stance"]), str(p["guarantee"]))
            spans = (str(p.get("evidence", "")), *(str(s) for s in p.get("also", []) or []))
            spans = tuple(s for s in spans if s)
            if key in gold:  # the same tuple twice: pool its evidence spans
                old = gold[key]
                gold[key] = _Gold(old.actor, old.guarantor, old.spans + spans, old.beneficiary)
            else:
                gold[key] = _Gold(str(p.get("actor", "")), p.get("guarantor"), spans,
                                  p.get("beneficiary"))
    return gold


def score(
    records: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, Sequence[Position]],
    bands: ConfidenceBands | None = None,
) -> EvalResult:
    """Score predicted positions (by article id) against gold records; `bands` (default:
    bot/data/confidence.toml) are those of the calibration table."""
    gold = _gold_tuples(records)
    predicted: dict[Key, Position] = {}
    for record in records:
        article_id = str(record["id"])
        for position in predictions.get(article_id, ()):
            key = (article_id, position.party, str(position.stance), str(position.guarantee))
            predicted.setdefault(key, position)
    matched = gold.keys() & predicted.keys()
    guarantor_ok = sum(gold[k].guarantor == predicted[k].guarantor for k in matched)
    beneficiary_ok = sum(gold[k].beneficiary == predicted[k].beneficiary for k in matched)
    evidence_ok = sum(
        any(span in predicted[k].evidence for span in gold[k].spans) for k in matched
    )
    per = _grouped(gold.keys(), predicted.keys(), lambda k: k[3],
                   [g.value for g in GUARANTEE_ORDER])
    per_stance = _grouped(gold.keys(), predicted.keys(), lambda k: k[2],
                          [s.value for s in Stance])
    per_style = _by_field(records, "style", gold.keys(), predicted.keys())
    per_set = _by_field(records, "set", gold.keys(), predicted.keys())
    per_conflict = _by_field(records, "conflict", gold.keys(), predicted.keys())
    beyond = [c for name, c in per_conflict.items() if name not in ("ukraine", "?")]
    beyond_ukraine = Counts(sum(c.tp for c in beyond), sum(c.fp for c in beyond),
                            sum(c.fn for c in beyond)) if beyond else None
    misses = [
        Miss(*k, actor=gold[k].actor, evidence=gold[k].spans[0] if gold[k].spans else "")
        for k in sorted(gold.keys() - predicted.keys())
    ]
    false_hits = [
        Miss(*k, actor=predicted[k].actor, evidence=predicted[k].evidence)
        for k in sorted(predicted.keys() - gold.keys())
    ]
    by_article = {str(record["id"]): [0, 0, 0] for record in records}
    for keys, column in ((matched, 0), (predicted.keys() - matched, 1),
                         (gold.keys() - matched, 2)):
        for key in keys:
            by_article[key[0]][column] += 1
    return EvalResult(
        overall=Counts(len(matched), len(predicted) - len(matched), len(gold) - len(matched)),
        guarantor_correct=guarantor_ok,
        evidence_correct=evidence_ok,
        beneficiary_correct=beneficiary_ok,
        per_guarantee=per,
        per_stance=per_stance,
        per_style=per_style,
        per_set=per_set,
        per_conflict=per_conflict,
        beyond_ukraine=beyond_ukraine,
        misses=misses,
        false_hits=false_hits,
        articles=len(records),
        calibration=calibration(predicted, matched, bands or load_bands()),
        per_article={a: Counts(*c) for a, c in by_article.items()},
    )


def f1_interval(per_article: Mapping[str, Counts], draws: int = INTERVAL_DRAWS,
                level: float = INTERVAL_LEVEL) -> tuple[float, float] | None:
    """A bootstrap interval of the micro-averaged F1: the articles are drawn again, with
    replacement, `draws` times, and the interval spans the middle `level` of the draws' F1s
    (None under two articles). Articles, not positions, are drawn: the positions of one
    article stand or fall together. A fixed seed gives the same interval every run, for
    the same articles in any order."""
    if draws < 1 or not 0 < level < 1:
        raise ValueError(f"draws must be at least 1 and level between 0 and 1, not {draws}, "
                         f"{level}")
    if len(per_article) < 2:
        return None
    # in the articles' order by id: the same interval whatever order the records came in
    counts = np.array([(per_article[a].tp, per_article[a].fp, per_article[a].fn)
                       for a in sorted(per_article)], dtype=np.int64)
    rng = np.random.default_rng(INTERVAL_SEED)
    f1s = []
    for start in range(0, draws, 250):  # in blocks: a (draws, articles) array can be large
        picks = rng.integers(0, len(counts), size=(min(250, draws - start), len(counts)))
        tp, fp, fn = (counts[:, column][picks].sum(axis=1) for column in range(3))
        denominator = 2 * tp + fp + fn
        f1s.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
    low, high = np.quantile(np.concatenate(f1s), [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _interval_text(result: EvalResult) -> str:
    interval = result.f1_interval()
    return f"{interval[0]:.3f}–{interval[1]:.3f}" if interval else "-"


def calibration(
    predicted: Mapping[Key, Position], matched: set[Key], bands: ConfidenceBands
) -> list[BandScore]:
    """Precision of the kept positions in each confidence band; empty when no position has
    a confidence (rules, a language model)."""
    scored = [(k, p.confidence) for k, p in predicted.items() if p.confidence is not None]
    if not scored:
        return []
    kept = [0] * len(bands.edges)
    right = [0] * len(bands.edges)
    total = [0.0] * len(bands.edges)
    for key, confidence in scored:
        i = bands.band(confidence)
        kept[i] += 1
        right[i] += key in matched
        total[i] += confidence
    return [
        BandScore(bands.label(i), kept[i], right[i], total[i] / kept[i] if kept[i] else 0.0,
                  unsure=bands.edges[i] < bands.unsure_below)
        for i in range(len(bands.edges))
    ]


def _by_field(records: Sequence[Mapping[str, Any]], name: str, gold: Iterable[Key],
              predicted: Iterable[Key]) -> dict[str, Counts]:
    """Counts per value of a record field (`style`, `set`); empty when no record has it."""
    group_of = {str(r["id"]): str(r[name]) for r in records if r.get(name)}
    if not group_of:
        return {}
    return _grouped(gold, predicted, lambda k: group_of.get(k[0], "?"),
                    sorted(set(group_of.values())))


def _grouped(gold: Iterable[Key], predicted: Iterable[Key], group: Callable[[Key], str],
             names: Sequence[str]) -> dict[str, Counts]:
    """Counts per group of tuples (by guarantee, stance, style ...), in the order of `names`."""
    gold_sets: dict[str, set[Key]] = {name: set() for name in names}
    pred_sets: dict[str, set[Key]] = {name: set() for name in names}
    for k in gold:
        gold_sets.setdefault(group(k), set()).add(k)
    for k in predicted:
        pred_sets.setdefault(group(k), set()).add(k)
    out = {}
    for name in gold_sets.keys() | pred_sets.keys():
        g, p = gold_sets.get(name, set()), pred_sets.get(name, set())
        out[name] = Counts(len(g & p), len(p - g), len(g - p))
    order = {name: i for i, name in enumerate(names)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def read_gold(path: Path) -> list[dict[str, Any]]:
    """Gold records of a .jsonl file; raises OSError or ValueError when it cannot be read."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {number}: malformed JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or "text" not in record:
            raise ValueError(f"line {number}: not a gold record (no 'text')")
        records.append(record)
    return records


def evaluate_records(records: Sequence[Mapping[str, Any]], extractor: Any = None) -> EvalResult:
    """Run an extractor (the default one unless given) over gold records and score it."""
    from bot.extraction import default_extractor
    from bot.ingest import IngestProblem, article_from_record

    extractor = extractor or default_extractor()
    predictions: dict[str, list[Position]] = {}
    for number, record in enumerate(records, start=1):
        article = article_from_record(record, f"gold:{number}")
        if isinstance(article, IngestProblem):
            continue
        predictions[str(record["id"])] = extractor.extract(article)
    return score(records, predictions)


def _row(name: str, c: Counts) -> str:
    return (f"{name:<20} {c.precision:6.3f} {c.recall:6.3f} {c.f1:6.3f} "
            f"{c.tp:4d} {c.fp:4d} {c.fn:4d}")


def format_report(result: EvalResult, verbose: bool) -> str:
    o = result.overall
    lines = [
        f"articles {result.articles}  gold {o.tp + o.fn}  system {o.tp + o.fp}  matched {o.tp}",
        f"precision {o.precision:.3f}  recall {o.recall:.3f}  F1 {o.f1:.3f}  "
        f"({INTERVAL_LEVEL:.0%} interval {_interval_text(result)}, articles drawn again)",
        f"guarantor accuracy {result.guarantor_accuracy:.3f}  "
        f"evidence accuracy {result.evidence_accuracy:.3f}  "
        f"beneficiary accuracy {result.beneficiary_accuracy:.3f}  (on {o.tp} matched)",
        "",
        f"{'guarantee':<20} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}",
    ]
    for guarantee, c in result.per_guarantee.items():
        lines.append(_row(guarantee, c))
    for title, table in (("stance", result.per_stance), ("style", result.per_style),
                         ("set", result.per_set), ("conflict", _with_pooled(result))):
        if table and (title not in ("set", "conflict") or len(table) > 1):
            lines += ["", f"{title:<20} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}"]
            lines += [_row(name, c) for name, c in table.items()]
    if result.calibration:
        lines += ["", format_calibration(result.calibration)]
    if verbose:
        for label, items in (("missed", result.misses), ("false hits", result.false_hits)):
            lines += ["", f"{label} ({len(items)}):"]
            for m in items:
                lines.append(f"  [{m.article_id}] {m.party} {m.stance} {m.guarantee} ({m.actor})")
                lines.append(f"      {m.evidence}")
    return "\n".join(lines)


ZERO = Counts(0, 0, 0)


def _with_pooled(result: EvalResult) -> dict[str, Counts]:
    """The conflict table with the pooled row last, for printing."""
    if result.beyond_ukraine is None:
        return result.per_conflict
    return {**result.per_conflict, BEYOND_UKRAINE: result.beyond_ukraine}


def table_of(result: EvalResult, title: str) -> dict[str, Counts]:
    """One of the result's breakdowns by name, as `eval` prints it."""
    return {"style": result.per_style, "set": result.per_set, "conflict": _with_pooled(result),
            "stance": result.per_stance}[title]


def format_calibration(bands: Sequence[BandScore]) -> str:
    """Precision of kept positions by confidence band, beside the band's mean confidence."""
    lines = [f"{'confidence':<20} {'kept':>5} {'right':>5} {'P':>6} {'mean':>6}"]
    for b in bands:
        name = b.band + (" unsure" if b.unsure else "")
        lines.append(f"{name:<20} {b.kept:5d} {b.right:5d} {b.precision:6.3f} "
                     f"{b.mean_confidence:6.3f}")
    return "\n".join(lines)


def load_records(path: Path | None, split: str | None) -> list[dict[str, Any]]:
    """The gold records of a file, or of a split of the repository's annotated sets
    (`tests/fixtures/extraction/splits.toml`). Raises OSError or ValueError."""
    if split is not None:
        from bot.extraction.learned.splits import load_split

        return load_split(split)
    assert path is not None
    records = read_gold(path)
    for record in records:
        record.setdefault("set", path.stem)
    return records


def ablation_extractors() -> dict[str, Any]:
    """The offline extractor's parts, for an ablation: the rules alone, the learned model
    without the rules' conclusions, and the two combined (the default)."""
    from bot.extraction.learned.extractor import CombinedExtractor
    from bot.extraction.rules import RuleExtractor

    rules = RuleExtractor()
    return {
        "rules alone": rules,
        "model alone": CombinedExtractor("model", rules=rules),
        "combined": CombinedExtractor("combined", rules=rules),
    }


def format_ablation(results: Mapping[str, EvalResult]) -> str:
    """One line per extractor, then F1 per style, set, conflict and stance side by side."""
    names = list(results)
    lines = [f"{'extractor':<14} {'F1':>6} {'F1 ' + format(INTERVAL_LEVEL, '.0%'):>11} "
             f"{'P':>6} {'R':>6} {'guarantor':>9} {'evidence':>8}"]
    for name, r in results.items():
        o = r.overall
        lines.append(f"{name:<14} {o.f1:6.3f} {_interval_text(r):>11} {o.precision:6.3f} "
                     f"{o.recall:6.3f} {r.guarantor_accuracy:9.3f} {r.evidence_accuracy:8.3f}")
    first = results[names[0]]
    groups = {title: list(dict.fromkeys(g for n in names for g in table_of(results[n], title)))
              for title in ("style", "set", "conflict", "stance")}
    if BEYOND_UKRAINE in groups["conflict"]:  # the pooled row stays last
        groups["conflict"].remove(BEYOND_UKRAINE)
        groups["conflict"].append(BEYOND_UKRAINE)
    for title, table in (("style", first.per_style), ("set", first.per_set),
                         ("conflict", _with_pooled(first)), ("stance", first.per_stance)):
        if not table or (title in ("set", "conflict") and len(table) < 2):
            continue
        lines += ["", f"F1 by {title:<14} " + " ".join(f"{n[:12]:>12}" for n in names)]
        for group in groups[title]:
            # a group one extractor never touched ("?": untagged articles) scores 0 there
            cells = [f"{table_of(results[n], title).get(group, ZERO).f1:12.3f}" for n in names]
            lines.append(f"{group:<20} " + " ".join(cells))
    return "\n".join(lines)


def run_eval(path: Path | None, *, as_json: bool, verbose: bool, split: str | None = None,
             ablation: bool = False) -> int:
    """`python -m bot eval FILE | --split NAME [--ablation]`: 0 with the scores printed, 2 when
    the gold records cannot be read."""
    try:
        records = load_records(path, split)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read {path or split}: {exc}", file=sys.stderr)
        return 2
    if ablation:
        results = {name: evaluate_records(records, extractor)
                   for name, extractor in ablation_extractors().items()}
        if as_json:
            print(json.dumps({n: r.as_dict(verbose=verbose) for n, r in results.items()},
                             indent=2, ensure_ascii=False))
        else:
            print(f"{len(records)} articles\n" + format_ablation(results))
        return 0
    result = evaluate_records(records)
    if as_json:
        print(json.dumps(result.as_dict(verbose=verbose), indent=2, ensure_ascii=False))
    else:
        print(format_report(result, verbose))
    return 0


async def evaluate_records_async(
    records: Sequence[Mapping[str, Any]], extractor: Any
) -> tuple[EvalResult, int]:
    """Score an extractor that waits on a model endpoint (`extract_async`), every article's
    request overlapping the others (the client caps how many are in flight). Also returns
    how many articles the rules stood in for: their positions are the rules', not the
    model's, so a score with fallbacks does not measure the model."""
    import asyncio

    from bot.ingest import IngestProblem, article_from_record

    articles = []
    for number, record in enumerate(records, start=1):
        article = article_from_record(record, f"gold:{number}")
        if not isinstance(article, IngestProblem):
            articles.append(article)
    results = await asyncio.gather(*(extractor.extract_async(a) for a in articles))
    predictions = {a.id: r.positions for a, r in zip(articles, results, strict=True)}
    fallbacks = sum(not r.complete for r in results)
    return score(records, predictions), fallbacks
