"""Many workspaces (issue 10): installs through bolt's OAuth flow, per-workspace tokens, and
isolation: a user of workspace A can neither see nor change B's subscriptions or Home tab, by
command, by button, or by a forged team id in a signed request.

Everything runs over real HTTP on loopback: `serve` in HTTP mode with the three OAuth
settings, the fake Slack answering `oauth.v2.access` with a token per workspace.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.cards.common import ACTION_SUBSCRIBE, button_value
from bot.settings import Settings
from bot.store import open_store
from tests.conftest import SIGNING_SECRET
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import block_action, event_callback, sign, slash_command

A, B = "TAAAA", "TBBBB"
CHANNEL_A, CHANNEL_B = "CAAAA", "CBBBB"
USER_A, USER_B = "UAAAA", "UBBBB"


@dataclass
class Server:
    settings: Settings
    fake: FakeSlack
    http: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    async def install(self, team: str, installer: str) -> int:
        """Start at /slack/install, approve at the fake Slack, come back to the redirect."""
        async with self.http.get(f"{self.base}/slack/install") as page:
            text = await page.text()
            cookie = page.headers.get("Set-Cookie", "").split(";")[0]
        authorize = html.unescape(re.search(r'<a href="([^"]+)"', text)[1])  # type: ignore[index]
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)["state"][0]
        code = self.fake.issue_code(team, installer)
        query = urllib.parse.urlencode({"code": code, "state": state})
        async with self.http.get(
            f"{self.base}/slack/oauth_redirect?{query}", headers={"Cookie": cookie}
        ) as done:
            await done.read()
            return done.status

    async def post(self, body: str, content_type: str, secret: str = SIGNING_SECRET) -> int:
        headers = {"Content-Type": content_type} | sign(secret, body)
        async with self.http.post(f"{self.base}/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r.status

    async def command(self, text: str, team: str, user: str, channel: str) -> str:
        url = self.fake.new_response_url()
        fields = slash_command(
            text, response_url=url, team_id=team, user_id=user, channel_id=channel
        )
        assert await self.post(urllib.parse.urlencode(fields), FORM) == 200
        return url

    async def answer(self, url: str) -> str:
        calls = await self.fake.wait_for(lambda: self.fake.responses(url))
        return json.dumps(calls[0].payload)

    async def event(self, event: dict[str, Any], team: str) -> None:
        body = json.dumps(event_callback(event, team_id=team))
        assert await self.post(body, "application/json") == 200


FORM = "application/x-www-form-urlencoded"


@pytest.fixture(params=["sqlite", "postgresql"])
async def server(
    request: pytest.FixtureRequest, fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any
) -> AsyncIterator[Server]:
    """The bot with OAuth on, on a SQLite copy of the demo store, then on PostgreSQL."""
    store: dict[str, str] = {}
    if request.param == "postgresql":
        store["store_url"] = request.getfixturevalue("postgres_url")
    settings = make_settings(
        **store,
        slack_bot_token=None,
        slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret,
        slack_state_secret="state-secret-for-tests",
    )
    async with (
        serving(settings, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        yield Server(settings, fake_slack, http)


async def both_subscribed_to_ukraine(server: Server) -> datetime:
    """Workspaces A and B installed, each with a 07:00 digest of `ukraine` in its channel;
    the moment tomorrow just after the digests are due."""
    await server.install(A, USER_A)
    await server.install(B, USER_B)
    await server.answer(await server.command("subscribe ukraine 07:00", A, USER_A, CHANNEL_A))
    await server.answer(await server.command("subscribe ukraine 07:00", B, USER_B, CHANNEL_B))
    return datetime.now(UTC).replace(hour=7, minute=1) + timedelta(days=1)


async def send_digests_at(server: Server, extractor: Any, when: datetime) -> int:
    """Send the digests due at `when` with the server's settings; how many went out."""
    from bot.digest import send_due_digests
    from bot.services import open_services

    async with open_services(
        server.settings, extractor=extractor, clock=lambda: when, load_demo_corpus=False,
    ) as services:
        return (await send_due_digests(services)).sent


async def subscriptions_of(server: Server) -> dict[tuple[str, str | None], str]:
    async with open_store(server.settings.store_location) as store:
        return {
            (s.channel_id, s.team_id): s.at.strftime("%H:%M")
            for s in await store.list_subscriptions()
        }


async def test_installs_give_each_workspace_its_own_token(server: Server) -> None:
    assert await server.install(A, USER_A) == 200
    assert await server.install(B, USER_B) == 200
    assert set(server.fake.team_tokens.values()) == {A, B}
    await server.event({"type": "app_home_opened", "user": USER_A, "tab": "home"}, A)
    await server.event({"type": "app_home_opened", "user": USER_B, "tab": "home"}, B)
    published = await server.fake.wait_for(
        lambda: len(server.fake.calls("views.publish")) == 2 and server.fake.calls("views.publish")
    )
    assert {(c.payload["user_id"], c.team) for c in published} == {(USER_A, A), (USER_B, B)}
    # No secret reaches a page or the fake's records of our requests beyond the token header.
    async with server.http.get(f"{server.base}/healthz") as health:
        assert "xoxb" not in await health.text()


