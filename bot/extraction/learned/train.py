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
import json
import os
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.extraction.learned import beneficiary as beneficiary_ranker
from bot.extraction.learned.extractor import (
    BENEFICIARY_MODEL,
    GUARANTOR_MODEL,
    MODEL_FILES,
    SENTENCE_MODEL,
    CombinedExtractor,
    by_position,
    opens_with_title,
    weigh,
    without_rules,
)
from bot.extraction.learned.features import (
    STANCE_LABEL,
    ArticleView,
    build_view,
    headline_end,
    read_beneficiary,
)
from bot.extraction.learned.guarantor import NOBODY, article_facts
from bot.extraction.learned.guarantor import features as guarantor_features
from bot.extraction.learned.guarantor import options as guarantor_options
from bot.extraction.learned.model import LABELS, LinearModel
from bot.extraction.learned.splits import load_split
from bot.extraction.rules import RuleExtractor
from bot.ingest import IngestProblem, article_from_record, record_title
from bot.vocabulary import GUARANTEE_ORDER, Stance

SEED = 20261206
REGULARISATION = 0.2  # inverse strength C of the L2 penalty (0.1 until round 10; see BENCHMARKS.md)
SENTENCE_REGULARISATION = 0.5  # the sentence model's C (1.0 until round 12; see BENCHMARKS.md)
GUARANTOR_REGULARISATION = 1.0  # the guarantor ranker's C (chosen on dev among 0.1-1)
FOLDS = 5
THRESHOLDS = [round(0.05 + 0.05 * i, 2) for i in range(18)]
ARTIFACTS = Path(__file__).parent / "artifacts"
SINGLE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS")
SPLITS = Path("tests/fixtures/extraction/splits.toml")

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


def sentence_examples(views: list[ArticleView], records: Sequence[Mapping[str, Any]]
                      ) -> list[tuple[dict[str, float], set[str]]]:
    """(sentence words, the guarantees and `st:` stances of its gold spans) of every
    sentence."""
    out = []
    for view, record in zip(views, records, strict=True):
        spans = _spans(record)
        for sent, words in zip(view.sentences, view.sentence_features, strict=True):
            gold = {g for start, end, _, g, _ in spans
                    if start < sent.end_char and end > sent.start_char}
            gold |= {STANCE_LABEL + st for start, end, _, _, st in spans
                     if start < sent.end_char and end > sent.start_char}
            out.append((words, gold))
    return out


def fit_sentences(data: list[tuple[dict[str, float], set[str]]]) -> LinearModel:
    """One logistic regression per guarantee, and per stance (`st:seeks` ...: the sentence
    carries a position of that stance, whoever holds it), over a sentence's words."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer(sort=True)
    x = vectorizer.fit_transform([f for f, _ in data])
    labels = tuple(g.value for g in GUARANTEE_ORDER) + tuple(
        STANCE_LABEL + st.value for st in Stance)
    weights = np.zeros((len(labels), x.shape[1]), dtype=np.float32)
    bias = np.full(len(labels), -50.0, dtype=np.float32)
    for row, g in enumerate(labels):
        y = np.array([g in gold for _, gold in data])
        if y.any():
            classifier = LogisticRegression(C=SENTENCE_REGULARISATION, max_iter=5000,
                                            random_state=SEED)
            classifier.fit(x, y)
            weights[row], bias[row] = classifier.coef_[0], classifier.intercept_[0]
    digest = hashlib.sha1(weights.tobytes() + bias.tobytes())
    names = vectorizer.get_feature_names_out()
    return LinearModel(labels, {str(n): i for i, n in enumerate(names)}, weights, bias,
                       {"version": "s" + digest.hexdigest()[:6], "kind": "sentences"})


def fit_beneficiary(views: list[ArticleView], records: Sequence[Mapping[str, Any]]
                    ) -> LinearModel:
    """The beneficiary ranker, fitted on the gold beneficiary of each training article; the
    parties' receiver-or-provider bands it reads travel in its metadata."""
    roles = beneficiary_ranker.party_roles(records)
    articles = [([m for ms in view.mentions for m in ms],
                 headline_end(view.sentences[0] if view.sentences else None, view.headline),
                 record)
                for view, record in zip(views, records, strict=True)]
    # the bands change its choices as much as its weights do, so they are in its version
    salt = json.dumps(roles, sort_keys=True)
    model = fit_binary(beneficiary_ranker.examples(articles, roles), "b", salt)
    model.meta["roles"] = roles
    return model


