"""Run the real `bot.serve.serve` inside a test and wait until it is ready."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from bot.extraction import Extractor
from bot.serve import serve
from bot.settings import Settings
from tests.fakes.slack import FakeSlack


@asynccontextmanager
async def serving(
    settings: Settings,
    *,
    socket_mode: bool,
    extractor: Extractor | None = None,
    fake: FakeSlack | None = None,
    ping_interval: float = 10.0,
    timeout: float = 30.0,
) -> AsyncIterator[asyncio.Task[None]]:
    """Start `serve` as a task; ready means /healthz answers 200 (HTTP mode) or the fake has
    sent `hello` (Socket Mode). Stopped, as SIGTERM would, on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            socket_mode=socket_mode,
            stop=stop,
            extractor=extractor,
            ping_interval=ping_interval,
            # none given: found through the installed entry point, as `python -m bot serve`
        )
    )
    try:
        if socket_mode:
            assert fake is not None, "Socket Mode needs the fake Slack"
            ready = asyncio.ensure_future(fake.wait_connected(timeout=timeout))
        else:
            ready = asyncio.ensure_future(wait_healthy(settings, timeout))
        done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            task.result()  # raises what stopped start-up
            raise RuntimeError("serve() returned before it was ready")
        ready.result()
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout)


async def wait_healthy(settings: Settings, timeout: float) -> None:
    url = f"http://{settings.host}:{settings.port}/healthz"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if loop.time() > deadline:
                raise TimeoutError(f"{url} did not answer 200")
            await asyncio.sleep(0.02)
