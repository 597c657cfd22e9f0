"""Extractor rules that look beyond one phrase: reported speech through a group the speaker
belongs to, guarantees referred back to, lists of holders, copular framing. Sentences are
written for these tests."""

from __future__ import annotations

import pytest

from bot.extraction.lexicon import memberships
from bot.extraction.rules import RuleExtractor
from tests.extraction_helpers import find, keys, run


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    """These tests pin the rules' own behaviour (the learned stage on top is tested apart)."""
    return RuleExtractor()

# -- reported speech through a group the speaker's state belongs to ------------------------


def test_memberships_are_data() -> None:
    assert {"europe", "eu", "nato"} <= memberships()["fra"]
    assert "eu" not in memberships()["gbr"]
    assert "ukr" not in memberships()


def test_member_speaks_for_group_with_group_as_guarantor(extractor: RuleExtractor) -> None:
    found = run(extractor, "French President Emmanuel Macron said European allies would "
                           "provide security guarantees to Kyiv.")
    assert keys(found) == {("fra", "backs", "security_guarantee")}
    assert find(found, "fra", "security_guarantee").guarantor == "europe"


def test_non_member_reports_the_group(extractor: RuleExtractor) -> None:
    found = run(extractor, "Donald Trump said European countries would provide security "
                           "guarantees to Kyiv.")
    assert ("europe", "backs", "security_guarantee") in keys(found)
    assert ("usa", "backs", "security_guarantee") not in keys(found)


def test_past_fact_about_the_group_stays_the_groups(extractor: RuleExtractor) -> None:
    found = run(extractor, "Macron said the coalition had pledged to build up Ukraine's "
                           "armed forces.")
    assert ("europe", "backs", "military_strength") in keys(found)
    assert ("fra", "backs", "military_strength") not in keys(found)


def test_other_party_acting_holds_its_own_position(extractor: RuleExtractor) -> None:
    found = run(extractor, "Zelensky said the United States has offered a 15-year security "
                           "guarantee.")
    assert ("usa", "backs", "security_guarantee") in keys(found)


# -- guarantees referred back to ----------------------------------------------------------


def test_generic_reference_takes_the_last_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, "Washington has floated a demilitarised zone along the front line. "
                           "Moscow rejected the proposal on Friday.")
    assert ("rus", "opposes", "demilitarized_zone") in keys(found)


def test_generic_reference_has_short_memory(extractor: RuleExtractor) -> None:
    found = run(extractor, "Washington has floated a demilitarised zone along the front line. "
                           "Talks went on. Delegates met. The weather was cold. "
                           "Moscow rejected the proposal on Friday.")
    assert ("rus", "opposes", "demilitarized_zone") not in keys(found)


def test_typed_reference_skips_other_guarantees(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ministers discussed a reassurance force for Ukraine. Kyiv also "
                           "wants more air defence systems. Sweden was open to contributing "
                           "to the force.")
    assert ("swe", "backs", "peacekeeping_force") in keys(found)
    assert ("swe", "backs", "military_strength") not in keys(found)


def test_reference_without_antecedent_is_nothing(extractor: RuleExtractor) -> None:
    assert run(extractor, "Sweden was open to contributing to the force.") == []


def test_russian_troops_are_no_antecedent(extractor: RuleExtractor) -> None:
    found = run(extractor, "Russian troops would not enter the area. "
                           "Kyiv backed the idea.")
    assert found == []


def test_a_strip_of_land_and_an_open_question(extractor: RuleExtractor) -> None:
    found = run(extractor, "Washington floated a buffer zone. One EU diplomat said it was far "
                           "from clear who would police a strip of land that long.")
    assert ("eu", "doubts", "demilitarized_zone") in keys(found)


def test_refusal_denied_in_part_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "Washington floated a demilitarised zone in Donetsk. Zelensky did "
                           "not reject the proposal outright but listed concerns.")
    assert ("ukr", "doubts", "demilitarized_zone") in keys(found)
    assert ("ukr", "seeks", "demilitarized_zone") not in keys(found)


