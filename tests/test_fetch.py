"""SafeFetcher: address checks, schemes, redirects, size cap, timeouts, content types,
charsets. Every server is on loopback; nothing is ever sent anywhere else."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from types import SimpleNamespace

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

import bot.fetch_address
from bot.fetch import SafeFetcher
from bot.fetch_address import SafeResolver, address_problem, check_peer, check_url
from bot.fetch_content import decode_body, root_element
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
from tests.fixtures.feeds.localsite import LocalSite

# No test may wait longer than this for anything.
BOUND = 10.0


def fetcher(**options: object) -> SafeFetcher:
    values: dict[str, object] = {"allow_loopback": True, "timeout": 2.0, "max_bytes": 1_000_000}
    values.update(options)
    return SafeFetcher(**values)  # type: ignore[arg-type]


# --- address checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "non-public"),
        ("198.18.0.1", "private"),
        ("2001:db8::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
        ("168.63.129.16", "metadata"),
        ("100.100.100.200", "metadata"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    problem = address_problem(address)
    assert problem is not None
    assert kind in problem


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(address) is None


def test_loopback_switch_opens_loopback_only() -> None:
    assert address_problem("127.0.0.1", allow_loopback=True) is None
    assert address_problem("::1", allow_loopback=True) is None
    assert address_problem("::ffff:127.0.0.1", allow_loopback=True) is None
    for still_forbidden in (
        "169.254.169.254",
        "fd00:ec2::254",
        "10.0.0.1",
        "192.168.0.1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "fe80::1",
    ):
        assert address_problem(still_forbidden, allow_loopback=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/file.txt",
        "file:///etc/passwd",
        "gopher://example.org/",
        "javascript:alert(1)",
        "data:text/html,<p>hi</p>",
        "example.org/no-scheme",
        "http://user:secret@example.org/",
        "http:///no-host",
    ],
)
def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ForbiddenURL):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
    ],
)
def test_ip_literal_hosts_are_checked_before_any_connection(url: str) -> None:
    with pytest.raises(ForbiddenAddress):
        check_url(url)


def test_public_url_passes_and_loses_its_fragment() -> None:
    assert str(check_url("https://Example.org/a?b=1#frag")) == "https://example.org/a?b=1"


# --- the resolver -----------------------------------------------------------------------


class FakeDNS(AbstractResolver):
    """Answers from a table, counts lookups; never touches the network."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.rstrip(".")
        self.lookups.append(name)
        return [
            ResolveResult(
                hostname=name,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for a in self.table.get(name, [])
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "answers",
    [
        ["169.254.169.254"],
        ["10.0.0.7"],
        ["fd00:ec2::254"],
        ["::ffff:192.168.0.1"],
        ["93.184.216.34", "10.0.0.7"],
    ],  # a mixed answer refuses the host
)
async def test_resolver_refuses_hosts_with_any_forbidden_address(answers: list[str]) -> None:
    resolver = SafeResolver(allow_loopback=True, inner=FakeDNS({"evil.test": answers}))
    with pytest.raises(OSError, match="resolves to a"):
        await resolver.resolve("evil.test.", 80)


async def test_resolver_passes_public_answers_through_unchanged() -> None:
    resolver = SafeResolver(inner=FakeDNS({"news.test": ["93.184.216.34"]}))
    answers = await resolver.resolve("news.test", 443)
    assert [a["host"] for a in answers] == ["93.184.216.34"]


async def test_host_resolving_to_metadata_is_refused_without_a_connection() -> None:
    connections: list[object] = []
    trace = aiohttp.TraceConfig()

    async def on_create(session: object, ctx: object, params: object) -> None:
        connections.append(params)

    trace.on_connection_create_start.append(on_create)
    dns = FakeDNS({"metadata.test": ["169.254.169.254"]})
    async with fetcher(resolver=dns, trace_configs=[trace]) as f:
        with pytest.raises(ForbiddenAddress, match="metadata"):
            await asyncio.wait_for(f.fetch("http://metadata.test/latest/"), BOUND)
    assert dns.lookups == ["metadata.test"]
    assert connections  # the pool started a connection: the resolver refused inside it


async def test_every_connection_resolves_again_so_rebinding_is_caught() -> None:
    async with LocalSite() as site:

        async def page(request: web.Request) -> web.Response:
            return web.Response(
                text="<p>hello there</p>", content_type="text/html", headers={"Connection": "close"}
            )

        site.routes["/p"] = page
        port = site.base.rsplit(":", 1)[1]
        dns = FakeDNS({"site.test": ["127.0.0.1"]})
        async with fetcher(resolver=dns) as f:
            await asyncio.wait_for(f.fetch(f"http://site.test:{port}/p"), BOUND)
            await asyncio.wait_for(f.fetch(f"http://site.test:{port}/p"), BOUND)
            assert dns.lookups == ["site.test", "site.test"]  # no DNS cache
            dns.table["site.test"] = ["10.9.8.7"]  # the name now points inside
            with pytest.raises(ForbiddenAddress, match="private"):
                await asyncio.wait_for(f.fetch(f"http://site.test:{port}/p"), BOUND)
        assert site.paths() == ["/p", "/p"]


def test_peer_address_is_checked_after_connecting() -> None:
    transport = SimpleNamespace(get_extra_info=lambda name: ("10.0.0.3", 80))
    response = SimpleNamespace(connection=SimpleNamespace(transport=transport))
    with pytest.raises(ForbiddenAddress, match="connected to a private"):
        check_peer(response, allow_loopback=True)  # type: ignore[arg-type]


# --- live fetches on loopback -------------------------------------------------------------


async def test_loopback_is_refused_unless_the_test_switch_is_on() -> None:
    async with LocalSite() as site:
        site.serve("/p", "<p>hi</p>")
        async with SafeFetcher(timeout=2.0) as f:
            with pytest.raises(ForbiddenAddress, match="loopback"):
                await asyncio.wait_for(f.fetch(site.url("/p")), BOUND)
            localhost = site.url("/p").replace("127.0.0.1", "localhost")
            with pytest.raises(ForbiddenAddress, match="loopback"):
                await asyncio.wait_for(f.fetch(localhost), BOUND)
        assert site.seen == []
        async with fetcher() as f:
            page = await asyncio.wait_for(f.fetch(site.url("/p")), BOUND)
        assert page.text() == "<p>hi</p>"


async def test_redirect_to_loopback_is_refused_when_loopback_is_not_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first site stands for a public one: 127.0.0.2 is let through by the test, and
    # only it; the redirect then points at 127.0.0.1, which the policy must refuse.
    real = bot.fetch_address.address_problem

    def policy(address: object, *, allow_loopback: bool = False) -> str | None:
        if str(address) == "127.0.0.2":
            return None
        return real(address, allow_loopback=allow_loopback)  # type: ignore[arg-type]

    monkeypatch.setattr(bot.fetch_address, "address_problem", policy)
    async with LocalSite(host="127.0.0.2") as public, LocalSite() as inside:
        inside.serve("/admin", "<p>secret</p>")
        public.redirect("/go", inside.url("/admin"))
        public.redirect("/go-by-name", inside.url("/admin").replace("127.0.0.1", "localhost"))
        async with SafeFetcher(timeout=2.0) as f:
            with pytest.raises(ForbiddenAddress, match="loopback"):
                await asyncio.wait_for(f.fetch(public.url("/go")), BOUND)
            with pytest.raises(ForbiddenAddress, match="loopback"):
                await asyncio.wait_for(f.fetch(public.url("/go-by-name")), BOUND)
        assert public.paths() == ["/go", "/go-by-name"]
        assert inside.seen == []


async def test_redirect_to_metadata_is_always_refused_before_connecting() -> None:
    started: list[str] = []
    trace = aiohttp.TraceConfig()

    async def on_start(
        session: object, ctx: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        started.append(str(params.url))

    trace.on_request_start.append(on_start)
    async with LocalSite() as site:
        site.redirect("/meta", "http://169.254.169.254/latest/meta-data/iam/")
        site.redirect("/meta6", "http://[fd00:ec2::254]/latest/")
        site.redirect("/mapped", "http://[::ffff:a9fe:a9fe]/latest/")
        site.redirect("/private", "http://10.0.0.1/")
        async with fetcher(trace_configs=[trace]) as f:  # loopback allowed: still refused
            for path in ("/meta", "/meta6", "/mapped", "/private"):
                with pytest.raises(ForbiddenAddress):
                    await asyncio.wait_for(f.fetch(site.url(path)), BOUND)
    assert started == [site.url(p) for p in ("/meta", "/meta6", "/mapped", "/private")]


async def test_redirects_to_other_schemes_are_refused() -> None:
    async with LocalSite() as site:
        site.redirect("/file", "file:///etc/passwd")
        site.redirect("/ftp", "ftp://127.0.0.1/x")
        async with fetcher() as f:
            for path in ("/file", "/ftp"):
                with pytest.raises(ForbiddenURL):
                    await asyncio.wait_for(f.fetch(site.url(path)), BOUND)
            for url in ("ftp://127.0.0.1/", "file:///etc/passwd"):
                with pytest.raises(ForbiddenURL):
                    await f.fetch(url)


async def test_redirects_are_followed_up_to_five() -> None:
    async with LocalSite() as site:
        for hop in range(6):
            site.redirect(f"/r{hop}", f"/r{hop + 1}", status=301 if hop % 2 else 307)
            site.redirect(f"/s{hop}", f"/s{hop + 1}", status=302 if hop % 2 else 308)
        site.serve("/r5", "<p>arrived</p>")  # five redirects from /r0
        site.serve("/s6", "<p>too far</p>")  # six redirects from /s0
        site.redirect("/loop", "/loop")
        async with fetcher() as f:
            page = await asyncio.wait_for(f.fetch(site.url("/r0")), BOUND)
            assert page.url == site.url("/r5")
            assert page.text() == "<p>arrived</p>"
            with pytest.raises(TooManyRedirects):
                await asyncio.wait_for(f.fetch(site.url("/s0")), BOUND)
            with pytest.raises(TooManyRedirects):
                await asyncio.wait_for(f.fetch(site.url("/loop")), BOUND)


CHUNK = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"


async def test_a_50_mb_page_is_refused_while_streaming_and_memory_stays_small() -> None:
    sent = {"bytes": 0, "chunked": 0, "announced": 0}

    def endless_page(key: str, announce: bool) -> object:
        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/html"})
            if announce:
                response.content_length = 50 * 1024 * 1024
            await response.prepare(request)
            try:
                while sent[key] < 50 * 1024 * 1024:  # 50 MB, one 64 KB chunk at a time
                    await response.write(CHUNK)
                    sent[key] += len(CHUNK)
            except (ConnectionError, asyncio.CancelledError):
                pass
            return response

        return handler

    async with LocalSite() as site:
        site.routes["/big"] = endless_page("chunked", announce=False)  # type: ignore[assignment]
        site.routes["/announced"] = endless_page("announced", announce=True)  # type: ignore[assignment]
        tracemalloc.start()
        try:
            async with fetcher(max_bytes=1_000_000) as f:
                with pytest.raises(TooLarge, match="stopped reading"):
                    await asyncio.wait_for(f.fetch(site.url("/big")), BOUND)
                with pytest.raises(TooLarge, match="announced"):
                    await asyncio.wait_for(f.fetch(site.url("/announced")), BOUND)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await asyncio.sleep(0.05)
    assert peak < 8 * 1024 * 1024  # client and server together, far below 50 MB
    assert sent["chunked"] < 25 * 1024 * 1024  # the server was cut off long before 50 MB


async def test_a_page_that_never_finishes_times_out() -> None:
    async def stalls(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<p>start")
        await asyncio.sleep(60)
        return response

    async def drips(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(600):  # a byte every 50 ms: never idle long enough for a read timeout
            await response.write(b"x")
            await asyncio.sleep(0.05)
        return response

    async def no_headers(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(60)
        return web.Response(text="late")

    async with LocalSite() as site:
        site.routes.update({"/stall": stalls, "/drip": drips, "/silent": no_headers})
        async with fetcher(timeout=0.3, deadline=1.0) as f:
            for path in ("/stall", "/drip", "/silent"):
                with pytest.raises(FetchTimeout):
                    await asyncio.wait_for(f.fetch(site.url(path)), BOUND)


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n....", "unsupported content type image/png"),
        ("application/pdf", b"%PDF-1.4", "unsupported content type"),
        ("application/octet-stream", b"abc", "unsupported content type"),
        ("text/html", b"<p>\x00\x01\x02binary</p>", "binary content"),
    ],
)
async def test_non_text_content_is_refused(content_type: str, body: bytes, error: str) -> None:
    async with LocalSite() as site:
        site.serve("/x", body, content_type)
        async with fetcher() as f:
            with pytest.raises(BadContent, match=error):
                page = await asyncio.wait_for(f.fetch(site.url("/x")), BOUND)
                page.text()


async def test_error_status_and_empty_answer_are_typed() -> None:
    async with LocalSite() as site:
        site.serve("/empty", b"", "text/html")
        async with fetcher() as f:
            with pytest.raises(HTTPStatusError, match="HTTP 404"):
                await asyncio.wait_for(f.fetch(site.url("/missing")), BOUND)
            with pytest.raises(BadContent, match="empty"):
                await asyncio.wait_for(f.fetch(site.url("/empty")), BOUND)


async def test_closed_port_is_a_fetch_error_not_a_crash() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with fetcher() as f:
        with pytest.raises(FetchError, match="cannot connect"):
            await asyncio.wait_for(f.fetch(f"http://127.0.0.1:{port}/"), BOUND)


# --- decoding -----------------------------------------------------------------------------


def test_declared_and_sniffed_charsets() -> None:
    cyrillic = "Гарантії безпеки"
    assert decode_body(cyrillic.encode("cp1251"), "windows-1251") == cyrillic
    xml = f"<?xml version='1.0' encoding='windows-1251'?><t>{cyrillic}</t>".encode("cp1251")
    assert cyrillic in decode_body(xml, None)
    page = "<html><head><meta charset='iso-8859-1'></head>Café</html>".encode("latin-1")
    assert "Café" in decode_body(page, None)
    assert decode_body("hello".encode("utf-16"), None) == "hello"
    assert decode_body("Zürich".encode(), None) == "Zürich"
    # A bogus declared charset falls back to sniffing.
    assert decode_body("Zürich".encode(), "no-such-charset") == "Zürich"


def test_text_that_contradicts_its_charset_is_refused() -> None:
    with pytest.raises(BadContent, match="not valid utf-8"):
        decode_body(bytes(range(128, 256)) * 20, "utf-8")


@pytest.mark.parametrize(
    ("text", "root"),
    [
        ("<?xml version='1.0'?>\n<!-- c --><rss version='2.0'>", "rss"),
        ("\ufeff<feed xmlns='http://www.w3.org/2005/Atom'>", "feed"),
        ("<?xml version='1.0'?><rdf:RDF xmlns:rdf='x'>", "rdf"),
        ("<!DOCTYPE html><html><body>", "html"),
        ("<!DOCTYPE x [<!ENTITY a 'b'>]><rss>", "rss"),
        ("plain words", None),
    ],
)
def test_root_element_sniffing(text: str, root: str | None) -> None:
    assert root_element(text) == root
