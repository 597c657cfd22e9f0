"""Matrix and export reach the fake Slack through Slack's upload flow, in order."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.cards.common import ACTION_MATRIX, button_value
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import block_action
from tests.test_e2e_http import Bot

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def bot(fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any) -> AsyncIterator[Bot]:
    settings = make_settings()
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        yield Bot(settings, fake_slack, http)


def upload_steps(fake: FakeSlack) -> list[str]:
    steps = ("files.getUploadURLExternal", "upload", "files.completeUploadExternal")
    return [c.method for c in fake.received if c.method in steps]


async def test_matrix_command_uploads_a_png_through_both_calls(bot: Bot) -> None:
    response, _ = await bot.command("matrix ukraine")
    assert response.status == 200
    shared = await bot.fake.wait_for(lambda: bot.fake.shared)
    assert upload_steps(bot.fake) == [
        "files.getUploadURLExternal", "upload", "files.completeUploadExternal"
    ]
    first = bot.fake.calls("files.getUploadURLExternal")[0].payload
    assert first["filename"] == "matrix-ukraine.png"
    assert int(first["length"]) == len(shared[0].data)
    assert shared[0].data.startswith(PNG_MAGIC)
    assert shared[0].channel == "C0CHAN"
    assert "sources" in (shared[0].comment or "") and "Stance matrix" in (shared[0].title or "")


async def test_matrix_button_on_the_card(bot: Bot) -> None:
    url = bot.fake.new_response_url()
    await bot.click(block_action(ACTION_MATRIX, button_value("ukraine"), response_url=url))
    shared = await bot.fake.wait_for(lambda: bot.fake.shared)
    assert shared[0].data.startswith(PNG_MAGIC)


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_export_uploads_the_positions_behind_the_card(bot: Bot, fmt: str) -> None:
    await bot.command(f"export ukraine {fmt}")
    shared = (await bot.fake.wait_for(lambda: bot.fake.shared))[0]
    assert upload_steps(bot.fake)[-1] == "files.completeUploadExternal"
    text = shared.data.decode("utf-8-sig")
    if fmt == "csv":
        assert shared.filename == "positions-ukraine.csv"
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows and {r["party"] for r in rows} >= {"ukr"}
        assert all(r["evidence"] and r["extractor"].startswith("gold") for r in rows)
    else:
        assert shared.filename == "positions-ukraine.jsonl"
        rows = [json.loads(line) for line in text.splitlines()]
        assert rows and "corrected_by" in rows[0]
    assert f"{len(rows)} rows" in (shared.comment or "")


async def test_a_channel_without_the_bot_gets_a_private_answer(bot: Bot) -> None:
    bot.fake.not_in_channel("C0CHAN")
    _, url = await bot.command("matrix ukraine")
    reply = await bot.reply_to(url)
    assert reply["response_type"] == "ephemeral"
    assert "invite" in reply["text"]
    assert bot.fake.shared == []


async def test_history_answers_with_a_timeline(bot: Bot) -> None:
    _, url = await bot.command("history usa")
    reply = await bot.reply_to(url)
    assert reply["response_type"] == "in_channel"
    assert reply["blocks"][0]["text"]["text"] == "History · United States"
    assert any("was " in (b.get("text") or {}).get("text", "") for b in reply["blocks"])
