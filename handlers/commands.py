"""The `/guarantees` slash command: ack, answer with bot.commands, reply via response_url."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.messages import error_message
from bot.commands import answer
from bot.files import UploadError, share_file
from bot.query import UserError
from bot.replies import CommandContext, Reply
from bot.respond import Responder
from bot.services import Services
from handlers.middleware import ack_first

log = logging.getLogger(__name__)

COMMAND = "/guarantees"


async def on_guarantees(
    ack: AsyncAck,
    command: dict[str, Any],
    client: AsyncWebClient,
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
        await deliver(reply, command["response_url"], client, services, responder, ctx)


async def deliver(
    reply: Reply,
    response_url: str,
    client: AsyncWebClient,
    services: Services,
    responder: Responder,
    ctx: CommandContext,
) -> None:
    """Send a reply; one that carries a file shares it in the caller's channel instead, and
    tells only the caller when that fails."""
    if reply.upload is None or ctx.channel_id is None:
        await responder.send_reply(response_url, reply)
        return
    try:
        await share_file(client, services.http, ctx.channel_id, reply.upload)
    except UploadError as exc:
        await responder.send_reply(response_url, user_error_reply(UserError(str(exc))))


def user_error_reply(exc: UserError) -> Reply:
    """A `UserError` is answered only to the caller."""
    return Reply(error_message(exc.message, exc.suggestions), public=False)


def register(app: AsyncApp, dedupe: Any) -> None:
    app.command(COMMAND, middleware=[dedupe, ack_first])(on_guarantees)