async def test_a_forged_state_or_a_replayed_code_installs_nothing(server: Server) -> None:
    code = server.fake.issue_code(A, USER_A)
    query = urllib.parse.urlencode({"code": code, "state": "made-up.0000"})
    async with server.http.get(
        f"{server.base}/slack/oauth_redirect?{query}",
        headers={"Cookie": "slack-app-oauth-state=made-up.0000"},
    ) as response:
        await response.read()
    assert response.status >= 400
    assert server.fake.team_tokens == {}


async def test_workspaces_cannot_see_or_change_each_others_subscriptions(server: Server) -> None:
    await server.install(A, USER_A)
    await server.install(B, USER_B)
    await server.answer(await server.command("subscribe ukraine 07:00", A, USER_A, CHANNEL_A))
    await server.answer(await server.command("subscribe ukraine 09:00", B, USER_B, CHANNEL_B))
    before = await subscriptions_of(server)
    assert before == {(CHANNEL_A, A): "07:00", (CHANNEL_B, B): "09:00"}

    # By command, naming B's channel from A: not listed, not removed, not changed.
    listed = await server.answer(await server.command("subscriptions", A, USER_A, CHANNEL_B))
    assert "09:00" not in listed
    await server.answer(await server.command("unsubscribe ukraine", A, USER_A, CHANNEL_B))
    await server.answer(await server.command("subscribe ukraine 05:00", A, USER_A, CHANNEL_B))
    assert await subscriptions_of(server) == before

    # By button: A's user clicks a Subscribe button carrying B's channel.
    url = server.fake.new_response_url()
    click = block_action(
        ACTION_SUBSCRIBE, button_value("ukraine"), response_url=url, team_id=A,
        user_id=USER_A, channel_id=CHANNEL_B,
    )
    assert await server.post(urllib.parse.urlencode({"payload": json.dumps(click)}), FORM) == 200
    await server.answer(url)
    assert await subscriptions_of(server) == before

    # Home tab: each workspace sees its own digests only.
    await server.event({"type": "app_home_opened", "user": USER_A, "tab": "home"}, A)
    [home] = await server.fake.wait_for(lambda: server.fake.calls("views.publish"))
    assert CHANNEL_A in json.dumps(home.payload) and CHANNEL_B not in json.dumps(home.payload)

    # A forged team id (a workspace that never installed the app) gets bolt's "install me"
    # and nothing of anyone's: no subscriptions listed, none removed, no Home published.
    home_calls = len(server.fake.calls("views.publish"))
    await server.event({"type": "app_home_opened", "user": USER_A, "tab": "home"}, "TEVIL")
    forged = await server.answer(await server.command("subscriptions", "TEVIL", USER_A, CHANNEL_B))
    assert "reinstall" in forged and "09:00" not in forged and "Ukraine" not in forged
    await server.answer(await server.command("unsubscribe ukraine", "TEVIL", USER_A, CHANNEL_B))
    assert len(server.fake.calls("views.publish")) == home_calls
    assert await subscriptions_of(server) == before


async def test_uninstall_removes_the_token_and_pauses_the_digests(server: Server) -> None:
    await server.install(A, USER_A)
    await server.install(B, USER_B)
    await server.answer(await server.command("subscribe ukraine", A, USER_A, CHANNEL_A))
    await server.answer(await server.command("subscribe ukraine", B, USER_B, CHANNEL_B))
    await server.event({"type": "app_uninstalled"}, B)

    async def paused() -> dict[str, str | None]:
        async with open_store(server.settings.store_location) as store:
            return {s.channel_id: s.paused_reason for s in await store.list_subscriptions()}

    for _ in range(100):  # the event is acked first, handled a moment later
        if (await paused())[CHANNEL_B]:
            break
        await asyncio.sleep(0.05)
    assert await paused() == {CHANNEL_A: None, CHANNEL_B: "app_uninstalled"}
    async with open_store(server.settings.store_location) as store:
        assert await store.installer(B) is None
        assert await store.installer(A) == USER_A


async def test_digests_go_out_with_each_workspace_own_token(
    server: Server, gold_extractor: Any
) -> None:
    tomorrow = await both_subscribed_to_ukraine(server)
    assert await send_digests_at(server, gold_extractor, tomorrow) == 2
    posted = {c.channel: c.team for c in server.fake.calls("chat.postMessage") if c.ok}
    assert posted == {CHANNEL_A: A, CHANNEL_B: B}


async def test_the_installer_is_an_admin_of_that_workspace_only(server: Server) -> None:
    await server.install(A, USER_A)
    await server.install(B, USER_B)
    target = "http://127.0.0.1:9/story"  # refused by the fetcher: no network needed
    installer = await server.answer(await server.command(f"ingest {target}", A, USER_A, CHANNEL_A))
    assert "Only admins" not in installer
    member = await server.answer(await server.command(f"ingest {target}", A, "UOTHER", CHANNEL_A))
    assert "Only admins" in member
    foreign = await server.answer(await server.command(f"ingest {target}", B, USER_A, CHANNEL_B))
    assert "Only admins" in foreign
