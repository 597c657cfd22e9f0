"""Questions end to end in HTTP mode: signed slash commands to the real server, the cards seen
at the fake Slack, answered from the bundled demo corpus (articles of 2025-02 .. 2026-02)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.cards.common import parse_button_value
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.test_e2e_http import Bot, all_text


@pytest.fixture
async def bot(fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any) -> AsyncIterator[Bot]:
    settings = make_settings()
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        yield Bot(settings, fake_slack, http)


async def ask(bot: Bot, text: str) -> dict[str, Any]:
    response, url = await bot.command(text)
    assert response.status == 200
    return await bot.reply_to(url)


async def test_question_with_a_stance(bot: Bot) -> None:
    reply = await ask(bot, "Who opposes peacekeepers?")
    assert reply["response_type"] == "in_channel"
    text = all_text(reply)
    assert "Peacekeeping force · who opposes" in text
    assert re.search(r"\*Opposes:\* .*Italy", text)
    assert "*Backs:*" not in text and "*Seeks:*" not in text
    assert re.search(r"<https?://[^|>]+\|[^>]+>", text), "no evidence link on the card"


async def test_question_with_a_time_window(bot: Bot) -> None:
    reply = await ask(bot, "where does ukraine stand since 2026-01-01")
    assert reply["response_type"] == "in_channel"
    text = all_text(reply)
    assert re.search(r"since 2026-01-01 \(2026-01-01 – \d{4}-\d\d-\d\d\)", text)
    assert "*18* positions from *3* sources" in text
    # the whole topic has more: the window really narrowed
    whole = all_text(await ask(bot, "ukraine"))
    assert "*54* positions from *9* sources" in whole
    # the evidence buttons carry the window
    values = [
        parse_button_value(b["accessory"]["value"])
        for b in reply["blocks"] if b.get("accessory")
    ]
    assert values and all("since 2026-01-01" in v.topic for v in values)


async def test_compare(bot: Bot) -> None:
    reply = await ask(bot, "compare France and Italy")
    assert reply["response_type"] == "in_channel"
    rows = {
        b["block_id"]: b for b in reply["blocks"] if b.get("block_id", "").startswith("compare:")
    }
    peacekeepers = rows["compare:peacekeeping_force"]
    france, italy = (f["text"] for f in peacekeepers["fields"])
    assert france.startswith("*France*\n*Backs*")
    assert italy.startswith("*Italy*\n*Opposes*")
    assert re.search(r"<https?://[^|>]+\|[^>]+, \d{4}-\d\d-\d\d>", italy)
    assert "split" in peacekeepers["text"]["text"]


async def test_what_changed(bot: Bot) -> None:
    reply = await ask(bot, "what changed since 2025-08-01?")
    assert reply["response_type"] == "in_channel"
    text = all_text(reply)
    assert "What changed: all topics" in text
    assert "*Donald Trump* (United States) on *Security guarantees*: opposes → *backs*" in text
    assert "3 shifts" in text


async def test_ambiguous_and_unknown(bot: Bot) -> None:
    hungary = all_text(await ask(bot, "hungary eu"))
    assert "Hungary · EU membership" in hungary and "*Opposes:* Hungary" in hungary
    empty = all_text(await ask(bot, "hungary nato"))
    assert "Read as: *Hungary on NATO membership*" in empty
    assert "Try `/guarantees" in empty
    private = await ask(bot, "compare france")
    assert private["response_type"] == "ephemeral"
