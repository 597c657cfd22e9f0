"""Extractor rules for how news words stances: verdicts after the guarantee, open questions,
verbless stances, passives, lists and comparisons. Sentences are written for these tests."""

from __future__ import annotations

import pytest

from bot.extraction.rules import RuleExtractor
from bot.models import Article
from tests.extraction_helpers import keys, run


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    """These tests pin the rules' own behaviour (the learned stage on top is tested apart)."""
    return RuleExtractor()

# -- lexicon -------------------------------------------------------------------------------


def test_own_army_is_military_strength(extractor: RuleExtractor) -> None:
    found = run(extractor, "Rome will help Ukraine rebuild its own army.")
    assert ("ita", "backs", "military_strength") in keys(found)


def test_jets_over_the_country_are_air_protection(extractor: RuleExtractor) -> None:
    found = run(extractor, "Oslo said it would not send its own jets over Ukraine.")
    assert keys(found) == {("nor", "opposes", "air_sea_protection")}


def test_protection_of_shipping_is_maritime(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv has pressed for any deal to include protection for merchant "
                           "shipping.")
    assert keys(found) == {("ukr", "seeks", "air_sea_protection")}


def test_commercial_presence_is_an_economic_stake(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv hoped an American commercial presence would keep it safe.")
    assert keys(found) == {("ukr", "seeks", "economic_stake")}


def test_mine_clearing_and_flotillas_are_maritime(extractor: RuleExtractor) -> None:
    found = run(extractor, "Bucharest offered minesweepers for the Black Sea.")
    assert keys(found) == {("rou", "backs", "air_sea_protection")}
    found = run(extractor, 'Moscow would not tolerate "foreign flotillas" near Odesa.')
    assert keys(found) == {("rus", "opposes", "air_sea_protection")}
    found = run(extractor, "Sofia wants a mine-clearing group to stay after the war.")
    assert keys(found) == {("bgr", "backs", "air_sea_protection")}


def test_ground_personnel_and_a_single_cluster(extractor: RuleExtractor) -> None:
    found = run(extractor, "Oslo could send a limited number of ground personnel.")
    assert keys(found) == {("nor", "backs", "peacekeeping_force")}
    found = run(extractor, "Madrid would support opening the next negotiating cluster soon.")
    assert keys(found) == {("esp", "backs", "eu_membership")}


def test_firms_after_a_party_word_are_an_economic_stake(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ottawa wants Canadian firms to rebuild the ports.")
    assert keys(found) == {("can", "backs", "economic_stake")}
    assert run(extractor, "Ottawa wants firms to rebuild the ports.") == []


# -- cues ----------------------------------------------------------------------------------


def test_quoted_object_after_a_cue_keeps_the_cue(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Lisbon said it was ready to "take part" in a peacekeeping force.')
    assert ("prt", "backs", "peacekeeping_force") in keys(found)


def test_including_is_not_a_cue(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ministers met in Rome, including some from NATO countries that "
                           "have troops in the region.")
    assert found == []


def test_declining_to_say_is_no_refusal(extractor: RuleExtractor) -> None:
    found = run(extractor, "The NATO chief declined to say when an invitation to join NATO "
                           "might come.")
    assert found == []


def test_not_saying_whether_is_no_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Madrid has not said whether it would provide aircraft for air "
                           "policing.")
    assert found == []


def test_verdict_some_words_after_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Minsk said any foreign peacekeepers in Belarus would be '
                           'treated as "a legitimate target."')
    assert ("blr", "opposes", "peacekeeping_force") in keys(found)


def test_makes_sense_after_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Oslo said a buffer zone along the front "makes sense" for now.')
    assert ("nor", "backs", "demilitarized_zone") in keys(found)


def test_too_early_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Vienna said it was "far too early" to talk about peacekeepers.')
    assert ("aut", "doubts", "peacekeeping_force") in keys(found)


# -- attribution ---------------------------------------------------------------------------


def test_expletive_it_is_no_actor(extractor: RuleExtractor) -> None:
    text = ("Ukraine held talks on Monday. Kremlin spokesman Dmitry Peskov told reporters "
            'that it was "premature" to discuss security guarantees for Ukraine.')
    assert keys(run(extractor, text)) == {("rus", "doubts", "security_guarantee")}


def test_it_as_a_state_still_holds(extractor: RuleExtractor) -> None:
    found = run(extractor, "Spain said it was ready to send peacekeepers.")
    assert keys(found) == {("esp", "backs", "peacekeeping_force")}


def test_he_is_the_last_speaker_not_a_name_in_an_aside(extractor: RuleExtractor) -> None:
    text = ("British Defence Secretary John Healey, who met his French counterpart Sebastien "
            "Lecornu, said planning had moved on. The force, he said, would patrol Ukraine's "
            "airspace.")
    assert keys(run(extractor, text)) == {("gbr", "backs", "air_sea_protection")}


def test_counted_subject_holds_nothing(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ministers from Europe discussed a force, but few pledged troops.")
    assert found == []
    found = run(extractor, "Lisbon wants peacekeepers, a point several ministers echoed.")
    assert keys(found) == {("prt", "backs", "peacekeeping_force")}


def test_united_states_is_no_speech_verb(extractor: RuleExtractor) -> None:
    found = run(extractor, "Vance added that the United States would not send its own forces "
                           "to Ukraine.")
    assert ("usa", "opposes", "military_strength") in keys(found) or \
        ("usa", "opposes", "peacekeeping_force") in keys(found)


def test_hyphenated_modifier_is_no_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ukraine has relied on Western-supplied air defence systems.")
    assert found == []


def test_passive_agents_after_the_guarantee(extractor: RuleExtractor) -> None:
    text = ("Diplomats discussed faster EU accession for Kyiv. The idea was pushed by Poland, "
            "Estonia and Latvia in a joint letter.")
    assert {("pol", "backs", "eu_membership"), ("est", "backs", "eu_membership"),
            ("lva", "backs", "eu_membership")} <= keys(run(extractor, text))


def test_recipient_of_a_passive_takes_no_stance(extractor: RuleExtractor) -> None:
    assert run(extractor, "Ukraine was granted candidate status in June 2022.") == []


def test_second_term_of_a_comparison_is_not_backed(extractor: RuleExtractor) -> None:
    found = run(extractor, "Rome said a treaty pledge would be safer than stationing European "
                           "troops on the ground.")
    assert ("ita", "backs", "peacekeeping_force") not in keys(found)
    found = run(extractor, "Britain will send more than 10,000 troops.")
    assert keys(found) == {("gbr", "backs", "peacekeeping_force")}


def test_without_a_few_words_before_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, "The meeting between the two leaders ended without the signing of a "
                           "minerals agreement.")
    assert found == []


# -- membership of what --------------------------------------------------------------------


def test_membership_takes_the_organisation_named_nearby(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv presses NATO allies on its membership path.")
    assert keys(found) == {("ukr", "seeks", "nato_membership")}
    found = run(extractor, "Brussels hosted a summit. Kyiv pressed the bloc on its membership "
                           "path.")
    assert keys(found) == {("ukr", "seeks", "eu_membership")}


def test_accession_is_eu_unless_nato_is_nearer(extractor: RuleExtractor) -> None:
    assert keys(run(extractor, "Hungary blocked the accession talks of Kyiv.")) == {
        ("hun", "opposes", "eu_membership")}
    text = "NATO leaders met on Tuesday. Oslo said it supported Ukraine's eventual accession."
    assert keys(run(extractor, text)) == {("nor", "backs", "nato_membership")}


def test_invitation_means_nato_only(extractor: RuleExtractor) -> None:
    text = "NATO leaders met in The Hague. Bratislava said it would oppose any invitation."
    assert keys(run(extractor, text)) == {("svk", "opposes", "nato_membership")}
    assert run(extractor, "Brussels met. Bratislava said it would oppose any invitation.") == []


def test_bare_membership_without_an_organisation_is_nothing(extractor: RuleExtractor) -> None:
    assert run(extractor, "Oslo said it supported membership.") == []


def test_question_of_is_a_topic_not_a_doubt(extractor: RuleExtractor) -> None:
    assert run(extractor, "Oslo raised the question of NATO membership for Ukraine.") == []
    assert keys(run(extractor, "Oslo questioned NATO membership for Ukraine.")) == {
        ("nor", "doubts", "nato_membership")}


def test_negation_does_not_cross_a_comma(extractor: RuleExtractor) -> None:
    found = run(extractor, "Budapest said its view had not changed, pointing to a vote in which "
                           "Hungarians rejected EU membership for Ukraine.")
    assert ("hun", "backs", "eu_membership") not in keys(found)


def test_labelled_object_names_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Kyiv called NATO membership "the cheapest security guarantee".')
    assert keys(found) == {("ukr", "seeks", "nato_membership")}


# -- scope and holders ---------------------------------------------------------------------


def test_obligation_reported_through_the_speakers_group(extractor: RuleExtractor) -> None:
    found = run(extractor, "Foreign Minister Jean-Noel Barrot said Europe had to be ready to "
                           "send peacekeepers.")
    assert keys(found) == {("fra", "backs", "peacekeeping_force")}
    assert found[0].guarantor == "europe"


def test_a_part_added_after_including_shares_the_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Madrid said it was ready to help secure Ukraine's security, "
                           "including through a presence on the ground.")
    assert ("esp", "backs", "peacekeeping_force") in keys(found)


def test_owner_of_a_stated_position_holds_it(extractor: RuleExtractor) -> None:
    found = run(extractor, "Lavrov said Moscow's position that Kyiv must renounce NATO "
                           "membership was unchanged.")
    assert keys(found) == {("rus", "opposes", "nato_membership")}


def test_own_forces_sent_abroad_are_a_foreign_force(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ottawa said it would not send its own forces to Ukraine.")
    assert keys(found) == {("can", "opposes", "peacekeeping_force")}
    found = run(extractor, "Kyiv wants to rebuild its own forces.")
    assert keys(found) == {("ukr", "seeks", "military_strength")}


def test_fallen_soldiers_and_presence_of_are_no_force(extractor: RuleExtractor) -> None:
    assert run(extractor, "Kyiv wants the bodies of fallen soldiers returned.") == []
    found = run(extractor, 'Moscow would not accept "the presence of NATO warships" nearby.')
    assert keys(found) == {("rus", "opposes", "air_sea_protection")}


def test_a_bare_refusal_answers_the_guarantee_before_it(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv pressed for a US security guarantee, but Washington refused.")
    assert keys(found) == {("ukr", "seeks", "security_guarantee"),
                           ("usa", "opposes", "security_guarantee")}
    found = run(extractor, "Kyiv asked for peacekeepers, but Berlin refused to say more.")
    assert keys(found) == {("ukr", "seeks", "peacekeeping_force")}


def test_both_leaders_are_the_last_two_people_named(extractor: RuleExtractor) -> None:
    text = ("Mark Carney met Anthony Albanese in Ottawa. Both leaders said they were ready to "
            "send peacekeepers.")
    assert keys(run(extractor, text)) == {("can", "backs", "peacekeeping_force"),
                                          ("aus", "backs", "peacekeeping_force")}


def test_who_deserves_a_guarantee_receives_it(extractor: RuleExtractor) -> None:
    found = run(extractor, "Pedro Sanchez said Ukraine deserved binding security guarantees.")
    assert keys(found) == {("esp", "backs", "security_guarantee")}
    found = run(extractor, "Zelensky said Ukraine needed security guarantees.")
    assert keys(found) == {("ukr", "seeks", "security_guarantee")}


def test_both_armies_pulling_back_is_no_arms_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Oslo said a buffer zone made sense provided both armies pulled back.")
    assert "military_strength" not in {p.guarantee.value for p in found}


# -- clauses -------------------------------------------------------------------------------


def test_a_new_subject_after_comma_and_starts_a_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Vienna has demanded deep cuts, and Moscow has long insisted on "
                           "the demilitarisation of Ukraine.")
    assert keys(found) == {("rus", "opposes", "military_strength")}


def test_a_speech_verb_opens_the_reported_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Mark Rutte has ruled out a Polish role, and he said this week he "
                           "opposed a buffer zone.")
    assert keys(found) == {("nato", "opposes", "demilitarized_zone")}


def test_however_between_commas_ends_no_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Mark Rutte doubted, however, whether Washington would honour "
                           "a security guarantee.")
    assert keys(found) == {("nato", "doubts", "security_guarantee")}


