"""One direction of dependency: `handlers/` (the Slack listeners) uses `bot/`, never the reverse.

Every module under `bot/` is read with `ast` (not imported), so an import hidden inside a
function, or made by name through `importlib`, is found as well as one at the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"
FORBIDDEN = "handlers"


def _names_the_listeners(module: str | None) -> bool:
    return module is not None and (module == FORBIDDEN or module.startswith(FORBIDDEN + "."))


def imports_of_handlers(source: str, filename: str = "<source>") -> list[int]:
    """Line numbers in `source` that import `handlers` or one of its modules."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            if any(_names_the_listeners(alias.name) for alias in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and _names_the_listeners(node.module):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            # importlib.import_module("handlers...") or __import__("handlers...")
            called = node.func
            name = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
            if (
                name in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and _names_the_listeners(node.args[0].value)
            ):
                lines.append(node.lineno)
    return sorted(lines)


def test_no_module_under_bot_imports_handlers() -> None:
    modules = sorted(BOT.rglob("*.py"))
    assert len(modules) > 50  # the scan really sees the package
    found = [
        f"{path.relative_to(BOT.parent)}:{line}"
        for path in modules
        for line in imports_of_handlers(path.read_text(encoding="utf-8"), str(path))
    ]
    assert found == [], f"bot/ must not import handlers/: {', '.join(found)}"


@pytest.mark.parametrize(
    "source",
    [
        "import handlers",
        "import handlers.commands as commands",
        "import os, handlers.middleware",
        "from handlers import register",
        "from handlers.middleware import ack_first",
        "def build():\n    import handlers\n    handlers.register()",
        "async def build():\n    from handlers.respond import Responder",
        "import importlib\nimportlib.import_module('handlers.commands')",
        "__import__('handlers')",
    ],
)
def test_the_scan_finds_every_way_of_importing_handlers(source: str) -> None:
    assert imports_of_handlers(source)


@pytest.mark.parametrize(
    "source",
    [
        "import bot.app",
        "from bot.services import Services",
        "from slack_sdk.http_retry.builtin_async_handlers import AsyncRetryHandler",
        "import handlers_extra",
        "from . import handlers",  # a relative import names a module of bot/ itself
        "text = 'import handlers'",
    ],
)
def test_the_scan_leaves_other_imports_alone(source: str) -> None:
    assert imports_of_handlers(source) == []


def test_importing_the_server_and_the_command_line_loads_no_listener_module() -> None:
    """What the scan cannot see (an import made through another package, a computed name):
    a fresh interpreter that imports `bot`'s entry modules has no `handlers` module loaded."""
    probe = (
        "import sys, bot.__main__, bot.app, bot.serve, bot.listeners\n"
        "print(sorted(m for m in sys.modules if m == 'handlers' or m.startswith('handlers.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=BOT.parent, capture_output=True,
                          text=True, check=True, timeout=120)
    assert done.stdout.strip() == "[]"
