"""The model tier in the bot: settings, the command line, `serve`'s background retry, and the
agreement mark on cards."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.serve
from bot.__main__ import cmd_eval_model, cmd_extract_model, main
from bot.cards.briefing import quote_text
from bot.cards.evidence import position_text
from bot.extraction import AsyncExtractor
from bot.model_retry import retry_due, run_model_retries
from bot.models import PositionFilter, StoredPosition
from bot.pipeline import demo_corpus_files
from bot.services import open_services
from bot.settings import Settings, SettingsError, load_settings
from bot.vocabulary import Guarantee, Stance
from tests.fakes.llm import FakeModel, Reply
from tests.llm_helpers import Clock, gold_responder


@pytest.fixture
async def fake() -> AsyncIterator[FakeModel]:
    async with FakeModel(gold_responder()) as server:
        yield server


def test_model_tier_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("EXTRACTOR", "LLM_BASE_URL", "LLM_MODEL", "LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    defaults = load_settings()
    assert defaults.extractor == "rules" and defaults.llm_max_concurrency == 4
    assert defaults.llm_daily_token_budget is None and defaults.llm_api_key is None
    monkeypatch.setenv("EXTRACTOR", "hybrid")
    with pytest.raises(SettingsError, match=r"^EXTRACTOR: 'hybrid' needs LLM_BASE_URL and "
                                            r"LLM_MODEL set$"):
        load_settings()
    monkeypatch.setenv("LLM_BASE_URL", "http://localhost:11434/v1/")
    monkeypatch.setenv("LLM_MODEL", "llama3.1:8b")
    monkeypatch.setenv("LLM_API_KEY", "sk-very-secret")
    monkeypatch.setenv("LLM_DAILY_TOKEN_BUDGET", "200000")
    settings = load_settings()
    assert settings.llm_base_url == "http://localhost:11434/v1"
    assert settings.llm_daily_token_budget == 200_000
    assert "sk-very-secret" not in repr(settings)
    monkeypatch.setenv("LLM_MAX_CONCURRENCY", "0")
    with pytest.raises(SettingsError, match=r"^LLM_MAX_CONCURRENCY: "):
        load_settings()


def test_cli_refuses_the_model_tier_without_an_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("EXTRACTOR", "LLM_BASE_URL", "LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    gold = str(demo_corpus_files()[0])
    assert main(["eval", gold, "--extractor", "llm"]) == 2
    assert "--extractor llm needs LLM_BASE_URL and LLM_MODEL" in capsys.readouterr().err


async def test_eval_and_extract_with_the_model(
    fake: FakeModel, make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    settings = make_settings(llm_base_url=fake.base_url, llm_model="fake-model",
                             store_path=str(tmp_path / "cache.db"))
    gold = str(demo_corpus_files()[0])  # dev_gold.jsonl, 8 articles
    assert await cmd_eval_model(settings, gold, "llm", as_json=True, verbose=False) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["articles"] == 8 and report["fp"] == 0 and report["precision"] == 1.0
    model = report["model"]
    assert (model["requests"], model["cached"], model["fallbacks"]) == (8, 0, 0)
    assert model["prompt_tokens"] == 8000 and model["positions_kept"] == report["tp"]
    # The second run reads the store's cache: no request at all.
    assert await cmd_eval_model(settings, gold, "hybrid", as_json=False, verbose=False) == 0
    out = capsys.readouterr().out
    assert "hybrid (fake-model): 0 answers, 8 cached" in out
    assert len(fake.requests) == 8
    # extract: JSON Lines with who found each position
    assert await cmd_extract_model(settings, gold, "hybrid") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and {row["found_by"] for row in rows} <= {"rules", "llm", "both"}
    assert "both" in {row["found_by"] for row in rows}


async def test_eval_says_when_the_rules_stood_in(
    fake: FakeModel, make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    fake.responder = lambda text, body: Reply(status=401)  # refused: no backoff to wait out
    settings = make_settings(llm_base_url=fake.base_url, llm_model="fake-model",
                             store_path=str(tmp_path / "cache.db"))
    assert await cmd_eval_model(settings, str(demo_corpus_files()[0]), "llm", as_json=False,
                                verbose=False) == 0
    err = capsys.readouterr().err
    assert "the rules stood in for the model on 8 of 8 articles" in err


def test_serve_runs_the_model_retries_only_with_a_model(
    make_settings: Callable[..., Settings]
) -> None:
    assert "model retries" not in dict(bot.serve.background_jobs(make_settings()))
    with_model = make_settings(extractor="llm", llm_base_url="http://127.0.0.1:9/v1",
                               llm_model="m")
    assert "model retries" in dict(bot.serve.background_jobs(with_model))


def _garbage_at_start(
    fake: FakeModel, make_settings: Callable[..., Settings], tmp_path: Path
) -> tuple[Any, Clock, Settings]:
    """EXTRACTOR=llm with an endpoint that answers garbage for now: its good responder (to
    put back), a clock at 09:00 and the settings."""
    good = fake.responder
    fake.responder = lambda text, body: Reply("Sure! Here are the positions:")
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    settings = make_settings(extractor="llm", llm_base_url=fake.base_url,
                             llm_model="fake-model", store_path=str(tmp_path / "s.db"))
    return good, clock, settings


async def test_background_retry_replaces_the_rules_positions(
    fake: FakeModel, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """EXTRACTOR=llm with an endpoint answering garbage at start-up: the demo corpus is
    extracted by the rules and queued; once it answers well, the background task brings in
    the model's positions."""
    good, clock, settings = _garbage_at_start(fake, make_settings, tmp_path)
    async with open_services(settings, with_slack=False, clock=clock) as services:
        assert isinstance(services.extractor, AsyncExtractor)
        store = services.store
        first = await store.positions(PositionFilter(), limit=1000)
        assert first and {p.found_by for p in first} == {"rules"}
        assert len(await store.queued_for_model()) == 9
        fake.responder = good
        clock.now += timedelta(hours=1)
        task = asyncio.create_task(run_model_retries(services, poll=0.01))

        async def drained() -> None:
            while await store.queued_for_model():
                await asyncio.sleep(0.02)

        try:  # a liveness bound, not a speed check: generous for a loaded machine
            await asyncio.wait_for(drained(), timeout=120)
        finally:
            task.cancel()
        assert await store.queued_for_model() == []
        after = await store.positions(PositionFilter(), limit=1000)
        assert after and {p.found_by for p in after} == {"llm"}
        assert {p.extractor for p in after} == {"llm"}


