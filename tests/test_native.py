"""The compiled extraction core (`bot.native`): it gives what the sources give, to the last
bit, and the guard runs the sources wherever the build does not match them.

Where the core runs compiled (after `make native`, so in CI), the tests marked `source_mode`
are deselected from this process (tests/conftest.py) and run here on the sources. Without a
build the tests that need one skip with one line; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import bot.native as native
from bot.native import COMPILED, Status, check, manifest_for, running_compiled, status

ROOT = Path(__file__).resolve().parents[1]

# Every article of the bundled corpus and one in sixty of the writers' files (styles and
# conflicts of every round): the combined extractor's and the rules' positions, every
# candidate's features and every probability.
DUMP = """
import hashlib, json, sys
from pathlib import Path
from bot.evaluate import read_gold
from bot.extraction.learned.extractor import CombinedExtractor
from bot.models import Article
from bot.native import running_compiled

root = Path(sys.argv[1])
records = [r for f in sorted((root / "bot" / "corpus").glob("*.jsonl")) for r in read_gold(f)]
files = sorted((root / "tests" / "fixtures" / "extraction").glob("corpus/*.jsonl"))
records += [r for f in files for r in read_gold(f)][::60]
extractor = CombinedExtractor()
out = {"compiled": running_compiled(), "articles": {}}
for r in records:
    article = Article(id=r["id"], title=r["title"], text=r["text"])
    view, scored = extractor.scored(article)
    candidates = [(c.sentence, c.party, c.guarantee, list(c.features.items()))
                  for c in view.candidates]
    positions = [(p.actor, p.party, str(p.stance), str(p.guarantee), p.guarantor,
                  p.beneficiary, p.evidence, repr(p.confidence))
                 for p in [*extractor.extract(article), *extractor.rules.extract(article)]]
    out["articles"][r["id"]] = {
        "candidates": hashlib.sha256(repr(candidates).encode()).hexdigest(),
        "probabilities": [(s.stance, repr(s.probability)) for s in scored],
        "positions": positions,
    }
print(json.dumps(out))
"""


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _needs_build() -> None:
    if not status().compiled:
        reason = f"extraction core {status()}"
        if _in_ci():
            pytest.fail(f"{reason}; CI builds it (make native) and must test it")
        pytest.skip(reason)


def _run(code: str, *args: str, interpreted: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != native.SWITCH}
    if interpreted:
        env[native.SWITCH] = "0"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def test_the_compiled_core_gives_what_the_sources_give() -> None:
    _needs_build()
    compiled = _run(DUMP, str(ROOT), interpreted=False)
    interpreted = _run(DUMP, str(ROOT), interpreted=True)
    assert compiled.returncode == 0, compiled.stderr[-2000:]
    assert interpreted.returncode == 0, interpreted.stderr[-2000:]
    fast, plain = json.loads(compiled.stdout), json.loads(interpreted.stdout)
    assert fast["compiled"] is True and plain["compiled"] is False
    assert len(plain["articles"]) > 150
    assert sum(len(a["positions"]) for a in plain["articles"].values()) > 500
    for article_id, expected in plain["articles"].items():
        assert fast["articles"][article_id] == expected, article_id


def test_this_process_runs_the_core_the_way_the_guard_decided() -> None:
    from bot.extraction.learned import features

    assert running_compiled() == status().compiled
    assert features.__file__ is not None
    assert features.__file__.endswith(".py") != status().compiled


def test_the_source_mode_tests_pass_on_the_sources() -> None:
    """The tests that replace a function or pass a stand-in, on the interpreted core."""
    if not status().compiled:
        pytest.skip("the core runs interpreted here: the source_mode tests ran in this run")
    env = {**os.environ, native.SWITCH: "0"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "source_mode", "-q",
                          "-o", "addopts=", "-p", "no:cacheprovider", "tests"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
                         check=False)
    assert run.returncode == 0, run.stdout[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" not in summary, summary
    assert int(summary.split(" passed")[0].split()[-1]) >= 4, summary


def _manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, built: dict[str, object]) -> None:
    path = tmp_path / "native.json"
    path.write_text(json.dumps(built), encoding="utf-8")
    monkeypatch.setattr(native, "MANIFEST", path)
    monkeypatch.delenv(native.SWITCH, raising=False)


def test_a_build_of_the_current_sources_is_fresh(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _manifest(tmp_path, monkeypatch, manifest_for(COMPILED))
    assert check() == Status(True, f"compiled ({len(COMPILED)} modules)")
    monkeypatch.setenv(native.SWITCH, "0")
    assert not check().compiled and "BOT_NATIVE=0" in check().reason


def test_any_edited_source_makes_the_whole_build_stale(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    built = manifest_for(COMPILED)
    sources = dict(built["sources"])  # type: ignore[call-overload]
    sources["bot.extraction.rules.holders"] = "0" * 64
    _manifest(tmp_path, monkeypatch, {**built, "sources": sources})
    result = check()
    assert not result.compiled
    assert "bot/extraction/rules/holders.py changed since the build" in result.reason


@pytest.mark.parametrize("change", ["no manifest", "another python", "another module set",
                                    "not json", "a list", "no extension file"])
def test_anything_but_a_build_of_these_sources_for_this_python_runs_them(
        change: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = manifest_for(COMPILED)
    if change == "no manifest":
        monkeypatch.setattr(native, "MANIFEST", tmp_path / "none.json")
        monkeypatch.delenv(native.SWITCH, raising=False)
    elif change == "not json":
        _manifest(tmp_path, monkeypatch, {})
        native.MANIFEST.write_text("{", encoding="utf-8")
    elif change == "a list":
        _manifest(tmp_path, monkeypatch, {})
        native.MANIFEST.write_text("[]", encoding="utf-8")
    elif change == "no extension file":
        _manifest(tmp_path, monkeypatch, built)
        monkeypatch.setattr(native, "extension_path", lambda module: tmp_path / "none.so")
    elif change == "another python":
        _manifest(tmp_path, monkeypatch, {**built, "ext_suffix": ".cpython-39-x86_64.so"})
    else:
        _manifest(tmp_path, monkeypatch, manifest_for(COMPILED[:-1]))
    result = check()
    assert not result.compiled and result.reason.startswith("interpreted")


def test_an_install_without_its_sources_says_so_instead_of_failing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment that kept the compiled files but dropped the `.py` files: the build cannot
    be checked, and `import bot` reports why instead of raising."""
    _manifest(tmp_path, monkeypatch, manifest_for(COMPILED))
    present = tmp_path / "module.so"
    present.write_bytes(b"")
    monkeypatch.setattr(native, "extension_path", lambda module: present)
    monkeypatch.setattr(native, "source_path", lambda module: tmp_path / "gone.py")
    result = check()
    assert not result.compiled
    assert "cannot be read" in result.reason and "gone.py" in result.reason


