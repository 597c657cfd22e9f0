"""`python -m bot serve`: one lifespan for the store, the HTTP session, the Slack app and every
background task, in Socket Mode or HTTP mode, until SIGTERM or SIGINT.

HTTP mode serves `POST /slack/events` (commands, interactivity and events on one path; the
signature is verified and the body parsed in `bot.slack_requests`, then bolt verifies again)
and `GET /healthz` on aiohttp. Socket Mode uses slack_sdk's aiohttp client (built here,
inside the running loop), which reconnects by itself after a `disconnect` message or a lost
network.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.corrections import warn_unread_corrections
from bot.deliveries import DELIVERY_WINDOW, Deduplicator
from bot.extraction import Extractor
from bot.listeners import Listeners, ListenersNotFound, load_listeners
from bot.native import status as native_status
from bot.services import Services, open_services
from bot.settings import Settings
from bot.slack_requests import BadSlackRequest, SslCheck, read_slack_request

log = logging.getLogger(__name__)

# A background task that dies is restarted after this delay, doubled each time, up to the cap.
RESTART_DELAY = 30.0
RESTART_DELAY_MAX = 15 * 60.0

BackgroundJob = Callable[[Services], Awaitable[None]]
# Extra entries for the `/healthz` body.
Status = Callable[[], dict[str, object]]


# How long shutdown waits for acked commands to get their answer.
DRAIN_SECONDS = 10.0


class ServeError(Exception):
    """Start-up cannot go on; the message is one line for the operator."""


async def serve(
    settings: Settings,
    *,
    socket_mode: bool,
    stop: asyncio.Event | None = None,
    extractor: Extractor | None = None,
    ping_interval: float = 10.0,
    listeners: Listeners | None = None,
) -> None:
    """Run the bot until `stop` is set (by SIGTERM/SIGINT when not given).

    The Slack listeners are `listeners`, or else the installed ones (`load_listeners`).
    """
    mode = "Socket Mode" if socket_mode else "HTTP mode"
    missing = settings.missing_for_serve(socket_mode=socket_mode)
    if missing:
        raise ServeError(f"cannot serve in {mode}: set {', '.join(missing)}")
    if settings.oauth and socket_mode:
        raise ServeError(
            "installs through OAuth (SLACK_CLIENT_ID...) need HTTP mode for /slack/install:"
            " unset SLACK_APP_TOKEN or serve with --mode http"
        )
    if listeners is None:
        try:
            listeners = load_listeners()
        except ListenersNotFound as exc:
            raise ServeError(str(exc)) from None
    log.info("starting in %s (Slack API at %s; extraction core %s)", mode,
             settings.slack_api_url, native_status())
    own_signals = stop is None
    stop = stop or asyncio.Event()
    if own_signals:
        _install_signal_handlers(stop)
    try:
        async with open_services(settings, extractor=extractor) as services:
            app = build_app(settings, services, listeners=listeners)
            await warn_unread_corrections(settings, services.store)
            if not settings.oauth:  # with OAuth each workspace brings its own token
                await check_token(app.client)
            async with background_tasks(services):
                if socket_mode:
                    await run_socket_mode(app, settings, stop, ping_interval=ping_interval)
                else:
                    secret = settings.slack_signing_secret
                    await run_http(
                        app,
                        settings.host,
                        settings.port,
                        stop,
                        signing_secret=secret.get_secret_value() if secret else None,
                        status=lambda: health(services),
                    )
                # No new requests now; answers already acked still get their card.
                if len(services.in_flight):
                    log.info("finishing %d answers in flight", len(services.in_flight))
                    unfinished = await services.in_flight.drain(DRAIN_SECONDS)
                    if unfinished:
                        log.warning("%d answers were cut off by the shutdown", unfinished)
    finally:
        if own_signals:
            _remove_signal_handlers()
    log.info("stopped")


def health(services: Services) -> dict[str, object]:
    """What `/healthz` adds to "ok": the background re-extraction, while it has work or did
    some (`{"pending": 123, "done": 456, ...}`)."""
    progress = services.reextract
    if progress.pending is None:
        return {}
    return {"reextract": progress.as_dict()}


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, sig, stop)


def _on_signal(sig: signal.Signals, stop: asyncio.Event) -> None:
    log.info("received %s: shutting down", sig.name)
    stop.set()


def _remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)


async def check_token(client: AsyncWebClient) -> None:
    """`auth.test` through our client (so through SLACK_API_URL): a bad token stops start-up."""
    try:
        response = await client.auth_test()
    except SlackApiError as exc:
        raise ServeError(f"SLACK_BOT_TOKEN was refused: {exc.response.get('error')}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Retried already by the client's connection-error handler.
        raise ServeError(
            f"cannot reach the Slack API at SLACK_API_URL ({type(exc).__name__})"
        ) from None
    log.info(
        "connected to team %s as bot user %s", response.get("team_id"), response.get("user_id")
    )


# --- background tasks ----------------------------------------------------------------------


def _digest_scheduler(services: Services) -> Awaitable[None]:
    from bot.digest import run_scheduler

    return run_scheduler(services)


def _feed_poller(services: Services) -> Awaitable[None]:
    from bot.feeds import poll_feeds

    return poll_feeds(services)


def _model_retries(services: Services) -> Awaitable[None]:
    from bot.model_retry import run_model_retries

    return run_model_retries(services)
def _reextractor(services: Services) -> Awaitable[None]:
    from bot.reextract import run_reextraction

    return run_reextraction(services)


def background_jobs(settings: Settings) -> list[tuple[str, BackgroundJob]]:
    """The long-running jobs this configuration needs, by name."""
    jobs: list[tuple[str, BackgroundJob]] = [("digest scheduler", _digest_scheduler)]
    jobs.append(("re-extraction", _reextractor))
    if settings.feeds:
        jobs.append(("feed polling", _feed_poller))
    if settings.extractor != "rules":
        jobs.append(("model retries", _model_retries))
    return jobs


@contextlib.asynccontextmanager
async def background_tasks(
    services: Services, jobs: list[tuple[str, BackgroundJob]] | None = None
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Start each job as a supervised task; cancel them all on the way out."""
    jobs = background_jobs(services.settings) if jobs is None else jobs
    tasks = [asyncio.create_task(supervise(name, job, services), name=name) for name, job in jobs]
    try:
        yield tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def supervise(name: str, job: BackgroundJob, services: Services) -> None:
    """Run a job until cancelled; a crash is logged and the job restarted after a pause, so a
    background failure never takes the server down."""
    delay = RESTART_DELAY
    while True:
        try:
            await job(services)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s crashed; restarting in %.0f s", name, delay)
        else:
            log.warning("%s returned; restarting in %.0f s", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RESTART_DELAY_MAX)


