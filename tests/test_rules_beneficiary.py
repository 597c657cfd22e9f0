"""The beneficiary stage: whose security the article is about, and what that makes a stance."""

from __future__ import annotations

from dataclasses import dataclass

from bot.extraction.attribution import Actor
from bot.extraction.rules.beneficiary import (
    article_beneficiary,
    beneficiary_order,
    default_guarantor,
    not_guarantors,
    stance_of,
)
from bot.vocabulary import Guarantee, Stance
from tests.extraction_helpers import keys_of, run
from tests.rules_helpers import read, shared_extractor


@dataclass
class _Named:
    party: str


def _of(*codes: str) -> str:
    return article_beneficiary([_Named(c) for c in codes])


def test_the_order_comes_from_the_data_file_ukraine_first() -> None:
    order = beneficiary_order()
    assert order[0] == "ukr" and {"pse", "arm", "twn"} <= set(order)


def test_the_party_named_most_often_is_the_beneficiary() -> None:
    assert _of("arm", "aze", "arm", "fra", "fra", "fra") == "arm"  # France is no listed party


def test_a_tie_goes_to_the_earlier_listed_party_and_none_to_ukraine() -> None:
    assert _of("aze", "arm") == "arm"
    assert _of("arm", "ukr") == "ukr"
    assert _of("fra", "deu") == "ukr"
    assert _of() == "ukr"


def test_the_article_state_reads_its_beneficiary_from_the_names() -> None:
    ex = shared_extractor()
    st = read(ex, "Armenia asked for EU monitors. Yerevan and Paris talked. Ukraine was absent.")
    assert st.beneficiary == "arm"
    assert "arm" in st.not_guarantors and "ukr" not in st.not_guarantors
    assert read(ex, "Poland backed a force.").beneficiary == "ukr"


def test_the_beneficiary_seeks_and_others_back() -> None:
    armenia, france = Actor("armenia", "arm"), Actor("france", "fra")
    assert stance_of("positive", armenia, "arm") == Stance.SEEKS
    assert stance_of("positive", armenia, "ukr") == Stance.BACKS
    assert stance_of("positive", france, "arm") == Stance.BACKS
    assert stance_of("negative", armenia, "arm") == Stance.OPPOSES
    assert stance_of("doubt", france, "arm") == Stance.DOUBTS


def test_the_beneficiary_is_no_default_guarantor() -> None:
    armenia, france = Actor("armenia", "arm"), Actor("france", "fra")
    g = Guarantee.PEACEKEEPING_FORCE
    assert default_guarantor(armenia, Stance.OPPOSES, g, "arm") is None
    assert default_guarantor(armenia, Stance.OPPOSES, g, "ukr") == "arm"
    assert default_guarantor(france, Stance.BACKS, g, "arm") == "fra"
    assert default_guarantor(france, Stance.DOUBTS, g, "arm") is None
    assert not_guarantors("twn") == frozenset({"rus", "blr", "prk", "twn"})


def test_an_article_on_armenia_has_armenia_seek_and_france_back() -> None:
    ex = shared_extractor()
    text = ("Armenia is seeking EU membership, Pashinyan said. "
            "France backs a monitoring mission for Armenia.")
    assert keys_of(ex, text) == {("arm", "seeks", "eu_membership"),
                                 ("fra", "backs", "peacekeeping_force")}
    assert {p.beneficiary for p in run(ex, text)} == {"arm"}


def test_an_article_on_ukraine_still_has_ukraine_seek() -> None:
    ex = shared_extractor()
    text = "Kyiv has long sought security guarantees. Britain said the proposal was welcome."
    assert keys_of(ex, text) == {("ukr", "seeks", "security_guarantee"),
                                 ("gbr", "backs", "security_guarantee")}
    assert {p.beneficiary for p in run(ex, text)} == {"ukr"}


def test_the_learned_features_share_the_one_implementation() -> None:
    from bot.extraction.learned import features

    assert features.article_beneficiary is article_beneficiary


def test_a_beneficiary_read_by_a_later_stage_decides_seeks_and_backs() -> None:
    """The combined extractor gives the rules the ranker's beneficiary: Kuwait, off the list,
    then seeks what it asks for instead of backing it for Iraq."""
    ex = shared_extractor()
    text = ("Kuwait asks for UN monitors on the Iraq border\n"
            "Kuwait's foreign minister called for UN monitors along the border with Iraq.")
    doc = ex.nlp(text)
    by_list = ex.analyse(doc)
    given = ex.analyse(doc, beneficiary="kwt")
    assert by_list.beneficiary != "kwt" and given.beneficiary == "kwt"
    assert ("kwt", Stance.SEEKS, Guarantee.PEACEKEEPING_FORCE) in {
        (p.party, p.stance, p.guarantee) for p in given.positions}
    assert all(p.beneficiary == "kwt" for p in given.positions)
    assert ("kwt", Stance.SEEKS, Guarantee.PEACEKEEPING_FORCE) not in {
        (p.party, p.stance, p.guarantee) for p in by_list.positions}