def test_kremlin_with_a_speech_verb_is_a_subject(extractor: RuleExtractor) -> None:
    found = run(extractor, "Washington floated a buffer zone. The Kremlin signalled it would "
                           "not accept that formula.")
    assert ("rus", "opposes", "demilitarized_zone") in keys(found)


# -- copular framing ----------------------------------------------------------------------


def test_x_is_the_best_security_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, "Polish officials say EU membership is the best guarantee for Kyiv.")
    assert keys(found) == {("pol", "backs", "eu_membership")}


def test_the_best_security_guarantee_is_x(extractor: RuleExtractor) -> None:
    found = run(extractor, "The strongest security guarantee for Ukraine remains a "
                           "well-equipped army, Kaja Kallas said.")
    assert ("eu", "backs", "military_strength") in keys(found)
    assert ("eu", "backs", "security_guarantee") not in keys(found)


def test_praise_without_copula_stays_general(extractor: RuleExtractor) -> None:
    found = run(extractor, "Germany wants the best security guarantee for Ukraine and "
                           "more weapons.")
    assert ("deu", "backs", "security_guarantee") in keys(found)


# -- relative clauses naming the holder ---------------------------------------------------


def test_relative_clause_after_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, "The deal contains no security guarantees, which Kyiv had sought "
                           "in earlier talks.")
    assert ("ukr", "seeks", "security_guarantee") in keys(found)


def test_relative_clause_in_first_person(extractor: RuleExtractor) -> None:
    found = run(extractor, '"This is the core of the guarantee we are offering," Keir Starmer '
                           "said.")
    assert ("gbr", "backs", "security_guarantee") in keys(found)


def test_relative_clause_with_its_own_object_is_not_the_holder(
    extractor: RuleExtractor,
) -> None:
    found = run(extractor, "Talks on security guarantees that Kyiv wants Washington to sign "
                           "went on.")
    assert ("ukr", "seeks", "security_guarantee") not in keys(found)


# -- membership words carried across sentences; verdicts after the guarantee --------------


def test_invitation_stays_natos_when_the_eu_was_named_between(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv wants an invitation to join NATO.\n\nPoland also backs "
                           "EU accession talks for Ukraine.\n\nHungary and Slovakia said they "
                           "would block any invitation.")
    assert {("hun", "opposes", "nato_membership"), ("svk", "opposes", "nato_membership")} \
        <= keys(found)
    assert ("hun", "opposes", "eu_membership") not in keys(found)


def test_resolved_membership_word_names_its_organisation_for_the_next(
    extractor: RuleExtractor,
) -> None:
    found = run(extractor, "Kyiv wants an invitation to join NATO.\n\nEstonia backs EU "
                           "accession talks.\n\nBerlin opposes an invitation.\n\nSpain "
                           "rejects Ukrainian membership.")
    assert ("esp", "opposes", "nato_membership") in keys(found)


def test_negative_verdict_after_a_possessive_is_the_speakers(extractor: RuleExtractor) -> None:
    found = run(extractor, "Sergei Lavrov said talks would go on.\n\n"
                           "\"Ukraine's membership of NATO "
                           "is excluded, today and in the future.")
    assert ("rus", "opposes", "nato_membership") in keys(found)
    assert ("ukr", "seeks", "nato_membership") not in keys(found)


def test_bare_plural_after_a_stance_verb_refers_back(extractor: RuleExtractor) -> None:
    found = run(extractor, "Britain will lead a naval task force to clear mines.\n\nRomania "
                           "and Bulgaria said they would contribute vessels.")
    assert {("rou", "backs", "air_sea_protection"), ("bgr", "backs", "air_sea_protection")} \
        <= keys(found)


def test_bare_plural_without_a_guarantee_before_is_nothing(extractor: RuleExtractor) -> None:
    found = run(extractor, "Romania and Bulgaria said they would contribute vessels.")
    assert found == []


def test_purchases_refer_to_the_arms_named_before(extractor: RuleExtractor) -> None:
    found = run(extractor, "The scheme buys artillery shells for Ukraine.\n\nDenmark and the "
                           "Netherlands said they were ready to keep financing the purchases.")
    assert {("dnk", "backs", "military_strength"), ("nld", "backs", "military_strength")} \
        <= keys(found)


# -- speakers introduced by a possessive country; a country's own neutrality ---------------


