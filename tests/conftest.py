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
import concurrent.futures
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
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


# --- PostgreSQL (issue 10) -------------------------------------------------------------------
# The store's tests run on SQLite and on a local PostgreSQL. Each session makes its own
# database (dropped at the end) and each test its own schema, so parallel runs never meet.
# Without PostgreSQL the PostgreSQL runs are skipped, with one line at the end of the run; in
# CI (CI=true) a missing PostgreSQL fails them instead.

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
_postgres_missing: list[str] = []


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


async def _admin(sql: str, url: str = POSTGRES_URL) -> None:
    import asyncpg

    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _admin_sync(sql: str, url: str = POSTGRES_URL) -> None:
    """`_admin` from sync code, even while an event loop runs (fixtures asked for by async
    fixtures): on a thread of its own, with its own loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin(sql, url)).result()


def _with_database(url: str, database: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + database
    return f"{base}?{query}" if query else base


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database made for this test session."""
    name = f"guarantees_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        _admin_sync(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no server, refused, no such role: all mean "no PostgreSQL here"
        reason = f"PostgreSQL not reachable at {POSTGRES_URL} ({type(exc).__name__})"
        if _in_ci():
            pytest.fail(f"{reason}; CI needs it for the store's PostgreSQL tests")
        _postgres_missing.append(reason)
        pytest.skip(reason)
    try:
        yield _with_database(POSTGRES_URL, name)
    finally:
        _admin_sync(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_database: str) -> Iterator[str]:
    """A fresh, empty schema for one test, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    _admin_sync(f"CREATE SCHEMA {schema}", postgres_database)
    separator = "&" if "?" in postgres_database else "?"
    try:
        yield f"{postgres_database}{separator}search_path={schema}"
    finally:
        _admin_sync(f"DROP SCHEMA {schema} CASCADE", postgres_database)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store's location on each backend: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return str(request.getfixturevalue("postgres_url"))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _source_mode_elsewhere:
        terminalreporter.write_line(
            f"{len(_source_mode_elsewhere)} source_mode tests deselected: the core runs "
            "compiled here; tests/test_native.py runs them on the sources."
        )
    if _postgres_missing:
        terminalreporter.write_line(
            f"{_postgres_missing[0]}: the store's PostgreSQL runs were skipped."
        )


# --- The compiled extraction core (bot.native) -----------------------------------------------
# A few tests replace a module's function (`monkeypatch`) or hand it a stand-in object; a
# compiled module calls its own functions directly and checks its arguments' types, so these
# tests are marked `source_mode`. Where the core runs compiled they are deselected here and run
# together, in one process on the sources, by `tests/test_native.py` (one line at the end of
# the run says so).

_source_mode_elsewhere: list[str] = []


def pytest_collection_modifyitems(config: Any, items: list[pytest.Item]) -> None:
    from bot.native import status

    if not status().compiled:
        return
    elsewhere = [item for item in items if item.get_closest_marker("source_mode") is not None]
    if elsewhere:
        _source_mode_elsewhere.extend(item.nodeid for item in elsewhere)
        items[:] = [item for item in items if item not in elsewhere]
        config.hook.pytest_deselected(items=elsewhere)
