"""Compile the extraction core (`bot.native.COMPILED`) with mypyc into C extensions beside
the sources, then write `bot/native.json`, the digests `bot.native.guard` checks (taken
before the build starts, so that a source saved during it leaves the build stale).

Run by `make native` (and so by `make test` and `make train`), which builds only where the
sources changed since the last build (`--if-stale`). Without a C compiler or Python's
headers, it says so in one line before starting; if mypyc or the compiler fails, it prints
their last messages and a line saying so. Either way it exits 0 and the bot runs its sources,
only slower. `--strict` makes a failure exit 1 (for a build that must be compiled).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

# run as a script from the project's root: the package is importable from there
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["BOT_NATIVE"] = "0"  # this process reads the sources, never an old build

from bot.native import COMPILED, MANIFEST, ROOT, check, manifest_for, source_path


def remove_old_build() -> None:
    """Delete an earlier build: its manifest first (a build half removed is no build), then
    every extension in the package."""
    MANIFEST.unlink(missing_ok=True)
    for so in (ROOT / "bot").rglob("*.so"):
        so.unlink()


def missing_tools() -> str | None:
    """Why this machine cannot compile C extensions for this Python, if it cannot."""
    compiler = shlex.split(os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc"))
    if not compiler or shutil.which(compiler[0]) is None:
        return f"no C compiler ({compiler[0] if compiler else 'CC is empty'})"
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not header.is_file():
        return f"no Python headers ({header})"
    try:
        import mypyc.build  # noqa: F401
        import setuptools  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[native]')"
    return None


def build() -> None:
    from mypyc.build import mypycify
    from setuptools import Distribution

    paths = [source_path(m).relative_to(ROOT).as_posix() for m in COMPILED]
    with tempfile.TemporaryDirectory(prefix="bot-native-") as tmp:
        cwd = os.getcwd()
        os.chdir(ROOT)  # mypyc names modules by their paths from here
        try:
            notes = io.StringIO()  # mypyc's notes ("treating generator comprehension as
            with contextlib.redirect_stdout(notes):  # list") unless it fails
                try:
                    extensions = mypycify(paths, opt_level="3", group_name="bot.native",
                                          target_dir=str(Path(tmp) / "c"))
                except (Exception, SystemExit):
                    print(notes.getvalue()[-3000:], file=sys.stderr)
                    raise
            dist = Distribution({"name": "bot-native", "ext_modules": extensions})
            build_ext = dist.get_command_obj("build_ext")
            build_ext.inplace = True  # type: ignore[attr-defined]
            build_ext.build_temp = str(Path(tmp) / "o")  # type: ignore[attr-defined]
            build_ext.build_lib = str(Path(tmp) / "lib")  # type: ignore[attr-defined]
            dist.run_command("build_ext")
        finally:
            os.chdir(cwd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 if the build fails")
    parser.add_argument("--clean", action="store_true", help="only remove an earlier build")
    parser.add_argument("--if-stale", action="store_true",
                        help="build only where no build of the current sources exists")
    args = parser.parse_args()
    if args.if_stale and not args.clean and check(switch=False).compiled:
        print(f"build_native: up to date ({len(COMPILED)} modules)")
        return 0
    if args.clean:
        remove_old_build()
        return 0
    why_not = missing_tools()  # before touching anything: an old build stays as it was
    if why_not:
        print(f"build_native: not compiled, the bot runs its sources: {why_not}",
              file=sys.stderr)
        return 1 if args.strict else 0
    remove_old_build()
    manifest = manifest_for(COMPILED)  # the sources as the build reads them
    started = time.monotonic()
    try:
        build()
    except (Exception, SystemExit) as exc:  # distutils exits where the compiler fails
        remove_old_build()
        print(f"build_native: not compiled, the bot runs its sources ({type(exc).__name__}: "
              f"{str(exc).strip()[:200]})", file=sys.stderr)
        return 1 if args.strict else 0
    MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    fresh = check(switch=False)
    print(f"build_native: {len(COMPILED)} modules compiled in "
          f"{time.monotonic() - started:.0f} s" + ("" if fresh.compiled else f"; {fresh}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
