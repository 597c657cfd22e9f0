"""Block Kit cards: content, escaping and Slack's limits whatever the store holds."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest

from bot.briefing import (
    Briefing,
    Evidence,
    GuaranteeBriefing,
    Holder,
    StanceLine,
    build_briefing,
    build_evidence,
)
from bot.cards.briefing import briefing_message
from bot.cards.common import (
    ACTION_SHOW_EVIDENCE,
    ACTION_SUBSCRIBE,
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_SURFACE_BLOCKS,
    MAX_TOTAL_TEXT,
    Message,
    block_text_length,
    parse_button_value,
    safe_url,
)
from bot.cards.evidence import evidence_message, evidence_modal
from bot.cards.home import home_tab
from bot.cards.messages import error_message, help_message, ingest_message
from bot.models import Article, PositionFilter, StoredPosition, Subscription
from bot.query import Topic
from bot.store import Store, open_store
from bot.topics import load_topic_index
from bot.vocabulary import GUARANTEE_ORDER, GUARANTEES, Guarantee, Stance
from tests.briefing_fixtures import fill

RAW_MENTIONS = ("<!channel>", "<@U123>", "<http://x|y>", "<!here>")
# An ampersand that does not start one of the three entities means a cut entity or no escape.
BROKEN_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def texts(node: Any) -> list[str]:
    """Every `text` string in serialised blocks."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                found.append(value)
            else:
                found += texts(value)
    elif isinstance(node, list):
        for item in node:
            found += texts(item)
    return found


def assert_within_limits(message: Message, max_blocks: int = MAX_BLOCKS) -> dict[str, Any]:
    payload = message.to_dict()
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= max_blocks
    assert block_text_length(blocks) <= MAX_TOTAL_TEXT
    assert payload["text"] and len(payload["text"]) <= 3000
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids))
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= MAX_HEADER_TEXT
        if block["type"] == "section":
            assert 1 <= len(block["text"]["text"]) <= MAX_SECTION_TEXT
            assert len(block.get("fields", [])) <= 10
        for button in [block.get("accessory") or {}, *block.get("elements", [])]:
            if button.get("type") == "button":
                assert len(button["text"]["text"]) <= 75
                assert len(button["value"]) <= MAX_BUTTON_VALUE
    for text in [*texts(blocks), payload["text"]]:
        assert not BROKEN_ENTITY.search(text), text[:200]
    return payload


def position(i: int, evidence: str = "A quote.", **changes: Any) -> StoredPosition:
    values: dict[str, Any] = dict(
        id=i, article_id=f"a{i}", actor="donald-trump", party="usa", stance=Stance.BACKS,
        guarantee=Guarantee.PEACEKEEPING_FORCE, guarantor="usa", beneficiary="ukr",
        evidence=evidence, url=f"https://example.com/{i}", title=f"Title {i}", outlet="Outlet",
        published=date(2025, 1, 1), added_at=datetime(2025, 1, 1, tzinfo=UTC), extractor="t",
    )
    values.update(changes)
    return StoredPosition(**values)


def huge_briefing(holders: int, evidence: str, actors: int = 5) -> Briefing:
    """Every guarantee contested, each stance held by `holders` parties of many actors."""
    sections = []
    for n, guarantee in enumerate(GUARANTEE_ORDER):
        lines = tuple(
            StanceLine(
                stance,
                tuple(
                    Holder(f"p{i}", f"Party & Co {i} <b>", tuple(
                        f"Actor & {j} <@U{j}>" for j in range(actors)), 1)
                    for i in range(holders)
                ),
            )
            for stance in Stance
        )
        sections.append(
            GuaranteeBriefing(
                guarantee, GUARANTEES[guarantee].label, GUARANTEES[guarantee].hard, lines,
                True, holders * 4, position(n, evidence, url="https://e.example/" + "x" * 900),
            )
        )
    topic = Topic(("ukraine",), "Ukraine " * 40, PositionFilter(parties=("ukr",)))
    return Briefing(topic, tuple(sections), 10**6, 10**5, date(2025, 6, 1))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "store.db")) as opened:
        await fill(opened)
        yield opened


