"""Unit tests of the rule-based extractor on short sentences written for these tests."""

from __future__ import annotations

import pytest

from bot.extraction import Extractor
from bot.extraction.lexicon import expand_phrase, inflect
from bot.extraction.rules import RuleExtractor
from tests.extraction_helpers import find, keys, run


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    """These tests pin the rules' own behaviour (the learned stage on top is tested apart)."""
    return RuleExtractor()


def test_protocol_and_version(extractor: RuleExtractor) -> None:
    assert isinstance(extractor, Extractor)
    assert extractor.name == "rules" and extractor.version


def test_expand_phrase_and_inflect() -> None:
    assert sorted(expand_phrase("join|joining the? bloc")) == [
        "join bloc", "join the bloc", "joining bloc", "joining the bloc"]
    assert {"ruled out", "rules out", "ruling out"} <= set(inflect("rule out"))
    assert {"committed", "commits"} <= set(inflect("commit"))
    assert "sent" in inflect("send")


def test_speaker_after_statement(extractor: RuleExtractor) -> None:
    found = run(extractor, "Berlin is ready to station a brigade of peacekeepers in Ukraine, "
                           "Chancellor Friedrich Merz said on Friday.")
    p = find(found, "deu", "peacekeeping_force")
    assert p.stance.value == "backs"


def test_according_to_and_subject(extractor: RuleExtractor) -> None:
    found = run(extractor, "According to Mark Rutte, the alliance will keep arming Kyiv.")
    assert ("nato", "backs", "military_strength") in keys(found)


def test_ruled_out_sending_troops_opposes_with_speaker_as_guarantor(
    extractor: RuleExtractor,
) -> None:
    found = run(extractor, "Prime Minister Giorgia Meloni ruled out sending Italian soldiers "
                           "to Ukraine.")
    p = find(found, "ita", "peacekeeping_force")
    assert p.stance.value == "opposes"
    assert p.guarantor == "ita"
    assert p.actor == "giorgia-meloni"


def test_will_not_commit_opposes(extractor: RuleExtractor) -> None:
    found = run(extractor, "Canberra will not commit to security guarantees for Kyiv.")
    assert ("aus", "opposes", "security_guarantee") in keys(found)


def test_double_negative_is_positive(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv rejects any caps on its army.")
    assert keys(found) == {("ukr", "seeks", "military_strength")}


def test_declined_to_contribute_coordinated_subjects(extractor: RuleExtractor) -> None:
    found = run(extractor, "Austria, Ireland and Malta declined to contribute troops.")
    assert {("aut", "opposes", "peacekeeping_force"), ("irl", "opposes", "peacekeeping_force"),
            ("mlt", "opposes", "peacekeeping_force")} <= keys(found)
    assert find(found, "irl", "peacekeeping_force").actor == "ireland"


def test_beneficiary_positive_is_seeks_others_backs(extractor: RuleExtractor) -> None:
    found = run(extractor, "Ukraine wants a no-fly zone. Norway supports a no-fly zone.")
    assert ("ukr", "seeks", "air_sea_protection") in keys(found)
    assert ("nor", "backs", "air_sea_protection") in keys(found)
    assert all(p.beneficiary == "ukr" for p in found)


def test_hedge_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "Estonian officials said it remains unclear whether a buffer zone "
                           "could be enforced.")
    p = find(found, "est", "demilitarized_zone")
    assert p.stance.value == "doubts"
    assert p.actor == "estonian-officials"


def test_refusing_a_date_is_doubt(extractor: RuleExtractor) -> None:
    found = run(extractor, "Austria is not ready to give Ukraine a date for EU membership.")
    assert ("aut", "doubts", "eu_membership") in keys(found)


def test_guarantor_from_expected_provider(extractor: RuleExtractor) -> None:
    found = run(extractor, "US Senator Jane Roe said she expects Europe, not Washington, "
                           "to provide security guarantees.")
    p = find(found, "usa", "security_guarantee")
    assert p.stance.value == "backs"
    assert p.guarantor == "europe"
    assert p.actor == "jane-roe"


