"""Reading a feed: RSS or Atom bytes we fetched into `ParsedFeed` entries, and URL normalising.

`parse_feed` refuses documents that declare XML entities (a defusedxml check), then lets
feedparser read the rest (it never fetches anything itself). Each entry gets a key (its
GUID, scoped to the feed's host unless it is a URL or URN, else its link), a normalised link
(`normalise_url`: no fragment or tracking parameters), plain-text title and summary, and a date.
"""

from __future__ import annotations

import contextlib
import html
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.ingest import clean_text

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.I)


class FeedProblem(Exception):
    """A feed could not be read; `reason` is one short line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FeedEntry:
    """One feed item, as much as we need of it."""

    key: str  # the GUID (scoped to the feed's host unless it is a URL or URN), else the link
    url: str | None
    title: str
    summary: str
    published: date | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    warning: str | None = None  # set when the XML was malformed but entries could be read


# --- URLs -----------------------------------------------------------------------------


def normalise_url(url: str | None) -> str | None:
    """A link as compared and stored: fragment and tracking parameters dropped, scheme and
    host lower-cased. None for anything that is not http(s)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        ]
    )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def loggable(url: str) -> str:
    """A URL fit for a log line: no credentials, and no query (private feed URLs often
    carry a token there)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    host = (parts.hostname or "") + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + ("?…" if parts.query else "")


# --- feed parsing -----------------------------------------------------------------------

_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)["'][^"']*["']""")
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|li|h\d|blockquote)\s*>|<br\s*/?>", re.I)


def _utf8_xml(text: str) -> bytes:
    """The decoded feed as UTF-8 bytes whose XML declaration says so."""
    text = text.lstrip("\ufeff")
    return _XML_DECL_ENCODING.sub(r'\1"utf-8"', text, count=1).encode("utf-8")


def _refuse_entities(data: bytes) -> None:
    """Refuse feeds that declare entities or reference external ones (billion laughs,
    XXE). Malformed XML passes here: feedparser's lenient parser gets its chance."""
    from xml.etree.ElementTree import ParseError

    import defusedxml  # type: ignore[import-untyped]
    import defusedxml.ElementTree  # type: ignore[import-untyped]

    try:
        defusedxml.ElementTree.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise FeedProblem("feed declares XML entities (refused: entity expansion)") from None
    except (ParseError, ValueError):
        if re.search(rb"<!ENTITY", data[:65536], re.I):
            raise FeedProblem("feed declares XML entities (refused: entity expansion)") from None


def html_to_text(fragment: str) -> str:
    """Plain text of an (already sanitised) HTML fragment from a feed."""
    text = _BLOCK_END.sub("\n", fragment)
    return clean_text(html.unescape(_TAG.sub(" ", text)))


def _entry_date(entry: Any) -> date | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        moment = entry.get(field)
        if moment:
            with contextlib.suppress(TypeError, ValueError):
                return date(moment.tm_year, moment.tm_mon, moment.tm_mday)
    return None


def _entry_key(guid: str | None, link: str | None, host: str) -> str | None:
    if guid and guid.strip():
        guid = guid.strip()
        # A GUID that is not a URL or URN ("1234") is only unique within its site.
        return guid if ":" in guid else f"{host}#{guid}"
    return link


def parse_feed(text: str, base_url: str) -> ParsedFeed:
    """Entries of an RSS or Atom document, or `FeedProblem` with one line saying why not."""
    import feedparser  # type: ignore[import-untyped]

    data = _utf8_xml(text)
    _refuse_entities(data)
    # A file-like object: feedparser treats a str or bytes argument as a URL or file name.
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": base_url,
        },
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    reason = None
    if parsed.get("bozo"):
        error = parsed.get("bozo_exception")
        reason = str(getattr(error, "getMessage", lambda: error)())[:120] or "malformed XML"
    if not parsed.get("version") and not parsed.entries:
        if reason:
            raise FeedProblem(f"malformed feed ({reason})")
        raise FeedProblem("not an RSS or Atom feed")
    host = (urlsplit(base_url).hostname or "").removeprefix("www.")
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for item in parsed.entries:
        link = normalise_url(item.get("link"))
        key = _entry_key(item.get("id"), link, host)
        if key is None or key in seen:
            continue
        seen.add(key)
        content = item.get("content") or []
        body = content[0].get("value", "") if content else item.get("summary", "")
        entries.append(
            FeedEntry(
                key=key,
                url=link,
                title=html_to_text(item.get("title", ""))[:300],
                summary=html_to_text(body or ""),
                published=_entry_date(item),
            )
        )
    title = html_to_text(parsed.feed.get("title", "")) or host
    if not entries:
        if reason:
            raise FeedProblem(f"malformed feed ({reason})")
        raise FeedProblem("empty feed (no entries)")
    warning = f"malformed feed read leniently ({reason})" if reason else None
    return ParsedFeed(title=title, entries=entries, warning=warning)
