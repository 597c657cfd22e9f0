"""Breadth of the lexicons: how 2024-2026 war and diplomacy reporting words guarantees and
stances, on short sentences written for these tests."""

from __future__ import annotations

import pytest

from bot.extraction.rules import RuleExtractor
from tests.extraction_helpers import keys_of, run


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    """These tests pin the rules' own behaviour (the learned stage on top is tested apart)."""
    return RuleExtractor()


@pytest.mark.parametrize(("text", "expected"), [
    # peacekeeping: personnel, observers, stationing forces
    ("Wellington was open to contributing personnel.", ("nzl", "backs", "peacekeeping_force")),
    ("Oslo offered observers for the ceasefire line.", ("nor", "backs", "peacekeeping_force")),
    ("Finland said it was ready to station forces in Ukraine.",
     ("fin", "backs", "peacekeeping_force")),
    # military strength: named systems, interceptors, training, the size of the army
    ("Kyiv urged allies to fund 5,000 interceptor drones.", ("ukr", "seeks", "military_strength")),
    ("Stockholm is negotiating the sale of Gripen jets to Kyiv.",
     ("swe", "backs", "military_strength")),
    ("Berlin pledged two more IRIS-T systems.", ("deu", "backs", "military_strength")),
    ("Kyiv rejected any ceiling on the size of its armed forces.",
     ("ukr", "seeks", "military_strength")),
    # air and sea: mines, drones over Ukraine, policing the skies
    ("Rome was ready to help clear mines from the Black Sea.",
     ("ita", "backs", "air_sea_protection")),
    ("Warsaw argued that allies should shoot down Russian drones over western Ukraine.",
     ("pol", "backs", "air_sea_protection")),
    # demilitarised zone: a buffer of some kilometres
    ("Kellogg proposed a 30-km zone between the armies.", ("usa", "backs", "demilitarized_zone")),
    # economic stake: deposits and firms working in Ukraine
    ("Washington wants American firms operating in Ukraine as a deterrent.",
     ("usa", "backs", "economic_stake")),
    # security guarantee: ratified by Congress, a US commitment to respond
    ("Kyiv wants a guarantee ratified by Congress.", ("ukr", "seeks", "security_guarantee")),
    # NATO: a path into the alliance; doubt without consensus
    ("Kyiv pressed for a path into NATO.", ("ukr", "seeks", "nato_membership")),
    ("Washington said there was no consensus among allies for NATO membership.",
     ("usa", "doubts", "nato_membership")),
    # EU: opening clusters
    ("Brussels backed opening the first cluster with Kyiv.", ("eu", "backs", "eu_membership")),
])
def test_wide_vocabulary(extractor: RuleExtractor, text: str,
                         expected: tuple[str, str, str]) -> None:
    assert expected in keys_of(extractor, text)


@pytest.mark.parametrize(("text", "expected"), [
    ("The Kremlin said joining NATO was closed for good.", ("rus", "opposes", "nato_membership")),
    ("Moscow called European peacekeepers a dangerous escalation.",
     ("rus", "opposes", "peacekeeping_force")),
    ("Berlin said it was not realistic for NATO jets to police Ukrainian skies.",
     ("deu", "doubts", "air_sea_protection")),
    ("Sofia had not decided whether its navy would join the mission.",
     ("bgr", "doubts", "air_sea_protection")),
])
def test_stance_vocabulary(extractor: RuleExtractor, text: str,
                           expected: tuple[str, str, str]) -> None:
    assert expected in keys_of(extractor, text)


def test_relied_on_in_the_past_is_no_stance(extractor: RuleExtractor) -> None:
    assert keys_of(extractor, "Ukraine has relied on Patriot systems for years.") == set()


def test_a_frozen_line_is_no_refusal(extractor: RuleExtractor) -> None:
    found = keys_of(extractor, "Kellogg said the front would be frozen behind a buffer zone.")
    assert ("usa", "opposes", "demilitarized_zone") not in found


def test_a_table_in_a_place_is_no_cue(extractor: RuleExtractor) -> None:
    text = ("On the other side of the table, Latvia, with Poland's support, is pushing for "
            "Ukraine to join NATO.")
    assert ("pol", "backs", "nato_membership") in keys_of(extractor, text)


def test_an_object_in_a_region_is_no_subject(extractor: RuleExtractor) -> None:
    text = ("Pistorius said the soldiers would be based in western Ukraine, training "
            "Ukrainian units.")
    assert ("ukr", "seeks", "military_strength") not in keys_of(extractor, text)


def test_a_dateline_names_no_speaker(extractor: RuleExtractor) -> None:
    text = "OSLO, Jan 21 - The reconstruction fund, set up under the minerals deal, named projects."
    assert keys_of(extractor, text) == set()


@pytest.mark.parametrize(("text", "expected"), [
    ('Rubio said the guarantees would be "something Ukraine can rely on."',
     ("usa", "backs", "security_guarantee")),
    ('Russia\'s defence ministry said any naval escort for Ukrainian cargo would be regarded '
     'as "a party to the conflict."', ("rus", "opposes", "air_sea_protection")),
    ("Moscow said any such move would be regarded as direct NATO involvement in the war.",
     ("rus", "opposes", "air_sea_protection")),
])
def test_a_verdict_after_the_guarantee(extractor: RuleExtractor, text: str,
                                       expected: tuple[str, str, str]) -> None:
    context = "Kyiv asked allies for air policing. " if "such move" in text else ""
    assert expected in keys_of(extractor, context + text)


def test_an_army_size_in_troops_is_no_foreign_force(extractor: RuleExtractor) -> None:
    found = keys_of(extractor, "Kyiv rejected a plan that would cap the army at 600,000 troops.")
    assert "peacekeeping_force" not in {g for _, _, g in found}


def test_a_body_sentence_is_better_evidence_than_the_lead(extractor: RuleExtractor) -> None:
    text = ("Oslo offers troops\n"
            "OSLO, May 2 - Norway is ready to send peacekeepers, officials said on Friday.\n"
            "Prime Minister Jonas Gahr Store said Norway was ready to send peacekeepers.")
    found = run(extractor, text)
    assert [p.evidence[:14] for p in found] == ["Prime Minister"]