STALE_IMPORT = """
import importlib, importlib.util, json, sys
from pathlib import Path
root, manifest = Path(sys.argv[1]), Path(sys.argv[2])
spec = importlib.util.spec_from_file_location("bot.native", root / "bot" / "native.py")
native = importlib.util.module_from_spec(spec)
sys.modules["bot.native"] = native
spec.loader.exec_module(native)
native.MANIFEST = manifest  # the guard, run by bot/__init__.py, reads this one
import bot
files = [importlib.import_module(m).__file__ for m in native.COMPILED]
print(json.dumps([str(native.status()), files, native.SHARED_LIBRARY in sys.modules]))
"""


def _import_with(tmp_path: Path, built: dict[str, object]) -> tuple[str, list[str], bool, str]:
    """Import every module of the core in a new process whose guard reads `built`."""
    manifest = tmp_path / "native.json"
    manifest.write_text(json.dumps(built), encoding="utf-8")
    run = _run(STALE_IMPORT, str(ROOT), str(manifest), interpreted=False)
    assert run.returncode == 0, run.stderr[-2000:]
    reason, files, shared = json.loads(run.stdout)
    return reason, files, shared, run.stderr


@pytest.mark.parametrize("edited", ["bot.extraction.learned.model", "bot.models"])
def test_a_stale_build_loads_every_module_from_its_source(edited: str, tmp_path: Path) -> None:
    """Even where the compiled files lie beside the sources, one edited source (of the core,
    or of a module it imports) sends every module of the core back to its `.py`."""
    built = manifest_for(COMPILED)
    part = "sources" if edited in COMPILED else "imported"
    changed = {**built[part], edited: "f" * 64}  # type: ignore[dict-item]
    reason, files, shared, stderr = _import_with(tmp_path, {**built, part: changed})
    assert f"{edited.replace('.', '/')}.py changed since the build" in reason
    assert len(files) == len(COMPILED) and all(f.endswith(".py") for f in files)
    assert not shared
    assert "changed since the build" in stderr  # one warning, since there is a manifest


def test_a_fresh_build_loads_the_compiled_modules(tmp_path: Path) -> None:
    _needs_build()
    reason, files, shared, _ = _import_with(tmp_path, manifest_for(COMPILED))
    assert reason.startswith("compiled")
    assert not any(f.endswith(".py") for f in files) and shared


def test_without_a_compiler_the_build_says_so_and_leaves_everything_as_it_was() -> None:
    before = sorted((p.name, p.stat().st_mtime_ns) for p in (ROOT / "bot").rglob("*.so"))
    manifest = native.MANIFEST.read_bytes() if native.MANIFEST.exists() else None
    env = {**os.environ, "CC": "/nonexistent/cc"}
    for strict, code in (([], 0), (["--strict"], 1)):
        run = subprocess.run([sys.executable, "tools/build_native.py", *strict], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == code, run.stderr
        assert run.stderr.strip() == ("build_native: not compiled, the bot runs its sources: "
                                      "no C compiler (/nonexistent/cc)")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (ROOT / "bot").rglob("*.so")) == before
    assert (native.MANIFEST.read_bytes() if native.MANIFEST.exists() else None) == manifest
