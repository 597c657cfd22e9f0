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

MAX_SUBSCRIPTIONS_SHOWN = 40
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
        for position in latest[:20]:
            blocks.append(
                SectionBlock(text=MarkdownTextObject(text=position_text(position, 900)))
            )
    else:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="Nothing stored yet.")))
    blocks += [DividerBlock(), SectionBlock(text=MarkdownTextObject(text="*Daily digests*"))]
    if subscriptions:
        lines = [subscription_line(s) for s in subscriptions[:MAX_SUBSCRIPTIONS_SHOWN]]
        if len(subscriptions) > MAX_SUBSCRIPTIONS_SHOWN:
            lines.append(f"and {len(subscriptions) - MAX_SUBSCRIPTIONS_SHOWN} more")
        # Several lines a section, each section within 3000 characters.
        chunk: list[str] = []
        for line in lines:
            if sum(len(x) + 1 for x in chunk) + len(line) > MAX_SECTION_TEXT - 10:
                blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
                chunk = []
            chunk.append(truncate(line, 600))
        if chunk:
            blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(chunk))))
    else:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text="No digests yet: `/guarantees subscribe ukraine 08:00` in a channel."
                )
            )
        )
    return View(type="home", blocks=blocks[:MAX_SURFACE_BLOCKS]).to_dict()
