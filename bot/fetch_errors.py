"""The errors a fetch raises: `FetchError` and its kinds, each with a one-line `reason`.

Kept apart from `bot.fetch` so the address checks (`bot.fetch_address`), the body decoding
(`bot.fetch_content`) and robots.txt (`bot.robots`) can raise them without importing the
fetcher.
"""

from __future__ import annotations


class FetchError(Exception):
    """A URL could not be fetched; `reason` is one short line for a report or a log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ForbiddenURL(FetchError):
    """The URL itself is refused: scheme, credentials, no host."""


class ForbiddenAddress(FetchError):
    """The host is, or resolves to, an address that is not public."""


class TooLarge(FetchError):
    """The body passed the size cap (announced or while streaming)."""


class FetchTimeout(FetchError):
    """No answer, or no complete answer, in time."""


class BadContent(FetchError):
    """The body is not a type we read, not text, or not decodable."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class TooManyRedirects(FetchError):
    """More than `bot.fetch.MAX_REDIRECTS` hops."""