def test_guarantor_from_adjective_and_fixed(extractor: RuleExtractor) -> None:
    found = run(extractor, "Kyiv asked for British peacekeepers. Kyiv hopes to join NATO.")
    assert find(found, "ukr", "peacekeeping_force").guarantor == "gbr"
    assert find(found, "ukr", "nato_membership").guarantor == "nato"


def test_possessive_holder(extractor: RuleExtractor) -> None:
    found = run(extractor, "Budapest's refusal to back Ukraine's EU accession angered Brussels.")
    p = find(found, "hun", "eu_membership")
    assert p.stance.value == "opposes"
    assert p.actor == "hungary"


def test_possessive_bid(extractor: RuleExtractor) -> None:
    found = run(extractor, "Moldova watched as Kyiv's NATO membership bid stalled again.")
    assert ("ukr", "seeks", "nato_membership") in keys(found)


def test_title_names_unknown_person(extractor: RuleExtractor) -> None:
    found = run(extractor, "Croatian Defence Minister Ivan Horvat pledged air policing "
                           "over Odesa.")
    p = find(found, "hrv", "air_sea_protection")
    assert p.actor == "ivan-horvat"
    assert p.stance.value == "backs"


def test_pronoun_resolves_to_last_person(extractor: RuleExtractor) -> None:
    found = run(extractor, "Alexander Stubb flew to Kyiv on Monday. He offered Finnish "
                           "instructors to train Ukrainian brigades and more weapons.")
    p = find(found, "fin", "military_strength")
    assert p.actor == "alexander-stubb"


def test_role_noun_resolves_to_last_person(extractor: RuleExtractor) -> None:
    found = run(extractor, "Pedro Sanchez met troops in Madrid. The prime minister later "
                           "said Spain opposes any NATO membership talks for now.")
    assert ("esp", "opposes", "nato_membership") in keys(found)


def test_quote_then_said(extractor: RuleExtractor) -> None:
    found = run(extractor, '"We want security guarantees that work," said Yulia Svyrydenko.')
    p = find(found, "ukr", "security_guarantee")
    assert p.actor == "yulia-svyrydenko"
    assert p.stance.value == "seeks"


def test_first_person_in_quote_is_speaker(extractor: RuleExtractor) -> None:
    found = run(extractor, 'Donald Tusk was blunt. "We will not send Polish troops," he said.')
    p = find(found, "pol", "peacekeeping_force")
    assert p.stance.value == "opposes" and p.actor == "donald-tusk"


def test_capital_as_actor(extractor: RuleExtractor) -> None:
    found = run(extractor, "Moscow has said it will not accept foreign troops in Ukraine.")
    p = find(found, "rus", "peacekeeping_force")
    assert p.actor == "russia" and p.stance.value == "opposes"


def test_neutral_mention_gives_nothing(extractor: RuleExtractor) -> None:
    assert run(extractor, "Security guarantees were on the agenda in Geneva.") == []


def test_russian_troops_are_not_a_guarantee(extractor: RuleExtractor) -> None:
    assert run(extractor, "Hungary wants Russian troops to leave the area.") == []


def test_one_position_per_key_and_evidence_is_verbatim(extractor: RuleExtractor) -> None:
    text = ("Title line\nVILNIUS - Ministers met on Friday.\nLithuania backs a European "
            "reassurance force. Lithuania also backs sending peacekeepers.")
    found = run(extractor, text)
    assert len([p for p in found if p.party == "ltu"]) == 1
    for p in found:
        assert p.evidence in text
    assert find(found, "ltu", "peacekeeping_force").evidence.startswith("Lithuania backs")


