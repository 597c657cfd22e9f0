"""Buttons on our cards. Every action acks at once; "Show all evidence" opens a modal.

The Subscribe button belongs to the digest work (`handlers/subscriptions.py`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.common import ACTION_MATRIX, ACTION_SHOW_EVIDENCE, parse_button_value
from bot.commands import answer, evidence_view
from bot.query import UserError
from bot.respond import Responder
from bot.services import Services
from handlers.commands import deliver, user_error_reply
from handlers.middleware import ack_first
from handlers.subscriptions import click_context


async def on_show_evidence(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
    responder: Responder,
) -> None:
    """Open a modal with every piece of evidence for the guarantee the button sits under."""
    await ack()
    with services.in_flight.track():
        try:
            value = parse_button_value(action.get("value") or "")
        except ValueError:
            await _tell(body, responder, UserError("That button is out of date."))
            return
        try:
            view = await evidence_view(
                services, value.topic, value.guarantee or "", click_context(body).team_id
            )
        except UserError as exc:
            await _tell(body, responder, exc)
            return
        await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_matrix(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
    responder: Responder,
) -> None:
    """The card's "Stance matrix" button: the picture of the card's topic, in the channel."""
    await ack()
    url = body.get("response_url")
    if not url:
        return
    ctx = click_context(body)
    with services.in_flight.track():
        try:
            words = parse_button_value(action.get("value") or "").topic
        except ValueError:
            await _tell(body, responder, UserError("That button is out of date."))
            return
        reply = await answer(services, f"matrix {words}", ctx)
        await deliver(reply, url, client, services, responder, ctx)


async def _tell(body: dict[str, Any], responder: Responder, error: UserError) -> None:
    # A click on a message carries a response_url: answer there, only to the clicker.
    if body.get("response_url"):
        await responder.send_reply(body["response_url"], user_error_reply(error))


def register(app: AsyncApp, dedupe: Any) -> None:
    app.action(ACTION_SHOW_EVIDENCE, middleware=[dedupe, ack_first])(on_show_evidence)
    app.action(ACTION_MATRIX, middleware=[dedupe, ack_first])(on_matrix)