def cross_fitted_views(records: Sequence[Mapping[str, Any]], rules: RuleExtractor
                       ) -> tuple[list[ArticleView], LinearModel, LinearModel]:
    """Views whose guessed guarantees, stance priors and beneficiary come from a sentence model
    and a beneficiary ranker that never saw the article (k folds), so the candidate model
    learns how far to trust them on unseen text; and the sentence model and the ranker fitted
    on everything, for use after training. An article's first line is its headline only where
    it is the article's title, as the extractor reads it."""
    parsed = []
    for record in records:
        # the raw text, which gold spans index: `plaintext.normalise` changes no annotated
        # text (tests/test_plaintext.py), so the extractor reads them the same way
        doc = rules.nlp(str(record["text"]))
        headline = opens_with_title(str(record["text"]), record_title(dict(record),
                                                                      str(record["text"])))
        parsed.append((doc, rules.analyse(doc), headline))
    plain = [build_view(doc, analysis, headline=headline) for doc, analysis, headline in parsed]
    views: list[ArticleView | None] = [None] * len(records)
    for fold in range(FOLDS):
        held = [i for i in range(len(records)) if i % FOLDS == fold]
        rest = [i for i in range(len(records)) if i % FOLDS != fold]
        model = fit_sentences(sentence_examples([plain[i] for i in rest],
                                                [records[i] for i in rest]))
        choose = beneficiary_ranker.chooser(fit_beneficiary([plain[i] for i in rest],
                                                            [records[i] for i in rest]))
        for i in held:
            doc, analysis, headline = parsed[i]
            # the rules read the ranker's beneficiary, as in `CombinedExtractor`: run them
            # again where it is not the one their list gave
            chosen = read_beneficiary(doc, analysis.hits, choose, headline=headline)
            if chosen != analysis.beneficiary:
                analysis = rules.analyse(doc, analysis.hits, chosen)
            views[i] = build_view(doc, analysis, model.batch_independent, headline=headline,
                                  beneficiary=chosen)
    assert all(v is not None for v in views)  # every article is held out by one fold
    full = fit_sentences(sentence_examples(plain, records))
    return [v for v in views if v is not None], full, fit_beneficiary(plain, records)



def examples(records: Sequence[Mapping[str, Any]], views: list[ArticleView]
             ) -> tuple[list[Example], int, int]:
    """Training pairs, and how many gold tuples any candidate covers, of how many."""
    out: list[Example] = []
    covered = total = 0
    for record, view in zip(records, views, strict=True):
        labels = label_view(view, record)
        out += list(zip((c.features for c in view.candidates), labels, strict=True))
        gold = {(p["party"], p["stance"], p["guarantee"]) for p in record.get("positions", [])}
        found = {(c.party, label, c.guarantee)
                 for c, label in zip(view.candidates, labels, strict=True) if label != "none"}
        total += len(gold)
        covered += len(gold & found)
    return out, covered, total


def guarantor_examples(views: list[ArticleView], records: Sequence[Mapping[str, Any]]
                       ) -> list[tuple[dict[str, float], str]]:
    """For each candidate that is a gold position, every guarantor option, labelled."""
    out = []
    for view, record in zip(views, records, strict=True):
        gold = {(p["party"], p["stance"], p["guarantee"]): p.get("guarantor") or NOBODY
                for p in record.get("positions", [])}
        for cand, label in zip(view.candidates, label_view(view, record), strict=True):
            if label == "none":
                continue
            truth = gold.get((cand.party, label, cand.guarantee))
            if truth is None:
                continue
            facts = article_facts(view, cand, label)
            opts = guarantor_options(view, cand, label, facts)
            if truth not in opts:
                continue
            out += [(guarantor_features(view, cand, label, o, facts),
                     "yes" if o == truth else "no") for o in opts]
    return out


def fit_binary(data: list[tuple[dict[str, float], str]], prefix: str, salt: str = ""
               ) -> LinearModel:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = DictVectorizer(sort=True)
    x = vectorizer.fit_transform([f for f, _ in data])
    y = np.array([label == "yes" for _, label in data])
    classifier = LogisticRegression(C=GUARANTOR_REGULARISATION, max_iter=5000, random_state=SEED)
    classifier.fit(x, y)
    weights = np.zeros((2, x.shape[1]), dtype=np.float32)
    weights[1] = classifier.coef_[0]
    bias = np.array([0.0, classifier.intercept_[0]], dtype=np.float32)
    digest = hashlib.sha1(weights.tobytes() + bias.tobytes() + salt.encode())
    names = vectorizer.get_feature_names_out()
    return LinearModel(("no", "yes"), {str(n): i for i, n in enumerate(names)}, weights, bias,
                       {"version": prefix + digest.hexdigest()[:6],
                        "C": GUARANTOR_REGULARISATION})


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


def f1_by_bars(extractor: CombinedExtractor, records: list[dict[str, Any]]
               ) -> dict[tuple[float, float], float]:
    """F1 on `records` at every pair of bars (for the rules' own proposals, for the model's
    additions), as `select` would keep positions and `evaluate.score` would count them: the
    candidates are scored once, then each pair only counts which positions clear it. As in
    `score`, an article id met twice counts its last record's positions once."""
    gold = {(str(r["id"]), str(p["party"]), str(p["stance"]), str(p["guarantee"]))
            for r in records for p in r.get("positions", [])}
    weighed: dict[str, list[tuple[bool, float, bool]]] = {}  # (ruled, confidence, right)
    for number, record in enumerate(records, start=1):
        article = article_from_record(record, f"gold:{number}")
        if isinstance(article, IngestProblem):
            continue
        article_id = str(record["id"])
        _, scored = extractor.scored(article)
        weighed[article_id] = [(ruled, confidence, (article_id, *key) in gold)
                               for key, group in by_position(scored).items()
                               for confidence, ruled in [weigh(group)]]
    positions = [p for kept in weighed.values() for p in kept]
    out: dict[tuple[float, float], float] = {}
    for ruled_bar in THRESHOLDS:
        for new_bar in THRESHOLDS:
            kept = right = 0
            for ruled, confidence, is_right in positions:
                if confidence >= (ruled_bar if ruled else new_bar):
                    kept += 1
                    right += is_right
            out[(ruled_bar, new_bar)] = (2 * right / (kept + len(gold))
                                         if kept + len(gold) else 0.0)
    return out


