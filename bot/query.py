"""`/guarantees ...` text to a typed request.

CONTRACT (types fixed; the parser is implemented by the owner of the command grammar):
every request kind below is what the rest of the bot consumes. `parse_command` never raises
anything but `UserError`, whose message is shown only to the person who typed the command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

from bot.models import PositionFilter


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


@dataclass(frozen=True)
class UnsubscribeRequest:
    topic: Topic


@dataclass(frozen=True)
class ListSubscriptionsRequest:
    pass


@dataclass(frozen=True)
class IngestRequest:
    urls: tuple[str, ...]


Request = (
    HelpRequest
    | BriefingRequest
    | SubscribeRequest
    | UnsubscribeRequest
    | ListSubscriptionsRequest
    | IngestRequest
)
