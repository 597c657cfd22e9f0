"""The side-by-side card (`/guarantees compare france italy`) as Block Kit.

One section per guarantee (a row), with one field per party (the columns: Slack lays fields
out two a line). Each field holds the party's latest stance on the guarantee, who said it and
a link to the quote with its date. Guarantees no party holds a stance on are left out. Quotes
and names come from articles and are escaped; the fields stay within Slack's limits (10
fields of 2000 characters a section, 50 blocks).
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.briefing import short_actor_name
from bot.cards.briefing import STANCE_LABELS
from bot.cards.common import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_TOTAL_TEXT,
    Message,
    block_text_length,
    escape,
    host_of,
    link,
    plain,
    truncate,
)
from bot.cards.corrections import trust_suffix
from bot.compare import CompareCell, Comparison

SPLIT_MARK = "⚠️ split"
MAX_FIELD_QUOTE = 160
QUOTE_FALLBACKS = (60, 0)  # shorter quotes, then none, when the card runs out of room


def comparison_message(comparison: Comparison) -> Message:
    """The card; quotes are shortened, then left out (stance and link kept), should the
    whole run past Slack's budget for a message's text."""
    message = _message(comparison, MAX_FIELD_QUOTE)
    for quote in QUOTE_FALLBACKS:
        if block_text_length(message.to_dict()["blocks"]) <= MAX_TOTAL_TEXT:
            break
        message = _message(comparison, quote)
    return message


def _message(comparison: Comparison, quote_chars: int) -> Message:
    names = " · ".join(comparison.names)
    header = HeaderBlock(text=plain(f"Side by side · {names}", MAX_HEADER_TEXT))
    when = ""
    if comparison.window is not None:
        when = f"{escape(comparison.window.label)} ({comparison.window.span})"
    if comparison.is_empty:
        text = (
            f"No stance is known yet for {escape(names)}{' ' + when if when else ''}."
            " Try `/guarantees compare france italy`."
        )
        return Message(
            text=truncate(text, MAX_FALLBACK_TEXT),
            blocks=[header, SectionBlock(text=MarkdownTextObject(text=text))],
            model=comparison,
        )
    summary = [f"latest stance of each party per guarantee · {len(comparison.rows)} guarantees"]
    if when:
        summary.insert(0, when)
    blocks: list[Block] = [
        header,
        ContextBlock(elements=[MarkdownTextObject(text=" · ".join(summary))]),
    ]
    for row in comparison.rows[: MAX_BLOCKS - len(blocks)]:
        title = f"*{escape(row.label)}*" + (f"  {SPLIT_MARK}" if row.split else "")
        fields = [
            MarkdownTextObject(text=field_text(name, cell, quote_chars))
            for name, cell in zip(comparison.names, row.cells, strict=True)
        ]
        blocks.append(
            SectionBlock(
                block_id=f"compare:{row.guarantee}",
                text=MarkdownTextObject(text=title),
                fields=fields,
            )
        )
    fallback = f"Side by side · {escape(names)}: " + "; ".join(
        f"{escape(row.label)}: "
        + ", ".join(
            f"{escape(name)} {STANCE_LABELS[cell.stance].lower() if cell else '—'}"
            for name, cell in zip(comparison.names, row.cells, strict=True)
        )
        for row in comparison.rows
    )
    return Message(text=truncate(fallback, MAX_FALLBACK_TEXT), blocks=blocks, model=comparison)


def field_text(name: str, cell: CompareCell | None, quote_chars: int = MAX_FIELD_QUOTE) -> str:
    """`*France*` / `Backs · Macron` / `“quote…” <url|Le Monde, 2026-01-04>`, escaped."""
    lines = [f"*{escape(name)}*"]
    if cell is None:
        lines.append("_no stance known_")
        return "\n".join(lines)
    position = cell.position
    stance = f"*{STANCE_LABELS[cell.stance]}*"
    if position is not None:
        who = short_actor_name(position.actor, position.party)
        if who:
            stance += f" · {escape(who)}"
        stance += trust_suffix(position)  # on the stance line, so a long quote never cuts it
    if cell.positions > 1:
        stance += f" _({cell.positions} positions)_"
    lines.append(stance)
    if position is not None:
        outlet = " ".join(
            (position.outlet or host_of(position.url) or position.title or "source").split()
        )[:60]
        day = position.published.isoformat() if position.published else "undated"
        source = link(position.url, f"{outlet}, {day}")
        if len(source) > MAX_FIELD_TEXT // 2:  # an absurd URL: the outlet without the link
            source = escape(f"{outlet}, {day}")
        if quote_chars:
            quote = truncate(escape(" ".join(position.evidence.split())), quote_chars)
            source = f"“{quote}” {source}"
        lines.append(source)
    return truncate("\n".join(lines), MAX_FIELD_TEXT)
