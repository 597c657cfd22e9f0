"""Corrections end to end: signed clicks and modal submissions to the real server, the next
card and the next digest read at the fake Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.cards.corrections import (
    ACTION_CORRECT,
    ACTION_NEW_VALUE,
    ACTION_NOTE,
    BLOCK_NEW_VALUE,
    BLOCK_NOTE,
    CHECKED_MARK,
)
from bot.digest import send_due_digests
from bot.models import StoredPosition
from bot.store import open_store
from bot.vocabulary import Stance
from tests.conftest import SIGNING_SECRET
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import overflow_action, sign, view_submission
from tests.test_digest import Clock, Waits, digest_services, poster_for
from tests.test_e2e_http import Bot, all_text


@pytest.fixture
async def bot(fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any) -> AsyncIterator[Bot]:
    settings = make_settings()
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        yield Bot(settings, fake_slack, http)


async def card(bot: Bot, text: str = "ukraine") -> dict[str, Any]:
    _, url = await bot.command(text)
    return await bot.reply_to(url)


def menus(payload: dict[str, Any]) -> dict[str, list[str]]:
    """The card's correction menus: guarantee -> option values."""
    found: dict[str, list[str]] = {}
    for block in payload["blocks"]:
        if str(block.get("block_id", "")).startswith("correct:"):
            overflow = block["elements"][0]
            assert overflow["type"] == "overflow" and overflow["action_id"] == ACTION_CORRECT
            found[block["block_id"].split(":", 1)[1]] = [o["value"] for o in overflow["options"]]
    return found


def section(payload: dict[str, Any], guarantee: str) -> str:
    block = next(b for b in payload["blocks"] if b.get("block_id") == f"guarantee:{guarantee}")
    return str(block["text"]["text"])


async def stored(bot: Bot, position_id: int) -> StoredPosition:
    async with open_store(bot.settings.store_path) as store:
        # the single workspace's corrections are team "" (negative ids: its corrected rows)
        return (await store.positions_by_ids([position_id], team=""))[0]


async def submit(bot: Bot, payload: dict[str, Any]) -> dict[str, Any]:
    body = "payload=" + aiohttp.helpers.quote(json.dumps(payload), safe="")  # type: ignore[attr-defined]
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}
    async with bot.http.post(bot.events_url, data=body, headers=headers) as response:
        assert response.status == 200
        text = await response.text()
    return json.loads(text) if text else {}


async def open_modal(bot: Bot, option: str, **kwargs: Any) -> tuple[dict[str, Any], str]:
    url = bot.fake.new_response_url()
    before = len(bot.fake.calls("views.open"))
    await bot.click(overflow_action(ACTION_CORRECT, option, response_url=url, **kwargs))
    calls = await bot.fake.wait_for(lambda: bot.fake.calls("views.open")[before:])
    assert calls[0].ok, calls[0].error
    view = calls[0].payload["view"]
    return (json.loads(view) if isinstance(view, str) else view), url


def chosen(value: str | None, note: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        BLOCK_NOTE: {ACTION_NOTE: {"type": "plain_text_input", "value": note}}
    }
    if value is not None:
        values[BLOCK_NEW_VALUE] = {
            ACTION_NEW_VALUE: {"type": "static_select", "selected_option": {"value": value}}
        }
    return values


