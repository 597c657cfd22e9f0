"""`history`, `matrix` and `export` answered (issue 9): a timeline card, or a file to share
in the channel (the handler uploads it with `bot.files.share_file`)."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from bot.cards.common import escape
from bot.cards.history import history_message
from bot.cards.messages import notice_message
from bot.export import export_bytes
from bot.files import FileUpload
from bot.history import build_history
from bot.matrix import build_matrix
from bot.query import ExportRequest, HistoryRequest, MatrixRequest, Topic
from bot.replies import CommandContext, Reply

if TYPE_CHECKING:
    from bot.services import Services

# A file for Slack stays small enough to open; the command line exports everything.
SLACK_EXPORT_LIMIT = 100_000


def file_stem(topic: Topic) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", " ".join(topic.words).casefold()).strip("-")
    return words[:60] or "guarantees"


async def matrix_png(services: Services, topic: Topic) -> tuple[bytes, str]:
    """The matrix picture and its caption; drawn in a worker thread (a few hundred ms).
    matplotlib is imported here, on first use, not when the bot starts."""
    from bot.cards.matrix import caption, render_matrix_png

    matrix = await build_matrix(services.store, topic)
    return await asyncio.to_thread(render_matrix_png, matrix), caption(matrix)


async def answer_analyst(
    services: Services, request: HistoryRequest | MatrixRequest | ExportRequest,
    ctx: CommandContext,
) -> Reply:
    if isinstance(request, HistoryRequest):
        history = await build_history(services.store, request.topic)
        return Reply(history_message(history), public=True)
    topic = request.topic
    if not ctx.in_slack:
        what = "matrix ukraine --out m.png" if isinstance(request, MatrixRequest) else (
            "export ukraine --format csv"
        )
        return Reply(notice_message(f"On the command line use `python -m bot {what}`."))
    if isinstance(request, MatrixRequest):
        png, text = await matrix_png(services, topic)
        upload = FileUpload(
            filename=f"matrix-{file_stem(topic)}.png",
            data=png,
            title=f"Stance matrix · {topic.label}",
            comment=f"*Stance matrix · {escape_label(topic)}*\n{text}",
        )
        return Reply(notice_message("Posting the stance matrix…"), upload=upload)
    data, count = await export_bytes(
        services.store, topic.filter, request.format, limit=SLACK_EXPORT_LIMIT
    )
    more = ""
    if count >= SLACK_EXPORT_LIMIT:
        more = " (the first 100,000: the command line exports all)"
    upload = FileUpload(
        filename=f"positions-{file_stem(topic)}.{request.format}",
        data=data,
        title=f"Positions · {topic.label}",
        comment=f"*Positions · {escape_label(topic)}*: {count:,} rows{more}.",
    )
    return Reply(notice_message("Posting the export…"), upload=upload)


def escape_label(topic: Topic) -> str:
    return escape(topic.label)
