"""The bolt app: our own Web API client, services in the context, one error handler, listeners.

`build_app` is the only place an `AsyncApp` is made. It never builds anything at import time.
The listeners are not imported here: the caller passes them (`bot.listeners.Listeners`; `serve`
loads `handlers.register` through its entry point), so `bot/` never depends on `handlers/`.

Choices worth knowing:
- The client is ours (`Services.slack`, from `build_slack_client`), so `SLACK_API_URL` and the
  retry handlers reach every Web API call bolt makes, including `auth.test` and Socket Mode's
  `apps.connections.open`.
- `AsyncApp` has no `token_verification_enabled` switch (the sync `App` does): it calls
  `auth.test` lazily, once, on the first request, through the app's client, i.e. through our
  base URL. `serve` also calls it at start-up to fail fast on a bad token.
- `SLACK_CLIENT_ID` / `SLACK_CLIENT_SECRET` in the environment silently switch bolt to OAuth
  (multi-workspace installs). Unless all three OAuth settings are set (then `bot.workspaces`
  builds bolt's OAuth settings on our store, and each request runs with its workspace's bot
  token), they are hidden from bolt while the app is built, and a warning says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.listeners import Listeners
from bot.respond import Responder
from bot.services import Services, build_slack_client
from bot.settings import Settings

log = logging.getLogger(__name__)

OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
CALM_ERROR = "Sorry, something went wrong on our side while answering that. Please try again."


def build_app(
    settings: Settings,
    services: Services,
    *,
    listeners: Listeners,
    responder: Responder | None = None,
    reply_attempts: int = 3,
    reply_backoff: float = 0.5,
) -> AsyncApp:
    """The bolt app for one workspace, wired to `services`, with `listeners` attached.

    Replies to response URLs go through `responder` (default: one on the services' HTTP
    session, `reply_attempts` tries with `reply_backoff` seconds doubling between them).
    """
    client = services.slack or build_slack_client(settings, services.http)
    secret = settings.slack_signing_secret
    if settings.oauth:
        app = _build_oauth_app(settings, services, client)
    elif client.token is None:
        raise ValueError("SLACK_BOT_TOKEN is required to build the Slack app")
    else:
        app = _build_single_workspace_app(client, secret)
    responder = responder or Responder(
        services.http, attempts=reply_attempts, backoff=reply_backoff
    )

    @app.middleware
    async def inject_services(context: AsyncBoltContext, next: Any) -> BoltResponse:
        # Listeners receive these by parameter name: `services`, `responder`.
        context["services"] = services
        context["responder"] = responder
        return await next()

    @app.error
    async def on_error(error: Exception, body: dict[str, Any]) -> None:
        await answer_unexpected_error(responder, error, body)

    # Several replicas share one PostgreSQL database: so does the duplicate filter.
    listeners(app, services.store if services.store.dialect.postgres else None)
    return app


def _build_oauth_app(settings: Settings, services: Services, client: Any) -> AsyncApp:
    """Many workspaces: bolt's OAuth flow; each request authorised by its workspace's
    installation (an unknown workspace gets no answer but bolt's "install me")."""
    from bot.workspaces import oauth_settings

    secret = settings.slack_signing_secret
    assert secret is not None  # serve refuses OAuth without it
    client.token = None  # each request runs with its own workspace's token
    return AsyncApp(
        name="guarantees-bot",
        client=client,
        signing_secret=secret.get_secret_value(),
        oauth_settings=oauth_settings(settings, services.store),
        process_before_response=False,
    )


def _build_single_workspace_app(client: Any, secret: Any) -> AsyncApp:
    if secret is None:
        # Only Socket Mode may run without it; `serve` refuses HTTP mode without a secret.
        log.info("no signing secret: HTTP requests would not be verified (Socket Mode only)")
    with _without_oauth_env():
        app = AsyncApp(
            name="guarantees-bot",
            client=client,
            signing_secret=secret.get_secret_value() if secret else None,
            request_verification_enabled=secret is not None,
            installation_store=None,
            oauth_settings=None,
            oauth_flow=None,
            process_before_response=False,
        )
    if app.oauth_flow is not None:  # pragma: no cover - guarded by _without_oauth_env
        raise RuntimeError("bolt switched to OAuth mode without all three OAuth settings")
    return app


async def answer_unexpected_error(
    responder: Responder, error: Exception, body: dict[str, Any]
) -> None:
    """Log the traceback; tell the caller calmly, privately, when the request lets us."""
    kind = body.get("command") or body.get("type") or "request"
    log.error("listener failed on %s", kind, exc_info=error)
    response_url = body.get("response_url")
    if not response_url:
        responses = body.get("response_urls") or []
        response_url = responses[0].get("response_url") if responses else None
    if response_url:
        await responder.send(
            response_url,
            {"text": CALM_ERROR, "response_type": "ephemeral", "replace_original": False},
        )


@contextmanager
def _without_oauth_env() -> Iterator[None]:
    """Hide the OAuth variables from bolt while the app is constructed (it reads them then)."""
    saved = {name: os.environ.pop(name) for name in OAUTH_ENV if name in os.environ}
    if saved:
        log.warning("ignoring %s: this bot runs in one workspace", ", ".join(sorted(saved)))
    try:
        yield
    finally:
        os.environ.update(saved)
