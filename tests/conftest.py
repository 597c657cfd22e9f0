"""Shared fixtures: settings, a store filled from the demo corpus, a fake Slack.

- `extractor` (session): the default (rule-based) extractor, built once.
- `gold_extractor` (session): `tests.fakes.extractor.GoldExtractor`, the annotated positions of
  the demo corpus: fast and known in advance, for tests of what comes after extraction.
- `corpus_store_file` (module): a store file filled from the bundled demo corpus (by the gold
  extractor) once per module; `store_path` (function) is a private copy of it, cheap to make
  and safe to change.
- `make_settings(**overrides)`: `Settings` for tests, never read from the environment or a
  `.env` file, with test tokens and `STORE_PATH` = `store_path` unless overridden.
- `fake_slack`: a started `tests.fakes.slack.FakeSlack`; `make_settings` points
  `SLACK_API_URL` at it when it is requested in the same test.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.extraction import Extractor, default_extractor
from bot.settings import Settings
from tests.fakes.extractor import GoldExtractor
from tests.fakes.slack import FakeSlack

BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
SIGNING_SECRET = "test-signing-secret"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def extractor() -> Extractor:
    return default_extractor()


@pytest.fixture(scope="session")
def gold_extractor() -> Extractor:
    return GoldExtractor()


async def fill_demo_store(path: str, extractor: Extractor) -> None:
    from bot.pipeline import ensure_demo_corpus
    from bot.store import open_store

    async with open_store(path) as store:
        await ensure_demo_corpus(store, extractor)


@pytest.fixture(scope="module")
def corpus_store_file(tmp_path_factory: pytest.TempPathFactory, gold_extractor: Extractor) -> Path:
    """A store filled from the demo corpus, once per test module. Copy it before changing it;
    open it with `gold_extractor` so nothing is extracted again."""
    path = tmp_path_factory.mktemp("corpus") / "store.db"
    asyncio.run(fill_demo_store(str(path), gold_extractor))
    return path


@pytest.fixture
def store_path(tmp_path: Path, corpus_store_file: Path) -> str:
    """A private copy of the demo-corpus store for one test."""
    target = tmp_path / "store.db"
    shutil.copyfile(corpus_store_file, target)
    return str(target)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as fake:
        yield fake


@pytest.fixture
def make_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    """Build test settings; overrides use field names (`slack_app_token="xapp-..."`)."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "slack_bot_token": BOT_TOKEN,
            "slack_signing_secret": SIGNING_SECRET,
            "host": "127.0.0.1",
            "port": free_port(),
            "log_level": "INFO",
        }
        if "store_path" not in overrides:
            if "store_path" in request.fixturenames:
                values["store_path"] = request.getfixturevalue("store_path")
            else:
                values["store_path"] = str(tmp_path / "store.db")
        if "slack_api_url" not in overrides and "fake_slack" in request.fixturenames:
            values["slack_api_url"] = request.getfixturevalue("fake_slack").base_url
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build
