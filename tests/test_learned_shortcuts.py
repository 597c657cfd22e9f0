"""The shortcuts the extractor takes for speed give what the plain reading gives: the same
features in the same order, the same scores to the last bit (BENCHMARKS.md, *Extraction
speed*). Each test holds one shortcut to the reading it replaced."""

from __future__ import annotations

import random
import types
from collections import Counter
from pathlib import Path

import pytest
from spacy.tokens import Doc

from bot.evaluate import read_gold
from bot.extraction.attribution import UNNAMED_STARTS, _pair, _pronoun
from bot.extraction.learned import features
from bot.extraction.learned.extractor import load_model
from bot.extraction.learned.mentions import article_mentions
from bot.extraction.lexicon import attribution_lexicon
from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.clauses import (
    OPENS_A_CLAUSE,
    and_clause,
    as_clause,
    clause_boundaries,
    closing_quote,
    colon,
    with_clause,
)
from bot.extraction.rules.guarantor import names_near
from bot.extraction.rules.pipeline import Hit, longest
from bot.extraction.rules.sentences import token_lists
from bot.extraction.rules.state import read_article
from bot.vocabulary import parties

CORPUS = Path(__file__).resolve().parents[1] / "bot" / "corpus"
Parsed = list[tuple[Doc, RuleExtractor]]


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    """The nine bundled articles, parsed by the rules' pipeline."""
    rules = RuleExtractor()
    return [(rules.nlp(r["text"]), rules)
            for name in ("seed_gold.jsonl", "dev_gold.jsonl") for r in read_gold(CORPUS / name)]


@pytest.mark.source_mode
def test_candidates_pair_the_roles_and_cues_they_noted_as_conjoin_would(
        parsed: Parsed, monkeypatch: pytest.MonkeyPatch) -> None:
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
    assert len(added) > 100 and sum(n > 0 for n in added) > 100


def test_mentions_read_once_give_the_same_view(parsed: Parsed) -> None:
    """The extractor reads the article's named parties once and hands them to `build_view`."""
    for doc, rules in parsed:
        analysis = rules.analyse(doc)
        mentions = article_mentions(analysis.hits, token_lists(doc).lower)
        again = features.build_view(doc, analysis, mentions=mentions)
        plain = features.build_view(doc, analysis)
        assert [(c.sentence, c.party, c.guarantee, list(c.features.items()))
                for c in again.candidates] == \
            [(c.sentence, c.party, c.guarantee, list(c.features.items()))
             for c in plain.candidates]
        assert again.named_counts == Counter(m.party for ms in plain.mentions for m in ms)


def test_no_word_outside_the_starts_can_begin_an_unnamed_mention(parsed: Parsed) -> None:
    """`build_mentions` passes over every word that is no pronoun and not in UNNAMED_STARTS:
    none of them may begin a pair ("both leaders", "the two presidents") or a pronoun."""
    lex = attribution_lexicon()
    words = {w for doc, _ in parsed for w in token_lists(doc).lower}
    words |= {"both", "the", "it", "they", "we", "he", "she", "them", "him", "our", "its"}
    pairs = ("leaders", "two", "presidents")
    for word in words - lex.pronouns - UNNAMED_STARTS:
        assert _pronoun(0, word, lex) is None, word
        for follow in pairs:
            assert _pair([word, follow, "leaders"], 0, 3) is None, word
    assert _pair(["both", "leaders"], 0, 2) == 2 and _pair(["the", "two", "men"], 0, 3) == 3


def test_only_the_words_a_clause_check_starts_from_can_open_a_clause(parsed: Parsed) -> None:
    """`clause_boundaries` checks only the tokens of OPENS_A_CLAUSE: no other token passes a
    check, and each of them can."""
    for doc, rules in parsed:
        st = read_article(doc, rules.hits(doc))
        names = {n.start for n in st.names}
        for sent in doc.sents:
            for i in range(sent.start + 1, sent.end - 1):
                if st.lower[i] not in OPENS_A_CLAUSE:
                    assert not (colon(st, i, sent) or closing_quote(st, i)
                                or as_clause(st, i, names) or and_clause(st, i, sent, names)
                                or with_clause(st, i, sent, names))
    rules = RuleExtractor()
    for text, word in [("Poland pledged troops, with Brazil's adviser proposing a zone.", "with"),
                       ("Turkey offered monitors as Greece weighed the plan.", "as"),
                       ("France wants a force, and the Kremlin has rejected it.", "and"),
                       ('"We will send troops," Macron said on Monday.', '"'),
                       ("The plan has three parts: a zone, a force and a fund.", ":")]:
        doc = rules.nlp(text)
        st = read_article(doc, rules.hits(doc))
        sent = next(iter(doc.sents))
        at = st.lower.index(word, 1)
        assert at in clause_boundaries(st, sent, []), text


