"""The shortcuts the extractor takes for speed give what the plain reading gives: the same
features in the same order, the same scores to the last bit (BENCHMARKS.md, *Speed*)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bot.evaluate import read_gold
from bot.extraction.learned import features
from bot.extraction.learned.extractor import load_model
from bot.extraction.learned.mentions import article_mentions
from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.clauses import (
    OPENS_A_CLAUSE,
    and_clause,
    as_clause,
    closing_quote,
    colon,
    with_clause,
)
from bot.extraction.rules.sentences import token_lists
from bot.extraction.rules.state import read_article

SEED = Path("bot/corpus/seed_gold.jsonl")


@pytest.fixture(scope="module")
def parsed() -> list[tuple[object, object]]:
    rules = RuleExtractor()
    out = []
    for record in read_gold(SEED)[:4]:
        doc = rules.nlp(record["text"])
        out.append((doc, rules))
    return out


def test_candidates_pair_the_roles_and_cues_they_noted_as_conjoin_would(
        parsed: list, monkeypatch: pytest.MonkeyPatch) -> None:
    """A candidate notes its role and cue features as it sets them (`_pair_up`); that must
    add exactly the pairs `_conjoin` finds by reading every name, in the same order (the
    order of a sum, so of a score's last bits)."""
    noted = features._pair_up
    added: list[int] = []

    def compare(f: dict[str, float], roles: list[str], cues: list[str]) -> None:
        expected = dict(f)
        features._conjoin(expected)
        before = len(f)
        noted(f, roles, cues)
        assert list(f) == list(expected)
        added.append(len(f) - before)

    monkeypatch.setattr(features, "_pair_up", compare)
    for doc, rules in parsed:
        features.build_view(doc, rules.analyse(doc))
    assert len(added) > 20 and sum(n > 0 for n in added) > 20


def test_mentions_read_once_give_the_same_view(parsed: list) -> None:
    for doc, rules in parsed:
        analysis = rules.analyse(doc)
        mentions = article_mentions(analysis.hits, token_lists(doc).lower)
        again = features.build_view(doc, analysis, mentions=mentions)
        plain = features.build_view(doc, analysis)
        assert [(c.sentence, c.party, c.guarantee, list(c.features.items()))
                for c in again.candidates] == \
            [(c.sentence, c.party, c.guarantee, list(c.features.items()))
             for c in plain.candidates]


def test_only_the_words_a_clause_test_starts_from_can_open_a_clause(parsed: list) -> None:
    """`clause_boundaries` tests only the tokens of OPENS_A_CLAUSE: no other token passes."""
    for doc, rules in parsed:
        st = read_article(doc, rules.hits(doc))
        names = {n.start for n in st.names}
        for sent in doc.sents:
            for i in range(sent.start + 1, sent.end - 1):
                if st.lower[i] not in OPENS_A_CLAUSE:
                    assert not (colon(st, i, sent) or closing_quote(st, i)
                                or as_clause(st, i, names) or and_clause(st, i, sent, names)
                                or with_clause(st, i, sent, names))


def test_indicator_rows_score_as_weighted_rows_do() -> None:
    """Rows of indicators (every value 1.0) take a shorter path; a row with other values
    the longer one. Both give each row's own linear score."""
    model = load_model("guarantor")
    names = list(model.index)[:40]
    rows = [dict.fromkeys(names[i:i + 7], 1.0) for i in range(0, 35, 7)]
    rows.append({names[0]: 0.5, names[1]: 1.0, "not a feature": 1.0})
    rows.append({})
    batch = model.batch_scores(rows)
    for row, scores in zip(rows, batch, strict=True):
        assert np.allclose(scores, model.scores(row))
    yes = model.labels.index("yes")
    assert np.allclose(model.label_scores(rows, "yes"), batch[:, yes])


def test_a_tokens_clause_is_the_count_of_boundaries_before_it() -> None:
    """`_clause` bisects the boundaries (in text order, as a sentence's cues are)."""
    marks = [3, 7, 7, 12]
    for token in range(0, 15):
        assert features._clause(marks, token) == sum(1 for at in marks if at <= token)
