"""`make train`: fit the learned stage on the train split, choose its threshold on dev.

    python -m bot.extraction.learned.train [--out DIR]

Reproducible: a fixed seed, records in file order, a deterministic solver. Writes two small
artifacts (the combined model and, for the ablation, a model that never sees the rules'
conclusions) with their threshold, version and training figures in their metadata. Needs
scikit-learn (the `train` extra); inference does not.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bot.evaluate import score
from bot.extraction.learned.extractor import MODEL_FILES, CombinedExtractor, without_rules
from bot.extraction.learned.features import ArticleView, build_view
from bot.extraction.learned.model import LABELS, LinearModel
from bot.extraction.learned.splits import load_split
from bot.extraction.rules import RuleExtractor
from bot.ingest import IngestProblem, article_from_record
from bot.models import Position

SEED = 20261206
REGULARISATION = 0.5  # inverse strength C of the L2 penalty
THRESHOLDS = [round(0.20 + 0.025 * i, 3) for i in range(25)]
ARTIFACTS = Path(__file__).parent / "artifacts"

Example = tuple[dict[str, float], str]


def _spans(record: Mapping[str, Any]) -> list[tuple[int, int, str, str, str]]:
    """(start, end, party, guarantee, stance) of every gold evidence span found in the text."""
    text = str(record["text"])
    out = []
    for p in record.get("positions", []):
        for span in [p.get("evidence", ""), *(p.get("also") or [])]:
            span = str(span)
            at = text.find(span) if span else -1
            if at >= 0:
                out.append((at, at + len(span), str(p["party"]), str(p["guarantee"]),
                            str(p["stance"])))
    return out


def label_view(view: ArticleView, record: Mapping[str, Any]) -> list[str]:
    """The gold stance of each candidate ('none' when no gold span of that party and
    guarantee overlaps its sentence)."""
    spans = _spans(record)
    labels = []
    for cand in view.candidates:
        sent = view.sentences[cand.sentence]
        label = "none"
        for start, end, party, guarantee, stance in spans:
            if party == cand.party and guarantee == cand.guarantee and \
                    start < sent.end_char and end > sent.start_char:
                label = stance
                break
        labels.append(label)
    return labels


def examples(records: Iterable[Mapping[str, Any]], rules: RuleExtractor
             ) -> tuple[list[Example], int, int]:
    """Training pairs, and how many gold tuples any candidate covers, of how many."""
    out: list[Example] = []
    covered = total = 0
    for record in records:
        doc = rules.nlp(str(record["text"]))
        view = build_view(doc, rules.analyse(doc))
        labels = label_view(view, record)
        out += list(zip((c.features for c in view.candidates), labels, strict=True))
        gold = {(p["party"], p["stance"], p["guarantee"]) for p in record.get("positions", [])}
        found = {(c.party, label, c.guarantee)
                 for c, label in zip(view.candidates, labels, strict=True) if label != "none"}
        total += len(gold)
        covered += len(gold & found)
    return out, covered, total


def fit(data: list[Example], version_salt: str) -> LinearModel:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer(sort=True)
    x = vectorizer.fit_transform([f for f, _ in data])
    y = np.array([LABELS.index(label) for _, label in data])
    classifier = LogisticRegression(C=REGULARISATION, max_iter=5000, random_state=SEED)
    classifier.fit(x, y)
    weights = np.zeros((len(LABELS), x.shape[1]), dtype=np.float32)
    bias = np.zeros(len(LABELS), dtype=np.float32)
    for row, cls in enumerate(classifier.classes_):
        weights[cls] = classifier.coef_[row]
        bias[cls] = classifier.intercept_[row]
    # unseen labels (none in practice) keep a very low bias
    for cls in set(range(len(LABELS))) - set(classifier.classes_.tolist()):
        bias[cls] = -50.0
    digest = hashlib.sha1(weights.tobytes() + bias.tobytes() + version_salt.encode())
    names = vectorizer.get_feature_names_out()
    return LinearModel(LABELS, {str(n): i for i, n in enumerate(names)}, weights, bias,
                       {"version": "m" + digest.hexdigest()[:8]})


def _predict(extractor: CombinedExtractor, records: list[dict[str, Any]]
             ) -> dict[str, list[Position]]:
    out: dict[str, list[Position]] = {}
    for number, record in enumerate(records, start=1):
        article = article_from_record(record, f"gold:{number}")
        if not isinstance(article, IngestProblem):
            out[str(record["id"])] = extractor.extract(article)
    return out


def choose_threshold(extractor: CombinedExtractor, records: list[dict[str, Any]]
                     ) -> tuple[float, float]:
    """The threshold with the best F1 on `records`, and that F1."""
    best = (0.5, -1.0)
    for t in THRESHOLDS:
        extractor.threshold = t
        f1 = score(records, _predict(extractor, records)).overall.f1
        if f1 > best[1] + 1e-9:
            best = (t, f1)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACTS)
    args = parser.parse_args(argv)
    rules = RuleExtractor()
    train, dev = load_split("train"), load_split("dev")
    data, covered, total = examples(train, rules)
    positives = sum(label != "none" for _, label in data)
    print(f"train: {len(train)} articles, {len(data)} candidates ({positives} positive); "
          f"candidates cover {covered}/{total} gold tuples")
    args.out.mkdir(parents=True, exist_ok=True)
    for kind, file in MODEL_FILES.items():
        rows = data if kind == "combined" else [(without_rules(f), y) for f, y in data]
        model = fit(rows, kind)
        model.meta.update({"kind": kind, "seed": SEED, "C": REGULARISATION,
                           "train_articles": len(train), "train_candidates": len(rows)})
        model.save(args.out / file)
        load_cache_clear()
        extractor = CombinedExtractor(kind, rules=rules)
        threshold, f1 = choose_threshold(extractor, dev)
        model.meta.update({"threshold": threshold, "dev_f1": round(f1, 4),
                           "dev_articles": len(dev)})
        model.save(args.out / file)
        size = (args.out / file).stat().st_size
        print(f"{kind}: {len(model.index)} features, {size / 1024:.0f} KiB, "
              f"threshold {threshold} (dev F1 {f1:.3f}), version {model.meta['version']}")
    load_cache_clear()
    return 0


def load_cache_clear() -> None:
    from bot.extraction.learned.extractor import load_model

    load_model.cache_clear()


if __name__ == "__main__":
    sys.exit(main())
