"""Digest buttons: "Subscribe" on a briefing card, "Open full briefing" on a digest.

Thin: acknowledge, call `bot/`, answer privately through the click's response_url.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.cards.common import ACTION_SUBSCRIBE, parse_button_value
from bot.cards.digest import ACTION_OPEN_BRIEFING
from bot.commands import answer
from bot.replies import CommandContext, Reply
from bot.services import Services
from handlers.middleware import ack_first
from handlers.respond import Responder

log = logging.getLogger(__name__)


def _context(body: dict[str, Any]) -> CommandContext:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return CommandContext(
        user_id=(body.get("user") or {}).get("id"),
        channel_id=channel,
        team_id=(body.get("team") or {}).get("id"),
    )


def _topic_words(action: dict[str, Any]) -> str | None:
    try:
        return parse_button_value(action.get("value") or "").topic
    except ValueError:
        log.warning("a digest button carried an unexpected value")
        return None


async def _answer_privately(
    responder: Responder, body: dict[str, Any], reply: Reply
) -> None:
    url = body.get("response_url")
    if not url:
        log.warning("no response_url on a button click; the answer is dropped")
        return
    await responder.send_reply(url, Reply(reply.message, public=False))


async def on_subscribe(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    services: Services,
    responder: Responder,
) -> None:
    """The briefing card's Subscribe button: subscribe this channel at the default time."""
    await ack()
    words = _topic_words(action)
    if words is None:
        return
    reply = await answer(services, f"subscribe {words}", _context(body))
    await _answer_privately(responder, body, reply)


async def on_open_briefing(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    services: Services,
    responder: Responder,
) -> None:
    """A digest's "Open full briefing": the briefing card, shown only to whoever clicked."""
    await ack()
    words = _topic_words(action)
    if words is None:
        return
    reply = await answer(services, words, _context(body))
    await _answer_privately(responder, body, reply)


def register(app: AsyncApp) -> None:
    app.action(ACTION_SUBSCRIBE, middleware=[ack_first])(on_subscribe)
    app.action(ACTION_OPEN_BRIEFING, middleware=[ack_first])(on_open_briefing)