def test_a_person_in_a_who_aside_is_not_he(extractor: RuleExtractor) -> None:
    text = ("Mark Rutte, who met Donald Trump on Monday, said he opposed a buffer zone.")
    assert keys(run(extractor, text)) == {("nato", "opposes", "demilitarized_zone")}


# -- speakers ------------------------------------------------------------------------------


def test_a_relative_aside_before_has_said(extractor: RuleExtractor) -> None:
    text = "Norway, which borders Russia, has said it will not send peacekeepers."
    assert keys(run(extractor, text)) == {("nor", "opposes", "peacekeeping_force")}


def test_now_opens_an_appositive_before_a_participle(extractor: RuleExtractor) -> None:
    text = ("Dmitry Medvedev, now deputy head of the Security Council, was blunter, writing "
            "that European troops would be legitimate targets.")
    assert keys(run(extractor, text)) == {("rus", "opposes", "peacekeeping_force")}


def test_the_russian_army_is_no_military_strength(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv said any monitors would be legitimate targets for the "
                           "Russian army.")
    assert "military_strength" not in {p.guarantee.value for p in found}


def test_they_after_an_appositive_list_is_the_list(extractor: RuleExtractor) -> None:
    text = "Latvia and Estonia, both NATO members, said they were ready to send peacekeepers."
    assert keys(run(extractor, text)) == {("lva", "backs", "peacekeeping_force"),
                                          ("est", "backs", "peacekeeping_force")}