async def test_briefing_card_content(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    message = briefing_message(await build_briefing(store, topic))
    payload = assert_within_limits(message)
    blocks = payload["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Security guarantees · Ukraine", "emoji": True},
    }
    context = blocks[1]["elements"][0]["text"]
    assert "*11* positions from *4* sources" in context and "last update 2025-05-01" in context
    security = next(b for b in blocks if b.get("block_id") == "guarantee:security_guarantee")
    text = security["text"]["text"]
    assert text.startswith("*Security guarantees*  ⚠️ *Contested*")
    assert "*Seeks:* Ukraine (Zelensky, officials)" in text or (
        "*Seeks:* Ukraine (officials, Zelensky)" in text
    )
    assert "*Opposes:* United States (Trump)" in text
    assert "> — <https://a.example/1|Outlet A>, 2025-02-01" in text
    eu = next(b for b in blocks if b.get("block_id") == "guarantee:eu_membership")
    assert "Contested" not in eu["text"]["text"] and "_(soft guarantee)_" in eu["text"]["text"]
    button = security["accessory"]
    assert button["action_id"] == ACTION_SHOW_EVIDENCE
    value = parse_button_value(button["value"])
    assert (value.topic, value.guarantee) == ("ukraine", "security_guarantee")
    subscribe = blocks[-1]["elements"][0]
    assert subscribe["action_id"] == ACTION_SUBSCRIBE
    assert parse_button_value(subscribe["value"]).topic == "ukraine"
    assert payload["text"].startswith("Security guarantees · Ukraine: 11 positions")
    assert "contested: Security guarantees" in payload["text"]


async def test_hostile_article_is_escaped_everywhere(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["peacekeepers"])
    message = briefing_message(await build_briefing(store, topic))
    payload = assert_within_limits(message)
    dumped = json.dumps(payload)
    for raw in RAW_MENTIONS:
        assert raw not in dumped
    section = next(b for b in payload["blocks"] if b.get("block_id", "").startswith("guarantee:"))
    text = section["text"]["text"]
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://x|y&gt; &amp; backs troops" in text
    # The link's URL cannot end the link early or open a new one; the outlet is escaped.
    assert "<https://evil.example/a%7Cb%3Ec|&lt;!here&gt; News>" in text


def test_links_only_http_and_never_breaking_out() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("ftp://example.com/x") is None
    assert safe_url("https://example.com/\nx") is None
    assert safe_url("https://example.com/" + "a" * 2000) is None
    assert safe_url("https://e.com/?a=1&b=<2>|3") == "https://e.com/?a=1&amp;b=%3C2%3E%7C3"


@pytest.mark.parametrize("holders", [1, 20, 200])
def test_limits_with_many_holders_and_long_evidence(holders: int) -> None:
    message = briefing_message(huge_briefing(holders, "Long & hard <evidence> " * 250))
    payload = assert_within_limits(message)
    sections = [b for b in payload["blocks"] if b.get("block_id", "").startswith("guarantee:")]
    assert len(sections) == len(GUARANTEE_ORDER)  # every guarantee still shown
    for section in sections:
        assert "⚠️ *Contested*" in section["text"]["text"]
    if holders == 200:
        assert "more" in sections[0]["text"]["text"]


def test_cut_never_splits_an_entity() -> None:
    # Ampersands everywhere: whatever the cut point, it may not land inside "&amp;".
    for length in range(3000, 3010):
        briefing = huge_briefing(3, "&" * length, actors=1)
        assert_within_limits(briefing_message(briefing))


