"""`python -m bot ask` output, rendered to a recording rich Console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from bot.briefing import build_briefing
from bot.cards.briefing import briefing_message
from bot.cards.messages import error_message, help_message
from bot.replies import Reply
from bot.store import Store, open_store
from bot.terminal import print_reply
from bot.topics import load_topic_index
from tests.briefing_fixtures import fill


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "store.db")) as opened:
        await fill(opened)
        yield opened


def render(reply: Reply) -> str:
    console = Console(record=True, width=120, color_system=None)
    print_reply(reply, console)
    return console.export_text()


async def test_briefing_as_panels(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    briefing = await build_briefing(store, topic)
    out = render(Reply(briefing_message(briefing), public=True))
    assert "Security guarantees · Ukraine" in out
    assert "11 positions from 4 sources · last update 2025-05-01" in out
    assert "Security guarantees  ⚠ contested" in out
    assert "EU membership (soft)" in out and "EU membership (soft)  ⚠" not in out
    for stance in ("Seeks", "Backs", "Opposes", "Doubts"):
        assert stance in out
    assert "Ukraine (Zelensky, officials)" in out or "Ukraine (officials, Zelensky)" in out
    # The freshest quote, its outlet, date and link, shown as text and not interpreted.
    assert "“Trump said <!channel> <@U123> <http://x|y> & backs troops”" in out
    assert "— <!here> News, 2025-05-01 https://evil.example/a|b>c" in out


async def test_article_cannot_style_or_control_the_terminal(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["air"])
    briefing = await build_briefing(store, topic)
    section = briefing.guarantees[0]
    assert section.latest is not None
    hostile = replace(section.latest, evidence="[bold red]boom[/] \x1b[31mred\x1b[0m \x07done")
    briefing = replace(briefing, guarantees=(replace(section, latest=hostile),))
    console = Console(record=True, width=120, force_terminal=True)
    print_reply(Reply(briefing_message(briefing)), console)
    out = console.export_text(styles=False)
    assert "[bold red]boom[/]" in out
    assert "\x1b[31m" not in out and "\x07" not in out and "[31mred" in out


async def test_empty_briefing(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["dmz"])
    out = render(Reply(briefing_message(await build_briefing(store, topic))))
    assert "Nothing is known yet about Demilitarised zone." in out


def test_help_and_errors_from_blocks() -> None:
    out = render(Reply(help_message()))
    assert "/guarantees subscribe ukraine [08:00] [Europe/Kyiv]" in out
    out = render(Reply(error_message("I don't know the topic “<zz>”.", ("ukraine",))))
    assert "I don't know the topic “<zz>”." in out  # entities decoded for the terminal
    assert "Closest topics: `ukraine`" in out


async def test_the_terminal_quote_carries_the_unsure_mark(store: Store) -> None:
    from bot.cards.corrections import UNSURE_MARK

    topic = (await load_topic_index(store)).resolve(["ukraine"])
    briefing = await build_briefing(store, topic)
    assert UNSURE_MARK not in render(Reply(briefing_message(briefing), public=True))
    unsure = tuple(
        replace(s, latest=replace(s.latest, confidence=0.3)) if s.latest else s
        for s in briefing.guarantees
    )
    out = render(Reply(briefing_message(replace(briefing, guarantees=unsure)), public=True))
    assert f"— <!here> News, 2025-05-01 · {UNSURE_MARK}" in out
