"""Sources to articles: files and folders (`.txt`, `.html`, `.jsonl` gold format).

Reading never raises for a bad file: each problem becomes one `IngestProblem` line and the
rest of the batch goes on (`read_file_guarded` turns even an unexpected error into one).
URLs and feeds are fetched by `bot.fetch` / `bot.feeds` and handed to the same
`articles_from_html` so a page is read the same way wherever it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bot.models import Article

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 5 * 1024 * 1024
SUPPORTED_SUFFIXES = (".txt", ".html", ".htm", ".jsonl")
MIN_ARTICLE_CHARS = 40


@dataclass(frozen=True)
class IngestProblem:
    """One input that could not be read, with a one-line reason."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


ReadResult = Article | IngestProblem


def article_id_for(url: str | None, text: str) -> str:
    """A stable id: from the URL when there is one, else from the text."""
    basis = url if url else text
    return "a-" + hashlib.blake2b(basis.encode(), digest_size=8).hexdigest()


def outlet_from_url(url: str | None) -> str | None:
    if not url:
        return None
    host = urlparse(url).hostname or ""
    return host.removeprefix("www.") or None


def parse_date(value: object) -> date | None:
    """ISO dates and datetimes; anything else is treated as unknown."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def iter_files(paths: Iterable[Path]) -> Iterator[Path | IngestProblem]:
    """Expand folders (recursively, sorted) into the supported files they hold."""
    for path in paths:
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
            )
            if not found:
                yield IngestProblem(str(path), "folder holds no .txt, .html or .jsonl files")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield IngestProblem(str(path), "no such file or folder")


def read_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Iterator[ReadResult]:
    """Articles of one file, or one problem per thing that went wrong."""
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = suffix or "(none)"
        yield IngestProblem(where, f"unsupported file type {kind}; use .txt, .html or .jsonl")
        return
    try:
        size = path.stat().st_size
        if size > max_bytes:
            limit = f"limit {max_bytes / 1e6:.0f} MB"
            yield IngestProblem(where, f"too large ({size / 1e6:.1f} MB, {limit})")
            return
        raw = path.read_bytes()
    except OSError as exc:
        yield IngestProblem(where, f"cannot read: {exc.strerror or exc}")
        return
    if not raw.strip():
        yield IngestProblem(where, "empty file")
        return
    if b"\x00" in raw[:8192]:
        yield IngestProblem(where, "binary file, not text")
        return
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield IngestProblem(where, f"not UTF-8 (bad byte at offset {exc.start})")
        return
    if suffix == ".jsonl":
        yield from articles_from_jsonl(text, where)
    elif suffix in (".html", ".htm"):
        yield articles_from_html(text, where, url=None)
    else:
        yield article_from_txt(text, where)


def article_from_txt(text: str, where: str) -> ReadResult:
    """A plain-text article: the first non-empty line is the title."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return IngestProblem(where, "empty file")
    body = "\n".join(lines)
    if len(body) < MIN_ARTICLE_CHARS:
        return IngestProblem(where, "too short to be an article")
    return Article(
        id=article_id_for(None, body), title=lines[0][:300], text=body, source=where
    )


def articles_from_html(
    html: str, where: str, url: str | None, guid: str | None = None
) -> ReadResult:
    """The main text of a web page, via trafilatura; a page with no article is a problem."""
    # Imported lazily: trafilatura is slow to import and only pages need it.
    import trafilatura
    from trafilatura.settings import set_date_params

    try:
        extracted = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            # The extensive date search calls dateparser: ~0.1 s a page, for little gain.
            date_extraction_params=set_date_params(extensive=False),
        )
    except Exception as exc:  # trafilatura raises many kinds on hostile markup
        log.debug("trafilatura failed on %s", where, exc_info=True)
        return IngestProblem(where, f"could not parse the page ({type(exc).__name__})")
    if extracted is None:
        return IngestProblem(where, "page holds no article text")
    fields: dict[str, Any] = (
        extracted.as_dict() if hasattr(extracted, "as_dict") else dict(extracted)
    )
    text = (fields.get("text") or "").strip()
    if len(text) < MIN_ARTICLE_CHARS:
        return IngestProblem(where, "page holds no article text")
    title = (fields.get("title") or "").strip() or text.splitlines()[0][:300]
    page_url = url or fields.get("url") or None
    if not text.startswith(title):
        text = f"{title}\n{text}"
    return Article(
        id=article_id_for(page_url, text),
        title=title[:300],
        text=text,
        url=page_url,
        outlet=(fields.get("sitename") or outlet_from_url(page_url)),
        published=parse_date(fields.get("date")),
        source=where,
        guid=guid,
    )


def articles_from_jsonl(text: str, where: str) -> Iterator[ReadResult]:
    """Articles of a gold-format JSON Lines file; each bad line is its own problem."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        here = f"{where}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield IngestProblem(here, f"malformed JSON ({exc.msg})")
            continue
        yield article_from_record(record, here)


def record_title(record: dict[str, Any], body: str) -> str:
    """A gold-format record's title, or its text's first line where it has none."""
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        title = body.strip().splitlines()[0]
    return title.strip()[:300]


def article_from_record(record: object, where: str) -> ReadResult:
    """One gold-format record (only id, title, text, url, published, source are used)."""
    if not isinstance(record, dict):
        return IngestProblem(where, "a line must be a JSON object")
    body = record.get("text")
    if not isinstance(body, str) or len(body.strip()) < MIN_ARTICLE_CHARS:
        return IngestProblem(where, "no article text in field 'text'")
    url = record.get("url") if isinstance(record.get("url"), str) else None
    record_id = record.get("id")
    return Article(
        id=str(record_id) if record_id else article_id_for(url, body),
        title=record_title(record, body),
        text=body,
        url=url,
        outlet=outlet_from_url(url),
        published=parse_date(record.get("published")),
        source=where.rsplit(":", 1)[0],
    )


def read_paths(paths: Iterable[Path], max_bytes: int = MAX_FILE_BYTES) -> Iterator[ReadResult]:
    """Every article (or problem) under the given files and folders."""
    for item in iter_files(paths):
        if isinstance(item, IngestProblem):
            yield item
        else:
            yield from read_file_guarded(item, max_bytes)


def read_file_guarded(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Iterator[ReadResult]:
    """`read_file`, where any unexpected error (a missing optional module, a parser bug)
    becomes one problem naming the file and the batch goes on; the traceback is logged at
    DEBUG only. Articles read before the error are kept."""
    try:
        yield from read_file(path, max_bytes)
    except Exception as exc:  # one bad file must never stop the batch
        log.debug("reading %s failed", path, exc_info=True)
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        reason = f"unexpected error ({type(exc).__name__}{': ' + detail if detail else ''})"
        yield IngestProblem(str(path), reason)


_SPACES = re.compile(r"[ \t]+")


def clean_text(text: str) -> str:
    """Collapse runs of spaces; keep line breaks, which separate headlines and paragraphs."""
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()