def test_with_someones_support_adds_a_holder(extractor: RuleExtractor) -> None:
    text = "Latvia, with Finland's support, is pushing for a buffer zone."
    assert keys(run(extractor, text)) == {("lva", "backs", "demilitarized_zone"),
                                          ("fin", "backs", "demilitarized_zone")}


# -- verdicts after the guarantee and requests to others (1.20) ---------------------------


def _keys(text: str) -> set[tuple[str, str, str]]:
    found = RuleExtractor().extract(Article(id="t", title="", text=text))
    return {(p.party, p.stance.value, p.guarantee.value) for p in found}


def test_membership_not_on_the_table() -> None:
    assert ("usa", "opposes", "nato_membership") in _keys(
        "Washington has said Ukrainian membership of NATO is not on the table.")


def test_regarded_as_a_direct_threat() -> None:
    assert ("rus", "opposes", "air_sea_protection") in _keys(
        'Moscow would regard British warships near Odesa as a "direct threat".')


def test_occupation_force_with_a_past_verb_after_the_party() -> None:
    keys = _keys('Moscow regarded any European military contingent on Ukrainian soil as '
                 '"an occupation force".')
    assert ("rus", "opposes", "peacekeeping_force") in keys
    assert not any(k[0] == "europe" for k in keys)


