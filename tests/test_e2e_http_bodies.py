"""HTTP mode, request bodies bolt's own parser gets wrong: each one signed (or not) and posted
to the real server on loopback, the outcome seen at the fake Slack.

slack-bolt 1.30 treats any form body holding the letters "payload" as an interactive payload,
raises on a `payload` field or a body that is not JSON, reads any body starting with `{` as
JSON, and cannot read bytes that are not UTF-8. `bot.slack_requests` parses them instead.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.cards.common import ACTION_SHOW_EVIDENCE, button_value
from bot.slack_requests import BadSlackRequest, parse_slack_body
from tests.conftest import SIGNING_SECRET
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import block_action, event_callback, sign, slash_command
from tests.test_e2e_http import Bot, all_text

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
async def web(fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any) -> AsyncIterator[Bot]:
    settings = make_settings()
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        yield Bot(settings, fake_slack, http)


async def post_raw(
    web: Bot,
    body: bytes | str,
    content_type: str | None = FORM,
    *,
    signed: bool = True,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    raw = body.encode() if isinstance(body, str) else body
    all_headers: dict[str, str] = {}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    if signed:
        all_headers |= sign(SIGNING_SECRET, raw)
    all_headers |= headers or {}
    async with web.http.post(web.events_url, data=raw, headers=all_headers) as response:
        return response.status, await response.text()


async def nothing_happened(web: Bot, url: str | None = None) -> None:
    """A later command is answered; by then anything the refused request set off would have
    reached the fake Slack too."""
    _, later = await web.command("help")
    await web.reply_to(later)
    assert not web.fake.calls("views.open")
    assert not web.fake.calls("views.publish")
    if url is not None:
        assert web.fake.responses(url, ok_only=False) == []


# --- the word "payload" in a slash command --------------------------------------------------


async def test_the_word_payload_in_the_command_text(web: Bot) -> None:
    response, url = await web.command("payload")
    assert response.status == 200
    reply = await web.reply_to(url)
    assert reply["response_type"] == "ephemeral"
    assert "“payload”" in all_text(reply)  # the text reached the parser unchanged


@pytest.mark.parametrize(
    "where", [{"channel_name": "payload-team"}, {"user_name": "payload.bot"}]
)
async def test_payload_in_channel_or_user_name_still_gets_the_card(
    web: Bot, where: dict[str, str]
) -> None:
    response, url = await web.command("ukraine", **where)
    assert response.status == 200
    reply = await web.reply_to(url)
    assert reply["response_type"] == "in_channel"
    assert "Ukraine" in all_text(reply)


async def test_command_text_with_plus_ampersand_and_equals(web: Bot) -> None:
    # Encoded as Slack does: spaces as "+", "+" itself as %2B, "&" as %26, "=" as %3D. (The
    # exact decoding is checked on the parser below; here the command must be answered.)
    response, url = await web.command("payload+1 & payload=2")
    assert response.status == 200
    reply = await web.reply_to(url)
    assert "“payload" in all_text(reply)


# --- the word "payload" in an interactive payload ------------------------------------------


@pytest.mark.parametrize(
    "names",
    [
        {"channel_name": "payload-team"},
        {"user_name": "payload"},
        {"channel_name": "payload", "user_name": "payload-payload"},
    ],
)
async def test_button_click_with_payload_in_names_opens_the_modal(
    web: Bot, names: dict[str, str]
) -> None:
    url = web.fake.new_response_url()
    value = button_value("ukraine", "security_guarantee")
    response = await web.click(block_action(ACTION_SHOW_EVIDENCE, value, response_url=url, **names))
    assert response.status == 200
    opened = await web.fake.wait_for(lambda: web.fake.calls("views.open"))
    assert opened[0].ok, opened[0].error
    assert opened[0].payload["view"]["type"] == "modal"


async def test_payload_field_that_is_not_json_is_a_400_and_nothing_runs(web: Bot) -> None:
    status, text = await post_raw(web, "payload=%7Bnot+json")
    assert status == 400
    assert "payload" in text and "JSON" in text
    status, _ = await post_raw(web, "payload=%5B1%2C2%5D")  # JSON, but a list
    assert status == 400
    await nothing_happened(web)


async def test_unsigned_bad_payload_is_a_401(web: Bot) -> None:
    status, _ = await post_raw(web, "payload=%7Bnot+json", signed=False)
    assert status == 401


# --- JSON bodies ------------------------------------------------------------------------


async def test_event_whose_text_holds_payload_and_no_json_content_type(web: Bot) -> None:
    """A JSON event body with "payload" in it, a leading newline and a generic content type:
    bolt read it as a form (no `payload` field) and dropped it."""
    event = event_callback(
        {"type": "app_home_opened", "user": "U0PAY", "tab": "home", "note": "payload"},
        event_id="Ev-payload-1",
    )
    status, _ = await post_raw(web, "\n" + json.dumps(event), "text/plain")
    assert status == 200
    publishes = await web.fake.wait_for(lambda: web.fake.calls("views.publish"))
    assert publishes[0].payload["user_id"] == "U0PAY"


async def test_json_event_labelled_as_a_form_is_read_as_json(web: Bot) -> None:
    event = event_callback({"type": "app_home_opened", "user": "U0FORM", "tab": "home"})
    status, _ = await post_raw(web, json.dumps(event), FORM)
    assert status == 200
    publishes = await web.fake.wait_for(lambda: web.fake.calls("views.publish"))
    assert publishes[0].payload["user_id"] == "U0FORM"


async def test_url_verification_with_payload_in_the_challenge(web: Bot) -> None:
    challenge = "payload-challenge-123"
    body = json.dumps({"type": "url_verification", "challenge": challenge, "token": "t"})
    status, text = await post_raw(web, body, "application/json; charset=utf-8")
    assert status == 200
    assert challenge in text


async def test_invalid_or_non_object_json_is_a_400(web: Bot) -> None:
    for body in ("{not json", "[1, 2, 3]", '"payload"'):
        status, _ = await post_raw(web, body, "application/json")
        assert status == 400, body
    await nothing_happened(web)


# --- other bodies -----------------------------------------------------------------------


async def test_ssl_check_is_answered_and_does_nothing(web: Bot) -> None:
    status, _ = await post_raw(web, "ssl_check=1&token=legacy-verification-token", signed=False)
    assert status == 200
    await nothing_happened(web)


async def test_empty_body(web: Bot) -> None:
    assert (await post_raw(web, b"", signed=True))[0] == 400
    assert (await post_raw(web, b"", signed=False))[0] == 401
    await nothing_happened(web)


async def test_body_that_is_not_utf8_is_refused(web: Bot) -> None:
    url = web.fake.new_response_url()
    body = urllib.parse.urlencode(slash_command("ukraine", response_url=url)).encode()
    status, _ = await post_raw(web, body + b"&x=\xff\xfe")
    assert status == 401
    # %-escaped bytes that are not UTF-8, correctly signed: a clear 400
    status, text = await post_raw(web, body + b"&x=%FF%FE")
    assert status == 400
    assert "UTF-8" in text
    await nothing_happened(web, url)


async def test_form_body_starting_with_a_brace_is_read_as_a_form(web: Bot) -> None:
    url = web.fake.new_response_url()
    body = "{=1&" + urllib.parse.urlencode(slash_command("ukraine", response_url=url))
    status, _ = await post_raw(web, body)
    assert status == 200
    reply = await web.reply_to(url)
    assert reply["response_type"] == "in_channel"


async def test_repeated_field_keeps_the_first_value(web: Bot) -> None:
    url = web.fake.new_response_url()
    fields = slash_command("ukraine", response_url=url)
    body = urllib.parse.urlencode(fields) + "&text=payload"
    status, _ = await post_raw(web, body)
    assert status == 200
    reply = await web.reply_to(url)
    assert reply["response_type"] == "in_channel"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Slack-Request-Timestamp": "not-a-number"},
        {"X-Slack-Request-Timestamp": str(int(time.time()) - 600)},
        {"X-Slack-Signature": "v0=" + "0" * 64},
    ],
)
async def test_bad_signature_headers_are_a_401_with_nothing_done(
    web: Bot, headers: dict[str, str]
) -> None:
    url = web.fake.new_response_url()
    body = urllib.parse.urlencode(slash_command("payload", response_url=url))
    status, text = await post_raw(web, body, headers=headers)
    assert status == 401
    assert json.loads(text) == {"error": "invalid request"}
    await nothing_happened(web, url)


async def test_many_payload_commands_at_once_are_all_answered(web: Bot) -> None:
    results = await asyncio.gather(
        *(web.command(f"payload {n}", channel_name="payload") for n in range(5))
    )
    for response, url in results:
        assert response.status == 200
        await web.reply_to(url)


# --- the parser alone -------------------------------------------------------------------


def test_parse_form_decodes_plus_and_escapes() -> None:
    body = parse_slack_body("text=a+b%2Bc%26d%3De&user_name=payload", FORM)
    assert body == {"text": "a b+c&d=e", "user_name": "payload"}


def test_parse_payload_field() -> None:
    payload = {"type": "block_actions", "user": {"name": "payload"}}
    body = parse_slack_body(urllib.parse.urlencode({"payload": json.dumps(payload)}), FORM)
    assert body == payload


@pytest.mark.parametrize(
    ("text", "content_type"),
    [("", FORM), ("   ", None), ("payload=", FORM), ("{", "application/json")],
)
def test_parse_refuses(text: str, content_type: str | None) -> None:
    with pytest.raises(BadSlackRequest) as caught:
        parse_slack_body(text, content_type)
    assert caught.value.status == 400
