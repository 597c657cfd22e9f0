"""`/guarantees ...` text to a typed request.

CONTRACT (types fixed; the parser is implemented by the owner of the command grammar):
every request kind below is what the rest of the bot consumes. `parse_command` never raises
anything but `UserError`, whose message is shown only to the person who typed the command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from bot.models import PositionFilter

if TYPE_CHECKING:
    from bot.topics import TopicIndex


class UserError(Exception):
    """Something the user typed that we cannot act on; answered only to them, calmly."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.suggestions = suggestions


@dataclass(frozen=True)
class Topic:
    """What the user asked about: the words typed, a readable label, and the filter."""

    words: tuple[str, ...]
    label: str
    filter: PositionFilter = field(default_factory=PositionFilter)


@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class BriefingRequest:
    topic: Topic


@dataclass(frozen=True)
class SubscribeRequest:
    topic: Topic
    at: time | None = None  # None: DIGEST_TIME
    zone: str | None = None  # None: DIGEST_TIMEZONE
    quiet: bool = False  # no message at all on a day with nothing new


@dataclass(frozen=True)
class UnsubscribeRequest:
    topic: Topic


@dataclass(frozen=True)
class ListSubscriptionsRequest:
    pass


@dataclass(frozen=True)
class IngestRequest:
    urls: tuple[str, ...]


@dataclass(frozen=True)
class HistoryRequest:
    """`history usa [guarantee]`: a party's stances over time (issue 9)."""

    topic: Topic  # the party is `topic.filter.parties[0]`; at most one guarantee


@dataclass(frozen=True)
class MatrixRequest:
    """`matrix ukraine`: the stance matrix of a topic as a picture (issue 9)."""

    topic: Topic


@dataclass(frozen=True)
class ExportRequest:
    """`export ukraine [csv|json]`: the positions behind a card as a file (issue 9)."""

    topic: Topic
    format: str = "csv"  # "csv" or "jsonl"


Request = (
    HelpRequest
    | BriefingRequest
    | SubscribeRequest
    | UnsubscribeRequest
    | ListSubscriptionsRequest
    | IngestRequest
    | HistoryRequest
    | MatrixRequest
    | ExportRequest
)


# --- the parser ---------------------------------------------------------------------------

# Longer than any sensible command (ten URLs of a few hundred characters each).
MAX_COMMAND_CHARS = 4000
MAX_TOPIC_WORDS = 10
MAX_TOPIC_CHARS = 200
MAX_INGEST_URLS = 10
MAX_URL_CHARS = 2000

HELP_WORDS = frozenset({"help", "?", "-h", "--help", "usage"})
# `subscribe ukraine quiet`: skip the digest on days with nothing new.
QUIET_WORDS = frozenset({"quiet", "--quiet"})
LIST_WORDS = frozenset({"subscriptions", "list"})

# A Slack entity: <@U123>, <#C123|general>, <!channel>, <https://x|label>.
_TOKEN = re.compile(r"<[^<>]*>|\S+")
_TIME_LIKE = re.compile(r"\d[\d:.h]*(?:am|pm)?", re.IGNORECASE)
_HH_MM = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?", re.IGNORECASE)


def parse_command(text: str, index: TopicIndex) -> Request:
    """`/guarantees` text (after the command) to a request. Raises only `UserError`.

    Grammar: `help` | `subscribe TOPIC [HH:MM] [Area/City] [quiet]` | `unsubscribe TOPIC` |
    `subscriptions` | `ingest URL...` | `history PARTY [GUARANTEE]` | `matrix TOPIC` |
    `export TOPIC [csv|json]` | `TOPIC` (a briefing); nothing at all is help.
    """
    text = text if isinstance(text, str) else ""
    if len(text) > MAX_COMMAND_CHARS:
        raise UserError("That is too long for a command: try `/guarantees help`.")
    tokens = _TOKEN.findall(text)
    if not tokens:
        return HelpRequest()
    head, rest = tokens[0].casefold(), tokens[1:]
    if head in HELP_WORDS:
        return HelpRequest()
    if head == "subscribe":
        quiet = [t for t in rest if t.casefold() in QUIET_WORDS]
        topic_tokens, at, zone = _split_schedule([t for t in rest if t not in quiet])
        if not topic_tokens:
            raise UserError(
                "Say what to subscribe to, for example `subscribe ukraine 08:00 Europe/Kyiv`."
            )
        return SubscribeRequest(_topic(topic_tokens, index), at, zone, quiet=bool(quiet))
    if head == "unsubscribe":
        if not rest:
            raise UserError("Say which topic to unsubscribe from: `unsubscribe ukraine`.")
        return UnsubscribeRequest(_topic(rest, index, lenient=True))
    if head in LIST_WORDS:
        return ListSubscriptionsRequest()
    if head == "ingest":
        return IngestRequest(_urls(rest))
    if head in ANALYST_WORDS:
        return _analyst_request(head, rest, index)
    return BriefingRequest(_topic(tokens, index))


