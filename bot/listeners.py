"""Where the Slack listeners plug in: `bot/` builds the app, the listeners come from outside.

`bot/` never imports `handlers/`. `build_app` takes a `Listeners` callable and calls it once
with the new app and the database's delivery log when several replicas share a PostgreSQL
store (None otherwise: the duplicate filter then stays in the process's memory). The running
server finds that callable through the entry point group `guarantees_bot.listeners`, which
`pyproject.toml` fills with `slack = "handlers:register"`; installing the project
(`pip install -e .`) is what makes it visible.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from slack_bolt.async_app import AsyncApp

from bot.deliveries import DeliveryLog

ENTRY_POINT_GROUP = "guarantees_bot.listeners"

# Attach every listener to the app; the delivery log is given when replicas share it.
Listeners = Callable[[AsyncApp, DeliveryLog | None], None]


class ListenersNotFound(Exception):
    """No listeners, or several, are installed; the message is one line for the operator."""


def load_listeners() -> Listeners:
    """The one `Listeners` the installed packages declare under `ENTRY_POINT_GROUP`."""
    found = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda point: point.name)
    if not found:
        raise ListenersNotFound(
            f"no Slack listeners installed (entry point group {ENTRY_POINT_GROUP}):"
            " run `pip install -e .` in the checkout"
        )
    if len(found) > 1:
        named = ", ".join(f"{point.name} = {point.value}" for point in found)
        raise ListenersNotFound(
            f"several Slack listeners installed ({named}) in {ENTRY_POINT_GROUP}:"
            " keep one installed"
        )
    try:
        listeners: Listeners = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise ListenersNotFound(
            f"{found[0].value} (in {ENTRY_POINT_GROUP}) does not load: {exc}"
        ) from exc
    if not callable(listeners):
        raise ListenersNotFound(f"{found[0].value} (in {ENTRY_POINT_GROUP}) is not callable")
    return listeners
