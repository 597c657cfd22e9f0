"""Slack listeners, thin: acknowledge, parse, call `bot/`, render with `bot.cards`, reply.

`register(app)` wires them all, plus the digest buttons of `handlers.subscriptions` when that
module is present.
"""

from __future__ import annotations

import importlib
import logging

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, home
from handlers.middleware import Deduplicator, build_dedupe_middleware

log = logging.getLogger(__name__)


def register(app: AsyncApp) -> None:
    """Attach every listener to `app`, sharing one duplicate filter."""
    dedupe = build_dedupe_middleware(Deduplicator())
    commands.register(app, dedupe)
    actions.register(app, dedupe)
    home.register(app, dedupe)
    try:
        subscriptions = importlib.import_module("handlers.subscriptions")
    except ModuleNotFoundError as exc:
        if exc.name != "handlers.subscriptions":
            raise
        log.info("handlers.subscriptions is not there: no digest buttons")
    else:
        subscriptions.register(app)