def test_cut_never_splits_a_link() -> None:
    from bot.cards.common import link, truncate

    text = "• quote " + link("https://e.example/" + "x" * 80, "Outlet, 2026-01-01") + " · more"
    for limit in range(5, len(text) + 2):
        cut = truncate(text, limit)
        assert len(cut) <= limit
        assert cut.count("<") == cut.count(">"), cut


def test_200_actors_on_one_guarantee() -> None:
    holder = Holder("usa", "United States", tuple(f"Actor {i}" for i in range(200)), 200)
    section = GuaranteeBriefing(
        Guarantee.SECURITY_GUARANTEE, "Security guarantees", True,
        (StanceLine(Stance.BACKS, (holder,)),), False, 200, position(1),
    )
    topic = Topic(("usa",), "United States", PositionFilter(parties=("usa",)))
    payload = assert_within_limits(
        briefing_message(Briefing(topic, (section,), 200, 1, date(2025, 1, 1)))
    )
    assert "United States (Actor 0, Actor 1, Actor 2 +197)" in payload["blocks"][2]["text"]["text"]


def test_empty_briefing_says_nothing_is_known_yet() -> None:
    topic = Topic(("dmz",), "Demilitarised zone", PositionFilter())
    payload = assert_within_limits(briefing_message(Briefing(topic, (), 0, 0, None)))
    assert "Nothing is known yet about *Demilitarised zone*" in payload["blocks"][1]["text"]["text"]
    assert payload["text"] == "Nothing is known yet about Demilitarised zone."


def test_long_topic_words_keep_button_values_short() -> None:
    topic = Topic(tuple(["ukraine"] * 400), "Ukraine", PositionFilter())
    section = GuaranteeBriefing(
        Guarantee.DEMILITARIZED_ZONE, "Demilitarised zone", True,
        (StanceLine(Stance.SEEKS, (Holder("ukr", "Ukraine", (), 1),)),), False, 1, None,
    )
    assert_within_limits(briefing_message(Briefing(topic, (section,), 1, 1, None)))


def test_error_message_escapes_and_suggests() -> None:
    message = error_message("I don't know the topic “<!channel>”.", ("ukraine", "<@U1>"))
    payload = assert_within_limits(message)
    assert "<!channel>" not in json.dumps(payload)
    assert "Closest topics: `ukraine`, `&lt;@U1&gt;`" in payload["blocks"][0]["text"]["text"]


def test_help_and_ingest_messages() -> None:
    help_payload = assert_within_limits(help_message())
    assert "subscribe ukraine" in json.dumps(help_payload)
    problems = [f"https://x.example/{i}: <!channel> refused" for i in range(30)]
    payload = assert_within_limits(ingest_message("2 articles added", problems))
    assert "and 20 more" in payload["blocks"][1]["text"]["text"]
    assert "<!channel>" not in json.dumps(payload)


def test_evidence_message_and_modal_within_limits() -> None:
    positions = tuple(
        position(i, "Quote & <b> " * 500, outlet="<!here>", url="https://e.example/" + "|" * 50)
        for i in range(300)
    )
    topic = Topic(("ukraine",), "Ukraine", PositionFilter(parties=("ukr",)))
    evidence = Evidence(topic, Guarantee.PEACEKEEPING_FORCE, "Peacekeeping force", positions, 900)
    payload = assert_within_limits(evidence_message(evidence))
    assert "and" in payload["blocks"][-1]["elements"][0]["text"]
    view = evidence_modal(evidence)
    assert view["type"] == "modal" and view["callback_id"] == "evidence_view"
    assert len(view["blocks"]) <= MAX_SURFACE_BLOCKS
    assert block_text_length(view["blocks"]) <= MAX_TOTAL_TEXT
    assert "<!here>" not in json.dumps(view)


