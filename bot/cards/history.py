"""A party's history as a message: one line per change of stance, its date, quote and source."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.cards.common import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TOTAL_TEXT,
    Message,
    escape,
    host_of,
    link,
    plain,
    truncate,
)
from bot.cards.corrections import trust_suffix
from bot.history import Change, History

MAX_HISTORY_QUOTE = 300


def change_text(change: Change, limit: int = MAX_SECTION_TEXT) -> str:
    """`*2026-01-07* · Peacekeeping force: *backs* (opposed before)` + quote + source."""
    position = change.position
    day = position.published.isoformat() if position.published else "undated"
    moved = f" (was {change.before})" if change.before else " (first seen)"
    head = f"*{day}* · {escape(change.guarantee_label)}: *{position.stance}*{moved}"
    outlet = " ".join((position.outlet or host_of(position.url) or position.title).split())[:80]
    source = f"— {link(position.url, outlet)}{trust_suffix(position)}"
    quote = truncate(escape(" ".join(position.evidence.split())), MAX_HISTORY_QUOTE)
    return truncate(f"{head}\n> “{quote}”\n{source}", limit)


def history_message(history: History) -> Message:
    header = HeaderBlock(text=plain(f"History · {history.title}", MAX_HEADER_TEXT))
    blocks: list[Block] = [header]
    if not history.changes:
        text = f"No positions of *{escape(history.label)}* are stored yet."
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
        return Message(text=truncate(text, MAX_FALLBACK_TEXT), blocks=blocks)
    budget = MAX_TOTAL_TEXT - 400
    shown: list[Change] = []
    room = MAX_BLOCKS - 3
    for change in reversed(history.changes):  # the newest are kept when room runs out
        text = change_text(change)
        if len(shown) >= room or len(text) > budget:
            break
        budget -= len(text)
        shown.append(change)
    for change in reversed(shown):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=change_text(change))))
    note = f"{len(shown)} of {history.total} change{'' if history.total == 1 else 's'}"
    note += ", oldest first · a change is a stance that differs from the one before it"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    latest = history.changes[-1].position
    fallback = (
        f"History of {escape(history.title)}: {history.total} changes; latest"
        f" {latest.stance} on {escape(history.changes[-1].guarantee_label)}"
    )
    return Message(text=truncate(fallback, MAX_FALLBACK_TEXT), blocks=blocks)
