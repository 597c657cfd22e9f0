"""Short private answers: usage, a command not understood, an ingest result, a notice."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.cards.common import MAX_FALLBACK_TEXT, MAX_SECTION_TEXT, Message, escape, truncate

HELP_TEXT = (
    "*`/guarantees TOPIC`* — who seeks, backs, opposes or doubts each security guarantee"
    " behind a Ukraine ceasefire, posted in the channel.\n"
    "A topic is a party, a person or a guarantee, or a few of them:"
    " `ukraine`, `trump`, `peacekeepers`, `ukraine nato`, `ukraine usa`, `trump peacekeepers`."
)
HELP_QUESTIONS = (
    "*Ask as you would a colleague* (stance words, time words, `?` are all fine):\n"
    "`/guarantees who opposes peacekeepers` — only that stance"
    " (also `backs`, `supports`, `seeks`, `wants`, `doubts`, `sceptical`)\n"
    "`/guarantees where does italy stand on troops?` — the same as `italy peacekeepers`\n"
    "`/guarantees ukraine this week` — published in a window: `today`, `yesterday`,"
    " `last 7 days`, `since 2026-01-01`, `since monday`, `in january`\n"
    "`/guarantees what changed this week` or `changes ukraine` — shifts and new positions,"
    " as a digest tells them\n"
    "`/guarantees compare france italy` — two to four parties side by side, the latest"
    " stance of each with its quote\n"
    "`/guarantees hungary eu` — a word that is a party and a guarantee is read the way that"
    " has positions; the card says how it was read"
)
HELP_COMMANDS = (
    "`/guarantees subscribe ukraine [08:00] [Europe/Kyiv] [quiet]` — a daily digest in this"
    " channel (`quiet`: no message on days with nothing new)\n"
    "`/guarantees unsubscribe ukraine` — stop it\n"
    "`/guarantees subscriptions` — this channel's digests\n"
    "`/guarantees ingest URL` — admins: add an article or a feed\n"
    "`/guarantees history usa [peacekeepers]` — a party's stances over time, each change with"
    " its quote\n"
    "`/guarantees matrix ukraine` — who stands where, as a picture in this channel\n"
    "`/guarantees export ukraine [csv|json]` — the positions behind the card, as a file\n"
    "The ⋯ menu on a quote corrects it: the stance, the party, or not a position\n"
    "`/guarantees help` — this message, only to you"
)
HELP_GUARANTEES = (
    "Guarantees: `security` (guarantees, backstop, Article 5) · `membership` (NATO) ·"
    " `peacekeepers` · `army` (Ukraine's own forces) · `air`/`sea` · `dmz` ·"
    " `accession` (EU) · `minerals` (economic stake)"
)
MAX_PROBLEMS_SHOWN = 10


def help_message() -> Message:
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=HELP_TEXT)),
        SectionBlock(text=MarkdownTextObject(text=HELP_QUESTIONS)),
        SectionBlock(text=MarkdownTextObject(text=HELP_COMMANDS)),
        ContextBlock(elements=[MarkdownTextObject(text=HELP_GUARANTEES)]),
    ]
    return Message(
        text="/guarantees TOPIC: who seeks, backs, opposes or doubts each guarantee."
        " Try /guarantees ukraine.",
        blocks=blocks,
    )


def error_message(message: str, suggestions: Sequence[str] = ()) -> Message:
    """A command not understood: the reason, and the closest known topics to try."""
    text = f"⚠️ {escape(message)}"
    if suggestions:
        text += "\nClosest topics: " + ", ".join(
            f"`{escape(s)}`" for s in list(suggestions)[:5]
        )
    text = truncate(text, MAX_SECTION_TEXT)
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ContextBlock(elements=[MarkdownTextObject(text="`/guarantees help` shows what I know.")]),
    ]
    return Message(text=truncate(text, MAX_FALLBACK_TEXT), blocks=blocks)


def notice_message(text: str) -> Message:
    """A one-line private notice. `text` is trusted mrkdwn written by us, not by an article."""
    text = truncate(text, MAX_SECTION_TEXT)
    return Message(text=text, blocks=[SectionBlock(text=MarkdownTextObject(text=text))])


def ingest_message(
    summary: str, problems: Sequence[object], notes: Sequence[str] = ()
) -> Message:
    """What an ingest did, with the URLs that could not be used and why (escaped), and notes
    such as a robots.txt overridden at an admin's request."""
    text = f"*Ingest:* {escape(summary)}"
    shown = [f"• {escape(str(problem))}" for problem in list(problems)[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        shown.append(f"and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if shown:
        problem_text = truncate("*Skipped:*\n" + "\n".join(shown), MAX_SECTION_TEXT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=problem_text)))
    noted = [f"• {escape(note)}" for note in list(notes)[:MAX_PROBLEMS_SHOWN]]
    fallback = f"Ingest: {escape(summary)}"
    if noted:
        note_text = truncate("*Note:*\n" + "\n".join(noted), MAX_SECTION_TEXT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=note_text)))
        fallback += " " + " ".join(escape(note) for note in notes)
    return Message(text=truncate(fallback, MAX_FALLBACK_TEXT), blocks=blocks)
