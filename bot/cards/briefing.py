"""The briefing card: a `Briefing` as Block Kit, within Slack's limits whatever the store holds.

Layout: a header with the topic, a context line (positions, sources, last update, contested
count), one section per guarantee (stance lines, contested marker, freshest quote with its
link and date, a "Show all evidence" button), and a "Subscribe" button.

Every string that came from an article (actors, quotes, outlets, URLs) is escaped before it is
placed in mrkdwn; lengths are cut after escaping, never inside an entity, with "and N more"
where a list runs out of room.
"""

from __future__ import annotations

from datetime import date

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.briefing import Briefing, GuaranteeBriefing, Holder, StanceLine, StanceShift
from bot.cards.common import (
    ACTION_MATRIX,
    ACTION_SHOW_EVIDENCE,
    ACTION_SUBSCRIBE,
    BLOCK_BRIEFING_ACTIONS,
    BLOCK_CORRECT_PREFIX,
    BLOCK_GUARANTEE_PREFIX,
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    MAX_TOTAL_TEXT,
    Message,
    block_text_length,
    button_value,
    escape,
    found_by_mark,
    host_of,
    link,
    plain,
    reported_by,
    truncate,
)
from bot.cards.corrections import POSSIBLE_SHIFT_MARK, correction_overflow, trust_suffix
from bot.cards.evidence import OVERFLOW_TEXT
from bot.models import StoredPosition
from bot.vocabulary import Stance

STANCE_LABELS = {
    Stance.SEEKS: "Seeks",
    Stance.BACKS: "Backs",
    Stance.OPPOSES: "Opposes",
    Stance.DOUBTS: "Doubts",
}
CONTESTED_MARK = "⚠️ *Contested*"
EVIDENCE_BUTTON = "Show all evidence"
SUBSCRIBE_BUTTON = "Subscribe to a daily digest"
MATRIX_BUTTON = "Stance matrix (picture)"
# Room kept aside for the header, context line, buttons and JSON-free slack in the total.
FIXED_TEXT_RESERVE = 900
MAX_QUOTE = 600  # characters of escaped quote on the card; the evidence view has it all
ACTORS_PER_HOLDER = 3