def choose_thresholds(extractor: CombinedExtractor, records: list[dict[str, Any]]
                      ) -> tuple[float, float, float]:
    """The bars with the best F1 on `records` (`f1_by_bars`), and that F1: the first best, the
    rules' bar varying slowest."""
    best = (0.5, 0.5, -1.0)
    for (ruled, new), f1 in f1_by_bars(extractor, records).items():
        if f1 > best[2] + 1e-9:
            best = (ruled, new, f1)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACTS)
    args = parser.parse_args(argv)
    if not SPLITS.exists():
        print(f"{SPLITS} not found: run from the repository's root", file=sys.stderr)
        return 2
    pinned = pinned_blas()
    if any(os.environ.get(name) != value for name, value in pinned.items()):
        # BLAS picks its threads and its CPU kernels when it loads, and sums split or
        # vectorised differently round differently: so start again with them pinned
        forwarded = sys.argv[1:] if argv is None else argv
        command = [sys.executable, "-m", "bot.extraction.learned.train", *forwarded]
        code = subprocess.run(command, env={**os.environ, **pinned}, check=False).returncode
        return 128 - code if code < 0 else code  # killed by a signal: as a shell reports it
    return _train(args.out)


def pinned_blas() -> dict[str, str]:
    """Environment that makes BLAS fit the same bits on any machine of one architecture: one
    thread, and on x86-64 the AVX2 ("Haswell") kernels every recent x86-64 CPU runs."""
    env = dict.fromkeys(SINGLE_THREAD, "1")
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["OPENBLAS_CORETYPE"] = "Haswell"
    return env


def trained_with() -> dict[str, object]:
    """The versions of the libraries that fitted the model (pinned in train-constraints.txt)
    and the BLAS libraries with the kernels they ran, in a fixed order."""
    from importlib.metadata import version

    from threadpoolctl import threadpool_info

    blas = sorted(f"{pool.get('internal_api')} {pool.get('version')} {pool.get('architecture')}"
                  for pool in threadpool_info() if pool.get("user_api") == "blas")
    return {**{name: version(name) for name in ("scikit-learn", "scipy", "numpy")},
            "blas": blas}


def _train(out: Path) -> int:
    rules = RuleExtractor()
    train, dev = load_split("train"), load_split("dev")
    views, sentences, beneficiary = cross_fitted_views(train, rules)
    out.mkdir(parents=True, exist_ok=True)
    beneficiary.save(out / BENEFICIARY_MODEL)
    # the largest artifact (one weight per word and pair per label): half precision cuts it by
    # 43 % and moved one of 7,368 kept positions (round 12, BENCHMARKS.md)
    sentences = sentences.halved()
    sentences.save(out / SENTENCE_MODEL)
    fit_binary(guarantor_examples(views, train), "g").save(out / GUARANTOR_MODEL)
    data, covered, total = examples(train, views)
    positives = sum(label != "none" for _, label in data)
    print(f"train: {len(train)} articles, {len(data)} candidates ({positives} positive); "
          f"candidates cover {covered}/{total} gold tuples")
    out.mkdir(parents=True, exist_ok=True)
    for kind, file in MODEL_FILES.items():
        rows = data if kind == "combined" else [(without_rules(f), y) for f, y in data]
        model = fit(rows, kind)
        model.meta.update({"kind": kind, "seed": SEED, "C": REGULARISATION,
                           "train_articles": len(train), "train_candidates": len(rows),
                           "trained_with": trained_with()})
        model.save(out / file)
        load_cache_clear()
        extractor = CombinedExtractor(kind, rules=rules, artifacts=out)
        ruled, new, f1 = choose_thresholds(extractor, dev)
        model.meta.update({"threshold_ruled": ruled, "threshold_new": new,
                           "dev_f1": round(f1, 4), "dev_articles": len(dev)})
        model.save(out / file)
        size = (out / file).stat().st_size
        print(f"{kind}: {len(model.index)} features, {size / 1024:.0f} KiB, "
              f"thresholds {ruled}/{new} (dev F1 {f1:.3f}), version {model.meta['version']}")
    load_cache_clear()
    return 0


def load_cache_clear() -> None:
    from bot.extraction.learned.extractor import load_model

    load_model.cache_clear()


if __name__ == "__main__":
    sys.exit(main())
