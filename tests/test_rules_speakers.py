"""The speakers stage: who a sentence reports, and where a name is no subject."""

from __future__ import annotations

from bot.extraction.rules.speakers import dateline_end, in_place, object_context, quote_speaker
from tests.rules_helpers import sentence, sentences, shared_extractor


def _speaker(text: str) -> str | None:
    return sentence(shared_extractor(), text).speaker()


def test_the_subject_before_or_after_a_speech_verb_speaks() -> None:
    assert _speaker("Macron said Europe would help.") == "emmanuel-macron"
    assert _speaker("Europe would help, said Macron.") == "emmanuel-macron"
    assert _speaker("Nothing was said about it.") is None


def test_the_name_before_an_inserted_phrase_speaks() -> None:
    text = "Lavrov, Russia's foreign minister, said NATO membership was unacceptable."
    assert _speaker(text) == "sergei-lavrov"


def test_a_name_after_a_preposition_is_no_speaker() -> None:
    assert _speaker("In a letter to Macron, officials said the plan was fine.") is None


def test_a_dateline_names_no_one() -> None:
    s = sentence(shared_extractor(), "ROME, Aug 21 (Reuters) - Italy will send troops.")
    assert s.st.words[dateline_end(s.st, s.sent)] == "Italy"
    assert [m.actor.slug for m in s.mentions if m.actor] == ["italy"]


def test_places_and_objects_are_told_apart_from_subjects() -> None:
    s = sentence(shared_extractor(), "Jets flying from bases in Poland reached Ukraine.")
    poland = next(m for m in s.mentions if m.actor and m.actor.party == "pol")
    assert in_place(s.st, poland)
    s = sentence(shared_extractor(), "Aid went to Ukraine.")
    ukraine = next(m for m in s.mentions if m.actor and m.actor.party == "ukr")
    assert object_context(s.st, ukraine)


def test_a_quotation_is_spoken_by_the_speaker_named_before() -> None:
    sents = sentences(shared_extractor(), 'Stubb spoke on Monday. "We will be ready."')
    speakers = [None, None]
    speakers[0] = sents[0].mentions[0].actor
    st, spans = sents[1].st, [s.sent for s in sents]
    assert quote_speaker(st, 1, spans, speakers) == speakers[0]
