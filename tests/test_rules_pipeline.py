"""The pipeline stage: sentence marks, phrase matches and how overlapping hits are kept."""

from __future__ import annotations

from bot.extraction.rules import Hit, RuleExtractor
from bot.extraction.rules.pipeline import bucket, longest, longest_per_kind, with_the
from tests.rules_helpers import shared_extractor


def _kinds(text: str) -> set[tuple[str, str, str]]:
    ex = shared_extractor()
    doc = ex.nlp(text)
    return {(doc[h.start:h.end].text, h.kind, h.value) for h in ex.hits(doc)}


def test_a_line_break_starts_a_sentence_and_a_quotation_is_not_split() -> None:
    doc = shared_extractor().nlp(
        'Headline without a stop\nHe said: "We will help. We will stay." Then he left.')
    sents = [s.text.strip() for s in doc.sents]
    assert sents[0] == "Headline without a stop"
    assert 'We will help. We will stay."' in sents[1]
    assert "We will stay" not in sents[0]


def test_the_matchers_find_guarantees_cues_speech_and_names() -> None:
    found = _kinds("Poland backed security guarantees, Tusk said.")
    assert ("security guarantees", "G", "security_guarantee") in found
    assert ("backed", "C", "positive") in found
    assert ("said", "S", "speech") in found
    assert ("Poland", "P", "pol") in found
    assert any(kind == "A" and text == "Tusk" for text, kind, _ in found)


def test_cased_names_match_only_in_their_case() -> None:
    assert any(kind == "P" for _, kind, _ in _kinds("France said no."))
    assert not any(kind == "P" and value == "fra" for _, kind, value in _kinds("france said no."))


def test_names_with_the_also_match_without_it() -> None:
    assert with_the(["the Kremlin", "Paris"]) == ["Kremlin", "The Kremlin", "Paris"]


def test_longest_keeps_the_longer_of_overlapping_hits() -> None:
    hits = [Hit(0, 1, "G", "a"), Hit(0, 2, "G", "b"), Hit(2, 3, "C", "c"), Hit(1, 3, "C", "d")]
    assert longest(hits) == [Hit(0, 2, "G", "b"), Hit(2, 3, "C", "c")]


def test_speech_and_stance_cues_may_share_a_token() -> None:
    hits = [Hit(3, 4, "S", "speech"), Hit(3, 4, "C", "positive"), Hit(3, 5, "C", "negative"),
            Hit(4, 5, "C", "negator")]
    kept = longest_per_kind(hits)
    assert Hit(3, 4, "S", "speech") in kept and Hit(3, 5, "C", "negative") in kept
    assert Hit(3, 4, "C", "positive") not in kept
    assert Hit(4, 5, "C", "negator") not in kept  # inside a stance cue


def test_bucket_groups_hits_by_their_sentence() -> None:
    doc = shared_extractor().nlp("One two. Three four. Five.")
    sents = list(doc.sents)
    grouped = bucket([Hit(4, 5, "X", ""), Hit(0, 1, "X", ""), Hit(3, 4, "X", "")], sents)
    assert [[h.start for h in g] for g in grouped] == [[0], [3, 4], []]


def test_the_public_names_are_where_other_code_imports_them() -> None:
    from bot.extraction.rules import Proposal, RuleAnalysis

    ex = RuleExtractor()
    analysis = ex.analyse(ex.nlp("Poland backed a peacekeeping force."))
    assert isinstance(analysis, RuleAnalysis)
    assert all(isinstance(p, Proposal) for p in analysis.proposals) and analysis.proposals
    assert ex.name == "rules" and ex.version == "1.33"


def test_a_parliament_or_named_armed_forces_name_their_state() -> None:
    found = _kinds("The Sejm and the Bundestag debated it; the Knesset did not. The IDF drilled.")
    assert {("Sejm", "P", "pol"), ("Bundestag", "P", "deu"), ("Knesset", "P", "isr"),
            ("IDF", "P", "isr")} <= found


def test_names_other_states_share_are_not_metonyms() -> None:
    """"Majlis" is many states' parliament, "People's Liberation Army" part of South Sudan's
    SPLA, "Westminster" a masthead or a style of parliament: none names one state."""
    found = _kinds("Azerbaijan's Milli Majlis met. The Sudan People's Liberation Army spoke. "
                   "A Westminster-style parliament in Ottawa voted.")
    assert not {value for _, kind, value in found if kind == "P"} & {"irn", "chn", "gbr"}


def test_a_self_governing_territory_is_a_party_of_its_own() -> None:
    found = _kinds("Greenland's premier spoke in Nuuk; the Faroese government agreed.")
    assert ("Greenland", "P", "grl") in found and ("Faroese", "J", "fro") in found
    assert not any(value == "dnk" for _, _, value in found)


def test_congolese_is_read_as_the_drc_and_brazzaville_as_the_republic() -> None:
    """"Congolese" is shared by the two Congos; the news of the wars this bot follows means the
    DRC by it (the annotated articles that use it code the DRC, never the Republic:
    `parties.toml`). The Republic of the Congo is read from its names and its capital."""
    found = _kinds("The Congolese army and Kinshasa agreed; Brazzaville and the Republic of the "
                   "Congo stayed out.")
    assert ("Congolese", "J", "cod") in found
    assert not any(text == "Congolese" and value == "cog" for text, _, value in found)
    assert {("Brazzaville", "cog"), ("Republic of the Congo", "cog")} <= {
        (text, value) for text, _, value in found}
