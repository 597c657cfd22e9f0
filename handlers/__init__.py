"""Slack listeners, thin: acknowledge, parse, call `bot/`, render with `bot.cards`, reply."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, corrections, home, subscriptions
from handlers.middleware import Deduplicator, build_dedupe_middleware


def register(app: AsyncApp) -> None:
    """Attach every listener to `app`, sharing one duplicate filter."""
    dedupe = build_dedupe_middleware(Deduplicator())
    commands.register(app, dedupe)
    actions.register(app, dedupe)
    home.register(app, dedupe)
    subscriptions.register(app, dedupe)
    corrections.register(app, dedupe)
