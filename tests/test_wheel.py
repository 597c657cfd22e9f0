"""The deployment wheel (`make wheel`, tools/build_wheel.py): it carries the compiled core,
is tagged for this Python and platform, has a RECORD that matches its files, and once
installed away from the checkout the bot runs compiled and extracts what the checkout does.

Needs a compiled build (`make native`); without one it skips with one line, and in CI
(CI=true, where `make test` builds it) it fails instead."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import bot.native as native
from bot.evaluate import read_gold
from bot.extraction.learned.extractor import CombinedExtractor
from bot.models import Article
from bot.native import COMPILED, SHARED_LIBRARY, SWITCH, Status, check

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import build_wheel  # noqa: E402

SEED = ROOT / "bot" / "corpus" / "seed_gold.jsonl"
EXTRACT = """
import json, sys
import bot, bot.native
from bot.evaluate import read_gold
from bot.extraction.learned.extractor import CombinedExtractor
from bot.models import Article
r = read_gold(__import__("pathlib").Path(sys.argv[1]))[0]
positions = CombinedExtractor().extract(Article(id=r["id"], title=r["title"], text=r["text"]))
print(json.dumps({"where": bot.__file__, "status": str(bot.native.status()),
                  "positions": [[p.party, str(p.stance), str(p.guarantee), p.guarantor,
                                 p.beneficiary, p.evidence, p.confidence] for p in positions]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not check(switch=False).compiled:
        reason = f"extraction core {check(switch=False)}"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"{reason}; CI builds it (make native) and must test the wheel")
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_wheel.py"), "--out",
                           str(out)], capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return built


def test_the_wheel_is_tagged_for_this_python_and_carries_the_compiled_core(wheel: Path) -> None:
    assert wheel.name.endswith(f"-{build_wheel.wheel_tag()}.whl")
    assert wheel.name.startswith("guarantees_bot-")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "Root-Is-Purelib: false" in meta and f"Tag: {build_wheel.wheel_tag()}" in meta
    wanted = {p.relative_to(ROOT).as_posix() for p in build_wheel.compiled_files()}
    assert len(wanted) == len(COMPILED) + 2  # each module, the shared library, the manifest
    assert wanted <= names
    assert any(SHARED_LIBRARY.replace(".", "/") in n for n in names)
    # the sources too (the guard checks them) and the committed model
    assert "bot/extraction/learned/extractor.py" in names
    assert "bot/extraction/learned/artifacts/combined.npz" in names
    assert not any("__pycache__" in n for n in names)


def test_the_record_matches_every_file(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        record_name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        rows = list(csv.reader(io.StringIO(z.read(record_name).decode())))
        listed = {row[0] for row in rows}
        assert listed == set(z.namelist())
        for path, digest, size in rows:
            if path == record_name:
                assert digest == size == ""
                continue
            data = z.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == "sha256=" + expected.decode() and int(size) == len(data), path


def test_installed_away_from_the_checkout_the_bot_runs_compiled_and_gives_the_same_positions(
        wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != SWITCH}
    env["PYTHONPATH"] = str(target)  # ahead of the checkout's editable install
    done = subprocess.run([sys.executable, "-c", EXTRACT, str(SEED)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(done.stdout)
    assert Path(got["where"]).is_relative_to(target)
    assert got["status"] == f"compiled ({len(COMPILED)} modules)"
    record = read_gold(SEED)[0]
    here = CombinedExtractor().extract(Article(id=record["id"], title=record["title"],
                                               text=record["text"]))
    assert got["positions"] == [[p.party, str(p.stance), str(p.guarantee), p.guarantor,
                                 p.beneficiary, p.evidence, p.confidence] for p in here]
    assert got["positions"]


def test_without_a_compiled_core_no_wheel_is_made(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Where the core cannot be compiled (no compiler: build_native --strict exits 1), the
    script says so in one line and makes no wheel: an interpreted core is not shipped under a
    compiled wheel's tag."""
    monkeypatch.setattr(build_wheel.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 1))
    monkeypatch.setattr(native, "check",
                        lambda switch=True: Status(False, "interpreted: no compiled build"))
    monkeypatch.setenv(SWITCH, "0")  # main sets it; the test's process gets it back
    monkeypatch.setattr(sys, "argv", ["build_wheel.py", "--out", str(tmp_path / "dist")])
    assert build_wheel.main() == 1
    assert "no compiled core to ship (interpreted: no compiled build)" in capsys.readouterr().err
    assert not (tmp_path / "dist").exists()
