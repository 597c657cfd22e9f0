"""The beneficiary ranker: whose security an article is about, read from the parties it names,
also for a conflict the rules' list of beneficiaries does not have."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bot.extraction.learned import beneficiary as ranker
from bot.extraction.learned.extractor import CombinedExtractor, beneficiary_of, load_model
from bot.extraction.learned.features import build_view, read_beneficiary
from bot.extraction.learned.mentions import PartyMention
from bot.extraction.learned.model import LinearModel
from bot.extraction.rules import RuleExtractor
from bot.extraction.rules.beneficiary import beneficiary_order
from bot.models import Article


@pytest.fixture(scope="module")
def rules() -> RuleExtractor:
    return RuleExtractor()


def named(*parties: str, start: int = 10) -> list[PartyMention]:
    return [PartyMention(start + 3 * i, start + 3 * i + 1, p, "P") for i, p in enumerate(parties)]


def toy_model(weights: dict[str, float], roles: dict[str, str] | None = None) -> LinearModel:
    names = sorted(weights)
    w = np.zeros((2, len(names)), dtype=np.float32)
    w[1] = [weights[n] for n in names]
    return LinearModel(("no", "yes"), {n: i for i, n in enumerate(names)}, w,
                       np.zeros(2, dtype=np.float32), {"version": "btoy", "roles": roles or {}})


def position(party: str, guarantor: str | None, beneficiary: str) -> dict[str, object]:
    return {"party": party, "stance": "backs", "guarantee": "peacekeeping_force",
            "guarantor": guarantor, "beneficiary": beneficiary}


def test_roles_band_parties_by_receiving_against_providing() -> None:
    records = [{"positions": [position("usa", "usa", "slb")] * 12 +
                             [position("slb", None, "slb")] * 3}]
    roles = ranker.party_roles(records)
    assert roles["slb"] == "B2"  # received 15 times, provided never
    assert roles["usa"] == "G2"  # provided 12 times, received never
    assert "fra" not in roles  # a party the articles never had: no band (read as neither)


def test_positions_without_a_beneficiary_are_not_counted_as_a_party() -> None:
    record = {"positions": [position("slb", None, "slb"), {**position("aus", "aus", "slb"),
                                                          "beneficiary": None},
                            {**position("chn", "chn", "slb"), "beneficiary": None}]}
    roles = ranker.party_roles([record])
    assert "None" not in roles and roles["slb"] == "B1"
    assert ranker.gold_beneficiary(record) == "slb"  # two nulls do not outvote one party
    assert ranker.gold_beneficiary({"positions": [{**position("aus", None, "slb"),
                                                   "beneficiary": None}]}) is None


def test_a_model_without_roles_is_refused_with_a_clear_error() -> None:
    model = toy_model({"title": 1.0})
    model.meta.pop("roles")
    with pytest.raises(ValueError, match="make train"):
        ranker.chooser(model)


def test_the_features_say_how_a_party_is_named() -> None:
    mentions = named("slb", "aus", "slb", "chn", start=0)  # the first sentence ends at token 2
    f = ranker.features("slb", mentions, 2, {"slb": "B1"})
    assert {"title", "L=no", "share=top", "rank=1", "first=1", "n=2", "role=B1"} <= {
        k for k, v in f.items() if v}
    g = ranker.features("chn", mentions, 2, {})
    assert g["title"] == 0.0 and "role=N" in g and "share=>=.5" in g and "first=3" in g


def test_the_likeliest_named_party_wins_and_equals_go_to_the_first_named() -> None:
    model = toy_model({"role=B2": 2.0, "role=G2": -2.0})
    roles = {"kwt": "B2", "usa": "G2"}
    assert ranker.choose(toy_model({"role=B2": 2.0}, roles), named("usa", "kwt"), 0) == "kwt"
    assert ranker.choose(model, named("fra", "deu"), 0) == "fra"  # equal scores: first named
    assert ranker.choose(model, [], 0) == beneficiary_order()[0]  # nobody named


def test_a_state_that_seeks_a_guarantee_is_its_beneficiary() -> None:
    assert beneficiary_of("aze", "seeks", "arm") == "aze"
    assert beneficiary_of("fra", "backs", "arm") == "arm"
    assert beneficiary_of("aze", "opposes", "arm") == "arm"
    assert beneficiary_of("europe", "seeks", "ukr") == "ukr"  # a group receives nothing itself


def test_the_extractor_gives_a_seeker_itself_as_beneficiary() -> None:
    text = ("Kyiv presses for guarantees as Moldova seeks its own\n"
            "Ukraine wants Western security guarantees before any ceasefire, President Volodymyr "
            "Zelensky said on Monday. Moldova's President Maia Sandu said her country also needed "
            "security guarantees from the European Union and asked Brussels for air defence "
            "systems to protect Moldovan airspace.")
    article = Article(id="md", title=text.split("\n")[0], text=text)
    extractor = CombinedExtractor()
    view, _ = extractor.scored(article)
    assert view.beneficiary == "ukr"  # the article is mostly about Ukraine's security
    by_party = {(p.party, str(p.stance)): p.beneficiary for p in extractor.extract(article)}
    assert by_party[("mda", "seeks")] == "mda"
    assert by_party[("ukr", "seeks")] == "ukr"


def test_examples_label_the_gold_beneficiary_and_skip_articles_that_never_name_it() -> None:
    record = {"positions": [position("aus", "aus", "slb"), position("chn", "chn", "slb")]}
    rows = ranker.examples([(named("aus", "slb", "chn"), 0, record),
                            (named("aus", "chn"), 0, record)], {})
    assert [label for _, label in rows] == ["no", "yes", "no"]


def test_a_view_reads_its_beneficiary_with_the_chooser_given(rules: RuleExtractor) -> None:
    doc = rules.nlp("Honiara weighs a new police mission\n"
                    "Solomon Islands ministers said Australia should lead a police mission.")
    seen: list[tuple[tuple[str, ...], int]] = []

    def pick(mentions: object, title_end: int) -> str:
        assert isinstance(mentions, list)
        seen.append((tuple(m.party for m in mentions), title_end))
        return "slb"

    assert build_view(doc, rules.analyse(doc), beneficiary_of=pick).beneficiary == "slb"
    assert seen and seen[0][0][:1] == ("slb",) and seen[0][1] > 0
    # without a chooser, the rules' list decides: Solomon Islands is not on it
    assert build_view(doc, rules.analyse(doc)).beneficiary != "slb"
    # a beneficiary read already (`read_beneficiary`) is taken as it is, not read again
    seen.clear()
    given = build_view(doc, rules.analyse(doc), beneficiary_of=pick, beneficiary="aus")
    assert given.beneficiary == "aus" and not seen
    assert read_beneficiary(doc, rules.hits(doc), pick) == "slb" and seen


@pytest.mark.parametrize(("text", "expected"), [
    ("Honiara asks Canberra to keep its police\n"
     "The Solomon Islands government asked Australia to extend its police mission, after China "
     "offered police trainers. Solomon Islands officials said the Australian force must stay "
     "until the elections. Beijing said its offer stood.", "slb"),
    ("Europeans pledge a reassurance force\n"
     "France and Britain said they would send troops to Ukraine after a ceasefire. Kyiv "
     "welcomed the offer, and Zelensky asked Washington for air cover.", "ukr"),
])
def test_the_committed_ranker_finds_the_beneficiary_of_a_conflict_off_the_list(
        text: str, expected: str) -> None:
    """The committed model reads a conflict off the rules' list (Solomon Islands, named most
    and in the headline, beside Australia and China, which the training articles know as
    providers) and still reads a Ukraine article as Ukraine's. (A party the training knows
    as a receiver can still win over an unknown one named more often: Iraq over Kuwait,
    README.md.)"""
    extractor = CombinedExtractor()
    title = text.split("\n", 1)[0]
    view, _ = extractor.scored(Article(id="b", title=title, text=text))
    assert view.beneficiary == expected
    positions = extractor.extract(Article(id="b", title=title, text=text))
    assert all(p.beneficiary == expected for p in positions)


def test_the_extractor_with_its_ranker_pickles_for_re_extraction_workers() -> None:
    """Re-extraction sends the extractor to worker processes; one that cannot be pickled
    would fall back to a thread."""
    extractor = CombinedExtractor()
    copy = pickle.loads(pickle.dumps(extractor))
    article = Article(id="p", title="Honiara weighs a police mission",
                      text="Honiara weighs a police mission\nSolomon Islands ministers said "
                           "Australia should lead a new police mission.")
    assert copy.version == extractor.version
    assert copy.extract(article) == extractor.extract(article)
    from bot.reextract import _workers_for

    assert _workers_for(extractor, 2) == 2  # a worker process, not the fallback thread


def test_the_committed_ranker_carries_its_roles_and_is_in_the_version() -> None:
    model = load_model("beneficiary")
    roles = model.meta["roles"]
    assert isinstance(roles, dict) and roles.get("ukr") == "B2" and roles.get("usa") == "G2"
    assert str(model.meta["version"]) in CombinedExtractor().version


def test_the_rules_inside_the_extractor_read_the_rankers_beneficiary() -> None:
    """The rules' own positions (seeks for the beneficiary, backs for the rest) follow the
    ranker, not their list, inside the combined extractor; the rules alone keep the list."""
    extractor = CombinedExtractor()
    text = ("Honiara asks for peacekeepers\n"
            "The Solomon Islands government called for Australian peacekeepers to stay. Solomon "
            "Islands officials said the peacekeepers must stay until the elections.")
    view, _ = extractor.scored(Article(id="r", title=text.split("\n", 1)[0], text=text))
    inside = {(p.party, p.stance.value, p.guarantee.value) for p in view.rules.positions}
    assert view.beneficiary == "slb" and view.rules.beneficiary == "slb"
    assert ("slb", "seeks", "peacekeeping_force") in inside
    alone = extractor.rules.analyse(extractor.nlp(text))
    assert ("slb", "backs", "peacekeeping_force") in {
        (p.party, p.stance.value, p.guarantee.value) for p in alone.positions}
