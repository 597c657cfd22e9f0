"""The App Home tab: the latest positions and this workspace's daily digests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.cards.common import MAX_SECTION_TEXT, MAX_SURFACE_BLOCKS, escape, truncate
from bot.cards.evidence import position_text
from bot.models import StoredPosition, Subscription

MAX_SUBSCRIPTIONS_SHOWN = 60
MAX_LATEST_SHOWN = 8
LATEST_TEXT = 600
# Kept within a message's ~12,000 characters: Slack documents no total for views.
SUBSCRIPTIONS_TEXT = 6000
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")


def _channel(channel_id: str) -> str:
    """A channel mention from an id Slack gave us; anything else is shown escaped."""
    return f"<#{channel_id}>" if _CHANNEL_ID.fullmatch(channel_id) else escape(channel_id)


def subscription_line(subscription: Subscription) -> str:
    line = (
        f"{_channel(subscription.channel_id)} · *{escape(subscription.label)}* ·"
        f" {subscription.at.strftime('%H:%M')} {escape(subscription.zone)}"
    )
    if subscription.paused_reason:
        line += f" · _paused: {escape(subscription.paused_reason)}_"
    return line


def home_tab(
    subscriptions: Sequence[Subscription],
    latest: Sequence[StoredPosition],
    positions: int,
    sources: int,
    last_update: date | None,
) -> dict[str, Any]:
    """The Home tab view dict for `views.publish` (at most 100 blocks)."""
    blocks: list[Block] = [
        HeaderBlock(text="Ukraine ceasefire: security guarantees"),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"*{positions}* positions from *{sources}* sources · last update"
                    f" {last_update.isoformat() if last_update else 'never'} ·"
                    " `/guarantees help` in any channel"
                )
            ]
        ),
        SectionBlock(text=MarkdownTextObject(text="*Latest positions*")),
    ]
    if latest:
        for position in latest[:MAX_LATEST_SHOWN]:
            text = position_text(position, LATEST_TEXT)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing stored yet.")))
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Daily digests*"))]
    if not subscriptions:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text="No digests yet: `/guarantees subscribe ukraine 08:00` in a channel."
                )
            )
        )
    # Several lines a section, each section within 3000 characters, all within the budget.
    budget = SUBSCRIPTIONS_TEXT
    chunk: list[str] = []
    shown = 0
    for subscription in subscriptions:
        line = truncate(subscription_line(subscription), 300)
        if shown == MAX_SUBSCRIPTIONS_SHOWN or len(line) + 1 > budget:
            break
        if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION_TEXT - 40:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
            chunk = []
        chunk.append(line)
        budget -= len(line) + 1
        shown += 1
    if len(subscriptions) > shown:
        chunk.append(f"and {len(subscriptions) - shown} more")
    if chunk:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    return View(type="home", blocks=blocks[:MAX_SURFACE_BLOCKS]).to_dict()
