"""A forward HTTP proxy on loopback for fetch tests: plain-http requests in absolute form
(`GET http://host:port/path HTTP/1.1`) are recorded and passed on, one connection each.

`routes` maps a host name to the loopback (host, port) that stands for it, so a test can use
names that no DNS knows (the fetcher checks them with its own test resolver)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class ForwardProxy:
    routes: dict[str, tuple[str, int]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # request targets, as the client sent them
    url: str = ""

    async def __aenter__(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, target, _version = request_line.split(" ", 2)
            self.seen.append(target)
            parts = urlsplit(target)
            if method == "CONNECT" or parts.scheme != "http" or not parts.hostname:
                writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, port = self.routes.get(parts.hostname, (parts.hostname, parts.port or 80))
            headers = [
                line
                for line in header_lines
                if line and not line.lower().startswith(("proxy-", "connection:"))
            ]
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            upstream_writer.write(
                f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
                + "".join(f"{line}\r\n" for line in headers).encode("latin-1")
                + b"Connection: close\r\n\r\n"
            )
            await upstream_writer.drain()
            while chunk := await upstream_reader.read(65536):
                writer.write(chunk)
                await writer.drain()
            upstream_writer.close()
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()