def _positions_taken(name: Hit, g: Hit, sent: types.SimpleNamespace) -> bool:
    """Where a name must lie for either check of `find_guarantor` to take it, as they read
    every name of the article before the window: just before or inside the guarantee (and in
    the sentence), or right after it (and before the sentence's end)."""
    before = name.kind in ("J", "P") and name.start >= sent.start and (
        g.start <= name.start < g.end or 0 <= g.start - name.end <= 3)
    after = name.kind in ("J", "P", "A") and g.end <= name.start < min(sent.end, g.end + 12) \
        and name.start > 0
    return before or after


@pytest.mark.source_mode
def test_a_guarantors_name_window_holds_every_name_the_checks_can_take() -> None:
    """`names_near` reads only the names between the sentence's (or the guarantee's) start
    and end: on random articles, every name the two checks could take lies there."""
    rng = random.Random(7)
    codes = sorted(parties())[:10]
    taken = 0
    for _ in range(5000):
        n = rng.randint(4, 30)
        starts = rng.sample(range(n), rng.randint(0, min(6, n)))
        names = longest([Hit(s, min(n, s + rng.randint(1, 2)), rng.choice("APJT"),
                             rng.choice(codes)) for s in starts])
        a, b = sorted(rng.sample(range(n + 1), 2))
        sent = types.SimpleNamespace(start=a, end=b)
        start = rng.randrange(n)
        g = Hit(start, min(n, start + rng.randint(1, 3)), "G", "peacekeeping_force")
        st = types.SimpleNamespace(names=names, name_starts=[h.start for h in names])
        near = names_near(st, g, sent)  # type: ignore[arg-type]
        assert near == [h for h in names if h in near]  # in text order
        for h in names:
            if _positions_taken(h, g, sent):
                taken += 1
                assert h in near
    assert taken > 1000


def test_a_whitespace_token_is_what_spacy_calls_a_space(parsed: Parsed) -> None:
    """The rules read "whitespace alone" as `str.isspace` of the token's text."""
    rules = RuleExtractor()
    docs = [doc for doc, _ in parsed]
    docs.append(rules.nlp("Kyiv\n\n\u00a0\nTroops\t \u2003 arrived.\r\n  \nEnd"))
    for doc in docs:
        for token in doc:
            assert token.text.isspace() == token.is_space, repr(token.text)


def test_indicator_rows_take_the_short_path_to_the_same_bits() -> None:
    """Rows of indicators (every value 1.0) are scored without a product per feature; the
    same row sent down the general path (by one unknown feature with another value) gives
    the same score to the last bit, in both `batch_scores` and `label_scores`."""
    for kind in ("combined", "guarantor"):
        model = load_model(kind)
        rng = random.Random(3)
        names = list(model.index)
        rows = [dict.fromkeys(rng.sample(names, rng.randint(1, 60)), 1.0) for _ in range(50)]
        rows.append({})
        general = [{**row, "not a feature": 0.5} for row in rows]
        assert (model.batch_scores(rows) == model.batch_scores(general)).all()
        label = model.labels[-1]
        assert model.label_scores(rows, label) == model.label_scores(general, label)
        # and a real value still weighs: the general path is not the short one
        scaled = [{**row, names[0]: 0.5} for row in rows[:5]]
        assert (model.batch_scores(scaled) != model.batch_scores(
            [{**row, names[0]: 1.0} for row in rows[:5]])).any()


def test_a_tokens_clause_is_the_count_of_boundaries_before_it() -> None:
    """`_clause` bisects the boundaries (in text order, as a sentence's cues are)."""
    marks = [3, 7, 7, 12]
    for token in range(0, 15):
        assert features._clause(marks, token) == sum(1 for at in marks if at <= token)
