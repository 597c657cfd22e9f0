"""robots.txt for everything the bot fetches on its own (feeds and their articles).

Read the way Google documents it, with Protego (Scrapy's parser: `*` and `$` wildcards, the
longest matching rule wins, the most specific user-agent group applies) and fetched through
the same `SafeFetcher` as the page itself, so the SSRF checks cover robots.txt too. Outcomes
of fetching `/robots.txt`, cached per origin (scheme, host, port):

- 2xx: the rules, for `ROBOTS_TTL` (Google caches up to a day);
- 4xx other than 429, a body that is not text, too large or empty: no rules, everything
  allowed (as for Google; an unreadable robots.txt is not a ban);
- 429, 5xx, a timeout or a broken connection: everything disallowed for `ROBOTS_ERROR_TTL`,
  then asked again. Google does the same at first; we keep it simple and never fall back to
  an older copy. A feed entry refused this way is retried at the next poll;
- a host whose address is refused (not public): no verdict here; the page's own fetch is
  refused with the clearer reason.

An admin's explicit `ingest URL` (Slack or the command line) is fetched even when robots.txt
disallows it, and the answer says so (`bot.feeds.ingest_urls`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from protego import Protego
from yarl import URL

from bot.fetch_errors import FetchError, FetchTimeout, ForbiddenAddress, HTTPStatusError

if TYPE_CHECKING:
    from bot.fetch import SafeFetcher

log = logging.getLogger(__name__)

ROBOTS_TTL = 24 * 3600.0
ROBOTS_ERROR_TTL = 30 * 60.0
MAX_HOSTS = 2048  # origins remembered; the oldest is forgotten first
MAX_ROBOTS_CHARS = 500 * 1024  # Google reads the first 500 KiB


class RobotsDisallowed(FetchError):
    """robots.txt does not let us fetch this URL; `temporary` when that is because the
    robots.txt itself could not be fetched (5xx, 429, timeout), so a later try may pass."""

    def __init__(self, reason: str, *, temporary: bool = False) -> None:
        super().__init__(reason)
        self.temporary = temporary


@dataclass(frozen=True)
class _Rules:
    parser: Protego | None  # None: everything allowed
    expires: float
    unreachable: str | None = None  # set: everything disallowed, for this reason

    def verdict(self, url: URL, user_agent: str) -> RobotsDisallowed | None:
        if self.unreachable is not None:
            return RobotsDisallowed(
                f"robots.txt of {url.host} unavailable ({self.unreachable})",
                temporary=True,
            )
        if self.parser is None or self.parser.can_fetch(str(url), user_agent):
            return None
        return RobotsDisallowed(f"robots.txt of {url.host} disallows {url.path or '/'}")


def origin_of(url: URL) -> str:
    return f"{url.scheme}://{url.host}:{url.port}"


class RobotsPolicy:
    """Per-origin robots.txt verdicts, cached; one instance lives as long as its fetcher."""

    def __init__(
        self,
        user_agent: str,
        *,
        ttl: float = ROBOTS_TTL,
        error_ttl: float = ROBOTS_ERROR_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_hosts: int = MAX_HOSTS,
    ) -> None:
        self.user_agent = user_agent
        self.ttl = ttl
        self.error_ttl = error_ttl
        self.clock = clock
        self.max_hosts = max_hosts
        self._rules: OrderedDict[str, _Rules] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    async def verdict(self, fetcher: SafeFetcher, url: URL) -> RobotsDisallowed | None:
        """None when `url` may be fetched, else why not."""
        if url.path == "/robots.txt":
            return None
        rules = await self._rules_for(fetcher, url)
        return rules.verdict(url, self.user_agent) if rules is not None else None

    async def _rules_for(self, fetcher: SafeFetcher, url: URL) -> _Rules | None:
        key = origin_of(url)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        # One fetch of robots.txt per host at a time: the others wait and read the cache.
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                cached = self._fresh(key)
                if cached is not None:
                    return cached
                rules = await self._fetch_rules(fetcher, url)
                if rules is not None:
                    self._remember(key, rules)
                return rules
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    def _fresh(self, key: str) -> _Rules | None:
        cached = self._rules.get(key)
        return cached if cached is not None and cached.expires > self.clock() else None

    def _remember(self, key: str, rules: _Rules) -> None:
        self._rules[key] = rules
        self._rules.move_to_end(key)
        while len(self._rules) > self.max_hosts:
            self._rules.popitem(last=False)

    async def _fetch_rules(self, fetcher: SafeFetcher, url: URL) -> _Rules | None:
        robots_url = url.with_path("/robots.txt").with_query(None).with_fragment(None)
        now = self.clock()
        try:
            doc = await fetcher.fetch(
                str(robots_url), accept=("text/plain",), obey_robots=False
            )
            text = doc.text()[:MAX_ROBOTS_CHARS]
        except ForbiddenAddress:
            return None
        except HTTPStatusError as error:
            if error.status == 429 or error.status >= 500:
                log.info(
                    "robots.txt of %s: HTTP %d, host treated as disallowed", url.host, error.status
                )
                return _Rules(None, now + self.error_ttl, unreachable=f"HTTP {error.status}")
            return _Rules(None, now + self.ttl)  # 4xx: no robots.txt, everything allowed
        except FetchTimeout:
            return _Rules(None, now + self.error_ttl, unreachable="timed out")
        except FetchError as error:
            if type(error) is FetchError:  # connection refused, broken off, no DNS answer
                return _Rules(None, now + self.error_ttl, unreachable=error.reason)
            # Too large, not text, empty, too many redirects: unreadable, so no rules.
            log.info("robots.txt of %s unreadable (%s): everything allowed", url.host, error.reason)
            return _Rules(None, now + self.ttl)
        try:
            parser = Protego.parse(text)
        except Exception as exc:  # a parser bug must not stop fetching; Google allows then
            log.info("robots.txt of %s unparsable (%s): everything allowed", url.host, exc)
            return _Rules(None, now + self.ttl)
        return _Rules(parser, now + self.ttl)