def test_deterministic(extractor: RuleExtractor) -> None:
    text = "Latvia urged allies to send peacekeepers and supply more weapons to Kyiv."
    assert run(extractor, text) == run(extractor, text)


def test_negative_after_the_guarantee(extractor: RuleExtractor) -> None:
    found = run(extractor, "Foreign peacekeepers on Ukrainian soil would be unacceptable, "
                           "Sergei Lavrov said.")
    p = find(found, "rus", "peacekeeping_force")
    assert p.stance.value == "opposes" and p.actor == "sergei-lavrov"


def test_object_possessive_is_not_the_holder(extractor: RuleExtractor) -> None:
    found = run(extractor, "Vilnius supported Ukraine's membership bid.")
    assert ("ltu", "backs", "eu_membership") in keys(found)
    assert ("ukr", "seeks", "eu_membership") not in keys(found)


# -- 1.2.0: news-style clauses, appositives, conditions and lexicon fixes -------------------


def test_membership_in_nato_and_accession_to_the_eu_match(extractor: RuleExtractor) -> None:
    found = run(extractor, "Oslo backs membership in NATO for Kyiv. Rome backs accession to "
                           "the EU for Kyiv.")
    assert ("nor", "backs", "nato_membership") in keys(found)
    assert ("ita", "backs", "eu_membership") in keys(found)


def test_adding_that_starts_a_new_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, '"Moscow does not get to decide," Stubb told reporters, adding that '
                           "Finland was ready to contribute to air policing.")
    assert ("fin", "backs", "air_sea_protection") in keys(found)
    assert not any(p.party == "rus" for p in found)


def test_clause_without_subject_belongs_to_speaker(extractor: RuleExtractor) -> None:
    found = run(extractor, "A senior U.S. official told reporters that Washington would help "
                           "if Russia attacked again, but stressed that no American soldiers "
                           "would be sent to Ukraine.")
    assert ("usa", "opposes", "peacekeeping_force") in keys(found)
    assert not any(p.party == "rus" for p in found)


def test_as_with_a_new_subject_ends_the_clause(extractor: RuleExtractor) -> None:
    found = run(extractor, "Spain pledges a reassurance force as Washington weighs a backstop.")
    assert ("esp", "backs", "peacekeeping_force") in keys(found)
    assert ("esp", "backs", "security_guarantee") not in keys(found)


def test_condition_subject_is_not_the_holder(extractor: RuleExtractor) -> None:
    found = run(extractor, "Vance said that if Ukrainians sign the deal, they would get "
                           "security guarantees.")
    assert ("ukr", "seeks", "security_guarantee") not in keys(found)


def test_imposed_object_is_not_the_holder(extractor: RuleExtractor) -> None:
    found = run(extractor, "The draft would require Kyiv to give up its NATO membership bid.")
    assert not any(p.party == "ukr" for p in found)


def test_appositive_who_clause_speaker(extractor: RuleExtractor) -> None:
    found = run(extractor, "Croatian Prime Minister Andrej Plenkovic, who met Sebastien Lecornu "
                           "in Paris, said Croatia was ready to send peacekeepers.")
    assert ("hrv", "backs", "peacekeeping_force") in keys(found)
    assert not any(p.party == "fra" for p in found)


def test_news_phrasings_of_force_and_skies(extractor: RuleExtractor) -> None:
    found = run(extractor, "Belgium pledged to join a post-war force. Norway offered to help "
                           "protect Ukraine's skies. Moscow rejects any foreign military "
                           "intervention.")
    assert ("bel", "backs", "peacekeeping_force") in keys(found)
    assert ("nor", "backs", "air_sea_protection") in keys(found)
    assert ("rus", "opposes", "peacekeeping_force") in keys(found)


def test_supplier_is_a_positive_cue(extractor: RuleExtractor) -> None:
    found = run(extractor, "Berlin would remain the largest supplier of military aid to Kyiv.")
    assert ("deu", "backs", "military_strength") in keys(found)
