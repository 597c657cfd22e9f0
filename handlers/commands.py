"""The `/guarantees` slash command: ack, answer with bot.commands, reply via response_url."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.cards.messages import error_message
from bot.commands import answer
from bot.query import UserError
from bot.replies import CommandContext, Reply
from bot.services import Services
from handlers.middleware import ack_first
from handlers.respond import Responder

log = logging.getLogger(__name__)

COMMAND = "/guarantees"


async def on_guarantees(
    ack: AsyncAck,
    command: dict[str, Any],
    services: Services,
    responder: Responder,
) -> None:
    """Answer `/guarantees TEXT`: a card in the channel, or a private answer to the caller."""
    await ack()
    ctx = CommandContext(
        user_id=command.get("user_id"),
        channel_id=command.get("channel_id"),
        team_id=command.get("team_id"),
    )
    with services.in_flight.track():  # a shutdown now waits for this answer
        try:
            reply: Reply = await answer(services, command.get("text") or "", ctx)
        except UserError as exc:
            reply = user_error_reply(exc)
        await responder.send_reply(command["response_url"], reply)


def user_error_reply(exc: UserError) -> Reply:
    """A `UserError` is answered only to the caller."""
    return Reply(error_message(exc.message, exc.suggestions), public=False)


def register(app: AsyncApp, dedupe: Any) -> None:
    app.command(COMMAND, middleware=[dedupe, ack_first])(on_guarantees)
