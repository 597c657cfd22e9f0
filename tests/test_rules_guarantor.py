"""The guarantor stage: who would provide a guarantee, where the text says."""

from __future__ import annotations

from bot.extraction.attribution import Actor
from bot.extraction.rules.guarantor import as_member, find_guarantor, group_guarantor
from bot.vocabulary import Guarantee
from tests.rules_helpers import sentence, sentences, shared_extractor


def _guarantor(text: str, guarantee: str) -> str | None:
    s = sentences(shared_extractor(), text)[-1]
    g = s.guarantee(guarantee)
    return find_guarantor(s.st, g, Guarantee(guarantee), s.cues, s.mentions, s.sent)


def test_an_adjective_before_the_guarantee_names_its_guarantor() -> None:
    assert _guarantor("Britain wants a European peacekeeping force.",
                      "peacekeeping_force") == "europe"
    assert _guarantor("Kyiv wants French troops.", "peacekeeping_force") == "fra"


def test_troops_from_a_named_state_after_the_guarantee() -> None:
    assert _guarantor("Kyiv asked for troops from Turkey.", "peacekeeping_force") == "tur"


def test_a_membership_is_given_by_its_organisation() -> None:
    assert _guarantor("Kyiv wants NATO membership.", "nato_membership") == "nato"


def test_aggressors_and_the_beneficiary_provide_nothing() -> None:
    assert _guarantor("Kyiv rejected Russian peacekeepers.", "peacekeeping_force") is None
    assert _guarantor("Britain wants Ukrainian troops.", "peacekeeping_force") is None


def test_in_another_conflict_ukraine_may_be_a_guarantor_and_the_beneficiary_not() -> None:
    text = ("Armenia and Azerbaijan met in Armenia. Armenia wants Ukrainian troops and "
            "Armenian troops.")
    s = sentence(shared_extractor(), text)
    assert s.st.beneficiary == "arm"
    values = [find_guarantor(s.st, g, Guarantee(g.value), s.cues, s.mentions, s.sent)
              for g in s.guarantees]
    assert "ukr" in values and "arm" not in values


def test_several_european_states_guarantee_as_europe() -> None:
    assert group_guarantor(["gbr", "fra"]) == "europe"
    assert group_guarantor(["usa"]) == "usa"


def test_a_group_speaks_through_its_member() -> None:
    macron = Actor("emmanuel-macron", "fra", person=True)
    europe = Actor("europe", "europe")
    holders, guarantor = as_member([europe], macron, None)
    assert holders == [macron] and guarantor == "europe"
    assert as_member([europe], None, None) == ([europe], None)
