"""The command grammar and topic resolution."""

from __future__ import annotations

from datetime import time
from typing import get_args

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.models import PositionFilter
from bot.query import (
    BriefingRequest,
    HelpRequest,
    IngestRequest,
    ListSubscriptionsRequest,
    Request,
    SubscribeRequest,
    UnsubscribeRequest,
    UserError,
    parse_command,
)
from bot.topics import build_topic_index, normalise
from bot.vocabulary import Guarantee

STORE_ACTORS = {
    "keir-starmer": "gbr",
    "ukrainian-officials": "ukr",
    "russia": "rus",
    "coalition-of-the-willing": "europe",
}
INDEX = build_topic_index(STORE_ACTORS, {"ukr", "usa", "rus", "gbr", "nato", "europe"})


def topic_filter(text: str) -> PositionFilter:
    request = parse_command(text, INDEX)
    assert isinstance(request, BriefingRequest)
    return request.topic.filter


def error_for(text: str) -> UserError:
    with pytest.raises(UserError) as caught:
        parse_command(text, INDEX)
    return caught.value


@pytest.mark.parametrize(
    ("text", "party"),
    [
        ("ukraine", "ukr"),
        ("UKRAINE", "ukr"),
        ("Ukrainian", "ukr"),
        ("kyiv", "ukr"),
        ("Kiev", "ukr"),
        ("united states", "usa"),
        ("U.S.", "usa"),
        ("white house", "usa"),
        ("the Kremlin", "rus"),
        ("russia", "rus"),  # also an extracted actor: the party wins
        ("Ukraine's", "ukr"),
    ],
)
def test_party_words(text: str, party: str) -> None:
    assert topic_filter(text) == PositionFilter(parties=(party,))


@pytest.mark.parametrize(
    ("text", "actor"),
    [
        ("trump", "donald-trump"),
        ("Donald Trump", "donald-trump"),
        ("donald-trump", "donald-trump"),
        ("Zelenskyy", "volodymyr-zelensky"),
        ("zelenskyy", "volodymyr-zelensky"),
        ("von der leyen", "ursula-von-der-leyen"),
        ("VON DER LEYEN", "ursula-von-der-leyen"),
        ("starmer", "keir-starmer"),  # a store-only actor, by surname
        ("coalition of the willing", "coalition-of-the-willing"),
    ],
)
def test_actor_words(text: str, actor: str) -> None:
    assert topic_filter(text).actors == frozenset({actor})


@pytest.mark.parametrize(
    ("text", "guarantee"),
    [
        ("peacekeepers", Guarantee.PEACEKEEPING_FORCE),
        ("peacekeeper", Guarantee.PEACEKEEPING_FORCE),
        ("Peacekeeping_Force", Guarantee.PEACEKEEPING_FORCE),
        ("security guarantees", Guarantee.SECURITY_GUARANTEE),
        ("article 5", Guarantee.SECURITY_GUARANTEE),
        ("no-fly", Guarantee.AIR_SEA_PROTECTION),
        ("nato membership", Guarantee.NATO_MEMBERSHIP),
        ("eu_membership", Guarantee.EU_MEMBERSHIP),
        ("minerals", Guarantee.ECONOMIC_STAKE),
        ("démilitarised zone", Guarantee.DEMILITARIZED_ZONE),
    ],
)
def test_guarantee_words(text: str, guarantee: Guarantee) -> None:
    assert topic_filter(text) == PositionFilter(guarantees=frozenset({guarantee}))


def test_filters_combine_and_label() -> None:
    request = parse_command("trump peacekeepers", INDEX)
    assert isinstance(request, BriefingRequest)
    assert request.topic.label == "Donald Trump · Peacekeeping force"
    assert request.topic.words == ("trump", "peacekeepers")
    assert request.topic.filter == PositionFilter(
        actors=frozenset({"donald-trump"}),
        guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}),
    )
    assert topic_filter("ukraine usa") == PositionFilter(
        parties=("ukr",), held_by=frozenset({"usa"})
    )
    assert topic_filter("trump and putin") == PositionFilter(
        actors=frozenset({"donald-trump", "vladimir-putin"})
    )


def test_nato_reading() -> None:
    assert topic_filter("nato") == PositionFilter(parties=("nato",))
    assert topic_filter("ukraine nato") == PositionFilter(
        parties=("ukr",), guarantees=frozenset({Guarantee.NATO_MEMBERSHIP})
    )
    assert topic_filter("nato peacekeepers") == PositionFilter(
        parties=("nato",), guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE})
    )
    assert topic_filter("NATO membership") == PositionFilter(
        guarantees=frozenset({Guarantee.NATO_MEMBERSHIP})
    )


def test_topic_words_resolve_again_to_the_same_topic() -> None:
    for text in ("von der leyen peacekeepers", "ukraine usa", "U.S. troops", "the kremlin"):
        request = parse_command(text, INDEX)
        assert isinstance(request, BriefingRequest)
        again = INDEX.resolve(request.topic.words)
        assert again == request.topic