ANALYST_WORDS = frozenset({"history", "matrix", "export"})
EXPORT_FORMATS = {"csv": "csv", "json": "jsonl", "jsonl": "jsonl"}


def _analyst_request(
    head: str, rest: list[str], index: TopicIndex
) -> HistoryRequest | MatrixRequest | ExportRequest:
    """`history PARTY [guarantee]`, `matrix TOPIC`, `export TOPIC [csv|json]`."""
    if head == "export":
        fmt = "csv"
        if rest and rest[-1].casefold() in EXPORT_FORMATS:
            fmt = EXPORT_FORMATS[rest.pop().casefold()]
        if not rest:
            raise UserError("Say what to export: `export ukraine csv` or `export ukraine json`.")
        return ExportRequest(_topic(rest, index), fmt)
    if not rest:
        example = "history usa` or `history usa peacekeepers" if head == "history" else (
            "matrix ukraine"
        )
        raise UserError(f"Say which one: `{example}`.")
    topic = _topic(rest, index)
    if head == "matrix":
        return MatrixRequest(topic)
    if len(topic.filter.parties) != 1 or len(topic.filter.guarantees) > 1 or topic.filter.held_by:
        raise UserError(
            "Name one party and at most one guarantee: `history usa` or"
            " `history usa peacekeepers`."
        )
    return HistoryRequest(topic)


def _topic(tokens: list[str], index: TopicIndex, *, lenient: bool = False) -> Topic:
    """Topic tokens to a Topic. `lenient` (unsubscribe) keeps words no longer understood so a
    subscription can always be removed."""
    if any(token.startswith("<") or "<" in token or ">" in token for token in tokens):
        raise UserError(
            "Mentions, channels and links are not topics: name a party, a person or a"
            " guarantee, for example `ukraine`."
        )
    if len(tokens) > MAX_TOPIC_WORDS or sum(len(t) for t in tokens) > MAX_TOPIC_CHARS:
        raise UserError(
            f"A topic is a few words (at most {MAX_TOPIC_WORDS}), for example `trump peacekeepers`."
        )
    try:
        return index.resolve(tokens)
    except UserError:
        from bot.topics import normalise

        words = tuple(normalise(" ".join(tokens)).split())
        if not lenient or not words:
            raise
        return Topic(words=words, label=" ".join(words))


def _split_schedule(tokens: list[str]) -> tuple[list[str], time | None, str | None]:
    """Take a time of day and an IANA zone (either order) off the end of `subscribe` words."""
    tokens = list(tokens)
    at: time | None = None
    zone: str | None = None
    for _ in range(2):
        if not tokens:
            break
        last = tokens[-1]
        if zone is None and ("/" in last or last.casefold() in {"utc", "gmt"}):
            zone = _zone(last)
        elif at is None and _TIME_LIKE.fullmatch(last):
            at = _time_of_day(last)
        else:
            break
        tokens.pop()
    return tokens, at, zone


def _time_of_day(token: str) -> time:
    bad = UserError(f"“{token[:20]}” is not a time of day: use HH:MM, for example 08:00.")
    match = _HH_MM.fullmatch(token)
    if not match:
        raise bad
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    meridiem = (match.group(3) or "").casefold()
    if meridiem:
        if not 1 <= hour <= 12:
            raise bad
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    elif match.group(2) is None:
        raise bad  # a bare number is too ambiguous to schedule
    if hour > 23 or minute > 59:
        raise bad
    return time(hour, minute)


@cache
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def _zone(token: str) -> str:
    if token.casefold() in {"utc", "gmt"}:
        return "UTC"
    name = _zones().get(token.casefold())
    if name is None:
        raise UserError(
            f"“{token[:40]}” is not a time zone I know: use an IANA name such as Europe/Kyiv."
        )
    return name


def _urls(tokens: list[str]) -> tuple[str, ...]:
    """URLs as typed or as Slack wraps them (`<https://x>`, `<https://x|x>`), checked."""
    if not tokens:
        raise UserError("Give one or more article or feed URLs: `ingest https://example.com/a`.")
    urls: list[str] = []
    for token in tokens:
        url = token[1:-1].split("|", 1)[0] if token.startswith("<") else token
        shown = url if len(url) <= 60 else url[:59] + "…"
        try:
            parsed = urlsplit(url) if len(url) <= MAX_URL_CHARS else None
        except ValueError:  # "http://[::1" and friends
            parsed = None
        if (
            parsed is None
            or parsed.scheme.casefold() not in {"http", "https"}
            or not parsed.hostname
            or any(ch.isspace() or ord(ch) < 32 for ch in url)
        ):
            raise UserError(f"“{shown}” is not an http(s) URL.")
        if url not in urls:
            urls.append(url)
    if len(urls) > MAX_INGEST_URLS:
        raise UserError(f"At most {MAX_INGEST_URLS} URLs at a time.")
    return tuple(urls)
