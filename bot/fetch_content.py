"""What a fetch brings back: the media types we read, the body decoded to text, and `Fetched`.

Only HTML, XML (RSS, Atom) and plain text are read; a body is decoded with its BOM, the
declared charset, or the one its XML declaration or HTML meta names, else sniffed.
`Fetched.kind` tells a feed from an HTML page or plain text by its root element.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Literal

from bot.fetch_errors import BadContent

# Media types we read. Anything else (images, PDFs, archives, JSON) is refused.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/x-rss+xml",
        "application/xml",
        "text/xml",
    }
)
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
ALLOWED_TYPES = FEED_TYPES | HTML_TYPES | TEXT_TYPES


# --- decoding ---------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
# Share of replacement characters tolerated in a body whose declared charset is slightly off.
MAX_BAD_CHAR_SHARE = 0.005


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def sniff_charset(body: bytes, declared: str | None) -> str | None:
    """The charset to decode with: BOM, then HTTP header, then XML declaration or HTML
    meta; None when nothing says."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    header = _codec(declared)
    if header:
        return header
    head = body[:4096]
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return _codec(match.group(1).decode("ascii")) if match else None


def decode_body(body: bytes, declared: str | None) -> str:
    """Text of a body, or `BadContent` when it is binary or cannot be read as text."""
    charset = sniff_charset(body, declared)
    wide = charset is not None and charset.startswith(("utf-16", "utf-32"))
    if not wide and b"\x00" in body[:8192]:
        raise BadContent("binary content, not text")
    if charset:
        try:
            return body.decode(charset)
        except UnicodeDecodeError:
            text = body.decode(charset, errors="replace")
            if text.count("\ufffd") > max(1, len(text) * MAX_BAD_CHAR_SHARE):
                raise BadContent(f"not valid {charset} text") from None
            return text
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes  # a dependency of trafilatura

    best = from_bytes(body[:200_000]).best()
    if best is None or not best.encoding:
        raise BadContent("undeclared charset and not UTF-8 text")
    try:
        return body.decode(best.encoding)
    except (UnicodeDecodeError, LookupError):
        raise BadContent("undeclared charset and not UTF-8 text") from None


# --- documents --------------------------------------------------------------------------

DocumentKind = Literal["feed", "html", "text"]

_PROLOG = re.compile(r"^(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S | re.I)
_ROOT = re.compile(r"<\s*(?:[\w.-]+:)?([\w.-]+)")


def root_element(text: str) -> str | None:
    """The local name of a markup document's first element, lower-cased."""
    rest = text.lstrip("\ufeff")[:65536]
    while True:
        match = _PROLOG.match(rest)
        if not match or not match.group(0):
            break
        rest = rest[match.end() :]
    root = _ROOT.match(rest)
    return root.group(1).lower() if root else None


@dataclass(frozen=True)
class Fetched:
    """A fetched resource: the final URL (after redirects) and the body, capped."""

    url: str
    requested_url: str
    status: int
    media_type: str  # lower-case, "" when the server sent none
    charset: str | None
    body: bytes
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        return decode_body(self.body, self.charset)

    def kind(self, text: str) -> DocumentKind:
        """Feed, HTML page or plain text: by content type, confirmed by the root element."""
        root = root_element(text)
        if root in ("rss", "feed", "rdf"):
            return "feed"
        if self.media_type in TEXT_TYPES or (
            not self.media_type and not text.lstrip().startswith("<")
        ):
            return "text"
        if self.media_type in FEED_TYPES and root not in ("html", None):
            raise BadContent(f"XML document <{root}> is not an RSS or Atom feed")
        return "html"


def split_content_type(header: str | None) -> tuple[str, str | None]:
    """The media type (lower-case, "" when none) and charset of a Content-Type header."""
    if not header:
        return "", None
    parts = [p.strip() for p in header.split(";")]
    charset = None
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return parts[0].lower(), charset
