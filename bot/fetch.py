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
import codecs
import ipaddress
import logging
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

if TYPE_CHECKING:
    from bot.robots import RobotsDisallowed, RobotsPolicy
    from bot.settings import Settings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 5
USER_AGENT = "guarantees-bot/0.1 (news reader)"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

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

# Cloud metadata and similar host-only services. Most sit in ranges refused anyway
# (link-local, unique-local, shared); they are named so the refusal says what they are.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle instance metadata
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.123",  # AWS time sync
        "169.254.169.253",  # AWS DNS
        "fd00:ec2::254",  # AWS instance metadata over IPv6
        "fd00:ec2::253",  # AWS DNS over IPv6
        "100.100.100.200",  # Alibaba Cloud metadata
        "168.63.129.16",  # Azure wire server (a public address, reachable only from Azure)
    )
)
NAT64_NETWORKS = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
)


# --- errors ------------------------------------------------------------------------------


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
    """More than `MAX_REDIRECTS` hops."""


class _ForbiddenResolution(OSError):
    """Raised inside aiohttp's connector (which only passes OSError on, wrapped); unwrapped
    back into `ForbiddenAddress` by the fetcher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- address and URL checks ---------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in NAT64_NETWORKS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str | IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why this address must not be fetched from, or None when it is public.

    `allow_loopback` (tests only) lets 127.0.0.0/8 and ::1 through; metadata, private and
    every other non-public range stay refused.
    """
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return f"not an IP address: {address!r}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_problem(embedded, allow_loopback=allow_loopback)
    if ip in METADATA_ADDRESSES:
        return f"cloud metadata address {ip}"
    if ip.is_loopback:
        return None if allow_loopback else f"loopback address {ip}"
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    for failed, kind in checks:
        if failed:
            return f"{kind} address {ip}"
    return None


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str | URL, *, allow_loopback: bool = False) -> URL:
    """The URL parsed and checked: http(s), a host, no credentials, and when the host is an
    IP literal, a public one. Host names are checked when resolved (`SafeResolver`)."""
    try:
        parsed = url if isinstance(url, URL) else URL(url.strip())
    except (ValueError, TypeError) as exc:
        raise ForbiddenURL(f"not a valid URL ({exc})") from None
    scheme = (parsed.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise ForbiddenURL(f"only http and https URLs are fetched, not {scheme or 'no scheme'}")
    if not parsed.host:
        raise ForbiddenURL("URL has no host")
    if parsed.user is not None or parsed.password is not None:
        raise ForbiddenURL("URLs with credentials are not fetched")
    literal = _ip_literal(parsed.host)
    if literal is not None:
        problem = address_problem(literal, allow_loopback=allow_loopback)
        if problem:
            raise ForbiddenAddress(f"refused {problem}")
    return parsed.with_fragment(None)


class SafeResolver(AbstractResolver):
    """A resolver that only ever returns public addresses: if any answer for a host is
    forbidden, the whole host is refused (a mixed answer is a red flag, not a fallback)."""

    def __init__(
        self, *, allow_loopback: bool = False, inner: AbstractResolver | None = None
    ) -> None:
        self.allow_loopback = allow_loopback
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if not answers:
            raise _ForbiddenResolution(f"{host.rstrip('.')} has no address")
        for answer in answers:
            problem = address_problem(answer["host"], allow_loopback=self.allow_loopback)
            if problem:
                raise _ForbiddenResolution(f"{host.rstrip('.')} resolves to a {problem}")
        return answers

    async def close(self) -> None:
        await self._inner.close()


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


# --- the fetcher --------------------------------------------------------------------------


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    parts = [p.strip() for p in header.split(";")]
    charset = None
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return parts[0].lower(), charset


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
        # are checked by `_check_target` instead.
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
            if isinstance(cause, _ForbiddenResolution):
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
                await self._check_target(current)
            if obey_robots and self.robots is not None:
                refused = await self.robots.verdict(self, current)
                if refused is not None:
                    raise refused
            async with self._session.get(
                current, headers=headers, allow_redirects=False, proxy=self.proxy
            ) as resp:
                try:
                    if not self.proxy:
                        self._check_peer(resp)
                    if resp.status in REDIRECT_STATUSES:
                        current = self._next_hop(current, resp)
                        resp.close()
                        continue
                    return await self._read(url, current, resp)
                except BaseException:
                    resp.close()  # never drain an unwanted body to reuse the connection
                    raise
        raise TooManyRedirects(f"more than {self.max_redirects} redirects")

    async def _check_target(self, url: URL) -> None:
        """Behind a proxy: resolve the target host ourselves and refuse it when any address
        is not public, before the proxy is asked for it."""
        host = url.host or ""
        if _ip_literal(host) is not None:
            return  # checked by check_url
        checker = SafeResolver(allow_loopback=self.allow_loopback, inner=self._inner_resolver)
        try:
            await checker.resolve(host, url.port or 0, socket.AF_UNSPEC)
        except _ForbiddenResolution as refused:
            raise ForbiddenAddress(f"refused: {refused.reason}") from None
        except OSError:
            raise FetchError("host name does not resolve") from None
        finally:
            if self._inner_resolver is None:
                await checker.close()

    def _check_peer(self, resp: aiohttp.ClientResponse) -> None:
        """The address actually connected to must pass the same check as the resolved one."""
        connection = resp.connection
        transport = connection.transport if connection is not None else None
        peer = transport.get_extra_info("peername") if transport is not None else None
        if peer:
            problem = address_problem(peer[0], allow_loopback=self.allow_loopback)
            if problem:
                raise ForbiddenAddress(f"refused: connected to a {problem}")

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
        media_type, charset = _media_type(resp.headers.get("Content-Type"))
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
