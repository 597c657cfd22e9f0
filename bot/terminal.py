"""`python -m bot ask`: a reply laid out for a terminal with rich.

A briefing is drawn from its view model (panels and tables: one panel per guarantee, a row
per stance, the freshest quote with its source and date). Any other reply (help, an error, a
notice) is drawn from its blocks, with mrkdwn turned into plain styled text. Article text
only ever enters rich as `Text` (never as markup) with control characters removed, so an
article cannot restyle or take over the terminal.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.briefing import STANCE_ORDER, Briefing, GuaranteeBriefing, Holder
from bot.cards.briefing import STANCE_LABELS, context_line
from bot.cards.common import host_of, reported_by
from bot.cards.corrections import POSSIBLE_SHIFT_MARK, trust_suffix
from bot.replies import Reply

STANCE_STYLES = {"seeks": "cyan", "backs": "green", "opposes": "red", "doubts": "yellow"}
MAX_TERMINAL_QUOTE = 500
_LINK = re.compile(r"<([^<>|]+)\|([^<>]*)>|<([^<>]+)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")


def clean(text: str) -> str:
    """Drop control characters (escape sequences, bells) but keep newlines."""
    return "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in {"Cc", "Cf"}
    )


def print_reply(reply: Reply, console: Console | None = None) -> None:
    """Print a reply: a briefing as panels and tables, anything else from its blocks."""
    console = console or Console()
    model = reply.message.model
    if isinstance(model, Briefing):
        console.print(render_briefing(model))
    else:
        console.print(render_blocks(reply.message.to_dict()["blocks"]))


def render_briefing(briefing: Briefing) -> RenderableType:
    title = Text(clean(f"Security guarantees · {briefing.topic.label}"), style="bold")
    if briefing.is_empty:
        body = Text(clean(f"Nothing is known yet about {briefing.topic.label}."))
        if briefing.read_as:
            body.append(clean(f"\nRead as: {briefing.read_as}"), style="dim")
        if briefing.suggestion:
            body.append(clean(f"\nTry: /guarantees {briefing.suggestion}"), style="dim")
        return Panel(body, title=title, title_align="left")
    parts: list[RenderableType] = [
        Text(from_mrkdwn(context_line(briefing)).plain, style="dim"),
        *(render_guarantee(g) for g in briefing.guarantees),
    ]
    return Panel(Group(*parts), title=title, title_align="left")


def render_guarantee(section: GuaranteeBriefing) -> RenderableType:
    title = Text(section.label, style="bold")
    if not section.hard:
        title.append(" (soft)", style="dim")
    if section.contested:
        title.append("  ⚠ contested", style="bold red")
    table = Table(show_header=False, box=None, padding=(0, 1), expand=True)
    table.add_column("stance", no_wrap=True, width=8)
    table.add_column("who", ratio=1)
    for stance in STANCE_ORDER:  # only stances someone holds, as on the Slack card
        line = section.line(stance)
        if line is None:
            continue
        who = Text(clean(", ".join(holder_label(h) for h in line.holders)))
        table.add_row(Text(STANCE_LABELS[stance], style=STANCE_STYLES[str(stance)]), who)
    parts: list[RenderableType] = [table]
    for shift in section.shifts:
        since = shift.since.isoformat() if shift.since else "lately"
        parts.append(
            Text(clean(f"↪ {shift.name} {shift.stance} since {since}, {shift.before} before"
                       + (f" · {POSSIBLE_SHIFT_MARK}" if shift.possible else "")),
                 style="yellow")
        )
    latest = section.latest
    if latest is not None:
        quote = clean(" ".join(latest.evidence.split()))
        if len(quote) > MAX_TERMINAL_QUOTE:
            quote = quote[: MAX_TERMINAL_QUOTE - 1] + "…"
        outlet = latest.outlet or host_of(latest.url) or latest.title
        day = latest.published.isoformat() if latest.published else "undated"
        marks = reported_by(latest.outlets) + trust_suffix(latest)  # checked or unsure
        source = Text(clean(f"— {outlet}, {day}{marks}"), style="dim")
        if latest.url:
            source.append(" " + clean(latest.url), style="dim underline")
        parts += [Text(f"“{quote}”", style="italic"), source]
    count = f"{section.positions} position{'' if section.positions == 1 else 's'}"
    return Panel(Group(*parts), title=title, title_align="left", subtitle=count)


def holder_label(holder: Holder) -> str:
    """`Ukraine (Zelensky, officials)`, or `(Trump +12)` when actors were only counted."""
    names = ", ".join(holder.actors)
    if holder.more_actors:
        names = f"{names} +{holder.more_actors}" if names else f"{holder.more_actors} actors"
    label = f"{holder.name} ({names})" if names else holder.name
    return label + (" earlier" if holder.earlier else "")


def from_mrkdwn(text: str) -> Text:
    """Slack mrkdwn to rich Text: links as "label (url)", *bold*, entities decoded."""

    def unlink(match: re.Match[str]) -> str:
        url, label, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None:
            return bare.lstrip("#@!")
        return f"{label} ({url})" if label != url else url

    plain = clean(_LINK.sub(unlink, text))
    out = Text()
    last = 0
    for match in _BOLD.finditer(plain):
        out.append(html.unescape(plain[last : match.start()]))
        out.append(html.unescape(match.group(1)), style="bold")
        last = match.end()
    out.append(html.unescape(plain[last:]))
    return out


def render_blocks(blocks: list[dict[str, Any]]) -> RenderableType:
    """Any message's blocks, roughly as Slack shows them."""
    parts: list[RenderableType] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            parts.append(Text(clean(block["text"]["text"]), style="bold"))
        elif kind == "section" and "text" in block:
            parts.append(from_mrkdwn(block["text"]["text"]))
            for field in block.get("fields", []):  # side by side: one field per party
                parts.append(Text("  ").append_text(from_mrkdwn(field.get("text", ""))))
        elif kind == "context":
            line = " ".join(e.get("text", "") for e in block.get("elements", []))
            parts.append(Text(from_mrkdwn(line).plain, style="dim"))
        elif kind == "divider":
            parts.append(Text("─" * 40, style="dim"))
    return Group(*parts)