async def test_a_correction_changes_the_next_card_survives_re_extraction_and_undoes(
    bot: Bot,
) -> None:
    first = await card(bot)
    guarantee, options = next(iter(menus(first).items()))
    option = next(o for o in options if o.startswith("stance:"))
    original = await stored(bot, int(option.split(":")[1]))
    new = Stance.OPPOSES if original.stance is not Stance.OPPOSES else Stance.BACKS
    assert CHECKED_MARK not in section(first, guarantee)

    view, url = await open_modal(bot, option)
    assert view["callback_id"] == "correction_view"
    answer = await submit(bot, view_submission(view, chosen(str(new), "misread the verb")))
    assert answer["response_action"] == "update"
    assert "Saved" in all_text(answer["view"])
    private = await bot.reply_to(url)
    assert private["response_type"] == "ephemeral" and "Saved" in private["text"]

    after = await card(bot)
    text = section(after, guarantee)
    assert CHECKED_MARK in text
    assert text != section(first, guarantee)
    corrected_id = int(next(o for o in menus(after)[guarantee] if o.startswith("undo:"))[5:])
    corrected = await stored(bot, corrected_id)
    assert (corrected.stance, corrected.corrected_by) == (new, "U0USER")
    assert corrected.evidence == original.evidence

    # A newer extractor version replaces the article's positions: the correction holds.
    async with open_store(bot.settings.store_path) as store:
        assert await store.save_positions(
            original.article_id,
            [p for p in bot_positions(original.article_id)],
            "gold",
            "2",
        )
    await asyncio.sleep(0.6)  # another connection's write is seen within half a second
    again = await card(bot)
    assert CHECKED_MARK in section(again, guarantee)
    undo = next(o for o in menus(again)[guarantee] if o.startswith("undo:"))

    url = bot.fake.new_response_url()
    await bot.click(overflow_action(ACTION_CORRECT, undo, response_url=url))
    reply = await bot.reply_to(url)
    assert reply["response_type"] == "ephemeral" and "Undone" in reply["text"]
    restored = await card(bot)
    assert section(restored, guarantee) == section(first, guarantee)


def bot_positions(article_id: str) -> list[Any]:
    from tests.fakes.extractor import GoldExtractor

    return GoldExtractor()._positions[article_id]


async def test_unauthorised_analyst_is_refused_privately(
    fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any
) -> None:
    settings = make_settings(correctors="admins", admin_user_ids="UADMIN")
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        bot = Bot(settings, fake_slack, http)
        first = await card(bot)
        option = next(o for o in next(iter(menus(first).values())) if o.startswith("stance:"))
        url = fake_slack.new_response_url()
        await bot.click(overflow_action(ACTION_CORRECT, option, response_url=url))
        reply = await bot.reply_to(url)
        assert reply["response_type"] == "ephemeral"
        assert "Only admins" in reply["text"]
        # A forged submission of the modal by the same user changes nothing either.
        view = {"type": "modal", "callback_id": "correction_view",
                "private_metadata": json.dumps({"p": int(option[7:]), "k": "stance", "r": ""})}
        answer = await submit(bot, view_submission(view, chosen("opposes")))
        assert "Not saved" in all_text(answer["view"])
        assert fake_slack.calls("views.open") == []
        assert menus(await card(bot)) == menus(first)
        # An admin may.
        view, _ = await open_modal(bot, option, user_id="UADMIN")
        answer = await submit(bot, view_submission(view, chosen("opposes"), user_id="UADMIN"))
        assert "Saved" in all_text(answer["view"])
        assert menus(await card(bot)) != menus(first)


async def digest_text(path: str, channel: str, fake: FakeSlack) -> str:
    """The digest of `ukraine` due a minute from now, posted to `channel` at the fake Slack:
    its window is the last day, so it holds every corpus position."""
    now = datetime.now(UTC)
    if (now + timedelta(minutes=2)).date() != now.date():
        pytest.skip("too close to midnight UTC for a digest due in a minute")
    clock = Clock(now + timedelta(minutes=2))
    async with digest_services(path, clock, fake) as services:
        saved = services.store.clock
        services.store.clock = lambda: now - timedelta(days=1)
        at = (now + timedelta(minutes=1)).time().replace(second=0, microsecond=0)
        await services.store.subscribe(
            channel_id=channel, topic_words=("ukraine",), label="Ukraine", at=at,
            zone="UTC", created_by="U0SUB",
        )
        services.store.clock = saved
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
    assert report.sent == 1
    posted = next(c for c in fake.calls("chat.postMessage") if c.channel == channel)
    return all_text(posted.payload)