def briefing_message(briefing: Briefing) -> Message:
    """The card for a briefing; an empty briefing gets a short "nothing known yet" card."""
    topic = briefing.topic
    words = " ".join(topic.words)
    # The evidence button carries the whole question (stances, window) so it shows the same
    # positions; the subscribe button only the topic (a digest has its own window).
    question = briefing.question or words
    header = HeaderBlock(text=plain(f"Security guarantees · {topic.label}", MAX_HEADER_TEXT))
    subscribe = ActionsBlock(
        block_id=BLOCK_BRIEFING_ACTIONS,
        elements=[
            ButtonElement(
                text=SUBSCRIBE_BUTTON,
                action_id=ACTION_SUBSCRIBE,
                value=button_value(words),
            ),
            ButtonElement(text=MATRIX_BUTTON, action_id=ACTION_MATRIX, value=button_value(words)),
        ],
    )
    closing: list[Block] = [subscribe] if words else []
    if briefing.is_empty:
        when = f" {escape(briefing.window.label)}" if briefing.window else ""
        text = (
            f"Nothing is known yet about *{escape(topic.label)}*{when}. Articles are added as"
            " they are ingested; try `/guarantees ukraine`, or `/guarantees help` for more."
        )
        blocks: list[Block] = [header, SectionBlock(text=MarkdownTextObject(text=text))]
        notes = _notes(briefing)
        if notes:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=notes)]))
        blocks += closing
        fallback = f"Nothing is known yet about {escape(topic.label)}{when}."
        return Message(text=truncate(fallback, MAX_FALLBACK_TEXT), blocks=blocks, model=briefing)

    context = ContextBlock(elements=[MarkdownTextObject(text=context_line(briefing))])
    # Sections share what the total allows after the fixed parts, each at most 3000.
    budget = MAX_TOTAL_TEXT - FIXED_TEXT_RESERVE
    room_for_sections = (MAX_BLOCKS - 3) // 2  # a section and its correction menu each
    shown = briefing.guarantees[:room_for_sections]
    sections: list[Block] = []
    for i, section in enumerate(shown):
        share = min(MAX_SECTION_TEXT, budget // (len(shown) - i) - OVERFLOW_TEXT)
        text = guarantee_text(section, share)
        budget -= len(text) + len(EVIDENCE_BUTTON) + OVERFLOW_TEXT
        sections.append(
            SectionBlock(
                block_id=f"{BLOCK_GUARANTEE_PREFIX}{section.guarantee}",
                text=MarkdownTextObject(text=text),
                accessory=ButtonElement(
                    text=EVIDENCE_BUTTON,
                    action_id=ACTION_SHOW_EVIDENCE,
                    value=button_value(question, str(section.guarantee)),
                ),
            )
        )
        if section.latest is not None:
            sections.append(
                ActionsBlock(
                    block_id=f"{BLOCK_CORRECT_PREFIX}{section.guarantee}",
                    elements=[correction_overflow(section.latest)],
                )
            )
    blocks = [header, context, *sections, *closing]
    # A last guard: should the estimate above ever be off, drop sections rather than fail.
    while (
        block_text_length([b.to_dict() for b in blocks]) > MAX_TOTAL_TEXT
        and len(blocks) > 2 + len(closing) + 1
    ):
        blocks.pop(-1 - len(closing))
    return Message(text=fallback_text(briefing), blocks=blocks, model=briefing)


def _notes(briefing: Briefing) -> str:
    """How the question was read and, when nothing matched, a nearby question that has
    positions; both written by us from vocabulary labels, escaped all the same."""
    parts = []
    if briefing.read_as:
        parts.append(f"Read as: *{escape(briefing.read_as)}*")
    if briefing.suggestion:
        parts.append(f"Try `/guarantees {escape(briefing.suggestion)}`")
    return truncate(" · ".join(parts), MAX_SECTION_TEXT)


def context_line(briefing: Briefing) -> str:
    parts = []
    if briefing.read_as:
        parts.append(f"Read as: *{escape(briefing.read_as)}*")
    if briefing.window:
        parts.append(f"{escape(briefing.window.label)} ({briefing.window.span})")
    parts += [
        f"*{briefing.positions:,}* position{_s(briefing.positions)} from"
        f" *{_sources(briefing)}* source{_s(briefing.sources)}",
        f"last update {_date(briefing.last_update)}",
    ]
    contested = len(briefing.contested)
    if contested:
        parts.append(f"⚠️ {contested} contested")
    return " · ".join(parts)


def _sources(briefing: Briefing) -> str:
    return f"{briefing.sources:,}{'+' if briefing.sources_at_least else ''}"


def fallback_text(briefing: Briefing) -> str:
    """The notification text: topic, counts and which guarantees are contested, escaped."""
    text = (
        f"Security guarantees · {escape(briefing.topic.label)}: {briefing.positions}"
        f" position{_s(briefing.positions)} from {_sources(briefing)}"
        f" source{_s(briefing.sources)}"
    )
    contested = [escape(g.label) for g in briefing.contested]
    if contested:
        text += "; contested: " + ", ".join(contested)
    return truncate(text + ".", MAX_FALLBACK_TEXT)


def guarantee_text(section: GuaranteeBriefing, limit: int) -> str:
    """One guarantee's mrkdwn: title, stance lines and the freshest quote, within `limit`."""
    title = f"*{escape(section.label)}*"
    if not section.hard:
        title += " _(soft guarantee)_"
    if section.contested:
        title += f"  {CONTESTED_MARK}"
    title = truncate(title, limit)
    quote = quote_text(section.latest, min(MAX_QUOTE + 200, (limit - len(title)) // 2))
    room = limit - len(title) - (len(quote) + 1 if quote else 0)
    shifted = [shift_text(shift) for shift in section.shifts[:MAX_SHIFT_LINES]]
    shifted = [line for line in shifted if len(line) < room // 6]
    room -= sum(len(line) + 1 for line in shifted)
    lines: list[str] = []
    for i, line in enumerate(section.stances):
        share = (room - sum(len(x) + 1 for x in lines)) // (len(section.stances) - i) - 1
        lines.append(stance_line(line, share))
    text = "\n".join(
        [title, *(line for line in lines if line), *shifted, *([quote] if quote else [])]
    )
    return truncate(text, limit)


PAST = {
    Stance.SEEKS: "sought",
    Stance.BACKS: "backed",
    Stance.OPPOSES: "opposed",
    Stance.DOUBTS: "doubted",
}
MAX_SHIFT_LINES = 3


def shift_text(shift: StanceShift) -> str:
    """`↪ United States backs since 7 Jan 2026, opposed before`, marked when possible only."""
    since = f"{shift.since.day} {shift.since:%b %Y}" if shift.since else "lately"
    mark = f" · {POSSIBLE_SHIFT_MARK}" if shift.possible else ""
    return (f"↪ _{escape(shift.name)} {shift.stance} since {since}, "
            f"{PAST[shift.before]} before_{mark}")


def stance_line(line: StanceLine, limit: int) -> str:
    """`*Seeks:* Ukraine (Zelensky, officials), Europe and 3 more`, within `limit`."""
    lead = f"*{STANCE_LABELS[line.stance]}:* "
    if limit <= len(lead) + 1:
        return ""
    text = lead
    for i, holder in enumerate(line.holders):
        piece = (", " if i else "") + holder_text(holder)
        rest = len(line.holders) - i - 1
        reserve = len(f" and {rest} more") if rest else 0
        if len(text) + len(piece) + reserve <= limit:
            text += piece
            continue
        if i == 0:  # not even one whole holder fits: cut it, entity-safe
            return truncate(text + piece, limit)
        more = f" and {len(line.holders) - i} more"
        return text + more if len(text) + len(more) <= limit else truncate(text, limit)
    return text


def holder_text(holder: Holder) -> str:
    """`Ukraine (Zelensky, officials +2)`, escaped."""
    text = escape(holder.name)
    names = [escape(name) for name in holder.actors[:ACTORS_PER_HOLDER]]
    extra = len(holder.actors) - len(names) + holder.more_actors
    if names:
        text += " (" + ", ".join(names) + (f" +{extra}" if extra > 0 else "") + ")"
    elif extra > 0:
        text += f" ({extra} actor{_s(extra)})"
    return text + (" _earlier_" if holder.earlier else "")


def quote_text(position: StoredPosition | None, limit: int) -> str:
    """The freshest evidence as a blockquote with `<url|outlet>` and date, within `limit`."""
    if position is None or limit < 40:
        return ""
    outlet = position.outlet or host_of(position.url) or position.title or "source"
    outlet = " ".join(outlet.split())[:80]
    more = reported_by(position.outlets) + found_by_mark(position.found_by)
    source = f"> — {link(position.url, outlet)}, {_date(position.published)}{more}"
    if len(source) > limit // 2:  # an absurd URL: keep the outlet, drop the link
        source = f"> — {truncate(escape(outlet), 80)}, {_date(position.published)}{more}"
    source += trust_suffix(position)  # after the choice: a mark never costs the link
    evidence = escape(" ".join(position.evidence.split()))
    room = min(MAX_QUOTE, limit - len(source) - 6)
    if room < 20:
        return source if len(source) <= limit else ""
    return f"> “{truncate(evidence, room)}”\n{source}"


def _date(day: date | None) -> str:
    return day.isoformat() if day else "undated"


def _s(count: int) -> str:
    return "" if count == 1 else "s"

