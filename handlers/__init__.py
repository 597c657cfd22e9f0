"""Slack listeners, thin: acknowledge, parse, call `bot/`, render with `bot.cards`, reply."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deliveries import Deduplicator, DeliveryLog, SharedDeduplicator
from handlers import actions, commands, corrections, home, subscriptions, workspaces
from handlers.middleware import build_dedupe_middleware


def register(app: AsyncApp, shared_deliveries: DeliveryLog | None = None) -> None:
    """Attach every listener to `app`, sharing one duplicate filter: in this process's
    memory, or in the database (`shared_deliveries`) when several replicas serve."""
    dedupe = build_dedupe_middleware(
        SharedDeduplicator(shared_deliveries) if shared_deliveries else Deduplicator()
    )
    commands.register(app, dedupe)
    actions.register(app, dedupe)
    home.register(app, dedupe)
    subscriptions.register(app, dedupe)
    corrections.register(app, dedupe)
    workspaces.register(app, dedupe)