# --- HTTP mode -----------------------------------------------------------------------------


def build_web_app(
    app: AsyncApp, *, signing_secret: str | None = None, status: Status | None = None
) -> web.Application:
    """`POST /slack/events` into bolt, `GET /healthz` for the platform (with `status()`'s
    entries added: the background re-extraction's progress).

    Bodies are verified against `signing_secret` and parsed here (`bot.slack_requests`: bolt's
    own parser drops any form body holding the word "payload"); bolt verifies them again.
    """
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def slack_events(request: web.Request) -> web.Response:
        try:
            parsed = read_slack_request(
                await request.read(),
                headers=request.headers,
                query=request.query_string,
                verifier=verifier,
            )
        except BadSlackRequest as bad:
            log.info("refused a request to /slack/events: %s", bad.reason)
            if bad.status == 401:
                return web.json_response({"error": "invalid request"}, status=401)
            return web.Response(status=bad.status, text=f"bad request: {bad.reason}")
        if isinstance(parsed, SslCheck):
            return web.Response(status=200)
        bolt_response = await app.async_dispatch(parsed)
        return await to_aiohttp_response(bolt_response)

    async def healthz(request: web.Request) -> web.Response:
        # The web server only starts once the store is open (inside open_services).
        return web.json_response({"status": "ok", "store": "open", **(status() if status else {})})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", slack_events)
    web_app.router.add_get("/healthz", healthz)
    flow = app.oauth_flow
    if flow is not None:  # many workspaces: bolt's install page and OAuth redirect

        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_installation(await to_bolt_request(request))
            )

        async def oauth_redirect(request: web.Request) -> web.Response:
            return await to_aiohttp_response(
                await flow.handle_callback(await to_bolt_request(request))
            )

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, oauth_redirect)
    return web_app


def settle_heap() -> None:
    """Move everything built at start-up (vocabulary, topic index, lexicons, the app) out of
    the garbage collector's view, so full collections while serving stay short: they would
    otherwise walk these objects again and again, and each pause delays every ack waiting."""
    gc.collect()
    gc.freeze()


async def run_http(
    app: AsyncApp,
    host: str,
    port: int,
    stop: asyncio.Event,
    *,
    signing_secret: str | None = None,
    status: Status | None = None,
) -> None:
    settle_heap()
    web_app = build_web_app(app, signing_secret=signing_secret, status=status)
    runner = web.AppRunner(web_app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("HTTP mode listening on %s:%d (POST /slack/events, GET /healthz)", host, port)
        await stop.wait()
    finally:
        await runner.cleanup()


# --- Socket Mode ---------------------------------------------------------------------------


class DedupingSocketModeHandler(AsyncSocketModeHandler):
    """bolt's aiohttp Socket Mode handler that acks a re-sent envelope without running it."""

    def __init__(self, app: AsyncApp, app_token: str, **kwargs: Any) -> None:
        super().__init__(app, app_token, **kwargs)
        self.envelopes = Deduplicator()

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        if not self.envelopes.first_time(req.envelope_id, DELIVERY_WINDOW):
            log.info("ignored a re-sent envelope (%s)", req.type)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)  # type: ignore[arg-type]


async def run_socket_mode(
    app: AsyncApp, settings: Settings, stop: asyncio.Event, *, ping_interval: float = 10.0
) -> None:
    assert settings.slack_app_token is not None
    settle_heap()
    handler = DedupingSocketModeHandler(
        app,
        settings.slack_app_token.get_secret_value(),
        web_client=app.client,  # apps.connections.open through SLACK_API_URL, with retries
        ping_interval=ping_interval,
    )
    try:
        await handler.connect_async()
        log.info("Socket Mode connected")
        await stop.wait()
    finally:
        await handler.close_async()