async def test_a_stop_before_the_write_keeps_the_article_queued(
    fake: FakeModel, make_settings: Callable[..., Settings], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The model answers, but the process stops before the positions are written: the
    article must stay in the queue (a later retry brings the answer in), not leave it with
    the rules' positions."""
    good, clock, settings = _garbage_at_start(fake, make_settings, tmp_path)
    async with open_services(settings, with_slack=False, clock=clock) as services:
        store = services.store
        queued = {q.article.id for q in await store.queued_for_model()}
        assert len(queued) == 9
        fake.responder = good
        clock.now += timedelta(hours=1)

        async def stopped(*args: Any, **kwargs: Any) -> None:
            raise asyncio.CancelledError  # what a stop delivers to the running task

        monkeypatch.setattr(store, "save_positions", stopped)
        with pytest.raises(asyncio.CancelledError):
            await retry_due(store, services.extractor, clock())
        assert {q.article.id for q in await store.queued_for_model()} == queued
        monkeypatch.undo()
        await retry_due(store, services.extractor, clock(), limit=100)
        assert await store.queued_for_model() == []
        after = await store.positions(PositionFilter(), limit=1000)
        assert after and {p.found_by for p in after} == {"llm"}


def _stored(**changes: Any) -> StoredPosition:
    values: dict[str, Any] = dict(
        id=1, article_id="a1", actor="keir-starmer", party="gbr", stance=Stance.BACKS,
        guarantee=Guarantee.PEACEKEEPING_FORCE, guarantor="gbr", beneficiary="ukr",
        evidence="Britain is ready to send peacekeepers.", url="https://e.example/1",
        title="T", outlet="Outlet", published=date(2026, 1, 1),
        added_at=datetime(2026, 1, 1, tzinfo=UTC), extractor="hybrid")
    values.update(changes)
    return StoredPosition(**values)


@pytest.mark.parametrize(("found_by", "mark"), [
    ("both", "rules and model agree"), ("llm", "model only"), ("rules", "rules only"),
    (None, None),
])
def test_cards_show_who_found_a_position(found_by: str | None, mark: str | None) -> None:
    for text in (position_text(_stored(found_by=found_by), 2000),
                 quote_text(_stored(found_by=found_by), 2000)):
        if mark:
            assert f" · {mark}" in text
        else:
            assert "agree" not in text and "only" not in text


async def test_the_migration_upgrades_an_existing_store(tmp_path: Path) -> None:
    """A store made before the model tier: the new tables and the `found_by` column arrive,
    the positions already there read back unmarked."""
    from bot.models import Article, Position
    from bot.store import MIGRATIONS, Store, open_store
    from bot.store.llm import MIGRATIONS as LLM_MIGRATIONS

    path = str(tmp_path / "old.db")
    older = [m for m in MIGRATIONS if m not in LLM_MIGRATIONS]
    old = await Store.connect(path, older)
    assert isinstance(old, Store)
    await old.add_article(Article(id="a1", title="t", text="Britain backs peacekeepers."))
    await old.db.execute(
        "INSERT INTO sentences (hash, text) VALUES (1, 'Britain backs peacekeepers.')")
    await old.db.execute("INSERT INTO actors (slug, party) VALUES ('united-kingdom', 'gbr')")
    await old.db.execute(
        "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance, guarantee,"
        " added_at, extractor, extractor_version) VALUES (1, 1, 1, 'gbr', 'backs',"
        " 'peacekeeping_force', '2026-01-01T00:00:00.000000Z', 'rules', '1')")
    await old.close()
    async with open_store(path) as store:
        assert "llm-1-cache-usage-queue" in await store.applied_migrations()
        (stored,) = await store.positions(PositionFilter())
        assert stored.found_by is None and stored.party == "gbr"
        new = Position("keir-starmer", "gbr", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE,
                       "gbr", "ukr", "Britain backs peacekeepers.", found_by="both")
        await store.save_positions("a1", [new], "hybrid", "x", replaces=("rules", "hybrid"))
        (stored,) = await store.positions(PositionFilter())
        assert (stored.found_by, stored.extractor) == ("both", "hybrid")
