"""`python -m bot ingest` when reading one file fails unexpectedly: one line naming the file,
the rest of the batch ingested, the traceback only at LOG_LEVEL=DEBUG."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.ingest import IngestProblem, read_paths
from tests.test_ingest import GOOD_TEXT, HTML_PAGE


def batch(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    page = folder / "page.html"
    page.write_text(HTML_PAGE, encoding="utf-8")
    return folder, page


@pytest.fixture
def no_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a plain pip install without lxml's html_clean: importing the page reader fails."""
    monkeypatch.setitem(sys.modules, "trafilatura", None)
    monkeypatch.setitem(sys.modules, "trafilatura.settings", None)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env file here
    store = tmp_path / "store.db"
    monkeypatch.setenv("STORE_PATH", str(store))
    return store


def test_reader_turns_an_unexpected_error_into_one_problem(
    tmp_path: Path, no_trafilatura: None
) -> None:
    folder, page = batch(tmp_path)
    results = list(read_paths([folder]))
    [problem] = [r for r in results if isinstance(r, IngestProblem)]
    assert problem.where == str(page)
    assert problem.reason.startswith("unexpected error (ModuleNotFoundError")
    assert len(results) == 2  # good.txt was read too


def test_cli_prints_one_line_and_goes_on(
    tmp_path: Path,
    cli_env: Path,
    no_trafilatura: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder, page = batch(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    code = main(["ingest", str(folder)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "1 article added" in out
    printed = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert printed == [printed[0]]
    assert str(page) in printed[0] and "trafilatura" in printed[0]
    assert "Traceback" not in out + err


def test_cli_logs_the_traceback_at_debug(
    tmp_path: Path,
    cli_env: Path,
    no_trafilatura: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, page = batch(tmp_path)
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    caplog.set_level(logging.DEBUG, logger="bot.ingest")
    assert main(["ingest", str(folder)]) == 0
    failures = [r for r in caplog.records if r.name == "bot.ingest" and r.exc_info]
    assert failures and str(page) in failures[0].getMessage()
