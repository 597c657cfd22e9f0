"""Digest cards and the answers about subscriptions, as Block Kit (slack_sdk block models).

Same conventions as the briefing: every untrusted string is escaped with `escape` before it
reaches mrkdwn or the `text` fallback, truncation happens after escaping, and the message keeps
its own budget (50 blocks, 3000 characters a section, about 12k of block text in all), since
slack_sdk does not check those.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.cards.common import (
    ACTION_SUBSCRIBE,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TOTAL_TEXT,
    Message,
    button_value,
    escape,
    host_of,
    link,
    plain,
    reported_by,
    truncate,
)
from bot.cards.corrections import trust_suffix
from bot.confidence import marked_unsure
from bot.models import DateWindow, StoredPosition, Subscription
from bot.query import Topic
from bot.topics import actor_display_name, guarantee_label, party_label
from bot.vocabulary import Guarantee

if TYPE_CHECKING:
    from bot.digest import Changes, Contest, Digest, Shift

# A digest button: value is `button_value(topic words)`; opens the full briefing.
ACTION_OPEN_BRIEFING = "digest_open_briefing"
BLOCK_DIGEST_ACTIONS = "digest_actions"

# Shifts with a side the extractor is unsure of come after the others, under this title.
POSSIBLE_TITLE = "*Possible shifts* · the extractor is unsure of one side: check both quotes"
MAX_EVIDENCE = 280  # characters of a quoted sentence, after escaping
MAX_PER_GUARANTEE = 5  # new positions listed under one guarantee
# Room kept for the closing context line and the button when the budget runs out.
_RESERVED_BLOCKS = 2
_RESERVED_TEXT = 400


def _local(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime("%d %b %H:%M")


def _quote(position: StoredPosition) -> str:
    """“Evidence” — source, date: the sentence escaped, then cut, then linked."""
    sentence = truncate(escape(" ".join(position.evidence.split())), MAX_EVIDENCE)
    source = position.outlet or host_of(position.url) or position.title or "source"
    when = position.published.isoformat() if position.published else "undated"
    more = reported_by(position.outlets) + trust_suffix(position)
    return f"“{sentence}” — {link(position.url, source)}, {when}{more}"


def _who(position: StoredPosition) -> str:
    return (
        f"*{escape(actor_display_name(position.actor))}* "
        f"({escape(party_label(position.party))})"
    )


def _shift_text(shift: Shift) -> str:
    """Who moved from which stance to which, with the evidence for both."""
    by_actor = shift.kind == "actor"
    who = _who(shift.after) if by_actor else f"*{escape(party_label(shift.who))}*"
    lines = [
        f"{who} on *{escape(guarantee_label(shift.guarantee))}*: "
        f"{shift.before.stance} → *{shift.after.stance}*"
    ]
    for word, position in (("before", shift.before), ("now", shift.after)):
        speaker = "" if by_actor else f" ({escape(actor_display_name(position.actor))})"
        lines.append(f">{word}{speaker}: {_quote(position)}")
    return truncate("\n".join(lines), MAX_SECTION_TEXT)


def possible_shift(shift: Shift) -> bool:
    """A shift with a side the extractor is unsure of: more often a misreading than a move,
    so it is told apart from the shifts both of whose quotes are trusted."""
    return marked_unsure(shift.before) or marked_unsure(shift.after)


def shift_count(shifts: Sequence[Shift], separator: str = " · ") -> str:
    """`2 shifts`, `2 shifts · 1 possible`, or `1 possible shift` when the extractor is
    unsure of every one."""
    possible = sum(possible_shift(s) for s in shifts)
    sure = len(shifts) - possible
    if possible and not sure:
        return f"{possible} possible shift{'s' if possible != 1 else ''}"
    told = f"{sure} shift{'s' if sure != 1 else ''}"
    return told + (f"{separator}{possible} possible" if possible else "")


def _new_text(guarantee_name: str, positions: tuple[StoredPosition, ...]) -> str:
    lines = [f"*{escape(guarantee_name)}* · {len(positions)} new"]
    for position in positions[:MAX_PER_GUARANTEE]:
        lines.append(f"• {_who(position)} {position.stance}: {_quote(position)}")
    if len(positions) > MAX_PER_GUARANTEE:
        lines.append(f"_+ {len(positions) - MAX_PER_GUARANTEE} more in the full briefing_")
    return truncate("\n".join(lines), MAX_SECTION_TEXT)


def _contest_text(contests: tuple[Contest, ...]) -> str:
    lines = ["*Contested*"]
    for contest in contests:
        pro = ", ".join(escape(party_label(p)) for p in contest.pro)
        con = ", ".join(escape(party_label(p)) for p in contest.con)
        lines.append(f"• *{escape(guarantee_label(contest.guarantee))}*: for {pro} · against {con}")
    return truncate("\n".join(lines), MAX_SECTION_TEXT)


def _section(text: str, block_id: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text), block_id=block_id)


def _context(text: str, block_id: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)], block_id=block_id)


def _open_button(sub: Subscription) -> ActionsBlock:
    return _open_words_button(" ".join(sub.topic_words))


def _open_words_button(words: str) -> ActionsBlock:
    return ActionsBlock(
        block_id=BLOCK_DIGEST_ACTIONS,
        elements=[
            ButtonElement(
                text=PlainTextObject(text=plain("Open full briefing", MAX_BUTTON_TEXT)),
                action_id=ACTION_OPEN_BRIEFING,
                value=button_value(words),
            )
        ],
    )


def fallback_text(digest: Digest) -> str:
    label = escape(digest.subscription.label)
    if digest.is_empty:
        return truncate(f"Nothing new on {label} since the last digest.", MAX_FALLBACK_TEXT)
    parts = [f"{digest.new_count} new position{'s' if digest.new_count != 1 else ''}"]
    if digest.shifts:
        parts.append(shift_count(digest.shifts, ", "))
    return truncate(f"Daily digest on {label}: {', '.join(parts)}", MAX_FALLBACK_TEXT)


def render_digest(digest: Digest) -> Message:
    """A digest as a Slack message, within Slack's limits whatever the amount of news."""
    sub = digest.subscription
    since = _local(digest.since, sub.zone)
    if digest.is_empty:
        line = f"Nothing new on *{escape(sub.label)}* since {since} ({escape(sub.zone)})."
        return Message(text=fallback_text(digest), blocks=[_section(line, "digest_empty")])

    header = HeaderBlock(
        text=PlainTextObject(text=plain(f"Daily digest: {sub.label}", MAX_HEADER_TEXT)),
        block_id="digest_header",
    )
    summary = (
        f"{digest.local_date.isoformat()} · since {since} ({escape(sub.zone)}) · "
        f"{digest.new_count} new · {shift_count(digest.shifts)}"
    )
    blocks = _content_blocks(header, summary, digest.shifts, digest.contested, digest.new)
    blocks.append(_open_button(sub))
    return Message(text=fallback_text(digest), blocks=blocks)


