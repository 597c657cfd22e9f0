"""The clauses stage: where a cue's clause ends, and how guarantees of a sentence relate."""

from __future__ import annotations

from bot.extraction.rules.clauses import (
    clause_boundaries,
    continued_guarantee,
    coordinated_guarantees,
    reported_future,
)
from tests.rules_helpers import sentence, shared_extractor


def _boundary_words(text: str) -> list[str]:
    s = sentence(shared_extractor(), text)
    return [s.st.words[b] for b in clause_boundaries(s.st, s.sent, s.cues)]


def test_said_that_and_a_new_subject_after_and_end_a_clause() -> None:
    assert "that" in _boundary_words("Macron said that troops would come.")
    assert "and" in _boundary_words("Poland backs troops, and the Kremlin opposes them.")
    assert "and" not in _boundary_words("Poland backs troops and jets.")


def test_as_opens_a_clause_only_before_a_name() -> None:
    assert "as" in _boundary_words("Poland pledged troops as Washington weighed jets.")
    assert "as" not in _boundary_words("Allies such as Britain pledged troops.")


def test_a_closing_quote_ends_the_quotation() -> None:
    assert '"' in _boundary_words('"We will send troops," Macron said.')


def test_a_parenthetical_adverb_ends_nothing() -> None:
    words = _boundary_words("He questioned, however, whether troops would come.")
    assert "however" not in words


def test_a_modal_or_obligation_makes_a_reported_future() -> None:
    s = sentence(shared_extractor(), "Macron said Europe had to be ready to send troops.")
    assert reported_future(s.st, s.sent.start, s.sent.end)
    s = sentence(shared_extractor(), "Macron said Europe sent troops.")
    assert not reported_future(s.st, s.sent.start, s.sent.end)


def test_listed_and_continued_guarantees_share_the_stance_before() -> None:
    s = sentence(shared_extractor(), "Britain backs peacekeepers and air patrols.")
    first, second = s.guarantees[0], s.guarantees[1]
    assert coordinated_guarantees(s.st, first, second)
    s = sentence(shared_extractor(),
                 "Britain backs security guarantees, including a peacekeeping force.")
    assert continued_guarantee(s.st, s.guarantees[0], s.guarantees[1])
    assert not coordinated_guarantees(s.st, s.guarantees[0], s.guarantees[1])
