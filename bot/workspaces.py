"""Many workspaces (issue 10): bolt's OAuth flow on slack_sdk's async store interfaces, kept in
our store so every replica shares installations and OAuth states.

Turned on when `SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET` and `SLACK_STATE_SECRET` are all set.
`/slack/install` starts an install (bolt sets a state cookie signed with nothing of ours; the
state itself is a random value kept in the store for ten minutes and bound to
SLACK_STATE_SECRET by an HMAC, so a state forged without the secret is refused before any
lookup); `/slack/oauth_redirect` finishes it with `oauth.v2.access` through SLACK_API_URL and
saves the installation. Each request then runs with its own workspace's bot token, which bolt
finds with `async_find_bot`. Tokens are in the store only; nothing here logs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.store.workspaces import team_key

if TYPE_CHECKING:
    from bot.settings import Settings
    from bot.store import Store

log = logging.getLogger(__name__)

# What the bot needs in each workspace: the slash command, posting cards and digests (also
# in public channels it was not invited to), uploading the matrix picture and exports, and
# reading a channel's recent history before re-sending a digest an earlier try may have posted.
BOT_SCOPES = (
    "commands", "chat:write", "chat:write.public", "files:write", "channels:history",
    "groups:history",
)
STATE_TTL = timedelta(minutes=10)


class StoreInstallationStore(AsyncInstallationStore):
    """slack_sdk's async installation store on our store: one installation per workspace."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        key = team_key(
            installation.enterprise_id, installation.team_id,
            bool(installation.is_enterprise_install),
        )
        await self.store.save_installation(
            key,
            enterprise_id=installation.enterprise_id,
            team_id=installation.team_id,
            installer_user_id=installation.user_id,
            data=json.dumps(installation.to_dict_for_copying(), default=str),
        )
        log.info("installed in workspace %s", installation.team_id or installation.enterprise_id)

    async def async_save_bot(self, bot: Bot) -> None:  # bolt saves whole installations
        raise NotImplementedError("installations are saved whole")

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if is_enterprise_install:
            team_id = None
        data = await self.store.find_installation(
            team_key(enterprise_id, team_id, bool(is_enterprise_install))
        )
        if data is None:
            return None
        return Installation(**json.loads(data))

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        installation = await self.async_find_installation(
            enterprise_id=enterprise_id, team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if installation is None or installation.bot_token is None:
            return None
        return installation.to_bot()

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        for enterprise_install in (False, True):
            await self.store.delete_installation(
                team_key(enterprise_id, team_id, enterprise_install)
            )


class StoreStateStore(AsyncOAuthStateStore):
    """OAuth states: random, HMAC-bound to SLACK_STATE_SECRET, single-use, in the store."""

    def __init__(self, store: Store, secret: str) -> None:
        self.store = store
        self._secret = secret.encode()

    @property
    def logger(self) -> logging.Logger:
        return log

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        nonce = secrets.token_urlsafe(24)
        state = f"{nonce}.{self._sign(nonce)}"
        await self.store.issue_state(state, STATE_TTL)
        return state

    async def async_consume(self, state: str) -> bool:
        nonce, _, mac = state.partition(".")
        if not nonce or not hmac.compare_digest(mac, self._sign(nonce)):
            return False
        return await self.store.consume_state(state)


def oauth_settings(settings: Settings, store: Store) -> AsyncOAuthSettings:
    """bolt's OAuth settings for `/slack/install` and `/slack/oauth_redirect`."""
    assert settings.slack_client_id and settings.slack_client_secret
    assert settings.slack_state_secret
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect",
        installation_store=StoreInstallationStore(store),
        installation_store_bot_only=True,
        state_store=StoreStateStore(store, settings.slack_state_secret.get_secret_value()),
        state_expiration_seconds=int(STATE_TTL.total_seconds()),
    )


async def bot_token(store: Store, team_id: str | None) -> str | None:
    """A workspace's bot token, for work outside a request (digests)."""
    if team_id is None:
        return None
    found = await StoreInstallationStore(store).async_find_bot(
        enterprise_id=None, team_id=team_id
    )
    return found.bot_token if found else None


async def remove_workspace(store: Store, team_id: str, reason: str) -> int:
    """The app was uninstalled or its tokens revoked: forget the tokens, pause the digests."""
    await StoreInstallationStore(store).async_delete_installation(
        enterprise_id=None, team_id=team_id
    )
    paused = await store.pause_team(team_id, reason)
    log.info("workspace %s: %s; tokens removed, %d digests paused", team_id, reason, paused)
    return paused
