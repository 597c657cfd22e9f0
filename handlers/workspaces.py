"""A workspace leaves: `app_uninstalled` and `tokens_revoked` remove its tokens and pause its
digests (bolt lets these events through without an installation to authorise them)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from bot.workspaces import remove_workspace


async def on_app_uninstalled(body: dict[str, Any], services: Services) -> None:
    team_id = body.get("team_id")
    if team_id:
        await remove_workspace(services.store, team_id, "app_uninstalled")


async def on_tokens_revoked(
    body: dict[str, Any], event: dict[str, Any], services: Services
) -> None:
    team_id = body.get("team_id")
    if team_id and (event.get("tokens") or {}).get("bot"):
        await remove_workspace(services.store, team_id, "tokens_revoked")


def register(app: AsyncApp, dedupe: Any) -> None:
    app.event("app_uninstalled", middleware=[dedupe])(on_app_uninstalled)
    app.event("tokens_revoked", middleware=[dedupe])(on_tokens_revoked)
