"""All evidence for one guarantee under a topic: a private message, or a modal view.

Each position shows who, which stance, the guarantor, the quote and its source link and date,
freshest first, cut to Slack's limits with "and N more".
"""

from __future__ import annotations

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

from bot.briefing import Evidence
from bot.cards.common import (
    CALLBACK_EVIDENCE_VIEW,
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_SURFACE_BLOCKS,
    MAX_TOTAL_TEXT,
    Message,
    escape,
    found_by_mark,
    host_of,
    link,
    plain,
    reported_by,
    truncate,
)
from bot.cards.corrections import correction_overflow, trust_suffix
from bot.models import StoredPosition
from bot.topics import actor_display_name, party_label

MAX_EVIDENCE_QUOTE = 1200
MODAL_TITLE = "Evidence"  # a modal title is at most 24 characters
OVERFLOW_TEXT = 90  # characters of the correction menu's options, counted by Slack as text


def position_text(position: StoredPosition, limit: int) -> str:
    """`*Donald Trump* (United States) opposes · guarantor: Europe` + quote + source line."""
    who = f"*{escape(actor_display_name(position.actor))}* ({escape(party_label(position.party))})"
    head = f"{who} {position.stance}"
    if position.guarantor:
        head += f" · guarantor: {escape(party_label(position.guarantor))}"
    if position.beneficiary and position.beneficiary != position.party:
        head += f" · for {escape(party_label(position.beneficiary))}"
    outlet = " ".join((position.outlet or host_of(position.url) or position.title).split())[:80]
    day = position.published.isoformat() if position.published else "undated"
    # the checked or unsure mark is counted before the quote is cut, so it is never the part cut
    more = reported_by(position.outlets) + found_by_mark(position.found_by)
    source = f"{link(position.url, outlet)}, {day}{more}"
    if len(source) > limit // 3:  # the mark below never decides whether the link stays
        source = f"{truncate(escape(outlet), 80)}, {day}{more}"
    source += trust_suffix(position)
    head = truncate(head, max(40, limit // 3))
    room = min(MAX_EVIDENCE_QUOTE, limit - len(head) - len(source) - 8)
    quote = escape(" ".join(position.evidence.split()))
    body = f"> “{truncate(quote, room)}”\n" if room >= 20 else ""
    return truncate(f"{head}\n{body}{source}", limit)


def _blocks(evidence: Evidence, max_blocks: int) -> list[Block]:
    title = plain(f"{evidence.label} · {evidence.topic.label}", MAX_HEADER_TEXT)
    blocks: list[Block] = [HeaderBlock(text=title)]
    if not evidence.positions:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text="No evidence is stored for this yet."))
        )
        return blocks
    budget = MAX_TOTAL_TEXT - len(title) - 200
    room = max_blocks - 3  # header, the closing context, one spare
    shown = evidence.positions[:room]
    for i, position in enumerate(shown):
        share = min(MAX_SECTION_TEXT, budget // (len(shown) - i) - OVERFLOW_TEXT)
        if share < 120:
            shown = shown[:i]
            break
        text = position_text(position, share)
        budget -= len(text) + OVERFLOW_TEXT
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=text), accessory=correction_overflow(position)
            )
        )
    more = evidence.total - len(shown)
    note = f"{len(shown)} of {evidence.total}, freshest first"
    if more > 0:
        note += f" · and {more} more: narrow the topic to see them"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=note)]))
    return blocks


def evidence_message(evidence: Evidence) -> Message:
    """The evidence as a message (at most 50 blocks, ~12,000 characters)."""
    blocks = _blocks(evidence, MAX_BLOCKS)
    text = (
        f"Evidence on {escape(evidence.label)} · {escape(evidence.topic.label)}:"
        f" {evidence.total} position{'' if evidence.total == 1 else 's'}"
    )
    return Message(text=truncate(text, MAX_FALLBACK_TEXT), blocks=blocks)


def evidence_modal(evidence: Evidence) -> dict[str, Any]:
    """The evidence as a modal view for `views.open` (callback_id CALLBACK_EVIDENCE_VIEW).

    Kept within the same ~12,000-character text budget as a message: Slack does not document
    a view's total, and a refused view would leave the button doing nothing."""
    blocks = _blocks(evidence, MAX_SURFACE_BLOCKS)
    blocks.insert(1, DividerBlock())
    view = View(
        type="modal",
        callback_id=CALLBACK_EVIDENCE_VIEW,
        title=MODAL_TITLE,
        close="Close",
        blocks=blocks,
    )
    return view.to_dict()
