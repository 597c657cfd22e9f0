"""How the learned stage reads who is named (`learned.mentions`): lists of parties joined into
one subject, where a list ends, a speaker after a comma, and guarantee phrases that overlap."""

from __future__ import annotations

import pytest

from bot.extraction.learned.features import build_view
from bot.extraction.learned.mentions import article_mentions, guarantee_phrases
from bot.extraction.rules import RuleExtractor


def test_a_list_of_countries_gives_each_a_candidate() -> None:
    rules = RuleExtractor()
    doc = rules.nlp("Troops\nGermany, Italy and Poland have ruled out sending troops to Ukraine.")
    view = build_view(doc, rules.analyse(doc))
    found = {(c.party, c.guarantee) for c in view.candidates if c.sentence == 1}
    for party in ("deu", "ita", "pol"):
        assert (party, "peacekeeping_force") in found
    listed = [c for c in view.candidates if c.party == "ita" and c.sentence == 1]
    assert any("in_list" in c.features for c in listed)


def test_a_list_member_named_with_the_stays_in_the_list() -> None:
    """"Qatar, the United Arab Emirates and Egypt": the article opens a member's name; it does
    not end the list, so every member reads the words around the whole list."""
    rules = RuleExtractor()
    doc = rules.nlp("The envoy asked Indonesia, Qatar, the United Arab Emirates and Egypt to "
                    "send troops to the force.")
    view = build_view(doc, rules.analyse(doc), headline=False)
    by_party = {c.party: c.features for c in view.candidates
                if c.guarantee == "peacekeeping_force"}
    for party in ("idn", "qat", "are", "egy"):
        assert {"in_list", "mw-=asked", "not_subject"} <= by_party[party].keys()


@pytest.mark.parametrize("text, lists", [
    # ", the" members stand when an "and" follows, even before a word that is no party
    ("Germany, France, the UK and several other European leaders back a force.",
     [("deu", "fra", "gbr")]),
    # with none, the list ends before each of them
    ("Germany, the Netherlands, France, the UK, Italy pledged troops.",
     [("nld", "fra"), ("gbr", "ita")]),
    # adjectives after "the" when the member before is one too
    ("The British and the French will lead the force.", [("gbr", "fra")]),
    # a place alone before ", the" is where, not who
    ("In Washington, the United States and Ukraine signed the deal.", [("usa", "ukr")]),
])
def test_lists_with_the_end_where_the_sentence_says(
        text: str, lists: list[tuple[str, ...]]) -> None:
    rules = RuleExtractor()
    doc = rules.nlp(text)
    mentions = article_mentions(rules.analyse(doc).hits, [t.lower_ for t in doc])
    found = {}
    for m in mentions:
        if m.list_size > 1:
            found.setdefault((m.list_start, m.list_end), []).append(m.party)
    assert sorted(tuple(v) for v in found.values()) == sorted(lists)


def test_a_membership_word_inside_a_named_membership_is_no_second_phrase() -> None:
    """"EU membership" and "NATO membership" stay two phrases of one guarantee each; an
    unplaced "membership" read both ways is one phrase of two."""
    hits = [(3, 5, "eu_membership", "G"), (4, 5, "nato_membership", "Mg"),
            (4, 5, "eu_membership", "Mg"), (8, 10, "nato_membership", "G"),
            (9, 10, "nato_membership", "Mg"), (9, 10, "eu_membership", "Mg"),
            (12, 13, "nato_membership", "Mg"), (12, 13, "eu_membership", "Mg")]
    assert guarantee_phrases(hits) == [
        (3, 5, frozenset({"eu_membership"})), (8, 10, frozenset({"nato_membership"})),
        (12, 13, frozenset({"nato_membership", "eu_membership"}))]


@pytest.mark.parametrize("text, parties", [
    # "the" with no joiner before it
    ("Washington told Kyiv the United States would send troops to the force.", ("ukr", "usa")),
    ("Washington told Kyiv the Alliance would not admit it.", ("ukr", "nato")),
    # ", the" and no "and" or "or" after it: an apposition
    ("Turkey, the NATO member, backs a peacekeeping force for Ukraine.", ("tur", "nato")),
    # "the" before an adjective: "the Rwandan ministry", not a member
    ("Speaking in Kinshasa, the Rwandan foreign ministry backed a peacekeeping force.",
     ("cod", "rwa")),
])
def test_a_the_that_opens_no_member_ends_the_list(text: str, parties: tuple[str, ...]) -> None:
    rules = RuleExtractor()
    doc = rules.nlp(text)
    mentions = article_mentions(rules.analyse(doc).hits, [t.lower_ for t in doc])
    assert {m.party for m in mentions} >= set(parties)
    assert all(m.list_size == 1 for m in mentions)


@pytest.mark.parametrize("text, party", [
    ("Britain is ready to send peacekeepers to Ukraine, Keir Starmer said on Monday.", "gbr"),
    ("Peacekeepers will be sent to Ukraine, the United States said on Monday.", "usa"),
    ("Ukraine wants to join NATO, Volodymyr Zelensky told the summit in The Hague.", "ukr"),
    ("Peacekeepers will be sent to Ukraine, Britain said on Monday.", "gbr"),
])
def test_a_place_then_the_speaker_after_a_comma_is_no_list(text: str, party: str) -> None:
    """The attribution that trails a lead ("..., Keir Starmer said") is not one more member of
    a list with the place before the comma: the speaker's candidate is read as a speaker."""
    rules = RuleExtractor()
    doc = rules.nlp(text)
    view = build_view(doc, rules.analyse(doc), headline=False)
    mine = [c for c in view.candidates if c.party == party]
    assert mine and not any("in_list" in c.features for c in mine)