def test_subcommands() -> None:
    assert parse_command("", INDEX) == HelpRequest()
    assert parse_command("   ", INDEX) == HelpRequest()
    assert parse_command("HELP me", INDEX) == HelpRequest()
    assert parse_command("subscriptions", INDEX) == ListSubscriptionsRequest()
    subscribe = parse_command("subscribe ukraine 08:30 europe/kyiv", INDEX)
    assert isinstance(subscribe, SubscribeRequest)
    assert subscribe.topic.label == "Ukraine"
    assert (subscribe.at, subscribe.zone) == (time(8, 30), "Europe/Kyiv")
    evening = parse_command("subscribe trump peacekeepers UTC 7pm", INDEX)
    assert isinstance(evening, SubscribeRequest)
    assert (evening.at, evening.zone) == (time(19, 0), "UTC")
    plain = parse_command("subscribe poland", INDEX)  # "Poland" is also a legacy tz name
    assert isinstance(plain, SubscribeRequest) and plain.zone is None and plain.at is None
    unsubscribe = parse_command("unsubscribe ukraine", INDEX)
    assert isinstance(unsubscribe, UnsubscribeRequest)
    assert unsubscribe.topic.words == ("ukraine",)


def test_unsubscribe_keeps_words_no_longer_understood() -> None:
    request = parse_command("unsubscribe somebody-gone", INDEX)
    assert isinstance(request, UnsubscribeRequest)
    assert request.topic.words == ("somebody", "gone")


def test_ingest_unwraps_slack_links() -> None:
    request = parse_command(
        "ingest <https://a.example/x|a.example/x> http://b.example/feed <https://a.example/x>",
        INDEX,
    )
    assert request == IngestRequest(("https://a.example/x", "http://b.example/feed"))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("subscribe", "Say what to subscribe to"),
        ("subscribe ukraine 25:00", "is not a time of day"),
        ("subscribe ukraine 12:61", "is not a time of day"),
        ("subscribe ukraine 2025", "is not a time of day"),
        ("subscribe ukraine Mars/Base", "is not a time zone"),
        ("subscribe ukraine ../../etc/passwd", "is not a time zone"),
        ("unsubscribe", "Say which topic"),
        ("ingest", "Give one or more"),
        ("ingest ftp://example.com/a", "is not an http(s) URL"),
        ("ingest javascript:alert(1)", "is not an http(s) URL"),
        ("ingest http://[::1", "is not an http(s) URL"),
        ("<!channel>", "Mentions, channels and links are not topics"),
        ("ukraine <@U123>", "Mentions, channels and links are not topics"),
        ("x" * 500, "A topic is a few words"),
        ("word " * 11, "A topic is a few words"),
        ("y" * 5000, "too long"),
        ("the", "Name a topic"),
    ],
)
def test_malformed_input_is_a_user_error(text: str, fragment: str) -> None:
    error = error_for(text)
    assert fragment in error.message
    assert "\n" not in error.message and len(error.message) < 200


def test_unknown_words_suggest_the_closest_topics() -> None:
    assert error_for("ukrane").suggestions[0] == "ukraine"
    assert error_for("zelenski").suggestions[0].startswith("zelensk")
    assert error_for("peacekeeprs").suggestions[0] == "peacekeepers"
    nothing_close = error_for("zzzz")
    assert "zzzz" in nothing_close.message and nothing_close.suggestions  # defaults
    assert "ukraine" in nothing_close.suggestions


def test_normalise() -> None:
    assert normalise("Zelenskyy's  U.S.-backed Plan") == "zelenskyys us backed plan"
    assert normalise("Rinkēvičs") == "rinkevics"


WORDS = st.sampled_from(
    [
        "ukraine", "nato", "trump", "peacekeepers", "subscribe", "unsubscribe", "ingest",
        "help", "subscriptions", "08:00", "25:99", "Europe/Kyiv", "Mars/Base", "utc", "7pm",
        "<!channel>", "<@U123>", "<http://x|y>", "<https://a.example>", "http://b.example",
        "von", "der", "leyen", "the", "&amp;", "zzzz", "Україна", "🙂", "\x00", "...", "|",
        "nato-membership", "https://", "ftp://x", "13pm", "0:0", "<", ">", "&",
    ]
)
COMMANDS = st.one_of(
    st.text(max_size=600),
    st.lists(WORDS, max_size=14).map(" ".join),
    st.lists(st.one_of(WORDS, st.text(min_size=1, max_size=12)), max_size=8).map(" ".join),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(COMMANDS)
@example("UPDATE")
def test_parser_raises_only_user_errors(text: str) -> None:
    try:
        request = parse_command(text, INDEX)
    except UserError as error:
        assert error.message and "\n" not in error.message and len(error.message) < 300
        return
    # any request the parser can answer with ("update" alone asks what changed), nothing else
    assert isinstance(request, get_args(Request))
