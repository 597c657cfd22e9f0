"""Scoring tests with hand-made gold and predictions, and the end-to-end corpus target."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bot.evaluate import (
    Counts,
    evaluate_records,
    f1_interval,
    format_ablation,
    format_report,
    read_gold,
    run_eval,
    score,
)
from bot.extraction.rules import RuleExtractor
from bot.models import Position
from bot.vocabulary import Guarantee, Stance

TEXT = "Spain backs peacekeepers. Hungary blocks EU accession. Ukraine wants NATO membership."


def gold_record(positions: list[dict[str, object]], article_id: str = "a1") -> dict:
    return {"id": article_id, "title": "t", "text": TEXT, "positions": positions}


def g(party: str, stance: str, guarantee: str, evidence: str, guarantor: str | None = None,
      also: tuple[str, ...] = ()) -> dict[str, object]:
    return {"actor": party, "party": party, "stance": stance, "guarantee": guarantee,
            "guarantor": guarantor, "beneficiary": "ukr", "evidence": evidence,
            "also": list(also)}


def pos(party: str, stance: str, guarantee: str, evidence: str,
        guarantor: str | None = None) -> Position:
    return Position(actor=party, party=party, stance=Stance(stance),
                    guarantee=Guarantee(guarantee), guarantor=guarantor, beneficiary="ukr",
                    evidence=evidence)


def test_hand_computed_scores() -> None:
    records = [gold_record([
        g("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers", "esp"),
        g("hun", "opposes", "eu_membership", "Hungary blocks", "eu"),
        g("ukr", "seeks", "nato_membership", "Ukraine wants NATO", "nato",
          also=("NATO membership",)),
    ])]
    predictions = {"a1": [
        pos("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers.", "esp"),
        pos("ukr", "seeks", "nato_membership", "Ukraine wants NATO membership.", None),
        # the same tuple twice counts once
        pos("ukr", "seeks", "nato_membership", "Something else.", None),
        pos("hun", "backs", "eu_membership", "Hungary blocks EU accession.", "eu"),
        pos("pol", "doubts", "air_sea_protection", "Spain backs peacekeepers.", None),
    ]}
    result = score(records, predictions)
    # tp 2 (esp, ukr), fp 2 (hun backs, pol doubts), fn 1 (hun opposes)
    assert (result.overall.tp, result.overall.fp, result.overall.fn) == (2, 2, 1)
    assert result.overall.precision == pytest.approx(0.5)
    assert result.overall.recall == pytest.approx(2 / 3)
    assert result.overall.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # guarantor: esp right, ukr wrong (None vs nato)
    assert result.guarantor_accuracy == pytest.approx(0.5)
    assert result.evidence_accuracy == pytest.approx(1.0)
    per = result.per_guarantee
    assert (per["eu_membership"].tp, per["eu_membership"].fp, per["eu_membership"].fn) == (
        0, 1, 1)
    assert per["peacekeeping_force"].f1 == pytest.approx(1.0)
    assert per["demilitarized_zone"].f1 == 0.0
    assert [m.party for m in result.misses] == ["hun"]
    assert {m.party for m in result.false_hits} == {"hun", "pol"}


def test_the_beneficiary_is_scored_on_matched_positions() -> None:
    """A matched position whose beneficiary differs from the gold one counts against
    beneficiary accuracy; an unmatched one does not count at all."""
    records = [gold_record([
        g("aus", "backs", "peacekeeping_force", "Spain backs peacekeepers"),
        g("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers"),
    ])]
    records[0]["positions"][0]["beneficiary"] = "slb"
    wrong = replace(pos("aus", "backs", "peacekeeping_force", "Spain backs peacekeepers."),
                    beneficiary="ukr")
    right = pos("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers.")
    stray = replace(pos("fra", "backs", "peacekeeping_force", "Spain backs peacekeepers."),
                    beneficiary="slb")
    result = score(records, {"a1": [wrong, right, stray]})
    assert result.overall.tp == 2
    assert result.beneficiary_accuracy == pytest.approx(0.5)
    assert result.as_dict()["beneficiary_accuracy"] == 0.5
    fixed = score(records, {"a1": [replace(wrong, beneficiary="slb"), right]})
    assert fixed.beneficiary_accuracy == pytest.approx(1.0)
    assert "beneficiary accuracy 1.000" in format_report(fixed, verbose=False)


def test_scores_by_conflict_pool_everything_but_ukraine() -> None:
    records = [
        {**gold_record([g("ukr", "seeks", "nato_membership", "Ukraine wants NATO")], "u"),
         "conflict": "ukraine"},
        {**gold_record([g("esp", "backs", "peacekeeping_force", "Spain backs")], "z"),
         "conflict": "gaza"},
        {**gold_record([g("hun", "opposes", "eu_membership", "Hungary blocks")], "t"),
         "conflict": "taiwan"},
        gold_record([g("pol", "backs", "peacekeeping_force", "Spain backs")], "n"),  # no tag
    ]
    predictions = {
        "u": [pos("ukr", "seeks", "nato_membership", "Ukraine wants NATO membership.")],
        "z": [pos("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers.")],
        "t": [pos("hun", "backs", "eu_membership", "Hungary blocks EU accession.")],
        "n": [pos("pol", "backs", "peacekeeping_force", "Spain backs peacekeepers.")],
    }
    result = score(records, predictions)
    by = result.per_conflict
    assert (by["ukraine"].tp, by["gaza"].tp, by["taiwan"].fp, by["taiwan"].fn) == (1, 1, 1, 1)
    pooled = result.beyond_ukraine
    assert pooled is not None and "(all but ukraine)" not in by  # the table still sums
    assert (pooled.tp, pooled.fp, pooled.fn) == (1, 1, 1)  # gaza and taiwan, not the untagged
    assert "(all but ukraine)" in format_report(result, False)
    # Ukraine and untagged articles only: no pooled row of nothing
    alone = score([records[0], records[3]], {k: predictions[k] for k in ("u", "n")})
    assert alone.beyond_ukraine is None
    assert "(all but ukraine)" not in format_report(alone, False)


def test_an_ablation_survives_a_group_only_one_extractor_touched() -> None:
    records = [
        {**gold_record([g("ukr", "seeks", "nato_membership", "Ukraine wants NATO")], "u"),
         "conflict": "ukraine"},
        {**gold_record([], "n")},  # untagged, no gold: only a false hit makes its "?" group
        {**gold_record([g("esp", "backs", "peacekeeping_force", "Spain backs")], "z"),
         "conflict": "gaza"},
    ]
    first = score(records, {"u": [pos("ukr", "seeks", "nato_membership", "Ukraine wants.")]})
    second = score(records, {"n": [pos("pol", "backs", "peacekeeping_force", "Spain backs.")]})
    out = format_ablation({"one": first, "two": second})
    rows = [line.split() for line in out.splitlines()]
    assert ["?", "0.000", "0.000"] in rows
    conflict_rows = [r[0] for r in rows if r and r[0] in ("ukraine", "gaza", "?", "(all")]
    assert conflict_rows[-1] == "(all"


def test_evidence_must_contain_a_gold_span() -> None:
    records = [gold_record([g("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers",
                              also=("peacekeepers",))])]
    wrong = score(records, {"a1": [pos("esp", "backs", "peacekeeping_force", "Hungary.")]})
    also = score(records, {"a1": [pos("esp", "backs", "peacekeeping_force", "the peacekeepers")]})
    assert wrong.evidence_accuracy == 0.0
    assert also.evidence_accuracy == 1.0


def test_matching_is_per_article() -> None:
    records = [gold_record([g("esp", "backs", "peacekeeping_force", "Spain")], "a1"),
               gold_record([], "a2")]
    result = score(records, {"a2": [pos("esp", "backs", "peacekeeping_force", "Spain")]})
    assert (result.overall.tp, result.overall.fp, result.overall.fn) == (0, 1, 1)
    assert result.overall.f1 == 0.0


def test_empty_everything_is_zero_not_an_error() -> None:
    result = score([gold_record([])], {})
    assert result.overall.f1 == 0.0 and result.guarantor_accuracy == 0.0


def test_run_eval_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gold.jsonl"
    record = gold_record([g("esp", "backs", "peacekeeping_force", "Spain backs peacekeepers")])
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert run_eval(path, as_json=True, verbose=True) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "f1", "guarantor_accuracy", "evidence_accuracy",
            "beneficiary_accuracy",
            "per_guarantee", "misses", "false_hits"} <= out.keys()
    assert run_eval(path, as_json=False, verbose=True) == 0
    assert "F1" in capsys.readouterr().out


def test_run_eval_unreadable(tmp_path: Path) -> None:
    assert run_eval(tmp_path / "missing.jsonl", as_json=False, verbose=False) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    assert run_eval(bad, as_json=False, verbose=False) == 2


CORPUS = Path(__file__).resolve().parents[1] / "bot" / "corpus"


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    return RuleExtractor()


def test_corpus_targets(extractor: RuleExtractor) -> None:
    records = [r for f in sorted(CORPUS.glob("*.jsonl")) for r in read_gold(f)]
    result = evaluate_records(records, extractor)
    assert result.overall.f1 >= 0.85
    assert result.evidence_accuracy >= 0.9


def test_eval_ablation_prints_three_extractors_by_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    src = Path(__file__).resolve().parent.parent / "bot/corpus/dev_gold.jsonl"
    lines = src.read_text(encoding="utf-8").splitlines()[:3]
    records = [json.loads(line) for line in lines]
    for record, style in zip(records, ("wire", "wire", "brief"), strict=True):
        record["style"] = style
    gold = tmp_path / "g.jsonl"
    gold.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    assert main(["eval", str(gold), "--ablation"]) == 0
    out = capsys.readouterr().out
    for row in ("rules alone", "model alone", "combined", "F1 by style", "F1 by stance"):
        assert row in out
    assert main(["eval", str(gold), "--split", "dev"]) == 2  # a file or a split, not both


def test_splits_keep_writers_apart() -> None:
    """No writer and no style of the test split appears in train or dev."""
    from bot.extraction.learned.splits import load_split

    root = Path(__file__).resolve().parent.parent
    split = {name: load_split(name, root) for name in ("train", "dev", "test")}
    assert len(split["test"]) >= 70
    total = sum(len(records) for records in split.values())
    assert total >= 300 + 134  # the corpus written for this round, and the earlier sets
    test_writers = {r.get("writer") for r in split["test"]}
    test_styles = {r["style"] for r in split["test"]}
    for name in ("train", "dev"):
        assert not test_writers & {r.get("writer") for r in split[name]}
        assert not test_styles & {r["style"] for r in split[name]}
    assert all(r["set"] for records in split.values() for r in records)


def test_each_article_is_counted_and_the_f1_interval_spans_its_estimate() -> None:
    """Every article is counted, also one with nothing in it: one found and one missed
    article give an interval from 0 to 1 around F1 2/3; one article gives none."""
    records = [gold_record([g("esp", "backs", "peacekeeping_force", "Spain backs")], "a1"),
               gold_record([g("hun", "opposes", "eu_membership", "Hungary blocks")], "a2"),
               gold_record([], "a3")]
    predictions = {"a1": [pos("esp", "backs", "peacekeeping_force", "Spain backs.")]}
    result = score(records, predictions)
    assert result.per_article == {"a1": Counts(1, 0, 0), "a2": Counts(0, 0, 1),
                                  "a3": Counts(0, 0, 0)}
    assert result.overall.f1 == pytest.approx(2 / 3)
    assert result.f1_interval() == (0.0, 1.0)
    assert result.as_dict()["f1_interval"] == [0.0, 1.0]
    assert "95% interval 0.000–1.000" in format_report(result, False)
    assert score(records[:1], predictions).f1_interval() is None
    # an article with nothing found and nothing to find is still drawn: alone, F1 0
    assert f1_interval({"a": Counts(1, 0, 0), "b": Counts(0, 0, 0)}) == (0.0, 1.0)


MIX = [Counts(2, 1, 0), Counts(0, 1, 2), Counts(3, 0, 1), Counts(1, 1, 1)]


def _articles(counts: list[Counts]) -> dict[str, Counts]:
    return {f"a{i:03d}": c for i, c in enumerate(counts)}


def test_the_f1_interval_narrows_with_more_articles_and_a_lower_level() -> None:
    """The same mix of articles, ten times as many: a narrower interval around the same F1;
    the middle half of the draws is narrower than the middle 95 %."""
    few_low, few_high = f1_interval(_articles(MIX * 3)) or (0.0, 0.0)
    many_low, many_high = f1_interval(_articles(MIX * 30)) or (0.0, 0.0)
    half_low, half_high = f1_interval(_articles(MIX * 30), level=0.5) or (0.0, 0.0)
    f1 = Counts(6, 3, 4).f1
    assert few_low < many_low < half_low < f1 < half_high < many_high < few_high
    with pytest.raises(ValueError):
        f1_interval(_articles(MIX), level=1.5)


def test_the_f1_interval_draws_articles_not_positions_the_same_way_every_run() -> None:
    """Twenty articles found or missed whole swing F1 more than forty articles of one
    position each with the same totals: the positions of an article are drawn together.
    The draws are the same every run and for the articles in any order."""
    whole = _articles([Counts(2, 0, 0)] * 10 + [Counts(0, 0, 2)] * 10)
    single = _articles([Counts(1, 0, 0)] * 20 + [Counts(0, 0, 1)] * 20)
    whole_low, whole_high = f1_interval(whole) or (0.0, 0.0)
    single_low, single_high = f1_interval(single) or (0.0, 0.0)
    assert whole_high - whole_low > single_high - single_low
    mixed = _articles(MIX * 30)
    assert f1_interval(mixed) == f1_interval(dict(reversed(list(mixed.items()))))
    assert f1_interval(mixed) == f1_interval(dict(mixed))
