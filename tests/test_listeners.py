"""How the server finds its Slack listeners: the `guarantees_bot.listeners` entry point."""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from collections.abc import Callable
from importlib.metadata import Distribution, EntryPoint, PackageNotFoundError, distribution
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

import bot.listeners
import handlers
from bot.__main__ import cmd_serve
from bot.listeners import ENTRY_POINT_GROUP, ListenersNotFound, load_listeners
from bot.serve import ServeError, serve
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def installed(monkeypatch: pytest.MonkeyPatch, *points: EntryPoint) -> None:
    """Make `load_listeners` see these entry points instead of the installed ones."""

    def entry_points(*, group: str) -> list[EntryPoint]:
        assert group == ENTRY_POINT_GROUP
        return list(points)

    monkeypatch.setattr(bot.listeners, "entry_points", entry_points)


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def test_pyproject_declares_handlers_register_as_the_listeners() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"][ENTRY_POINT_GROUP] == {"slack": "handlers:register"}


def test_the_one_entry_point_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, point("slack", "handlers:register"))
    assert load_listeners() is handlers.register


def test_no_listeners_installed_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch)
    with pytest.raises(ListenersNotFound) as refused:
        load_listeners()
    message = str(refused.value)
    assert message.startswith("no Slack listeners installed")
    assert "pip install -e ." in message
    assert "\n" not in message


def test_several_listeners_installed_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, point("slack", "handlers:register"), point("other", "elsewhere:hook"))
    with pytest.raises(ListenersNotFound, match="several Slack listeners installed") as refused:
        load_listeners()
    assert "other = elsewhere:hook, slack = handlers:register" in str(refused.value)


def test_an_entry_point_that_is_not_callable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    installed(monkeypatch, point("slack", "handlers.commands:COMMAND"))
    with pytest.raises(ListenersNotFound, match="not callable"):
        load_listeners()


def test_an_entry_point_that_does_not_import_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    installed(monkeypatch, point("slack", "handlers_gone:register"))
    with pytest.raises(ListenersNotFound, match="does not load") as refused:
        load_listeners()
    assert "handlers_gone" in str(refused.value) and "\n" not in str(refused.value)
    installed(monkeypatch, point("slack", "handlers:no_such_function"))
    with pytest.raises(ListenersNotFound, match="does not load"):
        load_listeners()


async def test_serve_stops_before_opening_anything_without_listeners(
    monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    installed(monkeypatch)
    store = tmp_path / "never.db"
    with pytest.raises(ServeError, match=r"^no Slack listeners installed"):
        await serve(make_settings(store_path=str(store)), socket_mode=False, stop=asyncio.Event())
    assert not store.exists()


async def test_the_command_line_prints_the_missing_listeners_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    installed(monkeypatch)
    assert await cmd_serve(make_settings(), "http") == 2
    err = capsys.readouterr().err
    assert err.startswith("cannot serve: no Slack listeners installed")
    assert err.count("\n") == 1


# --- the installed metadata ------------------------------------------------------------------


def _checkout_of(dist: Distribution) -> Path:
    """The directory the distribution's modules are imported from: the project directory of an
    editable install (`direct_url.json`, or an `.egg-info` inside the checkout), else the
    directory holding the metadata (site-packages)."""
    direct = dist.read_text("direct_url.json")
    if direct:
        info = json.loads(direct)
        if info.get("dir_info", {}).get("editable"):
            return Path(url2pathname(urlparse(info["url"]).path))
    return Path(str(dist.locate_file("")))


def _skip_unless_ci(reason: str) -> NoReturn:
    """CI installs this checkout (`make test`): there the metadata must be ours."""
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; CI installs the checkout, so the entry point must be there")
    pytest.skip(reason)


def test_the_installed_entry_point_resolves_to_handlers_register() -> None:
    """Reads the metadata `pip install` wrote; meaningful only when it was written from this
    checkout (else it describes another tree's pyproject.toml, and says nothing of this one)."""
    try:
        dist = distribution("guarantees-bot")
    except PackageNotFoundError:
        _skip_unless_ci("guarantees-bot is not installed: run `pip install -e .`")
    checkout = _checkout_of(dist)
    running = Path(handlers.__file__).resolve()
    if (checkout / "handlers" / "__init__.py").resolve() != running:
        _skip_unless_ci(f"installed metadata is from {checkout}, not {running.parent.parent}")
    assert dist.entry_points.select(group=ENTRY_POINT_GROUP).names == {"slack"}
    assert load_listeners() is handlers.register
