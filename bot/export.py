"""The positions behind a card as CSV or JSON Lines, for analysts' own tools.

CSV is made safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab
or a carriage return would be read as a formula (CSV injection), so it gets a leading `'`,
which spreadsheets show as text and do not evaluate. Article text is untrusted: quotes,
titles and URLs all go through this.
"""

from __future__ import annotations

import csv
import io
import json
from typing import IO, TYPE_CHECKING

from bot.models import PositionFilter, StoredPosition

if TYPE_CHECKING:
    from bot.store import Store

COLUMNS = (
    "article_url", "title", "outlet", "published", "actor", "party", "stance", "guarantee",
    "guarantor", "beneficiary", "evidence", "extractor", "corrected_by",
    # added last, so that a reader of the earlier columns by position reads the same
    "confidence",
)
FORMULA_STARTS = frozenset("=+-@\t\r")
FORMATS = ("csv", "jsonl")
# Rows read and written between two awaits: in the bot, the event loop is busy for at most
# this many rows at a time (~30 us each), so acks of other commands are not held up.
SLACK_BATCH = 500


def safe_cell(value: str) -> str:
    """A CSV cell no spreadsheet will run as a formula."""
    return "'" + value if value[:1] in FORMULA_STARTS else value


def _cell(value: str | float | None) -> str:
    if value is None:
        return ""
    return safe_cell(value) if isinstance(value, str) else f"{value:.3f}"


def record(position: StoredPosition) -> dict[str, str | float | None]:
    """One position as an export row. `confidence` is the extractor's (0-1), a number in JSON;
    None (an empty cell) when it gave none or an analyst corrected the position."""
    extractor = position.extractor
    if position.extractor_version:
        extractor += " " + position.extractor_version
    return {
        "article_url": position.url,
        "title": position.title,
        "outlet": position.outlet,
        "published": position.published.isoformat() if position.published else None,
        "actor": position.actor,
        "party": position.party,
        "stance": str(position.stance),
        "guarantee": str(position.guarantee),
        "guarantor": position.guarantor,
        "beneficiary": position.beneficiary,
        "evidence": position.evidence,
        "extractor": extractor,
        "confidence": position.confidence,
        "corrected_by": position.corrected_by,
    }


async def write_export(
    store: Store,
    filter_: PositionFilter,
    out: IO[str],
    fmt: str,
    limit: int | None = None,
    batch: int = 5000,
) -> int:
    """Write every position under the filter (at most `limit`); returns how many."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    written = 0
    async for rows in store.iter_positions(filter_, batch):
        if limit is not None:
            rows = rows[: limit - written]
        for position in rows:
            row = record(position)
            if writer is not None:
                writer.writerow([_cell(row[c]) for c in COLUMNS])
            else:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        written += len(rows)
        if limit is not None and written >= limit:
            break
    return written


async def export_bytes(
    store: Store, filter_: PositionFilter, fmt: str, limit: int | None = None
) -> tuple[bytes, int]:
    """The export as UTF-8 bytes (CSV with a BOM, so spreadsheets read the accents)."""
    buffer = io.StringIO()
    count = await write_export(store, filter_, buffer, fmt, limit, batch=SLACK_BATCH)
    prefix = "\ufeff" if fmt == "csv" else ""
    return (prefix + buffer.getvalue()).encode("utf-8"), count
