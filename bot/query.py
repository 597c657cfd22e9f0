"""`/guarantees ...` text to a typed request.

CONTRACT (types fixed; the parser is implemented by the owner of the command grammar):
every request kind below is what the rest of the bot consumes. `parse_command` never raises
anything but `UserError`, whose message is shown only to the person who typed the command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from bot.models import DateWindow, PositionFilter
from bot.vocabulary import Guarantee, Stance

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

    def for_team(self, team: str | None) -> Topic:
        """The same topic read with a workspace's corrections (`PositionFilter.team`)."""
        return Topic(self.words, self.label, replace(self.filter, team=team))


@dataclass(frozen=True)
class HelpRequest:
    pass


@dataclass(frozen=True)
class BriefingRequest:
    """A card. `topic.filter.stances` narrows to stance words (`who opposes peacekeepers`),
    `window` to publication dates (`ukraine this week`)."""

    topic: Topic
    window: DateWindow | None = None
    # Other readings of ambiguous words (`eu`, `nato`), tried in order when this one is empty.
    alternatives: tuple[Topic, ...] = ()
    # Nearby topics (one phrase left out), offered when no reading has positions.
    nearby: tuple[Topic, ...] = ()
    # The question in canonical words (`ukraine opposes since 2026-01-01`), for buttons.
    question: str = ""


@dataclass(frozen=True)
class CompareRequest:
    """`compare france italy`: parties side by side, one row per guarantee."""

    parties: tuple[str, ...]  # two to four party codes, in the order typed
    guarantees: frozenset[Guarantee] = frozenset()  # empty: every guarantee
    stances: frozenset[Stance] = frozenset()
    window: DateWindow | None = None
    team: str | None = None  # whose corrections apply (`PositionFilter.team`)


@dataclass(frozen=True)
class ChangesRequest:
    """`what changed this week`: the shifts and new positions of a window, as a digest says."""

    topic: Topic
    window: DateWindow


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


def for_team(request: Request, team: str | None) -> Request:
    """The request with every topic it reads scoped to a workspace's corrections (`team`:
    the workspace, when it has corrections; None: the shared corpus)."""
    if team is None:
        return request
    if isinstance(request, BriefingRequest):
        return replace(
            request,
            topic=request.topic.for_team(team),
            alternatives=tuple(t.for_team(team) for t in request.alternatives),
            nearby=tuple(t.for_team(team) for t in request.nearby),
        )
    if isinstance(request, CompareRequest):
        return replace(request, team=team)
    if isinstance(request, ChangesRequest | HistoryRequest | MatrixRequest | ExportRequest):
        return replace(request, topic=request.topic.for_team(team))
    return request


Request = (
    HelpRequest
    | BriefingRequest
    | SubscribeRequest
    | UnsubscribeRequest
    | ListSubscriptionsRequest
    | IngestRequest
    | CompareRequest
    | ChangesRequest
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

# `subscribe ukraine quiet`: skip the digest on days with nothing new.
QUIET_WORDS = frozenset({"quiet", "--quiet"})

# A Slack entity: <@U123>, <#C123|general>, <!channel>, <https://x|label>.
_TOKEN = re.compile(r"<[^<>]*>|\S+")
_TIME_LIKE = re.compile(r"\d[\d:.h]*(?:am|pm)?", re.IGNORECASE)
_HH_MM = re.compile(r"(\d{1,2})(?:[:.h](\d{2}))?\s*(am|pm)?", re.IGNORECASE)


@dataclass(frozen=True)
class ParseContext:
    """What a command is read against: the topic words the store knows, and the day it is in
    the digest time zone (time windows count back from it)."""

    index: TopicIndex
    today: date


Subcommand = Callable[[list[str], ParseContext], "Request"]


def _help(rest: list[str], ctx: ParseContext) -> Request:
    return HelpRequest()


def _subscribe(rest: list[str], ctx: ParseContext) -> Request:
    quiet = [t for t in rest if t.casefold() in QUIET_WORDS]
    topic_tokens, at, zone = _split_schedule([t for t in rest if t not in quiet])
    if not topic_tokens:
        raise UserError(
            "Say what to subscribe to, for example `subscribe ukraine 08:00 Europe/Kyiv`."
        )
    return SubscribeRequest(_topic(topic_tokens, ctx.index), at, zone, quiet=bool(quiet))


def _unsubscribe(rest: list[str], ctx: ParseContext) -> Request:
    if not rest:
        raise UserError("Say which topic to unsubscribe from: `unsubscribe ukraine`.")
    return UnsubscribeRequest(_topic(rest, ctx.index, lenient=True))


def _subscriptions(rest: list[str], ctx: ParseContext) -> Request:
    return ListSubscriptionsRequest()


def _ingest(rest: list[str], ctx: ParseContext) -> Request:
    return IngestRequest(_urls(rest))


# The first word of a command picks one of these; anything else is a question
# (`bot.questions`: a topic with stance and time words, `compare`, `what changed`).
# To add a subcommand, add a function here; its name is typed as it is, and extra words for
# it go under [commands] in bot/data/questions.toml.
SUBCOMMANDS: dict[str, Subcommand] = {
    "help": _help,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "subscriptions": _subscriptions,
    "ingest": _ingest,
    "history": lambda rest, ctx: _analyst_request("history", rest, ctx.index),
    "matrix": lambda rest, ctx: _analyst_request("matrix", rest, ctx.index),
    "export": lambda rest, ctx: _analyst_request("export", rest, ctx.index),
}


def subcommand_for(word: str) -> Subcommand | None:
    """The subcommand a first word names, by its name or one of its words in the TOML."""
    from bot.questions import question_words

    word = word.casefold()
    found = SUBCOMMANDS.get(word)
    if found is not None:
        return found
    name = question_words().commands.get(word)
    return SUBCOMMANDS.get(name) if name else None


def local_today(now: datetime | None, zone: str) -> date:
    """The date in `zone` at `now` (default: the current time)."""
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date()


def parse_command(
    text: str, index: TopicIndex, *, now: datetime | None = None, zone: str = "UTC"
) -> Request:
    """`/guarantees` text (after the command) to a request. Raises only `UserError`.

    Grammar: a subcommand of `SUBCOMMANDS` (`help` | `subscribe TOPIC [HH:MM] [Area/City]
    [quiet]` | `unsubscribe TOPIC` | `subscriptions` | `ingest URL...` | `history PARTY
    [GUARANTEE]` | `matrix TOPIC` | `export TOPIC [csv|json]`), else a question
    (`bot.questions`); nothing at all is help. Time words count from `now` in `zone` (the
    digest time zone), so the same text and `now` always give the same request.
    """
    text = text if isinstance(text, str) else ""
    if len(text) > MAX_COMMAND_CHARS:
        raise UserError("That is too long for a command: try `/guarantees help`.")
    tokens = _TOKEN.findall(text)
    if not tokens:
        return HelpRequest()
    ctx = ParseContext(index, local_today(now, zone))
    handler = subcommand_for(tokens[0])
    if handler is not None:
        return handler(tokens[1:], ctx)
    from bot.questions import parse_question

    return parse_question(text, tokens, ctx)


EXPORT_FORMATS = {"csv": "csv", "json": "jsonl", "jsonl": "jsonl"}


def _analyst_request(
    head: str, rest: list[str], index: TopicIndex
) -> HistoryRequest | MatrixRequest | ExportRequest:
    """`history PARTY [guarantee]`, `matrix TOPIC`, `export TOPIC [csv|json]`."""
    rest = list(rest)
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
