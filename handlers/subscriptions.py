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
from bot.query import UserError
from bot.replies import CommandContext, Reply
from bot.respond import Responder
from bot.services import Services
from handlers.commands import user_error_reply
from handlers.middleware import ack_first

log = logging.getLogger(__name__)


def click_context(body: dict[str, Any]) -> CommandContext:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    return CommandContext(
        user_id=(body.get("user") or {}).get("id"),
        channel_id=channel,
        team_id=(body.get("team") or {}).get("id"),
    )


async def _answer_button(
    body: dict[str, Any],
    action: dict[str, Any],
    services: Services,
    responder: Responder,
    command: str,
) -> None:
    """Run `command` (with the button's topic words appended) as the clicker would type it
    and answer only them, through the click's response_url."""
    url = body.get("response_url")
    if not url:
        log.warning("no response_url on a button click; the answer is dropped")
        return
    with services.in_flight.track():
        try:
            words = parse_button_value(action.get("value") or "").topic
        except ValueError:
            reply = user_error_reply(UserError("That button is out of date."))
        else:
            reply = await answer(services, f"{command} {words}".strip(), click_context(body))
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
    await _answer_button(body, action, services, responder, "subscribe")


async def on_open_briefing(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    services: Services,
    responder: Responder,
) -> None:
    """A digest's "Open full briefing": the briefing card, shown only to whoever clicked."""
    await ack()
    await _answer_button(body, action, services, responder, "")


def register(app: AsyncApp, dedupe: Any) -> None:
    app.action(ACTION_SUBSCRIBE, middleware=[dedupe, ack_first])(on_subscribe)
    app.action(ACTION_OPEN_BRIEFING, middleware=[dedupe, ack_first])(on_open_briefing)
