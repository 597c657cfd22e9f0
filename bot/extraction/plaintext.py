"""The text the extractors read, made from copy as it arrives, with the way back to it.

Articles come as they were typed, exported or scraped: lines hard-wrapped at a fixed width
(plain-text wire copy, e-mailed newsletters, text pasted from a PDF), HTML entities left in
(`&#8217;`, a feed's `&amp;quot;`), soft hyphens and zero-width characters inside words,
no-break spaces, carriage returns. Each of these breaks a sentence or a word the lexicons
look for: measured on the dev split, hard wrapping at 72 columns took F1 from 0.645 to
0.467 (BENCHMARKS.md, *Round 13*).

`normalise` makes the text the pipeline reads and keeps, for every character of it, the span
of the original it came from, so that evidence is quoted from the article as it was
(vocabulary.md: evidence is a verbatim sentence of the article).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.entities import html5
from itertools import pairwise

# Removed: they sit inside words ("Ukr<soft hyphen>aine") and split them.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
# Read as a plain space.
_SPACES = "\u00a0\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
# Read as a line break.
_BREAKS = "\u2028\u2029\u0085"
# An entity, possibly encoded more than once ("&amp;#8217;", "&AMP;amp;"): the innermost decides.
_ENTITY = r"&(?i:amp;)*(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_PIECE = re.compile(f"{_ENTITY}|\r\n?|[{_INVISIBLE}{_SPACES}{_BREAKS}]")

# Hard wrapping: enough lines, most of them filling a narrow column.
_MIN_WRAPPED_LINES = 6
_MAX_WRAP_WIDTH = 100
_FULL_SLACK = 15  # a line within this many characters of the width counts as full
_FULL_SHARE = 0.5
_LOWER_SHARE = 0.25
_LONGER_ALLOWED = 2  # lines that may run past the width (a headline, a link)
# A line that starts an item of its own: a bullet, a number, a speaker's turn ("Q:", "Mark
# Rutte:"; capitalised words only, so "Macron said: ..." is no turn).
_LIST_ITEM = re.compile(r"\s*(?:[-*•–—]\s|\d{1,3}[.)]\s|[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}:\s)")


@dataclass(frozen=True)
class PlainText:
    """What the pipeline reads (`text`) and the original it came from."""

    text: str
    original: str
    # for each character of `text`, where it came from in `original` (None: the same place)
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    @property
    def unchanged(self) -> bool:
        return self.text == self.original

    def original_span(self, start: int, end: int) -> str:
        """The original text behind `text[start:end]` (clamped to the text, as slicing is)."""
        start, end = max(start, 0), min(end, len(self.text))
        if self.starts is None or self.ends is None or end <= start:
            return self.original[start:end] if self.starts is None else ""
        return self.original[self.starts[start]:self.ends[end - 1]]

    def restore(self, evidence: str) -> str:
        """A sentence quoted from `text`, as the original has it (itself when not found)."""
        if self.unchanged:
            return evidence
        at = self.text.find(evidence)
        if at < 0 or not evidence:
            return evidence
        return self.original_span(at, at + len(evidence))


def normalise(original: str) -> PlainText:
    """The text the extractors read: entities decoded, invisible characters dropped, odd
    spaces and line breaks made plain, hard-wrapped lines joined."""
    starts: list[int] | None = None
    ends: list[int] | None = None
    text = original
    if _PIECE.search(original) is not None:
        text, piece_starts, piece_ends = _replace_pieces(original)
        starts, ends = list(piece_starts), list(piece_ends)
    joins = unwrap_breaks(text)
    if not joins:
        if starts is None or ends is None:
            return PlainText(original, original)
        return PlainText(text, original, tuple(starts), tuple(ends))
    if starts is None or ends is None:
        starts = list(range(len(text)))
        ends = [i + 1 for i in starts]
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    last = 0
    for at, replacement in joins:
        out.append(text[last:at] + replacement)
        new_starts.extend(starts[last:at] + [starts[at]] * len(replacement))
        new_ends.extend(ends[last:at] + [ends[at]] * len(replacement))
        last = at + 1
    out.append(text[last:])
    new_starts.extend(starts[last:])
    new_ends.extend(ends[last:])
    return PlainText("".join(out), original, tuple(new_starts), tuple(new_ends))


def _plain(decoded: str) -> str:
    """A decoded entity read like the same character typed (`&nbsp;` a space, `&shy;`
    nothing, `&#13;` a line break)."""
    return "".join("" if c in _INVISIBLE else " " if c in _SPACES else
                   "\n" if c in _BREAKS or c == "\r" else c for c in decoded)


def _decode(piece: str) -> str | None:
    """The text an entity stands for, or None for a name HTML does not know exactly."""
    body = piece[1:]
    while body[:4].lower() == "amp;" and len(body) > 4:
        body = body[4:]  # "&amp;#8217;" was "&#8217;" encoded once more
    if body[0] != "#" and body not in html5:
        return None  # "&ampersand;" is no entity, though "&amp" opens it
    return _plain(html.unescape("&" + body))


def _replace_pieces(original: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    for match in _PIECE.finditer(original):
        start, end = match.span()
        out.append(original[at:start])
        starts.extend(range(at, start))
        ends.extend(range(at + 1, start + 1))
        piece = match.group()
        replacement: str | None
        if piece[0] == "&":
            replacement = _decode(piece)
            if replacement is None:  # kept as written
                out.append(piece)
                starts.extend(range(start, end))
                ends.extend(range(start + 1, end + 1))
                at = end
                continue
        elif piece[0] == "\r" or piece in _BREAKS:
            replacement = "\n"
        elif piece in _SPACES:
            replacement = " "
        else:
            replacement = ""
        out.append(replacement)
        starts.extend([start] * len(replacement))
        ends.extend([end] * len(replacement))
        at = end
    out.append(original[at:])
    starts.extend(range(at, len(original)))
    ends.extend(range(at + 1, len(original) + 1))
    return "".join(out), tuple(starts), tuple(ends)


def wrap_width(lines: list[str]) -> int | None:
    """The column the text was hard-wrapped at, or None when it does not look wrapped: at
    least six lines; the width is the third-longest line's (a headline or a link may run
    past it), at most 100 characters; half the lines end within 15 characters of it; and a
    quarter of the lines that follow another go on in lower case."""
    lengths = sorted((len(line.rstrip()) for line in lines if line.strip()), reverse=True)
    if len(lengths) < _MIN_WRAPPED_LINES:
        return None
    width = lengths[_LONGER_ALLOWED]
    if width > _MAX_WRAP_WIDTH:
        return None
    full = sum(1 for n in lengths if width - _FULL_SLACK <= n <= width)
    if full < _FULL_SHARE * len(lengths):
        return None
    # wrapping breaks sentences: many lines go on in lower case ("... said\nthe minister");
    # a list of items, a crawl or a transcript, each line its own, almost never does
    breaks = [(a, b.lstrip()) for a, b in pairwise(lines) if a.strip() and b.strip()]
    lower = sum(1 for _, b in breaks if b[0].islower())
    return width if breaks and lower >= _LOWER_SHARE * len(breaks) else None


def unwrap_breaks(text: str) -> list[tuple[int, str]]:
    """Where hard-wrapped text's line breaks are the wrapping's, not the writer's, and what
    each becomes: a space, or nothing after a word broken at its hyphen ("peace-" then
    "keeping"). A break is the wrapping's where the next line's first word would not have
    fitted on the line. Blank lines, short lines, list items and speakers' turns stay where
    they are, and so does the first line (perhaps a headline) unless the next goes on in
    lower case."""
    if "\n" not in text:
        return []
    lines = text.split("\n")
    width = wrap_width(lines)
    if width is None:
        return []
    out: list[tuple[int, str]] = []
    at = 0
    for number, (line, following) in enumerate(pairwise(lines)):
        at += len(line)  # the break after `line`
        body = line.rstrip()
        nxt = following.lstrip()
        # the first line may be a headline longer than the column: it runs on only into lower case
        opening = number == 0 and not nxt[:1].islower()
        if body and nxt and not opening and not _LIST_ITEM.match(following):
            first_word = nxt.split(" ", 1)[0]
            if len(body) + 1 + len(first_word) > width:
                broken_word = body.endswith("-") and body[-2:-1].isalpha() and nxt[0].isalpha()
                out.append((at, "" if broken_word and line == body else " "))
        at += 1
    return out


def unwrap(text: str) -> str:
    """Hard-wrapped text with its lines joined into their paragraphs (`unwrap_breaks`)."""
    return normalise(text).text if unwrap_breaks(text) else text
