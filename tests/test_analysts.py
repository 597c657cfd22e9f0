"""Export (CSV injection included), corrections as gold, history, the matrix picture, the
grammar of the three subcommands, and their command lines."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.cards.history import history_message
from bot.cards.matrix import render_matrix_png
from bot.corrections import write_gold
from bot.export import COLUMNS, safe_cell, write_export
from bot.history import build_history
from bot.matrix import build_matrix
from bot.models import Article, Position, PositionFilter
from bot.query import ExportRequest, HistoryRequest, MatrixRequest, UserError, parse_command
from bot.store import Store, open_store
from bot.store.corrections import CorrectionKind
from bot.topics import load_topic_index
from bot.vocabulary import Guarantee, Stance
from tests.fakes.extractor import GoldExtractor

HOSTILE = "=HYPERLINK(\"http://evil.example\",\"click\")"


@pytest.fixture
async def store(store_path: str) -> AsyncIterator[Store]:
    async with open_store(store_path) as opened:
        yield opened


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Trump said = no", "Trump said = no"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(value: str, expected: str) -> None:
    assert safe_cell(value) == expected


async def test_csv_export_of_a_hostile_article_opens_safely(store: Store) -> None:
    evidence = "-1 say officials, who back peacekeepers."
    article = Article(
        id="hostile", title=HOSTILE, text=f"Intro.\n{evidence}", url="https://x.example/h",
        outlet="@outlet", published=date(2026, 1, 2),
    )
    await store.add_article(article)
    await store.save_positions(
        "hostile",
        [Position("+officials", "ukr", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE, None, None,
                  evidence)],
        "gold", "1",
    )
    out = io.StringIO()
    count = await write_export(store, PositionFilter(parties=("ukr",)), out, "csv")
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == COLUMNS and len(rows) == count + 1
    row = dict(zip(COLUMNS, next(r for r in rows if r[0] == "https://x.example/h"), strict=True))
    assert row["title"] == "'" + HOSTILE
    assert row["outlet"] == "'@outlet"
    assert row["actor"] == "'+officials"
    assert row["evidence"] == "'" + evidence
    for cells in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in cells)
    # JSON Lines keeps the values as they are: a program reads them, not a spreadsheet.
    out = io.StringIO()
    await write_export(store, PositionFilter(parties=("ukr",)), out, "jsonl")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert HOSTILE in {r["title"] for r in records}


async def test_export_shows_corrections_and_gold_file_holds_them(store: Store) -> None:
    found = await store.positions(PositionFilter(held_by=frozenset({"usa"})), limit=2)
    first, second = found
    await store.correct_position(first.id, CorrectionKind.STANCE, user_id="U1",
                                 new_stance=Stance.DOUBTS, note="hedged")
    await store.correct_position(second.id, CorrectionKind.NOT_POSITION, user_id="U2")
    out = io.StringIO()
    # The single workspace's corrections (team "") apply to its reads; the corpus is shared.
    await write_export(
        store, PositionFilter(held_by=frozenset({"usa"}), team=""), out, "jsonl"
    )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["corrected_by"] for r in records if r["corrected_by"]] == ["U1"]
    tuples = {(r["evidence"], r["stance"], r["guarantee"]) for r in records}
    assert (second.evidence, str(second.stance), str(second.guarantee)) not in tuples
    gold = io.StringIO()
    written = await write_gold(store, gold)
    lines = [json.loads(line) for line in gold.getvalue().splitlines()]
    assert written == len(lines) >= 1
    positions = [p for line in lines for p in line["positions"]]
    rejected = [p for line in lines for p in line["rejected"]]
    assert [(p["party"], p["stance"], p["checked_by"], p["note"]) for p in positions] == [
        ("usa", "doubts", "U1", "hedged")
    ]
    assert positions[0]["evidence"] in next(
        line["text"] for line in lines if positions[0] in line["positions"]
    )
    assert [(p["party"], p["stance"], p["guarantee"]) for p in rejected] == [
        ("usa", str(second.stance), str(second.guarantee))
    ]
    assert {"id", "url", "title", "published", "source", "text"} <= set(lines[0])


async def test_history_lists_changes_in_time_order(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["usa"])
    history = await build_history(store, topic)
    assert history.total >= 2 and history.changes
    days = [c.position.published or date.min for c in history.changes]
    assert days == sorted(days)
    for change in history.changes:
        assert change.position.party == "usa"
        assert change.before is None or change.before is not change.position.stance
    message = history_message(history).to_dict()
    assert message["blocks"][0]["text"]["text"] == "History · United States"
    narrowed = (await load_topic_index(store)).resolve(["usa", "security"])
    only = await build_history(store, narrowed)
    assert {c.position.guarantee for c in only.changes} == {Guarantee.SECURITY_GUARANTEE}


async def test_card_marks_a_party_whose_stance_changed(store: Store) -> None:
    from bot.briefing import build_briefing
    from bot.cards.briefing import briefing_message

    topic = (await load_topic_index(store)).resolve(["ukraine"])
    briefing = await build_briefing(store, topic)
    shifted = [s for g in briefing.guarantees for s in g.shifts]
    assert shifted, "the demo corpus has the United States moving on security guarantees"
    shift = next(s for s in shifted if s.party == "usa")
    text = json.dumps(briefing_message(briefing).to_dict(), ensure_ascii=False)
    assert f"United States {shift.stance} since" in text
    # The party's latest stance comes first; the earlier one is marked as such.
    section = next(g for g in briefing.guarantees if shift in g.shifts)
    earlier = section.line(shift.before)
    assert earlier is not None
    marked = next(h for h in earlier.holders if h.party == "usa")
    assert marked.earlier and earlier.holders[-1].earlier
    current = section.line(shift.stance)
    assert current is not None and not next(h for h in current.holders if h.party == "usa").earlier


async def test_matrix_png(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    matrix = await build_matrix(store, topic)
    assert ("ukr", "Ukraine") in matrix.parties
    assert matrix.contested and matrix.first and matrix.last and matrix.first <= matrix.last
    png = render_matrix_png(matrix)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    assert width >= 1200  # a phone shows it zoomed to fit: the type must stay large


async def test_grammar_of_the_analyst_subcommands(store: Store) -> None:
    index = await load_topic_index(store)
    history = parse_command("history usa peacekeepers", index)
    assert isinstance(history, HistoryRequest)
    assert history.topic.filter.parties == ("usa",)
    assert isinstance(parse_command("matrix ukraine", index), MatrixRequest)
    export = parse_command("export ukraine json", index)
    assert isinstance(export, ExportRequest) and export.format == "jsonl"
    plain_export = parse_command("export ukraine", index)
    assert isinstance(plain_export, ExportRequest) and plain_export.format == "csv"
    for bad in ("history", "history peacekeepers", "export", "matrix", "history ukraine usa"):
        with pytest.raises(UserError):
            parse_command(bad, index)


@pytest.fixture
def cli_store(store_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORE_PATH", store_path)
    monkeypatch.setattr("bot.extraction.choice.default_extractor", GoldExtractor)
    return store_path


def test_command_lines(cli_store: str, tmp_path: Path, capsys: Any) -> None:
    png = tmp_path / "m.png"
    assert main(["matrix", "ukraine", "--out", str(png)]) == 0
    assert "sources" in capsys.readouterr().out
    assert png.read_bytes().startswith(b"\x89PNG")
    out = tmp_path / "p.csv"
    assert main(["export", "ukraine", "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and set(rows[0]) == set(COLUMNS)
    assert main(["export", "ukraine", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len([json.loads(line) for line in lines]) == len(rows)
    gold = tmp_path / "gold.jsonl"
    assert main(["export", "--corrections", str(gold)]) == 0
    assert gold.read_text(encoding="utf-8") == ""  # none yet
    assert main(["matrix", "zzzz", "--out", str(png)]) == 2


async def test_home_shows_the_corrected_position(store: Store, make_settings: Any) -> None:
    from bot.cards.corrections import CHECKED_MARK
    from bot.commands import home_view
    from bot.services import Services

    services = Services(make_settings(), store, None, None, None)  # type: ignore[arg-type]
    before = json.dumps(await home_view(services, "U1"), ensure_ascii=False)
    assert CHECKED_MARK not in before
    latest = (await store.positions(PositionFilter(), limit=1))[0]
    await store.correct_position(latest.id, CorrectionKind.STANCE, user_id="U1",
                                 new_stance=Stance.DOUBTS if latest.stance is not Stance.DOUBTS
                                 else Stance.BACKS)
    after = json.dumps(await home_view(services, "U1"), ensure_ascii=False)
    assert CHECKED_MARK in after
