"""Every writer's file of the annotated corpus is well formed: the checks a new writer's file must
pass before it is scored (tests/fixtures/extraction/writer_brief.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.vocabulary import Guarantee, Stance, parties

CORPUS = Path(__file__).resolve().parent / "fixtures" / "extraction" / "corpus"
# Codes the bot does not have that writers used before the brief forbade them
# (tests/fixtures/extraction/README.md): never matched, kept as written.
UNREACHABLE = frozenset({"knu", "nug", "kos"})
# Regional bodies that writers before round 13 coded as parties (README.md: they can never be
# matched); from w90 on, writers were told to leave such positions out.
LEGACY_BODIES = frozenset({"au", "afu", "ecowas", "asean", "igad", "igd", "aes", "osce", "oas",
                           "caricom", "iaea", "alba", "ebrd", "eac", "gcc", "csto", "sadc",
                           "arableag"})
FIELDS = ("id", "title", "published", "text", "writer", "style", "conflict", "positions")


def _problems(path: Path) -> list[str]:
    out: list[str] = []
    legacy = LEGACY_BODIES if int(path.stem[1:] or 0) < 90 else frozenset()
    known = set(parties())
    ids: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        where = f"{path.name}:{number}"
        out += [f"{where}: no {name}" for name in FIELDS if name not in record]
        if record.get("id") in ids:
            out.append(f"{where}: id {record.get('id')} twice")
        ids.add(record.get("id"))
        text = record.get("text", "")
        seen: set[tuple[str, str, str]] = set()
        for p in record.get("positions", []):
            key = (p.get("party"), p.get("stance"), p.get("guarantee"))
            if key in seen:
                out.append(f"{where}: {key} twice (one position, more spans in `also`)")
            seen.add(key)
            if p.get("stance") not in {s.value for s in Stance}:
                out.append(f"{where}: stance {p.get('stance')}")
            if p.get("guarantee") not in {g.value for g in Guarantee}:
                out.append(f"{where}: guarantee {p.get('guarantee')}")
            for field in ("party", "guarantor", "beneficiary"):
                code = p.get(field)
                if field != "party" and code is None:
                    continue
                if code not in known and code not in legacy | UNREACHABLE:
                    out.append(f"{where}: {field} {code}")
            for span in [p.get("evidence", ""), *(p.get("also") or [])]:
                if not span or span not in text:
                    out.append(f"{where}: span not in the text: {str(span)[:60]!r}")
    return out


WRITER_FILES = sorted(CORPUS.glob("w*.jsonl"))


def test_the_writers_files_are_found() -> None:
    assert len(WRITER_FILES) >= 100


@pytest.mark.parametrize("path", WRITER_FILES, ids=lambda p: p.stem)
def test_a_corpus_file_is_well_formed(path: Path) -> None:
    assert _problems(path) == []


def test_the_check_finds_what_a_writer_can_get_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "w0.jsonl"
    position = {"party": "Hamas", "stance": "welcomes", "guarantee": "peacekeeping_force",
                "guarantor": "xyz", "beneficiary": "pse", "evidence": "not in the text",
                "also": None}
    bad.write_text(json.dumps({"id": "a", "text": "Hamas said yes.",
                               "positions": [position, position]}) + "\n", encoding="utf-8")
    found = " ".join(_problems(bad))
    for part in ("no writer", "twice", "stance welcomes", "party Hamas", "guarantor xyz",
                 "span not in the text"):
        assert part in found
