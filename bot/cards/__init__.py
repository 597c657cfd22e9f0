"""Block Kit, built in one place: briefing cards, help, errors, evidence, digests, Home tab.

Handlers and the digest sender only ever receive `Message` objects (or view dicts) from here.
Listeners register on the action ids below; button values are `button_value(...)` JSON.
"""

from bot.cards.common import (
    ACTION_SHOW_EVIDENCE,
    ACTION_SUBSCRIBE,
    BLOCK_BRIEFING_ACTIONS,
    BLOCK_GUARANTEE_PREFIX,
    CALLBACK_EVIDENCE_VIEW,
    ButtonValue,
    Message,
    button_value,
    escape,
    parse_button_value,
    truncate,
)

__all__ = [
    "ACTION_SHOW_EVIDENCE",
    "ACTION_SUBSCRIBE",
    "BLOCK_BRIEFING_ACTIONS",
    "BLOCK_GUARANTEE_PREFIX",
    "CALLBACK_EVIDENCE_VIEW",
    "ButtonValue",
    "Message",
    "button_value",
    "escape",
    "parse_button_value",
    "truncate",
]
