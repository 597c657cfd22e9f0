"""The App Home tab: published again each time someone opens it."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands import home_view
from bot.services import Services


async def on_app_home_opened(
    event: dict[str, Any], client: AsyncWebClient, services: Services, context: AsyncBoltContext
) -> None:
    """bolt acks events before this runs; only the Home tab is ours to draw (the workspace's
    own subscriptions: the team bolt authorised the request for)."""
    if event.get("tab", "home") != "home":
        return
    user_id = event["user"]
    with services.in_flight.track():
        view = await home_view(services, user_id, context.team_id)
        await client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, dedupe: Any) -> None:
    app.event("app_home_opened", middleware=[dedupe])(on_app_home_opened)