def test_possessive_country_before_a_title_gives_the_party(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ireland's Tanaiste Simon Harris said his country could not sign "
                           "up to a mutual-defence commitment towards Ukraine.")
    assert ("irl", "opposes", "security_guarantee") in keys(found)
    assert find(found, "irl", "security_guarantee").actor == "simon-harris"


def test_a_countrys_own_neutrality_is_no_stance_on_nato(extractor: RuleExtractor) -> None:
    found = run(extractor, "Austria's foreign minister Anna Berger said Austrian neutrality "
                           "was essential.")
    assert not any(p.guarantee.value == "nato_membership" for p in found)


def test_such_a_step_refers_to_the_mutual_assistance_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Lithuania proposed extending the mutual assistance clause to "
                           "Ukraine.\n\nAustria's foreign minister Anna Berger said it was "
                           "unclear whether the treaties allowed such a step at all.")
    assert ("ltu", "backs", "security_guarantee") in keys(found)
    assert ("aut", "doubts", "security_guarantee") in keys(found)


# -- headlines and leads ------------------------------------------------------------------


def test_headline_yields_to_the_bodys_stance_of_the_same_party(extractor: RuleExtractor) -> None:
    found = run(extractor, "Meloni backs a pledge for Ukraine, keeps Italian troops out\n\n"
                           "Italian Prime Minister Giorgia Meloni said Italy would not send "
                           "troops to Ukraine.")
    assert ("ita", "opposes", "peacekeeping_force") in keys(found)
    assert ("ita", "backs", "peacekeeping_force") not in keys(found)


def test_headline_alone_still_counts(extractor: RuleExtractor) -> None:
    found = run(extractor, "EU leaders pledge to fund Ukraine's army through 2027\n\n"
                           "The summit ended late on Friday.")
    assert ("eu", "backs", "military_strength") in keys(found)


def test_absolute_with_clause_has_its_own_subject(extractor: RuleExtractor) -> None:
    found = run(extractor, "India and Brazil offered on Thursday to help broker a ceasefire, "
                           "with Brazil's top adviser suggesting a demilitarised zone.")
    assert ("bra", "backs", "demilitarized_zone") in keys(found)
    assert ("ind", "backs", "demilitarized_zone") not in keys(found)


def test_absolute_with_clause_keeps_a_coordinated_subject(extractor: RuleExtractor) -> None:
    found = run(extractor, "Diplomats haggled over the text, with Washington and Budapest "
                           "resisting any return to the membership promise for Ukraine in NATO.")
    assert {("usa", "opposes", "nato_membership"),
            ("hun", "opposes", "nato_membership")} <= keys(found)


def test_with_support_inserted_is_no_absolute_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Lithuania and Estonia, with Poland's support, are pushing for "
                           "Ukraine to join NATO.")
    assert {("ltu", "backs", "nato_membership"), ("est", "backs", "nato_membership")} <= keys(
        found)


# -- negated requests and limits ----------------------------------------------------------


def test_asking_another_not_to_interrupt_is_the_askers_request(extractor: RuleExtractor) -> None:
    found = run(extractor, "A Ukrainian defence ministry spokesman asked Prague not to "
                           "interrupt deliveries of artillery shells.")
    assert ("ukr", "seeks", "military_strength") in keys(found)
    assert not {p for p in found if p.party == "cze"}


def test_conditions_not_met_for_an_invitation_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "A German government spokesman said Berlin did not see the "
                           "conditions for a NATO invitation being met.")
    assert keys(found) == {("deu", "doubts", "nato_membership")}


def test_a_guarantee_alone_would_not_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ukraine's ambassador Andriy Melnyk warned that unarmed UN "
                           "observers alone would not stop a new Russian offensive.")
    assert keys(found) == {("ukr", "doubts", "peacekeeping_force")}


def test_as_much_a_guarantee_as_is_a_likeness(extractor: RuleExtractor) -> None:
    found = run(extractor, "\"Free shipping out of Odesa is as much a security guarantee as "
                           "any soldier on land,\" British Defence Secretary John Healey said.")
    assert ("gbr", "backs", "security_guarantee") not in keys(found)
