"""The annotated sets of the repository, split by writer and style (`splits.toml`)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evaluate import read_gold

SPLITS_FILE = Path("tests/fixtures/extraction/splits.toml")
SPLIT_NAMES = ("train", "dev", "test")


@dataclass(frozen=True)
class SplitFile:
    path: Path
    style: str | None


def split_files(split: str, root: Path = Path(".")) -> list[SplitFile]:
    """The files of one split, as listed (missing files included: the caller decides)."""
    data = tomllib.loads((root / SPLITS_FILE).read_text(encoding="utf-8"))
    return [SplitFile(root / e["path"], e.get("style")) for e in data.get(split, [])]


def load_split(split: str, root: Path = Path(".")) -> list[dict[str, Any]]:
    """The gold records of one split, each with a `style` (its own, or its file's) and a
    `set` (the file's stem). Raises FileNotFoundError naming a listed file that is missing."""
    records = []
    for entry in split_files(split, root):
        if not entry.path.exists():
            raise FileNotFoundError(f"{entry.path} is listed in {SPLITS_FILE} but missing")
        for record in read_gold(entry.path):
            record.setdefault("style", entry.style or "unknown")
            record["set"] = entry.path.stem
            records.append(record)
    return records
