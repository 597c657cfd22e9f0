"""The question grammar (`bot.questions`): typed questions and the request each becomes.

Every question is read on Wednesday 2026-03-04 (10:00 UTC) in UTC unless a test says
otherwise, against a topic index with a few store actors, so time words have fixed answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.models import DateWindow, PositionFilter
from bot.query import (
    BriefingRequest,
    ChangesRequest,
    CompareRequest,
    HelpRequest,
    ListSubscriptionsRequest,
    Request,
    SubscribeRequest,
    UserError,
    parse_command,
)
from bot.questions import clean_words, describe, question_text, question_words
from bot.topics import build_topic_index
from bot.vocabulary import Guarantee, Stance

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
INDEX = build_topic_index(
    {
        "keir-starmer": "gbr",
        "ukrainian-officials": "ukr",
        "russia": "rus",
        "coalition-of-the-willing": "europe",
    },
    {"ukr", "usa", "rus", "gbr", "nato", "europe", "hun", "eu", "fra", "ita"},
)


def show_filter(f: PositionFilter) -> str:
    parts = []
    if f.parties:
        parts.append("topic=" + f.parties[0])
    if f.held_by:
        parts.append("held_by=" + ",".join(sorted(f.held_by)))
    if f.actors:
        parts.append("actors=" + ",".join(sorted(f.actors)))
    if f.guarantees:
        parts.append("g=" + ",".join(sorted(f.guarantees)))
    if f.stances:
        parts.append("stance=" + ",".join(sorted(f.stances)))
    return " ".join(parts) or "all"


def show_window(window: DateWindow | None) -> str:
    if window is None:
        return ""
    return f" [{window.since or ''}..{window.until or ''})"


def show(request: Request) -> str:
    """A request in one short line: what it asks for, its filter and its window."""
    if isinstance(request, BriefingRequest):
        return "card " + show_filter(request.topic.filter) + show_window(request.window)
    if isinstance(request, ChangesRequest):
        return "changes " + show_filter(request.topic.filter) + show_window(request.window)
    if isinstance(request, CompareRequest):
        text = "compare " + ",".join(request.parties)
        if request.guarantees:
            text += " g=" + ",".join(sorted(request.guarantees))
        if request.stances:
            text += " stance=" + ",".join(sorted(request.stances))
        return text + show_window(request.window)
    if isinstance(request, HelpRequest):
        return "help"
    return type(request).__name__


def read(text: str, now: datetime = NOW, zone: str = "UTC") -> str:
    """The request a text becomes, or `error X` (X: the first suggestion, else the message)."""
    try:
        return show(parse_command(text, INDEX, now=now, zone=zone))
    except UserError as error:
        return "error " + (error.suggestions[0] if error.suggestions else error.message)


# (typed, the request it becomes). Today is Wednesday 2026-03-04; windows are [since..until).
QUESTIONS = [
    ('who opposes peacekeepers', 'card g=peacekeeping_force stance=opposes'),
    ('opposes peacekeepers', 'card g=peacekeeping_force stance=opposes'),
    ('Who opposes peacekeepers?', 'card g=peacekeeping_force stance=opposes'),
    ('WHO OPPOSES PEACEKEEPERS', 'card g=peacekeeping_force stance=opposes'),
    ('who is against peacekeepers', 'card g=peacekeeping_force stance=opposes'),
    ('against peacekeepers', 'card g=peacekeeping_force stance=opposes'),
    ('who backs peacekeepers', 'card g=peacekeeping_force stance=backs'),
    ('backs peacekeepers', 'card g=peacekeeping_force stance=backs'),
    ('who supports security guarantees?', 'card g=security_guarantee stance=backs'),
    ('supports nato membership', 'card g=nato_membership stance=backs'),
    ('who seeks nato membership', 'card g=nato_membership stance=seeks'),
    ('who wants security guarantees', 'card g=security_guarantee stance=seeks'),
    ('wants peacekeepers', 'card g=peacekeeping_force stance=seeks'),
    ('who doubts the dmz', 'card g=demilitarized_zone stance=doubts'),
    ('who is sceptical of peacekeepers', 'card g=peacekeeping_force stance=doubts'),
    ("who's skeptical about eu membership", 'card g=eu_membership stance=doubts'),
    ('who opposes', 'card stance=opposes'),
    ('who doubts?', 'card stance=doubts'),
    ('ukraine opposes', 'card topic=ukr stance=opposes'),
    (
        'ukraine backs or opposes peacekeepers',
        'card topic=ukr g=peacekeeping_force stance=backs,opposes',
    ),
    ('russia against nato membership', 'card topic=rus g=nato_membership stance=opposes'),
    ('who oposes peacekeepers', 'card g=peacekeeping_force stance=opposes'),
    ('who suports peacekeepers', 'card g=peacekeeping_force stance=backs'),
    ('who is scepticle of peacekeepers', 'card g=peacekeeping_force stance=doubts'),
    ('where does italy stand on troops?', 'card topic=ita g=peacekeeping_force'),
    ('Where does Italy stand on troops', 'card topic=ita g=peacekeeping_force'),
    ('what does trump think about peacekeepers?', 'card actors=donald-trump g=peacekeeping_force'),
    (
        'what is the position of france on security guarantees',
        'card topic=fra g=security_guarantee',
    ),
    (
        'what is the stance of the coalition of the willing on peacekeepers',
        'card actors=coalition-of-the-willing g=peacekeeping_force',
    ),
    ('where does the united states stand', 'card topic=usa'),
    ('does russia oppose nato membership?', 'card topic=rus g=nato_membership stance=opposes'),
    ('how does poland see peacekeepers', 'card topic=pol g=peacekeeping_force'),
    ('ukraine today', 'card topic=ukr [2026-03-04..2026-03-05)'),
    ('ukraine yesterday', 'card topic=ukr [2026-03-03..2026-03-04)'),
    ('ukraine this week', 'card topic=ukr [2026-03-02..2026-03-05)'),
    ('ukraine last week', 'card topic=ukr [2026-02-23..2026-03-02)'),
    ('ukraine this month', 'card topic=ukr [2026-03-01..2026-03-05)'),
    ('ukraine last month', 'card topic=ukr [2026-02-01..2026-03-01)'),
    ('ukraine this year', 'card topic=ukr [2026-01-01..2026-03-05)'),
    ('ukraine last 7 days', 'card topic=ukr [2026-02-26..2026-03-05)'),
    ('ukraine past 2 weeks', 'card topic=ukr [2026-02-19..2026-03-05)'),
    ('ukraine last 30 days', 'card topic=ukr [2026-02-03..2026-03-05)'),
    ('ukraine last 3 months', 'card topic=ukr [2025-12-05..2026-03-05)'),
    ('ukraine last 7d', 'card topic=ukr [2026-02-26..2026-03-05)'),
    ('ukraine last 24 hours', 'card topic=ukr [2026-03-03..2026-03-05)'),
    ('what changed in the past 48h', 'changes all [2026-03-02..2026-03-05)'),
    ('ukraine since 2026-01-01', 'card topic=ukr [2026-01-01..2026-03-05)'),
    ('ukraine since monday', 'card topic=ukr [2026-03-02..2026-03-05)'),
    ('ukraine since Friday', 'card topic=ukr [2026-02-27..2026-03-05)'),
    ('ukraine since wednesday', 'card topic=ukr [2026-03-04..2026-03-05)'),
    ('ukraine in january', 'card topic=ukr [2026-01-01..2026-02-01)'),
    ('ukraine in March', 'card topic=ukr [2026-03-01..2026-03-05)'),
    ('ukraine in december', 'card topic=ukr [2025-12-01..2026-01-01)'),
    ('ukraine in january 2025', 'card topic=ukr [2025-01-01..2025-02-01)'),
    ('ukraine in 2025', 'card topic=ukr [2025-01-01..2026-01-01)'),
    ('ukraine since 3 march', 'card topic=ukr [2026-03-03..2026-03-05)'),
    ('ukraine since march 1st', 'card topic=ukr [2026-03-01..2026-03-05)'),
    ('ukraine since 15 december 2025', 'card topic=ukr [2025-12-15..2026-03-05)'),
    ('ukraine from 2026-01-01 to 2026-01-31', 'card topic=ukr [2026-01-01..2026-02-01)'),
    ('ukraine since 2026-01-01 until 2026-02-01', 'card topic=ukr [2026-01-01..2026-02-02)'),
    ('ukraine before 2026-01-01', 'card topic=ukr [..2026-01-01)'),
    ('ukraine until yesterday', 'card topic=ukr [..2026-03-04)'),
    ('ukraine 2026-01-04', 'card topic=ukr [2026-01-04..2026-01-05)'),
    ('ukraine since 01/02/2026', 'card topic=ukr [2026-02-01..2026-03-05)'),
    ('ukraine since yesterdy', 'card topic=ukr [2026-03-03..2026-03-05)'),
    ('ukraine this weeek', 'card topic=ukr [2026-03-02..2026-03-05)'),
    ('peacekeepers since 2026-02-01?', 'card g=peacekeeping_force [2026-02-01..2026-03-05)'),
    (
        'who opposes peacekeepers this week',
        'card g=peacekeeping_force stance=opposes [2026-03-02..2026-03-05)',
    ),
    (
        'who backs security guarantees since 2026-01-01',
        'card g=security_guarantee stance=backs [2026-01-01..2026-03-05)',
    ),
    ('what changed this week', 'changes all [2026-03-02..2026-03-05)'),
    ('what changed?', 'changes all [2026-02-26..2026-03-05)'),
    ('What changed in Ukraine this week?', 'changes topic=ukr [2026-03-02..2026-03-05)'),
    ('changes ukraine', 'changes topic=ukr [2026-02-26..2026-03-05)'),
    ('changes ukraine last month', 'changes topic=ukr [2026-02-01..2026-03-01)'),
    ('what changed for russia since monday', 'changes topic=rus [2026-03-02..2026-03-05)'),
    ('whats new on peacekeepers', 'changes g=peacekeeping_force [2026-02-26..2026-03-05)'),
    ('what shifted since 2026-01-01', 'changes all [2026-01-01..2026-03-05)'),
    ('ukraine what changed', 'changes topic=ukr [2026-02-26..2026-03-05)'),
    ('compare france italy', 'compare fra,ita'),
    ('compare France and Italy', 'compare fra,ita'),
    ('Compare france, italy, poland', 'compare fra,ita,pol'),
    ('compare france italy poland germany', 'compare fra,ita,pol,deu'),
    ('compare france italy on peacekeepers', 'compare fra,ita g=peacekeeping_force'),
    ('compare france vs italy this month', 'compare fra,ita [2026-03-01..2026-03-05)'),
    ('compare the us and russia', 'compare usa,rus'),
    ('compare usa nato', 'compare usa,nato'),
    ('comapre france italy', 'compare fra,ita'),
    (
        'compare france',
        'error Compare two to four parties, for example `compare france italy` (got 1).',
    ),
    (
        'compare france italy poland germany spain',
        'error Compare two to four parties, for example `compare france italy` (got 5).',
    ),
    (
        'compare trump macron',
        'error `compare` takes parties, not people:'
        ' “Donald Trump” is a person. Try `compare france italy`.',
    ),
    ('hungary eu', 'card topic=hun g=eu_membership'),
    ('Hungary EU', 'card topic=hun g=eu_membership'),
    ('ukraine eu', 'card topic=ukr g=eu_membership'),
    ('eu', 'card topic=eu'),
    ('hungary nato', 'card topic=hun g=nato_membership'),
    ('ukraine nato', 'card topic=ukr g=nato_membership'),
    ('nato', 'card topic=nato'),
    ('“ukraine”', 'card topic=ukr'),
    ('‘ukraine’ since “monday”', 'card topic=ukr [2026-03-02..2026-03-05)'),
    ('"peacekeepers"', 'card g=peacekeeping_force'),
    ('Ukraine’s position on peacekeepers', 'card topic=ukr g=peacekeeping_force'),
    ('ukraine?', 'card topic=ukr'),
    ('UKRAINE USA', 'card topic=ukr held_by=usa'),
    ('ukrane', 'error ukraine'),
    ('who opposes peacekeeprs', 'error peacekeepers'),
    (
        'ukraine since someday',
        "error I can't read the date in “since someday”:"
        ' try `since 2026-01-01`, `since monday` or `in january`.',
    ),
    ('ukraine in 2027', 'error “in 2027” is in the future: nothing is published yet.'),
    (
        'ukraine this week last week',
        'error One time window at a time, for example `ukraine this week`.',
    ),
    ('ukraine since 2026-02-30', 'error “2026-02-30” is not a date: use YYYY-MM-DD.'),
    ('help', 'help'),
    ('?', 'help'),
    ('subscribe ukraine 08:00', 'SubscribeRequest'),
    ('subscriptions', 'ListSubscriptionsRequest'),
    ('news from france', 'changes topic=fra [2026-02-26..2026-03-05)'),
    (
        'who opposes <@U123>',
        'error Mentions, channels and links are not topics: name'
        ' a party, a person or a guarantee, for example `ukraine`.',
    ),
]


def test_the_table_is_big_enough() -> None:
    assert len(QUESTIONS) >= 80
    assert len({text for text, _ in QUESTIONS}) == len(QUESTIONS)


@pytest.mark.parametrize(("text", "expected"), QUESTIONS)
def test_typed_question_becomes_request(text: str, expected: str) -> None:
    assert read(text) == expected


def test_same_text_and_now_give_the_same_request() -> None:
    for text, _ in QUESTIONS[:40]:
        try:
            first = parse_command(text, INDEX, now=NOW)
        except UserError:
            continue
        assert parse_command(text, INDEX, now=NOW) == first


def test_days_are_counted_in_the_digest_time_zone() -> None:
    late = datetime(2026, 3, 4, 23, 30, tzinfo=UTC)  # already Thursday in Kyiv
    assert read("ukraine today", late) == "card topic=ukr [2026-03-04..2026-03-05)"
    assert read("ukraine today", late, "Europe/Kyiv") == "card topic=ukr [2026-03-05..2026-03-06)"
    assert read("ukraine this week", late, "Europe/Kyiv") == (
        "card topic=ukr [2026-03-02..2026-03-06)"
    )
    # a naive `now` is read as UTC
    assert read("ukraine today", datetime(2026, 3, 4, 12)) == read("ukraine today")


def test_window_label_and_span_are_what_the_card_shows() -> None:
    request = parse_command("ukraine this week", INDEX, now=NOW)
    assert isinstance(request, BriefingRequest) and request.window is not None
    assert request.window.label == "this week"
    assert request.window.span == "2026-03-02 – 2026-03-04"
    day = parse_command("ukraine 2026-01-04", INDEX, now=NOW)
    assert isinstance(day, BriefingRequest) and day.window is not None
    assert day.window.span == "2026-01-04"
    with pytest.raises(ValueError):
        DateWindow(date(2026, 1, 2), date(2026, 1, 1), "backwards")


def test_question_text_reads_back_to_the_same_request() -> None:
    for text in ("who opposes peacekeepers this week", "ukraine in january", "hungary eu",
                 "russia against nato membership since 2025-12-01", "who doubts?"):
        request = parse_command(text, INDEX, now=NOW)
        assert isinstance(request, BriefingRequest)
        again = parse_command(request.question, INDEX, now=NOW)
        assert isinstance(again, BriefingRequest)
        assert again.topic.filter == request.topic.filter
        assert show_window(again.window) == show_window(request.window)


def test_ambiguous_words_carry_the_other_reading() -> None:
    request = parse_command("hungary eu", INDEX, now=NOW)
    assert isinstance(request, BriefingRequest)
    assert request.topic.filter == PositionFilter(
        parties=("hun",), guarantees=frozenset({Guarantee.EU_MEMBERSHIP})
    )
    assert [t.filter for t in request.alternatives] == [
        PositionFilter(parties=("hun",), held_by=frozenset({"eu"}))
    ]
    assert describe(request.topic) == "Hungary on EU membership"
    assert describe(request.alternatives[0]) == "European Union about Hungary"
    # nearby readings leave one phrase out, the last first
    assert [show_filter(t.filter) for t in request.nearby] == ["topic=hun", "topic=eu"]
    plain = parse_command("ukraine", INDEX, now=NOW)
    assert isinstance(plain, BriefingRequest) and plain.alternatives == ()


def test_stance_words_are_labelled_and_described() -> None:
    request = parse_command("who opposes peacekeepers this week", INDEX, now=NOW)
    assert isinstance(request, BriefingRequest)
    assert request.topic.label == "Peacekeeping force · who opposes"
    assert request.topic.filter.stances == frozenset({Stance.OPPOSES})
    assert describe(request.topic, request.window) == (
        "everyone on Peacekeeping force, who opposes, this week"
    )
    assert question_text(request.topic, request.window) == (
        "peacekeepers opposes since 2026-03-02 until 2026-03-04"
    )


def test_fixed_subcommands_still_work() -> None:
    assert parse_command("HELP me", INDEX) == HelpRequest()
    assert parse_command("list", INDEX) == ListSubscriptionsRequest()
    subscribe = parse_command("subscribe ukraine 08:30 europe/kyiv quiet", INDEX)
    assert isinstance(subscribe, SubscribeRequest) and subscribe.quiet


def test_words_are_cleaned_of_quotes_case_and_accents() -> None:
    assert clean_words("“Ukraine’s” «position»? ÉLYSÉE 7d") == [
        "ukraines", "position", "elysee", "7", "d"
    ]
    assert clean_words("since 2026-01-01, air-defence!") == ["since", "2026-01-01", "air-defence"]


def test_vocabulary_is_loaded_from_toml() -> None:
    words = question_words()
    assert words.stances[("sceptical",)] is Stance.DOUBTS
    assert words.stances[("calls", "for")] is Stance.SEEKS
    assert words.subcommands[("compare",)] == "compare"
    assert words.ambiguous["eu"] is Guarantee.EU_MEMBERSHIP
    assert "who" in words.ignore