async def test_a_correction_changes_the_next_digest(
    bot: Bot, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    first = await card(bot)
    option = next(o for o in next(iter(menus(first).values())) if o.startswith("none:"))
    original = await stored(bot, int(option.split(":")[1]))
    baseline = str(tmp_path / "baseline.db")
    async with open_store(bot.settings.store_path) as store:  # a consistent copy, WAL included
        await store.db.execute(f"VACUUM INTO '{baseline}'")
    view, _ = await open_modal(bot, option)
    answer = await submit(bot, view_submission(view, chosen(None, "an aside, not a position")))
    assert "not a position" in all_text(answer["view"])
    # And a stance corrected on another guarantee.
    other = next(
        o for values in list(menus(first).values())[1:] for o in values
        if o.startswith("stance:")
    )
    changed = await stored(bot, int(other.split(":")[1]))
    new = Stance.DOUBTS if changed.stance is not Stance.DOUBTS else Stance.BACKS
    view, _ = await open_modal(bot, other)
    await submit(bot, view_submission(view, chosen(str(new))))

    quote = " ".join(original.evidence.split())[:60].replace("&", "&amp;")
    before = await digest_text(baseline, "C0BASE", fake_slack)
    assert quote in before and CHECKED_MARK not in before
    after = await digest_text(bot.settings.store_path, "C0DIGEST", fake_slack)
    assert "Ukraine" in after
    assert quote not in after
    assert CHECKED_MARK in after  # the corrected stance, marked as an analyst's


async def test_the_evidence_modal_has_the_menu_too(bot: Bot) -> None:
    from bot.cards.common import ACTION_SHOW_EVIDENCE, button_value
    from tests.fakes.slack_payloads import block_action

    url = bot.fake.new_response_url()
    value = button_value("ukraine", "security_guarantee")
    await bot.click(block_action(ACTION_SHOW_EVIDENCE, value, response_url=url))
    opened = await bot.fake.wait_for(lambda: bot.fake.calls("views.open"))
    evidence = opened[0].payload["view"]
    evidence = json.loads(evidence) if isinstance(evidence, str) else evidence
    overflows = [
        b["accessory"] for b in evidence["blocks"]
        if (b.get("accessory") or {}).get("action_id") == ACTION_CORRECT
    ]
    assert overflows and all(len(o["options"]) in (3, 4) for o in overflows)
    party = next(o["value"] for o in overflows[0]["options"] if o["value"].startswith("party:"))
    # Inside a modal there is no response_url: the correction modal is pushed on top.
    await bot.click(overflow_action(ACTION_CORRECT, party, response_url=None, in_view="V1"))
    pushed = await bot.fake.wait_for(lambda: bot.fake.calls("views.push"))
    assert pushed[0].ok, pushed[0].error
    view = pushed[0].payload["view"]
    view = json.loads(view) if isinstance(view, str) else view
    select = next(b for b in view["blocks"] if b.get("block_id") == BLOCK_NEW_VALUE)
    groups = select["element"]["option_groups"]
    assert all(len(g["options"]) <= 100 for g in groups)
    codes = {o["value"] for g in groups for o in g["options"]}
    assert {"eu", "nato", "gbr"} <= codes and len(codes) > 100
    answer = await submit(bot, view_submission(view, chosen("gbr", "it was London")))
    assert "United Kingdom" in all_text(answer["view"])


async def test_socket_mode_correction_and_matrix(
    fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any
) -> None:
    """Over Socket Mode the modal's answer travels in the envelope's ack, and files upload the
    same way."""
    from tests.conftest import APP_TOKEN
    from tests.fakes.slack_payloads import slash_command

    settings = make_settings(slack_app_token=APP_TOKEN, slack_signing_secret=None)
    async with serving(settings, socket_mode=True, extractor=gold_extractor, fake=fake_slack):
        url = fake_slack.new_response_url()
        await fake_slack.push("slash_commands", slash_command("ukraine", response_url=url))
        first = (await fake_slack.wait_for(lambda: fake_slack.responses(url)))[0].payload
        option = next(o for o in next(iter(menus(first).values())) if o.startswith("stance:"))
        click = fake_slack.new_response_url()
        await fake_slack.push(
            "interactive", overflow_action(ACTION_CORRECT, option, response_url=click)
        )
        opened = await fake_slack.wait_for(lambda: fake_slack.calls("views.open"))
        view = opened[0].payload["view"]
        view = json.loads(view) if isinstance(view, str) else view
        envelope = await fake_slack.push(
            "interactive", view_submission(view, chosen("doubts", "hedged"))
        )
        acks = await fake_slack.wait_for(lambda: fake_slack.acks.get(envelope))
        assert acks[0]["payload"]["response_action"] == "update"
        assert "Saved" in all_text(acks[0]["payload"]["view"])
        matrix = slash_command("matrix ukraine", response_url=fake_slack.new_response_url())
        await fake_slack.push("slash_commands", matrix)
        shared = await fake_slack.wait_for(lambda: fake_slack.shared)
        assert shared[0].data.startswith(b"\x89PNG")
