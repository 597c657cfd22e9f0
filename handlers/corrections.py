"""Corrections from Slack: the ⋯ menu on an evidence item, and the modal it opens.

Thin: acknowledge, call `bot.corrections`, show the modal or answer only the analyst.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.cards.common import escape
from bot.cards.corrections import (
    ACTION_CORRECT,
    CALLBACK_CORRECTION_VIEW,
    correction_message,
    notice_modal,
    read_submission,
)
from bot.corrections import REFUSAL, choice_of, correction_form, may_correct, submit_correction
from bot.corrections import undo as undo_correction
from bot.query import UserError
from bot.replies import Reply
from bot.respond import Responder
from bot.services import Services
from handlers.commands import user_error_reply
from handlers.middleware import ack_first


async def on_correct(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    services: Services,
    responder: Responder,
) -> None:
    """An option of the ⋯ menu: open the correction modal, or undo at once."""
    await ack()
    user = (body.get("user") or {}).get("id")
    team = (body.get("team") or {}).get("id")
    in_view = (body.get("container") or {}).get("type") == "view"
    with services.in_flight.track():
        try:
            choice = choice_of((action.get("selected_option") or {}).get("value") or "")
            if not may_correct(services.settings, user):
                raise UserError(REFUSAL)
            if choice.op == "undo":
                text = await undo_correction(services, user, choice.position_id, team)
                await _tell(body, client, responder, text, error=False)
                return
            view = await correction_form(
                services, choice, {"r": body.get("response_url") or ""}, team
            )
        except UserError as exc:
            await _tell(body, client, responder, exc.message, error=True)
            return
        if in_view:
            await client.views_push(trigger_id=body["trigger_id"], view=view)
        else:
            await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_correction_submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], services: Services,
    responder: Responder,
) -> None:
    """The modal's Save: store the correction, then say so in the modal and privately."""
    user = (body.get("user") or {}).get("id")
    team = (body.get("team") or {}).get("id")
    try:
        submission = read_submission(view)
        text = await submit_correction(
            services, user, submission.choice, submission.value, submission.note, team
        )
    except (ValueError, UserError) as exc:
        message = exc.message if isinstance(exc, UserError) else "That form is out of date."
        await ack(response_action="update", view=notice_modal("Not saved", escape(message)))
        return
    await ack(response_action="update", view=notice_modal("Correction saved", text))
    if submission.response_url:
        with services.in_flight.track():
            await responder.send_reply(
                submission.response_url, Reply(correction_message(text), public=False)
            )


async def _tell(
    body: dict[str, Any], client: AsyncWebClient, responder: Responder, text: str, *, error: bool
) -> None:
    """Only to the analyst: through the click's response_url, or a small modal on top of the
    evidence modal (a click inside a modal has no response_url)."""
    url = body.get("response_url")
    if url:
        reply = user_error_reply(UserError(text)) if error else Reply(correction_message(text))
        await responder.send_reply(url, reply)
    elif body.get("trigger_id"):
        title = "Not done" if error else "Correction"
        await client.views_push(trigger_id=body["trigger_id"], view=notice_modal(title, text))


def register(app: AsyncApp, dedupe: Any) -> None:
    app.action(ACTION_CORRECT, middleware=[dedupe, ack_first])(on_correct)
    app.view(CALLBACK_CORRECTION_VIEW)(on_correction_submit)