def _content_blocks(
    header: HeaderBlock,
    summary: str,
    shifts: Sequence[Shift],
    contested: tuple[Contest, ...],
    new: Sequence[tuple[Guarantee, tuple[StoredPosition, ...]]],
) -> list[Block]:
    """Header, summary, shifts, contests and new positions, as many as the budget allows,
    then a line saying how many were left out; room is kept for one closing block."""
    # units placed whole or not at all: a heading travels with its first shift, and when
    # that pair does not fit, the rest of its group stays out too (no heading without shifts)
    units: list[tuple[str, str, tuple[Block, ...]]] = []
    sure = [(i, s) for i, s in enumerate(shifts) if not possible_shift(s)]
    possible = [(i, s) for i, s in enumerate(shifts) if possible_shift(s)]
    for title, block_id, group in (("*Shifts*", "digest_shifts", sure),
                                   (POSSIBLE_TITLE, "digest_possible_shifts", possible)):
        for n, (i, shift) in enumerate(group):
            block = _section(_shift_text(shift), f"digest_shift_{i}")
            first: tuple[Block, ...] = (_section(title, block_id), block) if n == 0 else (block,)
            units.append(("shift", block_id, first))
    if contested:
        units.append(("", "", (_section(_contest_text(contested), "digest_contested"),)))
    for guarantee, positions in new:
        text = _new_text(guarantee_label(guarantee), positions)
        units.append(("new", "", (_section(text, f"digest_new_{guarantee}"),)))

    blocks: list[Block] = [header, _context(summary, "digest_summary")]
    used = len(header.text.text if header.text else "") + len(summary)
    left_out = 0
    dropped: set[str] = set()
    for kind, group_id, unit in units:
        size = sum(_text_size(block) for block in unit)
        room_blocks = len(blocks) + len(unit) <= MAX_BLOCKS - _RESERVED_BLOCKS
        if group_id not in dropped and room_blocks and \
                used + size <= MAX_TOTAL_TEXT - _RESERVED_TEXT:
            blocks.extend(unit)
            used += size
            continue
        if len(unit) > 1:
            dropped.add(group_id)
        if kind:
            left_out += 1
    if left_out:
        more = f"_{left_out} more section{'s' if left_out != 1 else ''} in the full briefing_"
        blocks.append(_context(more, "digest_more"))
    return blocks


def _text_size(block: Block) -> int:
    return len(block.text.text) if isinstance(block, SectionBlock) and block.text else 0


