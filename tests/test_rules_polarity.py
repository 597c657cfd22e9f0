"""The polarity stage: what the clause before (or the verdict after) a guarantee says of it."""

from __future__ import annotations

from bot.extraction.rules.polarity import after_cues, cues_before, not_enough_alone, read_stance
from tests.rules_helpers import sentence, shared_extractor


def _stance(text: str, guarantee: str) -> tuple[list[str], str | None, str | None]:
    s = sentence(shared_extractor(), text)
    g = s.guarantee(guarantee)
    speaker = next((m.actor for m in s.mentions if m.actor and m.actor.person), None)
    holders, polarity, provider = read_stance(s.st, s.sent, g, s.sent.start, s.cues,
                                              s.mentions, speaker, s.sent.start)
    return [h.slug for h in holders], polarity, provider


def test_a_cue_before_the_guarantee_gives_its_polarity() -> None:
    assert _stance("Hungary rejected Ukraine's NATO membership.", "nato_membership") == (
        ["hungary"], "negative", None)
    assert _stance("Poland backed a peacekeeping force.", "peacekeeping_force")[1] == "positive"


def test_a_negator_turns_the_cue_around() -> None:
    assert _stance("Poland did not back a peacekeeping force.",
                   "peacekeeping_force")[1] == "negative"


def test_not_outright_is_doubt() -> None:
    assert _stance("Hungary did not reject Ukraine's NATO membership outright.",
                   "nato_membership")[1] == "doubt"


def test_an_open_question_is_no_stance() -> None:
    assert _stance("Germany has not said whether it would provide peacekeepers.",
                   "peacekeeping_force") == ([], None, None)


def test_praise_after_a_possessive_guarantee_is_the_owners_wish() -> None:
    assert _stance("Kyiv's NATO bid has stalled.", "nato_membership") == (
        ["ukraine"], "positive", None)


def test_a_curb_in_the_passive_after_the_guarantee_turns_the_demand_around() -> None:
    holders, polarity, _ = _stance("Moscow demanded that Ukraine's armed forces be capped.",
                                   "military_strength")
    assert (holders, polarity) == (["russia"], "negative")


def test_a_guarantee_doubted_as_not_enough_alone() -> None:
    s = sentence(shared_extractor(), "Unarmed observers alone would not stop an offensive.")
    assert not_enough_alone(s.st, s.sent, s.guarantee("peacekeeping_force"), s.cues)
    s = sentence(shared_extractor(), "Unarmed observers would not stop an offensive.")
    assert not not_enough_alone(s.st, s.sent, s.guarantee("peacekeeping_force"), s.cues)


def test_a_cue_with_an_object_of_its_own_does_not_reach_the_guarantee() -> None:
    s = sentence(shared_extractor(), "Britain wants to stop the fighting and deploy troops.")
    g = s.guarantee("peacekeeping_force")
    words = [s.st.words[c.start] for c in cues_before(s.st, s.sent.start, g, s.cues)]
    assert "stop" in {s.st.words[c.start] for c in s.cues}
    assert words == ["wants", "deploy"]  # "stop the fighting" has its own object


def test_a_verdict_after_the_guarantee_is_found_within_its_reach() -> None:
    s = sentence(shared_extractor(),
                 "Lavrov said NATO membership for Ukraine was unacceptable.")
    found = after_cues(s.st, s.sent, s.guarantee("nato_membership"), s.cues)
    assert [c.value for c in found] == ["negative"]


def test_a_later_cue_of_the_chain_names_the_provider() -> None:
    _, polarity, provider = _stance("Kyiv expects Europe, not the US, to provide a "
                                    "peacekeeping force.", "peacekeeping_force")
    assert (polarity, provider) == ("positive", "europe")
