"""Address safety (the SSRF checks): which URLs and addresses the bot may fetch from.

`check_url` refuses bad schemes, credentials and non-public IP literals; `SafeResolver`
resolves host names for the connection pool and refuses a host when any answer is not
public; `check_peer` checks the address actually connected to; `check_target` does the
resolver's check by itself for a target reached through a trusted proxy. `address_problem`
is the one rule they all apply. How `bot.fetch.SafeFetcher` uses them is told there.
"""

from __future__ import annotations

import ipaddress
import socket

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from bot.fetch_errors import FetchError, ForbiddenAddress, ForbiddenURL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


class ForbiddenResolution(OSError):
    """Raised inside aiohttp's connector (which only passes OSError on, wrapped); unwrapped
    back into `ForbiddenAddress` by the fetcher."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
            raise ForbiddenResolution(f"{host.rstrip('.')} has no address")
        for answer in answers:
            problem = address_problem(answer["host"], allow_loopback=self.allow_loopback)
            if problem:
                raise ForbiddenResolution(f"{host.rstrip('.')} resolves to a {problem}")
        return answers

    async def close(self) -> None:
        await self._inner.close()


def check_peer(resp: aiohttp.ClientResponse, *, allow_loopback: bool = False) -> None:
    """The address actually connected to must pass the same check as the resolved one."""
    connection = resp.connection
    transport = connection.transport if connection is not None else None
    peer = transport.get_extra_info("peername") if transport is not None else None
    if peer:
        problem = address_problem(peer[0], allow_loopback=allow_loopback)
        if problem:
            raise ForbiddenAddress(f"refused: connected to a {problem}")


async def check_target(
    url: URL, *, allow_loopback: bool = False, inner: AbstractResolver | None = None
) -> None:
    """Behind a proxy: resolve the target host ourselves and refuse it when any address
    is not public, before the proxy is asked for it."""
    host = url.host or ""
    if _ip_literal(host) is not None:
        return  # checked by check_url
    checker = SafeResolver(allow_loopback=allow_loopback, inner=inner)
    try:
        await checker.resolve(host, url.port or 0, socket.AF_UNSPEC)
    except ForbiddenResolution as refused:
        raise ForbiddenAddress(f"refused: {refused.reason}") from None
    except OSError:
        raise FetchError("host name does not resolve") from None
    finally:
        if inner is None:
            await checker.close()