def test_worth_as_little_as_is_doubt() -> None:
    assert ("ukr", "doubts", "security_guarantee") in _keys(
        "Kyiv said guarantees co-signed by Moscow would be worth as little as the Budapest "
        "Memorandum.")


def test_called_on_to_resume_military_aid() -> None:
    keys = _keys("Polish officials called on Germany to resume military aid.")
    assert ("pol", "backs", "military_strength") in keys
    assert ("deu", "backs", "military_strength") not in keys


def test_no_promise_to_defend_ukraine() -> None:
    assert ("usa", "opposes", "security_guarantee") in _keys(
        "The White House said Washington had made no promise to defend Ukraine.")


def test_air_policing_over_its_own_territory_is_no_guarantee() -> None:
    keys = _keys("Romania would keep strengthening NATO air policing over its own territory.")
    assert not any(k[2] == "air_sea_protection" for k in keys)
    assert ("rou", "backs", "air_sea_protection") in _keys(
        "Romania would keep strengthening air policing over Ukraine.")


# -- round 9 (blind6) -------------------------------------------------------------------------


def test_negated_passive_after_the_force_is_a_refusal(extractor: RuleExtractor) -> None:
    found = run(extractor, "Warsaw said Polish soldiers would not be deployed inside Ukraine.")
    assert keys(found) == {("pol", "opposes", "peacekeeping_force")}
    found = run(extractor, "Paris said the troops would not be deployed on the front line but "
                           "far behind it.")
    assert ("fra", "opposes", "peacekeeping_force") not in keys(found)


