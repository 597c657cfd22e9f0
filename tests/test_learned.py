"""The learned stage: candidates and features, the linear model's arithmetic, the committed
artifacts, the extractor's decisions on plain news sentences, and reproducible training."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from bot.evaluate import evaluate_records, read_gold
from bot.extraction import default_extractor
from bot.extraction.learned.extractor import CombinedExtractor, load_model
from bot.extraction.learned.features import ArticleView, build_view
from bot.extraction.learned.model import LinearModel
from bot.extraction.rules import RuleExtractor
from bot.models import Article
from bot.vocabulary import Guarantee, Stance

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def combined() -> CombinedExtractor:
    return CombinedExtractor()


def keys(extractor: CombinedExtractor, text: str) -> set[tuple[str, str, str]]:
    article = Article(id="t", title=text.split("\n", 1)[0], text=text)
    return {(p.party, str(p.stance), str(p.guarantee)) for p in extractor.extract(article)}


def test_the_default_extractor_is_the_combined_one() -> None:
    extractor = default_extractor()
    assert isinstance(extractor, CombinedExtractor)
    assert extractor.version.startswith(RuleExtractor().version + "+")


def test_batch_scores_equal_one_row_at_a_time() -> None:
    model = load_model("combined")
    names = sorted(model.index)
    rng = random.Random(3)
    # values other than 1.0 too: a batch that ignored them, or wrote into the model, would show
    rows = [{}] + [
        {n: rng.choice([1.0, 0.5, 2.0, -1.5]) for n in rng.sample(names, rng.randrange(0, 40))}
        for _ in range(60)
    ] + [{"not-a-feature": 1.0}, {}]
    weights = model.weights.copy()
    for _ in range(2):
        batch = model.batch_probabilities(rows)
        for row, probs in zip(rows, batch, strict=True):
            single = model.probabilities(row)
            assert probs.keys() == single.keys()
            assert all(abs(probs[k] - single[k]) < 1e-12 for k in probs)
            assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert np.array_equal(model.weights, weights)
    # the likeliest stance, as the extractor takes it, is the dicts' own maximum, bit for bit
    for (label, p), probs in zip(model.batch_likeliest(rows, "none"),
                                 model.batch_probabilities(rows), strict=True):
        assert label == max((k for k in probs if k != "none"), key=probs.__getitem__)
        assert p == probs[label]
    assert model.batch_likeliest([], "none") == []


def test_one_labels_scores_in_python_equal_the_batch() -> None:
    """`label_scores` (the guarantor's options) sums the same weights as `batch_scores`,
    values other than 1.0 and unknown features included."""
    model = load_model("guarantor")
    names = sorted(model.index)
    rng = random.Random(5)
    rows = [{}] + [
        {n: rng.choice([1.0, 0.5, -2.0]) for n in rng.sample(names, rng.randrange(0, 20))}
        for _ in range(40)
    ] + [{"not-a-feature": 1.0}]
    for label in ("yes", "no"):
        column = model.batch_scores(rows)[:, model.labels.index(label)]
        assert np.allclose(model.label_scores(rows, label), column, rtol=0, atol=1e-9)
        bias = float(model.bias[model.labels.index(label)])
        assert np.allclose(model.label_scores(rows, label, bias=False), column - bias,
                           rtol=0, atol=1e-9)
    assert pickle.loads(pickle.dumps(model)).label_scores(rows[1:2], "yes") == \
        model.label_scores(rows[1:2], "yes")


def test_a_model_survives_saving_and_loading(tmp_path: Path) -> None:
    model = LinearModel(("no", "yes"), {"a": 0, "b": 1}, np.array([[0, 0], [1.5, -2]],
                        dtype=np.float32), np.array([0, 0.25], dtype=np.float32),
                        {"version": "x1", "threshold": 0.3})
    model.save(tmp_path / "m.npz")
    again = LinearModel.load((tmp_path / "m.npz").read_bytes())
    assert again.index == model.index and again.labels == model.labels
    assert again.meta == model.meta
    assert again.independent({"a": 1.0}) == pytest.approx(model.independent({"a": 1.0}))


def test_committed_artifacts_are_small_and_versioned() -> None:
    folder = ROOT / "bot/extraction/learned/artifacts"
    files = sorted(folder.glob("*.npz"))
    assert {f.name for f in files} == {"combined.npz", "model_only.npz", "sentences.npz",
                                       "guarantor.npz", "beneficiary.npz"}
    assert sum(f.stat().st_size for f in files) < 20 * 1024 * 1024
    meta = load_model("combined").meta
    assert 0.0 < float(str(meta["threshold_ruled"])) < 1.0
    assert 0.0 < float(str(meta["threshold_new"])) < 1.0
    assert str(meta["version"]).startswith("m")


def test_a_candidate_knows_who_its_party_is_and_whose_conflict_it_is() -> None:
    """Who holds a position is evidence of its stance (Moscow rarely seeks Ukraine's NATO
    membership): each candidate carries its party, with its guarantee and with the article's
    beneficiary, and the beneficiary with the guarantee (EU monitors in Armenia, UN
    peacekeepers in Lebanon)."""
    rules = RuleExtractor()
    doc = rules.nlp("Talks\nRussia rejected Ukraine's bid to join NATO on Tuesday.")
    view = build_view(doc, rules.analyse(doc))
    russia = next(c for c in view.candidates if c.party == "rus")
    assert view.beneficiary == "ukr"
    assert {"pid=rus", "pid=rus&g=nato_membership", "pid=rus&ben=ukr",
            "ben=ukr&g=nato_membership"} <= russia.features.keys()


def test_a_party_reads_the_cues_of_its_own_clause() -> None:
    """"..., while Indonesia said it was ready": Indonesia's candidate sees the readiness of
    its clause, not Egypt's refusal before the boundary word."""
    rules = RuleExtractor()
    doc = rules.nlp("Egypt said it would not send troops to a force in Gaza, while Indonesia "
                    "said it was ready to deploy up to 20,000 soldiers.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    by_party = {c.party: c.features for c in view.candidates}
    assert {"pc=positive", "other_clause"} <= by_party["idn"].keys()
    assert "pc=negator" not in by_party["idn"]
    assert "pc=negator" in by_party["egy"] and "other_clause" not in by_party["egy"]


def test_only_the_party_named_first_is_first_named_and_all_count_the_parties() -> None:
    """What the candidates of one sentence share is read once for all of them: who is named
    first, and how many parties the sentence gives candidates to."""
    rules = RuleExtractor()
    doc = rules.nlp("Germany said France would send troops to Ukraine.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    by_party = {c.party: c.features for c in view.candidates
                if c.guarantee == "peacekeeping_force"}
    assert "first_named" in by_party["deu"] and "first_named" not in by_party["fra"]
    assert all("nparties=3" in f for f in by_party.values())


def test_roles_are_paired_with_cues_by_exact_name() -> None:
    """How the party is named meets each cue around it; conjunctions, other features and
    names that merely start like a role or a cue are left alone."""
    from bot.extraction.learned.features import _conjoin

    features = dict.fromkeys(["pk=A", "first_named", "question", "bc=negative", "b=troops",
                              "p=state&g=nato_membership", "question_mark", "pid=fra"], 1.0)
    before = set(features)
    _conjoin(features)
    assert set(features) - before == {"pk=A&question", "pk=A&bc=negative",
                                      "first_named&question", "first_named&bc=negative"}


def test_the_guarantor_is_the_best_option_the_first_of_equals_and_none_for_nobody() -> None:
    from bot.extraction.learned.guarantor import choose

    rules = RuleExtractor()
    doc = rules.nlp("France offered to send troops to Ukraine.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    cand = next(c for c in view.candidates if c.party == "fra")

    def ranker(nobody: float, holder: float) -> LinearModel:
        return LinearModel(("no", "yes"), {"o=nobody": 0, "o=holder": 1},
                           np.array([[0, 0], [nobody, holder]], dtype=np.float32),
                           np.zeros(2, dtype=np.float32), {})

    assert choose(ranker(0.0, 1.0), view, cand, "backs") == "fra"
    assert choose(ranker(1.0, 0.0), view, cand, "backs") is None
    assert choose(ranker(0.5, 0.5), view, cand, "backs") is None  # nobody is the first option


def test_a_lead_with_its_attribution_after_a_comma_is_read(combined: CombinedExtractor) -> None:
    text = ("Talks\nBritain is ready to send peacekeepers to Ukraine, Keir Starmer said on Monday."
            "\nUkraine wants to join NATO, Volodymyr Zelensky told the summit in The Hague.")
    found = keys(combined, text)
    assert ("gbr", "backs", "peacekeeping_force") in found
    assert ("ukr", "seeks", "nato_membership") in found


def test_the_sentence_model_reads_each_stance_and_candidates_carry_it() -> None:
    """The sentence model gives the guarantees a sentence speaks of and how likely it carries
    each stance; a candidate reads the stances (in buckets, and the likeliest), and a refusal
    reads as one."""
    from bot.extraction.learned.features import STANCE_LABEL

    sentences = load_model("sentences")
    stances = [label for label in sentences.labels if label.startswith(STANCE_LABEL)]
    assert sorted(stances) == sorted(STANCE_LABEL + s for s in ("seeks", "backs", "opposes",
                                                                 "doubts"))
    rules = RuleExtractor()
    doc = rules.nlp("No troops\nItaly has flatly refused to send soldiers to Ukraine,"
                    " Prime Minister Giorgia Meloni said.")
    view = build_view(doc, rules.analyse(doc), sentences.batch_independent)
    [italy] = [c for c in view.candidates if c.party == "ita" and c.sentence == 1]
    assert italy.features.get("sp_top=opposes") == 1.0
    assert sum(name.startswith("sp=") for name in italy.features) == 4
    # without a sentence model (or one without stance labels) there is no prior
    plain = build_view(doc, rules.analyse(doc))
    assert not any(name.startswith(("sp=", "sp_top=")) for c in plain.candidates
                   for name in c.features)


def test_clear_news_sentences(combined: CombinedExtractor) -> None:
    assert ("fra", "backs", "peacekeeping_force") in keys(
        combined, "Paris ready\nFrance is ready to send peacekeepers to Ukraine after a"
        " ceasefire, President Emmanuel Macron said on Monday.")
    assert ("rus", "opposes", "peacekeeping_force") in keys(
        combined, "Moscow says no\nThe Kremlin said it would never accept NATO troops in"
        " Ukraine under any arrangement.")


def test_a_third_state_wanting_ukraine_in_nato_does_not_oppose_it(
    combined: CombinedExtractor,
) -> None:
    found = keys(combined, "Warsaw on NATO\nPoland wants Ukraine in NATO, its foreign minister"
                           " said, calling membership the only guarantee.")
    assert ("pol", "opposes", "nato_membership") not in found


def test_the_beneficiary_comes_from_the_text(combined: CombinedExtractor) -> None:
    text = ("Yerevan's bid\nArmenia wants to join the European Union, Prime Minister Nikol"
            " Pashinyan told parliament in Yerevan, saying Armenia would apply this year.")
    article = Article(id="arm", title="Yerevan's bid", text=text)
    positions = combined.extract(article)
    assert positions and all(p.beneficiary == "arm" for p in positions)
    assert ("arm", "seeks", "eu_membership") in {
        (p.party, str(p.stance), str(p.guarantee)) for p in positions}


def test_inference_is_deterministic(combined: CombinedExtractor) -> None:
    records = read_gold(ROOT / "bot/corpus/dev_gold.jsonl")[:3]
    articles = [Article(id=r["id"], title=r["title"], text=r["text"]) for r in records]
    first = [combined.extract(a) for a in articles]
    again = CombinedExtractor()
    assert [again.extract(a) for a in articles] == first


def test_the_bundled_corpus_stays_above_its_floor(combined: CombinedExtractor) -> None:
    records = [*read_gold(ROOT / "bot/corpus/seed_gold.jsonl"),
               *read_gold(ROOT / "bot/corpus/dev_gold.jsonl")]
    assert evaluate_records(records, combined).overall.f1 >= 0.90


def test_training_is_reproducible() -> None:
    """Two fits on the same records give the same weights, bit for bit."""
    pytest.importorskip("sklearn", reason="scikit-learn is the `train` extra")
    from bot.extraction.learned.train import cross_fitted_views, examples, fit

    records = read_gold(ROOT / "tests/fixtures/extraction/blind9_gold.jsonl")[:8]
    rules = RuleExtractor()
    models = []
    rankers = []
    for _ in range(2):
        views, _sentences, beneficiary = cross_fitted_views(records, rules)
        data, _, _ = examples(records, views)
        models.append(fit(data, "combined"))
        rankers.append(beneficiary)
    assert models[0].meta["version"] == models[1].meta["version"]
    assert np.array_equal(models[0].weights, models[1].weights)
    assert rankers[0].meta == rankers[1].meta
    assert np.array_equal(rankers[0].weights, rankers[1].weights)


def test_a_halved_model_is_stored_in_half_and_loads_as_it_scored(tmp_path: Path) -> None:
    model = load_model("guarantor")
    halved = model.halved()
    assert halved.meta["version"] == f"{model.meta['version']}h"
    assert not np.array_equal(halved.weights, model.weights)  # rounded, so a new version
    halved.save(tmp_path / "half.npz")
    with np.load(tmp_path / "half.npz") as arrays:
        assert arrays["weights"].dtype == np.float16
    again = LinearModel.load((tmp_path / "half.npz").read_bytes())
    assert again.weights.dtype == np.float32
    assert np.array_equal(again.weights, halved.weights)  # nothing lost in the file
    row = {name: 1.0 for name in sorted(model.index)[:30]}
    assert again.batch_scores([row]).tolist() == halved.batch_scores([row]).tolist()


def test_the_committed_sentence_model_is_the_half_precision_one() -> None:
    """`make train` halves the sentence model, the largest artifact (see train.py)."""
    path = ROOT / "bot/extraction/learned/artifacts/sentences.npz"
    with np.load(path) as arrays:
        assert arrays["weights"].dtype == np.float16
    assert str(load_model("sentences").meta["version"]).endswith("h")


def test_a_pickled_model_scores_the_same_and_ships_without_its_derived_copies() -> None:
    model = load_model("combined")
    data = pickle.dumps(model)
    again = pickle.loads(data)
    # the weights and names, not also the float64 copy (twice the weights) made for scoring
    assert len(data) < len(pickle.dumps(model.index)) + 1.5 * model.weights.nbytes + 100_000
    row = {name: 1.0 for name in sorted(model.index)[:30]}
    assert again.batch_probabilities([row]) == model.batch_probabilities([row])


def test_committed_models_were_fitted_on_this_train_split_with_the_pinned_versions() -> None:
    """`make train` pins its libraries: a model fitted with others (or on another split) would
    not come out of `make train` bit for bit, and its version would not either."""
    from bot.extraction.learned.splits import load_split

    pins = {}
    for line in (ROOT / "train-constraints.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].split(";", 1)[0].strip()
        if "==" in requirement:
            name, _, pinned = requirement.partition("==")
            pins[name.strip().lower()] = pinned.strip()
    articles = len(load_split("train", ROOT))
    for kind in ("combined", "model"):
        meta = load_model(kind).meta
        assert meta["train_articles"] == articles
        used = meta["trained_with"]
        assert isinstance(used, dict)
        for name in ("scikit-learn", "scipy", "numpy"):
            assert used[name] == pins[name], (kind, name)


def test_a_sentence_unlikely_to_carry_any_stance_keeps_only_the_rules_proposals() -> None:
    """At inference, a sentence the sentence model finds unlikely to carry a position of any
    stance is given candidates only for the (party, guarantee) pairs the rules proposed;
    training sees them all."""
    from bot.extraction.learned.features import STANCE_LABEL, UNLIKELY_STANCE, Guesser

    rules = RuleExtractor()
    doc = rules.nlp("Italy has flatly refused to send soldiers to Ukraine, Giorgia Meloni said."
                    " Soldiers from Poland and Hungary have trained near the Ukrainian border.")
    analysis = rules.analyse(doc)
    proposed = {(p.sentence, p.party, p.guarantee.value) for p in analysis.proposals}
    assert proposed == {(0, "ita", "peacekeeping_force")}

    def guesser(stance: float) -> Guesser:
        def guess(rows: list[dict[str, float]]) -> list[dict[str, float]]:
            # two guarantees guessed in every sentence: only the proposed one may stay
            return [{"peacekeeping_force": 0.9, "security_guarantee": 0.9,
                     **{STANCE_LABEL + s: stance for s in ("seeks", "backs", "opposes",
                                                           "doubts")}} for _ in rows]
        return guess

    def candidates(view: ArticleView) -> set[tuple[int, str, str]]:
        return {(c.sentence, c.party, c.guarantee) for c in view.candidates}

    likely = build_view(doc, analysis, guesser(0.5), headline=False, prune=True)
    unlikely = build_view(doc, analysis, guesser(UNLIKELY_STANCE / 2), headline=False,
                          prune=True)
    unpruned = build_view(doc, analysis, guesser(UNLIKELY_STANCE / 2), headline=False)
    assert {(1, "pol", "peacekeeping_force"), (1, "hun", "security_guarantee"),
            (0, "ita", "security_guarantee"), (0, "ukr", "peacekeeping_force")} <= \
        candidates(likely)
    assert candidates(unlikely) == {(0, "ita", "peacekeeping_force")}
    assert candidates(unpruned) == candidates(likely)


@pytest.mark.source_mode
def test_the_extractor_prunes_and_says_so_in_its_version(monkeypatch: pytest.MonkeyPatch,
                                                         combined: CombinedExtractor) -> None:
    """The extractor builds its candidates with pruning on, and its version names the pruning
    bar, the way candidates add up, the discount of rivals and the bars (any change re-extracts
    stores)."""
    import bot.extraction.learned.extractor as extractor_module
    from bot.extraction.learned.features import UNLIKELY_STANCE

    asked: list[object] = []
    real = extractor_module.build_view

    def spy(*args: object, **kwargs: object) -> ArticleView:
        asked.append(kwargs.get("prune"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(extractor_module, "build_view", spy)
    combined.extract(Article(id="a", title="", text="Italy refused to send troops to Ukraine."))
    assert asked == [True]
    assert combined.version.endswith(f"u{UNLIKELY_STANCE:g}{extractor_module.AGGREGATION}"
                                     f"{extractor_module.RIVALS}{extractor_module.SEEKER_BENEFICIARY}"
                                     f"t{combined.threshold_ruled:g}-"
                                     f"{combined.threshold_new:g}")
    # bars moved by a retraining re-extract stores even where the weights stay the same
    assert CombinedExtractor(threshold=0.45).version != combined.version


def test_candidates_of_one_position_add_up_as_independent_witnesses() -> None:
    from bot.extraction.learned.extractor import agreement

    assert agreement([]) == 0.0
    assert agreement([0.5]) == 0.5
    assert agreement([0.2, 0.2]) == pytest.approx(0.36)
    assert agreement([0.9, 0.1, 0.0]) == pytest.approx(0.91)


def test_a_position_stated_twice_can_clear_a_bar_that_neither_sentence_clears() -> None:
    """The kept position's confidence is the candidates' agreement, not the best one's
    probability; its evidence is one of their sentences."""
    from bot.extraction.learned.extractor import agreement

    text = ("Poland is ready to send troops to Ukraine after a ceasefire, Donald Tusk said.\n"
            "Tusk repeated on Friday that Polish soldiers could serve in a force in Ukraine.")
    article = Article(id="t", title="", text=text)
    view, scored = CombinedExtractor().scored(article)
    key = ("pol", "backs", "peacekeeping_force")
    group = [s for s in scored if (s.candidate.party, s.stance, s.candidate.guarantee) == key]
    assert len(group) >= 2
    best = max(s.probability for s in group)
    together = agreement([s.probability for s in group])
    assert together > best
    bar = (best + together) / 2
    kept = {p.key: p for p in CombinedExtractor(threshold=bar).select(view, scored)}
    position = kept[("pol", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE)]
    assert position.confidence == round(together, 3)
    assert position.evidence in {view.quote(view.sentences[s.candidate.sentence]) for s in group}
    assert ("pol", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE) not in {
        p.key for p in CombinedExtractor(threshold=together + 1e-6).select(view, scored)}


def test_a_party_named_beside_a_likelier_guarantee_is_discounted_by_its_ratio() -> None:
    """`discount_rivals`: within one sentence and one party, the likeliest candidate keeps its
    probability and each other one is scaled by its ratio to it (p * p / best); other parties
    and other sentences do not compete."""
    from bot.extraction.learned.extractor import Scored, discount_rivals
    from bot.extraction.learned.features import Candidate

    def scored(sentence: int, party: str, guarantee: str, p: float) -> Scored:
        return Scored(Candidate(sentence, party, guarantee, party), "backs", p)

    before = [scored(0, "tur", "peacekeeping_force", 0.8), scored(0, "tur", "nato_membership", 0.4),
              scored(0, "fra", "nato_membership", 0.4), scored(1, "tur", "nato_membership", 0.4),
              scored(2, "pol", "eu_membership", 0.0), scored(2, "pol", "nato_membership", 0.0),
              scored(3, "deu", "eu_membership", 0.5), scored(3, "deu", "nato_membership", 0.5),
              Scored(Candidate(3, "deu", "security_guarantee", "deu"), "opposes", 0.25)]
    after = discount_rivals(before)
    # ties both keep their value; a rival of another stance is discounted all the same
    assert [s.probability for s in after] == pytest.approx(
        [0.8, 0.2, 0.4, 0.4, 0.0, 0.0, 0.5, 0.5, 0.125])
    assert [s.stance for s in after] == [s.stance for s in before]
    assert [s.candidate for s in after] == [s.candidate for s in before]
    assert discount_rivals([]) == []


def test_the_extractor_scores_candidates_with_their_rivals_discounted(
        combined: CombinedExtractor) -> None:
    """`scored` gives the model's likeliest stance of each candidate, with the probability
    `discount_rivals` makes of it (what `select` and the search over bars read)."""
    from bot.extraction.learned.extractor import Scored, discount_rivals

    text = ("Turkey backs a peacekeeping force in Ukraine but opposes Ukraine's NATO membership, "
            "its foreign minister said.\nBritain and France said they would lead the force.")
    view, scored = combined.scored(Article(id="r", title="", text=text))
    raw = load_model("combined").batch_likeliest([c.features for c in view.candidates], "none")
    plain = [Scored(c, stance, p) for c, (stance, p) in zip(view.candidates, raw, strict=True)]
    assert scored == discount_rivals(plain)
    assert any(a.probability < b.probability for a, b in zip(scored, plain, strict=True))


@pytest.mark.source_mode
def test_the_quoted_sentence_prefers_the_body_only_where_sentence_0_is_a_headline() -> None:
    """`_evidence`: among the candidates that clear their own bar (all when none does), a
    body sentence before the headline, where the text opens with its headline; else the
    likeliest."""
    from types import SimpleNamespace

    from bot.extraction.learned.extractor import Scored, _evidence
    from bot.extraction.learned.features import Candidate

    def scored(sentence: int, probability: float) -> Scored:
        return Scored(Candidate(sentence, "pol", "peacekeeping_force", "", {}), "backs",
                      probability)

    opening, body = scored(0, 0.9), scored(3, 0.5)
    group = [opening, body]
    with_headline, bare = SimpleNamespace(headline=True), SimpleNamespace(headline=False)
    assert _evidence(with_headline, group, lambda s: 0.3) is body  # type: ignore[arg-type]
    assert _evidence(bare, group, lambda s: 0.3) is opening  # type: ignore[arg-type]
    # only the headline clears its bar: it is quoted
    assert _evidence(with_headline, group, lambda s: 0.6) is opening  # type: ignore[arg-type]
    # none does: all of them are considered
    assert _evidence(with_headline, group, lambda s: 0.95) is body  # type: ignore[arg-type]


def test_a_party_reads_the_words_either_side_of_its_name() -> None:
    """Who is addressed is not who speaks: a list after "asked" is read as an object
    (`not_subject`: a word before it by which the rules take a name for an object,
    attribution.toml), a party before "said" as the one speaking."""
    rules = RuleExtractor()
    doc = rules.nlp("The envoy asked Indonesia, Egypt and Qatar to contribute troops to the "
                    "force. Turkey said it would send soldiers to the force.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    by_party = {(c.party, c.sentence): c.features for c in view.candidates
                if c.guarantee == "peacekeeping_force"}
    for party in ("idn", "egy", "qat"):
        # the list is read whole: "asked" before Indonesia, "to" after Qatar
        assert {"not_subject", "mw-=asked", "mw--=envoy", "mw+=to"} <= by_party[(party, 0)].keys()
        # and, as a role, paired with the cues: an addressee with "contribute" after it
        assert "not_subject&bc=positive" in by_party[(party, 0)]
    turkey = by_party[("tur", 1)]
    assert {"mw+=said", "mw-=<s>", "mw--=<s>"} <= turkey.keys()
    assert "not_subject" not in turkey


@pytest.mark.parametrize(("text", "sentence", "party", "expected", "absent"), [
    # the second token: the word before it, and the sentence's start before that
    ("Who will send troops? Then Turkey said it would send soldiers to the force.", 1, "tur",
     {"mw-=then", "mw--=<s>", "mw+=said"}, {"not_subject"}),
    # an article between the governing word and the name, as the rules read it too
    ("The plan would require the United States to provide troops to Ukraine.", 0, "usa",
     {"mw-=the", "mw--=require", "not_subject"}, set()),
    # a sentence with no guarantee phrase of its own ("it"): the same words are read
    ("Ukraine wants a peacekeeping force. Hungary would block it.", 1, "hun",
     {"no_g_phrase", "mw-=<s>", "mw--=<s>", "mw+=would"}, {"not_subject"}),
    # a line break is one kind of word, whatever its width
    ("Troops for Ukraine from Turkey\n\nAnkara said so.", 0, "tur",
     {"mw-=from", "mw+=<ws>", "not_subject"}, set()),
])
def test_the_words_around_a_name_stop_at_its_sentence(
        text: str, sentence: int, party: str, expected: set[str], absent: set[str]) -> None:
    rules = RuleExtractor()
    doc = rules.nlp(text)
    view = build_view(doc, rules.analyse(doc), headline=False)
    features = next(c.features for c in view.candidates
                    if (c.sentence, c.party) == (sentence, party))
    assert expected <= features.keys()
    assert not absent & features.keys()
    # never a word of another sentence
    words = {k.partition("=")[2] for k in features if k.startswith("mw")}
    assert words <= {w.lower_ for w in view.sentences[sentence]} | {"<s>", "</s>", "<ws>"}


def test_a_party_reads_which_of_its_sentences_guarantees_it_is_nearest() -> None:
    """"Turkey backs a force but opposes NATO membership": each stance belongs to one of the
    guarantees. The nearer one is ranked 0; the farther one has the other between it and the
    party. A sentence with one guarantee has no rank to read."""
    rules = RuleExtractor()
    doc = rules.nlp("Turkey backs a peacekeeping force for Ukraine but opposes its NATO "
                    "membership. Poland would send troops.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    by_key = {(c.sentence, c.party, c.guarantee): c.features for c in view.candidates}
    force = by_key[(0, "tur", "peacekeeping_force")]
    nato = by_key[(0, "tur", "nato_membership")]
    assert "g_rank=0" in force and "g_between" not in force
    assert {"g_between", "g_rank=1"} <= nato.keys()
    # two phrases: "NATO membership" once, though its "membership" is also read as the EU's
    assert "ng=2" in force and "ng=2" in nato
    poland = by_key[(1, "pol", "peacekeeping_force")]
    assert "ng=1" in poland
    assert not {k for k in poland if k.startswith(("g_rank", "g_between"))}


def test_the_bars_are_scored_as_select_and_score_would_score_them(
        combined: CombinedExtractor) -> None:
    """`f1_by_bars` counts the positions each pair of bars keeps instead of selecting and
    scoring again: the same F1 at every pair, an article id met twice and an article that
    cannot be read included; `choose_thresholds` takes the first best."""
    import copy

    from bot.evaluate import score
    from bot.extraction.learned import train
    from bot.ingest import article_from_record

    records = read_gold(ROOT / "tests/fixtures/extraction/blind9_gold.jsonl")[:5]
    records.append(copy.deepcopy(records[0]))  # the same id twice
    records.append({"id": "unreadable", "title": "", "text": "",
                    "positions": [dict(records[1]["positions"][0])]})
    articles = [article_from_record(r, f"gold:{n}") for n, r in enumerate(records, start=1)]
    scored = [(a.id, combined.scored(a)) for a in articles if isinstance(a, Article)]
    assert len(scored) == 6
    saved = combined.threshold_ruled, combined.threshold_new
    expected = {}
    try:
        for ruled in train.THRESHOLDS:
            for new in train.THRESHOLDS:
                combined.threshold_ruled, combined.threshold_new = ruled, new
                kept = {i: combined.select(view, s) for i, (view, s) in scored}
                expected[(ruled, new)] = score(records, kept).overall.f1
        counted = train.f1_by_bars(combined, records)
    finally:
        combined.threshold_ruled, combined.threshold_new = saved
    assert list(counted) == list(expected)
    assert list(counted.values()) == pytest.approx(list(expected.values()))
    assert len(set(expected.values())) > 10  # the bars matter on these articles
    best = max(expected.values())
    first = next(pair for pair, f1 in expected.items() if f1 > best - 1e-9)
    assert train.choose_thresholds(combined, records) == (*first, pytest.approx(best))
