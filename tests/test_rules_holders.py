"""The holders stage: who takes the stance a clause states."""

from __future__ import annotations

from bot.extraction.rules.holders import (
    answer_after,
    find_holders,
    passive_after,
    quantified_subject,
    relative_clause,
)
from tests.rules_helpers import sentence, shared_extractor


def _holders(text: str, guarantee: str, own_speaker: bool = False) -> list[str]:
    s = sentence(shared_extractor(), text)
    g = s.guarantee(guarantee)
    head = next(c for c in s.cues if c.kind == "C" and c.value in ("positive", "negative"))
    found = find_holders(s.st, s.sent, g, head, s.mentions, None, [head], s.sent.start,
                         own_speaker=own_speaker)
    return [a.slug for a in found]


def test_the_subject_before_the_cue_holds_the_stance() -> None:
    assert _holders("Hungary rejected Ukraine's NATO membership.", "nato_membership") == [
        "hungary"]


def test_a_coordinated_subject_holds_it_together() -> None:
    assert _holders("Poland, Estonia and Latvia backed a peacekeeping force.",
                    "peacekeeping_force") == ["poland", "estonia", "latvia"]


def test_the_owner_of_a_stated_position_holds_what_it_demands() -> None:
    assert _holders("Moscow's position that Kyiv must renounce NATO membership is firm.",
                    "nato_membership") == ["russia"]


def test_a_relative_clause_after_the_guarantee_names_its_holder() -> None:
    s = sentence(shared_extractor(), "Security guarantees, which Kyiv had sought, were discussed.")
    holders, polarity = relative_clause(s.st, s.sent, s.guarantee("security_guarantee"),
                                        s.cues, s.mentions, None)
    assert ([h.slug for h in holders], polarity) == (["ukraine"], "positive")


def test_a_passive_names_its_holders_after_by() -> None:
    s = sentence(shared_extractor(),
                 "The idea of a peacekeeping force was pushed by Poland, Estonia and Latvia.")
    holders, polarity = passive_after(s.st, s.sent, s.guarantee("peacekeeping_force"), s.cues,
                                      s.mentions)
    assert ([h.slug for h in holders], polarity) == (["poland", "estonia", "latvia"],
                                                     "positive")


def test_a_refusal_in_a_later_clause_answers_the_guarantee() -> None:
    s = sentence(shared_extractor(),
                 "Kyiv pressed for a peacekeeping force, but Washington refused.")
    answer = answer_after(s.st, s.sent, s.guarantee("peacekeeping_force"), s.cues, s.mentions,
                          s.guarantees)
    assert answer is not None and answer.party == "usa"


def test_a_counted_subject_names_no_one() -> None:
    s = sentence(shared_extractor(), "But few pledged troops.")
    assert quantified_subject(s.st, s.sent.start, s.guarantee("peacekeeping_force").start - 1)