def test_protection_of_its_ports_is_maritime(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv has pressed for international protection of its ports.")
    assert keys(found) == {("ukr", "seeks", "air_sea_protection")}


def test_countries_listed_as_places_hold_nothing(extractor: RuleExtractor) -> None:
    found = run(extractor, "Jets flying from bases in Poland and Romania will patrol the skies, "
                           "Healey said.")
    assert not {p.party for p in found} & {"pol", "rou"}
    found = run(extractor, "Poland and Romania will patrol the skies.")
    assert keys(found) == {("pol", "backs", "air_sea_protection"),
                           ("rou", "backs", "air_sea_protection")}


# -- negation: contrast, conditions, the force as subject (1.25) --------------------------


def test_guarantee_set_against_the_offer_takes_no_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Japan offers investment, not troops.")
    assert keys(found) == {("jpn", "backs", "economic_stake")}
    found = run(extractor, "Rome will send money rather than soldiers.")
    assert ("ita", "backs", "peacekeeping_force") not in keys(found)


def test_negation_before_unless_does_not_reach_the_condition(extractor: RuleExtractor) -> None:
    found = run(extractor, "Zelensky has said no ceasefire will last unless it is backed by "
                           "guarantees that Russia will not attack again.")
    assert keys(found) == {("ukr", "seeks", "security_guarantee")}


def test_second_reported_clause_has_its_own_stance(extractor: RuleExtractor) -> None:
    found = run(extractor, "Lavrov repeated that neutrality was a condition for any settlement "
                           "and that NATO membership for Kyiv was out of the question.")
    assert ("rus", "backs", "nato_membership") not in keys(found)


def test_no_soldiers_would_be_part_of_the_force(extractor: RuleExtractor) -> None:
    found = run(extractor, "Meloni said no Italian soldiers would be part of a future force.")
    assert keys(found) == {("ita", "opposes", "peacekeeping_force")}
    found = run(extractor, "Macron said French troops would take part in the force.")
    assert keys(found) == {("fra", "backs", "peacekeeping_force")}


# -- blind8 round: odds and horizons are doubt, bare participation, new names (1.26) -------


def test_no_realistic_path_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "A U.S. official said Washington saw no realistic path to "
                           "membership in NATO while the war continued.")
    assert keys(found) == {("usa", "doubts", "nato_membership")}


def test_refusing_only_the_coming_years_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "German officials said they did not expect a NATO invitation for "
                           "many years.")
    assert keys(found) == {("deu", "doubts", "nato_membership")}
    found = run(extractor, "The Kremlin has for years insisted on the demilitarization of "
                           "Ukraine.")
    assert ("rus", "doubts", "military_strength") not in keys(found)


def test_bare_take_part_at_the_end_of_the_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Prague said Czech soldiers would not take part.")
    assert keys(found) == {("cze", "opposes", "peacekeeping_force")}


def test_hostile_act_after_the_guarantee_is_a_refusal(extractor: RuleExtractor) -> None:
    found = run(extractor, "Zakharova said Moscow would regard any foreign warships near "
                           "Odesa as a hostile act.")
    assert keys(found) == {("rus", "opposes", "air_sea_protection")}


def test_military_support_is_military_strength(extractor: RuleExtractor) -> None:
    found = run(extractor, "The Netherlands said it would keep its military support at "
                           "3.5 billion euros a year.")
    assert keys(found) == {("nld", "backs", "military_strength")}


def test_passive_curb_after_the_guarantee_turns_the_demand(extractor: RuleExtractor) -> None:
    found = run(extractor, "Moscow insisted that Ukraine's army be limited after the war.")
    assert keys(found) == {("rus", "opposes", "military_strength")}
    found = run(extractor, "London wants Ukraine's army to be strengthened.")
    assert keys(found) == {("gbr", "backs", "military_strength")}


def test_protect_leads_the_guarantee_and_stays_a_cue(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv has asked partners to protect the skies over its western "
                           "regions.")
    assert keys(found) == {("ukr", "seeks", "air_sea_protection")}


def test_not_inside_a_quoted_contrast_negates_nothing(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Kachka said Kyiv expected "decisions, not declarations" on its EU '
                           'accession.')
    assert keys(found) == {("ukr", "seeks", "eu_membership")}
    found = run(extractor, "Orban said Hungary would not back EU membership for Ukraine.")
    assert keys(found) == {("hun", "opposes", "eu_membership")}