def render_changes(changes: Changes, topic: Topic, window: DateWindow) -> Message:
    """`/guarantees what changed this week`: a digest's content for any window, on demand."""
    when = f"{window.label} ({window.span})"
    label = topic.label if topic.words or topic.filter.stances else "all topics"
    if changes.is_empty:
        line = f"Nothing new on *{escape(label)}* {escape(when)}."
        return Message(
            text=truncate(f"Nothing new on {escape(label)} {escape(when)}.", MAX_FALLBACK_TEXT),
            blocks=[_section(line, "changes_empty")],
        )
    header = HeaderBlock(
        text=PlainTextObject(text=plain(f"What changed: {label}", MAX_HEADER_TEXT)),
        block_id="digest_header",
    )
    count = changes.new_count
    summary = (
        f"{escape(when)} · by publication date · {count} new · {shift_count(changes.shifts)}"
    )
    blocks = _content_blocks(header, summary, changes.shifts, changes.contested, changes.new)
    if topic.words:  # the same button as a digest's: the topic's full card
        blocks.append(_open_words_button(" ".join(topic.words)))
    fallback = (
        f"What changed on {escape(label)} {escape(when)}: {count} new position"
        f"{'s' if count != 1 else ''}, {shift_count(changes.shifts, ', ')}"
    )
    return Message(text=truncate(fallback, MAX_FALLBACK_TEXT), blocks=blocks)


def digest_as_text(digest: Digest) -> str:
    """A digest for a terminal (`python -m bot digest --dry-run`)."""
    sub = digest.subscription
    message = render_digest(digest)
    lines = [f"# channel {sub.channel_id} · {sub.label} · {digest.local_date} {sub.at:%H:%M} "
             f"{sub.zone}"]
    for block in message.to_dict()["blocks"]:
        if block["type"] == "section":
            lines.append(block["text"]["text"])
        elif block["type"] == "header":
            lines.append(block["text"]["text"].upper())
        elif block["type"] == "context":
            lines.extend(element.get("text", "") for element in block["elements"])
    return "\n".join(lines)


# --- answers about subscriptions -------------------------------------------------------------


def _describe(sub: Subscription) -> str:
    text = f"*{escape(sub.label)}* at {sub.at:%H:%M} {escape(sub.zone)}"
    if sub.paused_reason:
        text += f" — _paused: {escape(sub.paused_reason)}_"
    return text


def _simple(text: str, block_id: str) -> Message:
    return Message(text=truncate(text, MAX_FALLBACK_TEXT), blocks=[_section(text, block_id)])


def subscribed_message(
    sub: Subscription, *, created: bool, resumed: bool, user_id: str | None, first: datetime
) -> Message:
    """Confirmation of a subscribe, shown in the channel."""
    by = f" by <@{escape(user_id)}>" if user_id else ""
    verb = "Subscribed" if created else "Updated"
    text = f"{verb}{by}: daily digest on {_describe(sub)}. First one {_local(first, sub.zone)}."
    if resumed:
        text += " Digests had been paused; they start again."
    return _simple(truncate(text, MAX_SECTION_TEXT), "subscription_saved")


def unsubscribed_message(label: str, *, removed: bool, user_id: str | None) -> Message:
    if not removed:
        return _simple(
            f"This channel has no digest on *{escape(label)}*. "
            "`/guarantees subscriptions` lists what it has.",
            "subscription_missing",
        )
    by = f" by <@{escape(user_id)}>" if user_id else ""
    return _simple(f"Unsubscribed{by}: no more digests on *{escape(label)}*.", "subscription_gone")


def subscriptions_message(subs: list[Subscription]) -> Message:
    if not subs:
        return _simple(
            "This channel has no daily digests. Try `/guarantees subscribe ukraine 08:00`.",
            "subscriptions_none",
        )
    lines = ["*Daily digests in this channel*"]
    lines += [f"• {_describe(sub)}" for sub in subs]
    return _simple(truncate("\n".join(lines), MAX_SECTION_TEXT), "subscriptions_list")


def refusal_message() -> Message:
    return _simple(
        "Only the workspace's bot admins can change this channel's digests.",
        "subscription_refused",
    )


def not_in_channel_message() -> Message:
    return _simple("Digests are per channel: run this in the channel that should get them.",
                   "subscription_no_channel")


def pause_notice(sub: Subscription, reason: str) -> Message:
    """Told privately to the subscriber when Slack refused a digest and it was paused."""
    text = (
        f"The daily digest on *{escape(sub.label)}* for <#{escape(sub.channel_id)}> is paused: "
        f"Slack answered `{escape(reason)}`. Invite the app to the channel (or unarchive it), "
        f"then run `/guarantees subscribe {escape(' '.join(sub.topic_words))}` there to resume."
    )
    return _simple(truncate(text, MAX_SECTION_TEXT), "digest_paused")


__all__ = [
    "ACTION_OPEN_BRIEFING",
    "ACTION_SUBSCRIBE",
    "digest_as_text",
    "pause_notice",
    "render_digest",
    "subscribed_message",
    "subscriptions_message",
    "unsubscribed_message",
]
