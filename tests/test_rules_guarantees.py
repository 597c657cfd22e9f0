"""The guarantee-spans stage: what a phrase names once its context is read."""

from __future__ import annotations

from bot.extraction.rules.guarantees import compared, contrasted, skip
from tests.rules_helpers import read, sentence, sentences, shared_extractor, words


def _spans(text: str) -> list[tuple[str, str]]:
    st = read(shared_extractor(), text)
    return [(words(st, g), g.value) for g in st.guarantees]


def test_membership_belongs_to_the_organisation_named_before() -> None:
    assert _spans("Ukraine wants to join NATO. Zelensky said membership was vital.")[1] == (
        "membership", "nato_membership")


def test_membership_of_the_eu_when_the_eu_is_named_nearest() -> None:
    assert ("membership", "eu_membership") in _spans(
        "Moldova and the EU discussed membership on Monday.")


def test_a_reference_stands_for_the_guarantee_named_shortly_before() -> None:
    spans = _spans("Kyiv has long sought security guarantees. Britain said the proposal was "
                   "welcome.")
    assert spans[-1] == ("proposal", "security_guarantee")


def test_a_reference_with_nothing_named_before_is_no_guarantee() -> None:
    assert _spans("Britain said the proposal was welcome.") == []


def test_the_best_security_guarantee_is_what_the_copula_names() -> None:
    st = read(shared_extractor(), "NATO membership is the cheapest security guarantee.")
    assert [g.value for g in st.guarantees] == ["nato_membership", "nato_membership"]
    assert any(c.kind == "C" and c.value == "positive" and st.words[c.start] == "cheapest"
               for c in st.cues)


def test_a_states_own_forces_sent_abroad_are_a_foreign_force() -> None:
    assert _spans("France would not send its own forces to Ukraine.") == [
        ("own forces", "peacekeeping_force")]
    assert _spans("Kyiv will strengthen its own forces.") == [("own forces",
                                                               "military_strength")]


def test_a_leading_verb_is_left_out_of_the_guarantee() -> None:
    spans = _spans("Sweden offered to patrol Ukraine's airspace.")
    assert spans and spans[0][1] == "air_sea_protection"
    assert not spans[0][0].lower().startswith("to ")


def test_troops_of_the_aggressor_and_of_the_beneficiary_are_skipped() -> None:
    s = sentence(shared_extractor(), "Russian troops would not enter the zone.")
    assert skip(s.st, s.guarantee("peacekeeping_force"))
    s = sentence(shared_extractor(), "British troops would enter the zone.")
    assert not skip(s.st, s.guarantee("peacekeeping_force"))


def test_the_beneficiarys_own_troops_are_no_peacekeepers_whatever_the_conflict() -> None:
    s = sentences(shared_extractor(), "Armenia and Armenia's allies met. Armenian troops would "
                  "hold the line, Pashinyan said.")[-1]
    assert s.st.beneficiary == "arm"
    assert skip(s.st, s.guarantee("peacekeeping_force"))


def test_fallen_soldiers_and_an_army_size_are_no_force() -> None:
    s = sentence(shared_extractor(), "They honoured fallen soldiers.")
    assert all(skip(s.st, g) for g in s.guarantees if g.value == "peacekeeping_force")
    s = sentence(shared_extractor(), "Moscow wants to cap the army at 600,000 troops.")
    assert any(skip(s.st, g) for g in s.guarantees if g.value == "peacekeeping_force")


def test_a_guarantee_set_against_another_or_compared_takes_no_stance() -> None:
    s = sentence(shared_extractor(), "Japan offers investment, not troops.")
    assert contrasted(s.st, s.guarantee("peacekeeping_force"))
    s = sentence(shared_extractor(),
                 "Jets would protect Ukraine better than European troops.")
    assert compared(s.st, s.guarantee("peacekeeping_force"), s.sent)
    s = sentence(shared_extractor(), "They sent more than 10,000 troops.")
    assert not compared(s.st, s.guarantee("peacekeeping_force"), s.sent)


def test_guarantees_named_in_other_conflicts_words() -> None:
    """Round 10's phrases: a treaty's demilitarised islands, a collective-defence pledge in
    so many words, entering the alliance, a European perspective, joint patrols."""
    cases = {
        "Ankara wants the islands returned to their demilitarised status.": "demilitarized_zone",
        "Niger pledged to treat any attack on Mali as an attack on itself.": "security_guarantee",
        "Moscow will never accept Georgia's entry into the alliance.": "nato_membership",
        "Athens backs Turkey's European perspective.": "eu_membership",
        "Manila wants more joint patrols with its allies.": "air_sea_protection",
    }
    for text, guarantee in cases.items():
        assert guarantee in {g for _, g in _spans(text)}, text