async def test_evidence_from_store_lists_every_position(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    evidence = await build_evidence(store, topic, Guarantee.PEACEKEEPING_FORCE)
    payload = assert_within_limits(evidence_message(evidence))
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert len(sections) == 3
    assert sections[0].startswith("*Donald Trump* (United States) backs · guarantor: Europe")
    assert "*Russia* (Russia) opposes" in sections[-1] or "Starmer" in sections[-1]
    assert "3 of 3, freshest first" in payload["blocks"][-1]["elements"][0]["text"]


def test_home_tab() -> None:
    subscriptions = [
        Subscription(1, "C123ABC", ("ukraine",), "Ukraine", time(8), "Europe/Kyiv"),
        Subscription(2, "<!channel>", ("x",), "<@U1> & co", time(9), "UTC", paused_reason="gone"),
    ]
    view = home_tab(subscriptions, [position(1, "<!channel> quote")], 5, 2, date(2025, 1, 1))
    assert view["type"] == "home"
    dumped = json.dumps(view, ensure_ascii=False)
    assert "<#C123ABC> · *Ukraine* · 08:00 Europe/Kyiv" in dumped
    assert "<!channel>" not in dumped and "<@U1>" not in dumped
    assert "_paused: gone_" in dumped
    many = [
        Subscription(i, f"C{i:08d}", ("ukraine",), "Ukraine " * 20, time(8), "UTC")
        for i in range(500)
    ]
    big = home_tab(many, [position(i) for i in range(50)], 5, 2, None)
    assert len(big["blocks"]) <= MAX_SURFACE_BLOCKS
    assert block_text_length(big["blocks"]) <= MAX_TOTAL_TEXT
    assert re.search(r"and 4\d\d more", json.dumps(big))


def test_counted_actors_read_as_plus_n() -> None:
    holders = (
        Holder("usa", "United States", ("Trump",), 40, more_actors=12),
        Holder("rus", "Russia", (), 3, more_actors=2),
    )
    section = GuaranteeBriefing(
        Guarantee.SECURITY_GUARANTEE, "Security guarantees", True,
        (StanceLine(Stance.OPPOSES, holders),), False, 43, None,
    )
    topic = Topic(("ukraine",), "Ukraine", PositionFilter(parties=("ukr",)))
    payload = assert_within_limits(
        briefing_message(Briefing(topic, (section,), 43, 9, date(2025, 1, 1)))
    )
    text = payload["blocks"][2]["text"]["text"]
    assert "*Opposes:* United States (Trump +12), Russia (2 actors)" in text


async def test_a_story_told_by_three_outlets_is_shown_once_with_the_count(
    tmp_path: Path, extractor: Any
) -> None:
    """Three outlets run the same wire story: it is clustered at ingest, and the card quotes
    it once, saying how many outlets reported it."""
    from bot.commands import briefing_card
    from bot.pipeline import ingest_articles
    from bot.services import Services
    from bot.settings import Settings

    story = (
        "Zelensky renews call for NATO membership\n"
        "KYIV, May 4 - Ukrainian President Volodymyr Zelensky said on Sunday that Ukraine wants"
        " NATO membership as the core of any settlement, and urged allies to issue an"
        " invitation at the next summit. Talks between Kyiv and Washington are due to resume"
        " next week in Geneva, officials said, and European leaders will meet in Paris on"
        " Thursday to discuss the future of the coalition and its plans for air defence."
    )
    articles = [
        Article(f"w{n}", "Zelensky renews call", story + f"\nCopyright {outlet}.",
                f"https://{outlet}/story", outlet, date(2025, 5, 4))
        for n, outlet in enumerate(("one.example", "two.example", "three.example"))
    ]
    async with open_store(str(tmp_path / "s.db")) as store:
        report = await ingest_articles(store, extractor, articles)
        assert len(report.added) == 3
        services = Services(Settings(_env_file=None), store, extractor, None, None)  # type: ignore[arg-type, call-arg]
        index = await load_topic_index(store)
        card = await briefing_card(services, index.resolve(["ukraine"]))
    text = json.dumps(card.to_dict())
    assert "NATO membership" in text
    assert "reported by 3 outlets" in text
