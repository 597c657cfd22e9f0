"""Block Kit, built in one place: briefing cards, help, errors, evidence, digests, Home tab.

Handlers and the digest sender only ever receive `Message` objects (or view dicts) from here.
"""

from bot.cards.common import Message, escape, truncate

__all__ = ["Message", "escape", "truncate"]
