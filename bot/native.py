"""The extraction core compiled with mypyc, and the guard that keeps an outdated build from
running.

`make native` (part of `make test` and `make train`) compiles the modules in `COMPILED` into
C extensions beside their sources (`tools/build_native.py`) and writes `native.json`: the
digest of every source it compiled, and of the interpreted modules they import (`IMPORTED`:
mypyc builds in what it read of their types), as they were when the build began. A compiled
module would shadow its `.py`, so an edited source beside an old build would run the old code
without a word. `guard` (called by `bot/__init__.py`, before any of these modules loads)
therefore checks the digests and that every extension file is there; unless all of it holds,
it loads all of the core from source. All or none: compiled modules call one another
directly, so one fresh module among stale ones would still call their old code.

Limits: the check is made once per process, at `import bot`; a build replaced while a process
runs is not noticed by that process. Modules the core reaches only through `IMPORTED` are not
recorded.

The compiled and the interpreted core give the same positions, confidences and evidence to
the last bit (`tests/test_native.py`); only the speed differs (BENCHMARKS.md, *Extraction
speed*). `BOT_NATIVE=0` runs the sources even where the build is fresh.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = Path(__file__).resolve().parent / "native.json"
SWITCH = "BOT_NATIVE"  # "0", "off", "no" or "false": run the sources

# The extraction core: the rules' stages and the learned stage, with the lexicons, the phrase
# matchers' wrapper and the plain-text reading they share.
COMPILED: tuple[str, ...] = (
    "bot.extraction.attribution",
    "bot.extraction.rules.beneficiary",
    "bot.extraction.rules.clauses",
    "bot.extraction.rules.extractor",
    "bot.extraction.rules.guarantees",
    "bot.extraction.rules.guarantor",
    "bot.extraction.rules.holders",
    "bot.extraction.rules.places",
    "bot.extraction.rules.polarity",
    "bot.extraction.rules.sentences",
    "bot.extraction.rules.speakers",
    "bot.extraction.rules.state",
    "bot.extraction.learned.beneficiary",
    "bot.extraction.learned.extractor",
    "bot.extraction.learned.features",
    "bot.extraction.learned.guarantor",
    "bot.extraction.learned.mentions",
    "bot.extraction.learned.model",
    "bot.extraction.rules.pipeline",
    "bot.extraction.plaintext",
    "bot.extraction.lexicon",
)


# Interpreted modules the core imports: mypyc compiles against their types as it read them.
IMPORTED: tuple[str, ...] = (
    "bot.models",
    "bot.vocabulary",
    "bot.extraction.rules",
)
SHARED_LIBRARY = "bot.native__mypyc"  # the compiled code of all of them; each module is a shim


def source_path(module: str) -> Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def extension_path(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_name(
        module.rsplit(".", 1)[-1] + str(sysconfig.get_config_var("EXT_SUFFIX")))


def digest(module: str) -> str:
    return hashlib.sha256(source_path(module).read_bytes()).hexdigest()


def manifest_for(modules: Sequence[str]) -> dict[str, object]:
    """What the build records for `modules`, read before it starts: if a source changes
    while it compiles, the build is stale at once."""
    return {"ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
            "sources": {m: digest(m) for m in modules},
            "imported": {m: digest(m) for m in IMPORTED}}


@dataclass(frozen=True)
class Status:
    """Whether the core runs compiled, and if not, why."""

    compiled: bool
    reason: str  # "compiled (21 modules)", "interpreted: ... changed since the build", ...

    def __str__(self) -> str:
        return self.reason


def check(*, switch: bool = True) -> Status:
    """Is there a build, made for this Python, from the sources as they are now? `switch`:
    whether `BOT_NATIVE=0` counts (the build script asks about the files alone)."""
    if switch and os.environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return Status(False, f"interpreted ({SWITCH}=0)")
    try:
        built = json.loads(MANIFEST.read_text(encoding="utf-8"))
        suffix, sources, imported = built["ext_suffix"], built["sources"], built["imported"]
        recorded = {str(m): str(d) for m, d in {**sources, **imported}.items()}
    except FileNotFoundError:
        return Status(False, "interpreted: no compiled build (make native)")
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return Status(False, f"interpreted: unreadable {MANIFEST.name} "
                             f"({type(exc).__name__}; make native)")
    if suffix != sysconfig.get_config_var("EXT_SUFFIX"):
        return Status(False, "interpreted: the build is for another Python (make native)")
    if sorted(sources) != sorted(COMPILED) or sorted(imported) != sorted(IMPORTED):
        return Status(False, "interpreted: the build compiled another set of modules "
                             "(make native)")
    missing = [m for m in (*COMPILED, SHARED_LIBRARY) if not extension_path(m).is_file()]
    if missing:
        return Status(False, f"interpreted: {extension_path(missing[0]).name} is missing "
                             "(make native)")
    try:
        stale = [m for m in (*COMPILED, *IMPORTED) if recorded[m] != digest(m)]
    except OSError as exc:  # an install without its sources: nothing to check the build by
        return Status(False, f"interpreted: a source of the core cannot be read "
                             f"({exc.filename}: {exc.strerror}); the build is checked "
                             "against its sources, so keep them installed")
    if stale:
        names = ", ".join(source_path(m).relative_to(ROOT).as_posix() for m in stale[:3])
        more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
        return Status(False, f"interpreted: {names}{more} changed since the build "
                             "(make native)")
    return Status(True, f"compiled ({len(COMPILED)} modules)")


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the core's modules as their `.py` files, ahead of any compiled twin."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


_status: Status | None = None


def guard() -> Status:
    """Decide once per process, before any module of the core loads: compiled when the build
    is fresh, else every module from its source (with one warning where a build exists)."""
    global _status
    if _status is not None:
        return _status
    _status = check()
    if _status.compiled:
        try:  # the one library all of the core's compiled code lies in
            importlib.import_module(SHARED_LIBRARY)
        except ImportError as exc:
            _status = Status(False, f"interpreted: {SHARED_LIBRARY} does not load "
                                    f"({str(exc)[:120]}; make native)")
    if not _status.compiled:
        sys.meta_path.insert(0, _SourceFinder())
        if MANIFEST.exists() and not _status.reason.startswith(f"interpreted ({SWITCH}"):
            log.warning("extraction core %s", _status.reason)
    return _status


def status() -> Status:
    """How the core runs in this process (`guard` decided it)."""
    return guard()


def running_compiled() -> bool:
    """Did the core's modules actually load as C extensions (not only: should they)?"""
    loaded = [sys.modules[m] for m in COMPILED if m in sys.modules]
    return bool(loaded) and all(
        not str(getattr(m, "__file__", "")).endswith(".py") for m in loaded)
