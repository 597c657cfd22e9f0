"""Fetching untrusted URLs safely: public addresses only, bounded in time and size.

Every URL the bot fetches (an admin's `/guarantees ingest URL`, a feed, a feed entry's page)
may point anywhere, so `SafeFetcher` refuses, before any byte is sent:

- schemes other than http and https, and URLs carrying credentials;
- hosts whose addresses are not public: loopback, private, link-local, cloud metadata
  (169.254.169.254, fd00:ec2::254, ...), multicast, unspecified, reserved, shared (CGNAT);
  IPv4 addresses embedded in IPv6 (mapped, 6to4, NAT64) are judged as the IPv4 they carry.

Host names are resolved by `SafeResolver`, which the connection pool uses for every new
connection (no DNS cache): it resolves once, refuses the host if any answer is forbidden and
hands the pool exactly the addresses it checked, so a rebinding DNS server cannot swap in
another address between check and connect. Redirects are followed here, one hop at a time
(at most five), each hop checked again, and the address actually connected to (the socket's
peer) is checked once more. Connect and read timeouts plus a total deadline bound the time;
the body is streamed and abandoned as soon as it passes the size cap; only HTML, XML (RSS,
Atom) and plain text are accepted, decoded with the declared or sniffed charset.

With `proxy` (the `FETCH_PROXY` setting) every request goes through that HTTP proxy, which is
trusted: its own address is not checked. The target is still checked here before anything is
sent: its host is resolved and refused when any address is not public, redirects are checked
hop by hop as without a proxy. The proxy then resolves the host again by itself, so a DNS
answer changed in between is the proxy's to refuse: configure it to deny private ranges too.

With `robots` (a `bot.robots.RobotsPolicy`) each hop's URL is checked against its host's
robots.txt first, unless the caller passes `obey_robots=False` (an admin's explicit ingest).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from bot.fetch_address import (
    ForbiddenResolution,
    SafeResolver,
    check_peer,
    check_target,
    check_url,
)
from bot.fetch_content import ALLOWED_TYPES, Fetched, split_content_type
from bot.fetch_errors import (
    BadContent,
    FetchError,
    FetchTimeout,
    ForbiddenAddress,
    ForbiddenURL,
    HTTPStatusError,
    TooLarge,
    TooManyRedirects,
)

if TYPE_CHECKING:
    from bot.robots import RobotsDisallowed, RobotsPolicy
    from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = "guarantees-bot/0.1 (news reader)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class SafeFetcher:
    """Fetches http(s) URLs under the rules of this module. Use as an async context manager;
    one instance (one connection pool) serves many fetches, concurrently."""

    def __init__(
        self,
        *,
        max_bytes: int = 5 * 1024 * 1024,
        timeout: float = 20.0,
        deadline: float | None = None,
        allow_loopback: bool = False,
        max_redirects: int = MAX_REDIRECTS,
        resolver: AbstractResolver | None = None,
        concurrency: int = 8,
        trace_configs: list[aiohttp.TraceConfig] | None = None,
        user_agent: str = USER_AGENT,
        proxy: str | None = None,
        robots: RobotsPolicy | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.deadline = deadline if deadline is not None else 2 * timeout
        self.allow_loopback = allow_loopback
        self.max_redirects = max_redirects
        self._inner_resolver = resolver
        self._concurrency = concurrency
        self._trace_configs = trace_configs
        self._session: aiohttp.ClientSession | None = None
        self.user_agent = user_agent
        self.proxy = proxy
        self.robots = robots

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> SafeFetcher:
        """A fetcher as configured, obeying robots.txt unless `robots=None` is passed."""
        from bot.robots import RobotsPolicy

        proxy = settings.fetch_proxy.get_secret_value() if settings.fetch_proxy else None
        options: dict[str, object] = {
            "max_bytes": settings.fetch_max_bytes,
            "timeout": settings.fetch_timeout_seconds,
            "allow_loopback": settings.fetch_allow_loopback,
            "user_agent": settings.fetch_user_agent,
            "proxy": proxy,
            "robots": RobotsPolicy(settings.fetch_user_agent),
            **overrides,
        }
        return cls(**options)  # type: ignore[arg-type]

    async def __aenter__(self) -> SafeFetcher:
        # Through a proxy the pool only ever connects to the proxy, which is trusted; targets
        # are checked by `check_target` instead.
        resolver: AbstractResolver = (
            self._inner_resolver or aiohttp.ThreadedResolver()
            if self.proxy
            else SafeResolver(allow_loopback=self.allow_loopback, inner=self._inner_resolver)
        )
        connector = aiohttp.TCPConnector(
            resolver=resolver,
            use_dns_cache=False,
            limit=self._concurrency,
            limit_per_host=min(4, self._concurrency),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, connect=self.timeout, sock_connect=self.timeout, sock_read=self.timeout
            ),
            trust_env=False,  # no proxies from the environment: we connect where we checked
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=self._trace_configs,
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: Iterable[str] = (
            "text/html",
            "application/xhtml+xml",
            "application/xml",
            "application/rss+xml",
            "application/atom+xml",
            "text/plain",
        ),
        obey_robots: bool = True,
    ) -> Fetched:
        """Fetch one URL (following redirects), or raise a `FetchError` (`RobotsDisallowed`
        when robots.txt forbids a hop and `obey_robots` is on)."""
        if self._session is None:
            raise RuntimeError("SafeFetcher is used outside `async with`")
        try:
            async with asyncio.timeout(self.deadline):
                return await self._fetch(
                    url, etag, last_modified, ", ".join(accept), obey_robots
                )
        except FetchError:
            raise
        except TimeoutError:
            raise FetchTimeout(f"no complete answer within {self.deadline:g}s") from None
        except aiohttp.ClientConnectorDNSError as exc:
            cause = exc.os_error
            if isinstance(cause, ForbiddenResolution):
                raise ForbiddenAddress(f"refused: {cause.reason}") from None
            raise FetchError("host name does not resolve") from None
        except aiohttp.ClientConnectorError as exc:
            raise FetchError(f"cannot connect ({exc.os_error.strerror or 'refused'})") from None
        except aiohttp.ClientPayloadError:
            raise FetchError("connection broke off mid-answer") from None
        except aiohttp.InvalidURL as exc:
            raise ForbiddenURL(f"invalid URL ({exc})") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"HTTP error ({type(exc).__name__})") from None

    async def robots_verdict(self, url: str) -> RobotsDisallowed | None:
        """Why robots.txt forbids `url` (None: allowed, or no robots policy); for callers that
        fetch anyway and want to say so."""
        if self.robots is None:
            return None
        try:
            target = check_url(url, allow_loopback=self.allow_loopback)
        except FetchError:
            return None  # the fetch itself will say why
        return await self.robots.verdict(self, target)

    async def _fetch(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        accept: str,
        obey_robots: bool = True,
    ) -> Fetched:
        assert self._session is not None
        current = check_url(url, allow_loopback=self.allow_loopback)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(self.max_redirects + 1):
            if self.proxy:
                await check_target(
                    current, allow_loopback=self.allow_loopback, inner=self._inner_resolver
                )
            if obey_robots and self.robots is not None:
                refused = await self.robots.verdict(self, current)
                if refused is not None:
                    raise refused
            async with self._session.get(
                current, headers=headers, allow_redirects=False, proxy=self.proxy
            ) as resp:
                try:
                    if not self.proxy:
                        check_peer(resp, allow_loopback=self.allow_loopback)
                    if resp.status in REDIRECT_STATUSES:
                        current = self._next_hop(current, resp)
                        resp.close()
                        continue
                    return await self._read(url, current, resp)
                except BaseException:
                    resp.close()  # never drain an unwanted body to reuse the connection
                    raise
        raise TooManyRedirects(f"more than {self.max_redirects} redirects")

    def _next_hop(self, current: URL, resp: aiohttp.ClientResponse) -> URL:
        location = resp.headers.get("Location")
        if not location:
            raise FetchError(f"HTTP {resp.status} redirect without a Location")
        try:
            target = current.join(URL(location.strip()))
        except ValueError:
            raise ForbiddenURL("redirect to an invalid URL") from None
        return check_url(target, allow_loopback=self.allow_loopback)

    async def _read(self, requested: str, current: URL, resp: aiohttp.ClientResponse) -> Fetched:
        base = {
            "url": str(current),
            "requested_url": requested,
            "status": resp.status,
            "etag": resp.headers.get("ETag"),
            "last_modified": resp.headers.get("Last-Modified"),
        }
        if resp.status == 304:
            return Fetched(media_type="", charset=None, body=b"", **base)  # type: ignore[arg-type]
        if not 200 <= resp.status < 300:
            raise HTTPStatusError(resp.status)
        media_type, charset = split_content_type(resp.headers.get("Content-Type"))
        if media_type and media_type not in ALLOWED_TYPES:
            raise BadContent(f"unsupported content type {media_type[:60]}")
        announced = resp.content_length
        if announced is not None and announced > self.max_bytes:
            raise TooLarge(f"too large ({announced:,} bytes announced, limit {self.max_bytes:,})")
        body = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > self.max_bytes:
                raise TooLarge(f"too large (over {self.max_bytes:,} bytes, stopped reading)")
        if not body.strip():
            raise BadContent("empty answer")
        return Fetched(media_type=media_type, charset=charset, body=bytes(body), **base)  # type: ignore[arg-type]
