"""The extractor's confidence, from the combined extractor through the store (both backends,
with a workspace's corrections laid over it) to the cards, exports and the eval's
calibration table."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.briefing import Evidence
from bot.cards.briefing import briefing_message, quote_text
from bot.cards.corrections import CHECKED_MARK, UNSURE_MARK, trust_suffix
from bot.cards.digest import render_digest
from bot.cards.evidence import evidence_message, position_text
from bot.cards.history import change_text
from bot.cards.home import home_tab
from bot.confidence import load_bands, parse_bands
from bot.digest import Shift, ShiftKind
from bot.evaluate import format_report, read_gold, score
from bot.export import COLUMNS, write_export
from bot.extraction.learned.extractor import CombinedExtractor, agreement
from bot.extraction.rules import RuleExtractor
from bot.history import Change
from bot.ingest import article_from_record
from bot.models import Article, Position, PositionFilter, StoredPosition
from bot.store import MIGRATIONS, Store, open_store
from bot.store.corrections import CorrectionKind
from bot.topics import Topic
from bot.vocabulary import Guarantee, Stance
from tests.fakes.slack_limits import check_message
from tests.test_cards import assert_within_limits, huge_briefing
from tests.test_digest_content import big_digest

SENTENCE = "Hungary doubts that NATO membership for Ukraine is wise, its foreign minister said."
ARTICLE = Article(
    id="c-1", title="Budapest on NATO", text=f"Leaders met.\n{SENTENCE}\nTalks go on.",
    url="https://news.example/c-1", outlet="news.example", published=date(2026, 2, 3),
)
UNSURE = Position(
    "hungary", "hun", Stance.DOUBTS, Guarantee.NATO_MEMBERSHIP, None, "ukr", SENTENCE,
    confidence=0.38,
)
SURE = Position(
    "hungary", "hun", Stance.OPPOSES, Guarantee.PEACEKEEPING_FORCE, None, "ukr", SENTENCE,
    confidence=0.915,
)
UNKNOWN = Position(
    "hungary", "hun", Stance.BACKS, Guarantee.EU_MEMBERSHIP, None, "ukr", SENTENCE,
)


def _seed_articles() -> list[Article]:
    from importlib import resources

    from bot.ingest import IngestProblem

    path = resources.files("bot.corpus").joinpath("seed_gold.jsonl")
    articles = []
    for n, record in enumerate(read_gold(path)):  # type: ignore[arg-type]
        article = article_from_record(record, f"gold:{n}")
        assert not isinstance(article, IngestProblem)
        articles.append(article)
    return articles


# --- the extractor -----------------------------------------------------------------------


def test_the_combined_extractor_gives_each_kept_position_its_probability() -> None:
    extractor = CombinedExtractor()
    found = 0
    for article in _seed_articles():
        view, scored = extractor.scored(article)
        positions = extractor.select(view, scored)
        for position in positions:
            assert position.confidence is not None
            assert 0.0 <= position.confidence <= 1.0
            assert position.confidence >= min(extractor.threshold_ruled, extractor.threshold_new)
            assert position.confidence == round(position.confidence, 3)
            # it is the agreement of the tuple's candidates, and clears the bar of their kind
            group = [s for s in scored
                     if (s.candidate.party, s.stance, s.candidate.guarantee)
                     == (position.party, str(position.stance), str(position.guarantee))]
            assert position.confidence == round(agreement([s.probability for s in group]), 3)
            ruled = any("r=" + s.stance in s.candidate.features for s in group)
            bar = extractor.threshold_ruled if ruled else extractor.threshold_new
            assert agreement([s.probability for s in group]) >= bar
            found += 1
    assert found > 10


def test_the_rules_give_no_confidence() -> None:
    positions = [p for a in _seed_articles() for p in RuleExtractor().extract(a)]
    assert positions and {p.confidence for p in positions} == {None}


# --- bands --------------------------------------------------------------------------------


def test_bands_always_cut_at_the_bar() -> None:
    bands = parse_bands("unsure_below = 0.6\nbands = [0.8, 0.3]")
    assert bands.edges == (0.0, 0.3, 0.6, 0.8)
    assert [bands.band(c) for c in (0.0, 0.29, 0.3, 0.599, 0.6, 0.99, 1.0)] == [
        0, 0, 1, 1, 2, 3, 3
    ]
    assert bands.label(3) == "0.80–1.00" and bands.label(0) == "0.00–0.30"
    assert bands.unsure(0.599) and not bands.unsure(0.6) and not bands.unsure(None)


@pytest.mark.parametrize("text", [
    "bands = [0.5]", "unsure_below = 1.5", "unsure_below = 0.5\nbands = [1.0]",
    "unsure_below = 'low'", "unsure_below = true", "unsure_below = 0.5\nbands = [true]",
])
def test_bands_that_make_no_sense_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bands(text)


def test_the_shipped_bar_is_the_measured_one() -> None:
    bands = load_bands()
    assert bands.unsure_below == 0.5 and bands.edges == (0.0, 0.5, 0.8)


# --- the store ----------------------------------------------------------------------------


def _confidences(positions: list[StoredPosition]) -> dict[str, float | None]:
    return {str(p.guarantee): p.confidence for p in positions}


async def test_the_store_keeps_confidence_and_corrections_drop_it(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(ARTICLE.id, [UNSURE, SURE, UNKNOWN], "combined", "1")
        everything = PositionFilter()
        expected = {"nato_membership": 0.38, "peacekeeping_force": 0.915, "eu_membership": None}
        listed = await store.positions(everything)
        assert _confidences(listed) == expected
        assert _confidences(await store.positions_by_ids([p.id for p in listed])) == expected
        exported = [p async for rows in store.iter_positions(everything) for p in rows]
        assert _confidences(exported) == expected

        # Team A says the unsure one is not a doubt but opposition: checked, no confidence.
        [unsure] = [p for p in listed if p.guarantee is Guarantee.NATO_MEMBERSHIP]
        result = await store.correct_position(
            unsure.id, CorrectionKind.STANCE, user_id="U1", team="TA", new_stance=Stance.OPPOSES
        )
        team_a = PositionFilter(team=await store.overlay_team("TA"))
        [mine] = [p for p in await store.positions(team_a)
                  if p.guarantee is Guarantee.NATO_MEMBERSHIP]
        assert (mine.id < 0, mine.corrected_by, mine.confidence) == (True, "U1", None)
        assert [p.confidence for p in await store.positions_by_ids([mine.id], team="TA")] == [None]
        assert _confidences(
            [p async for rows in store.iter_positions(team_a) for p in rows]
        )["nato_membership"] is None
        assert trust_suffix(mine) == f" · {CHECKED_MARK}"
        # Another workspace, and the shared corpus, still see the extractor's confidence.
        other = PositionFilter(team=await store.overlay_team("TB"))
        assert _confidences(await store.positions(other)) == expected

        # A newer extractor with other confidences: the correction holds, still unscored.
        newer = [replace(UNSURE, confidence=0.41), replace(SURE, confidence=0.88)]
        assert await store.save_positions(ARTICLE.id, newer, "combined", "2")
        assert _confidences(await store.positions(everything)) == {
            "nato_membership": 0.41, "peacekeeping_force": 0.88
        }
        assert _confidences(await store.positions(team_a)) == {
            "nato_membership": None, "peacekeeping_force": 0.88
        }
        # Undone: team A sees the extractor's position, and its confidence, again.
        assert await store.undo_correction_by_id(result.correction.id, user_id="U1", team="TA")
        assert _confidences(await store.positions(team_a)) == {
            "nato_membership": 0.41, "peacekeeping_force": 0.88
        }


async def test_positions_stored_before_the_migration_have_no_confidence(
    store_url: str,
) -> None:
    older = [m for m in MIGRATIONS if m[0] != "positions-6-confidence"]
    old = await Store.connect(store_url, older)
    assert isinstance(old, Store)
    await old.add_article(ARTICLE)
    await old.db.execute("INSERT INTO sentences (hash, text) VALUES (?, ?)", (1, SENTENCE))
    await old.db.execute("INSERT INTO actors (slug, party) VALUES (?, ?)", ("hungary", "hun"))
    await old.db.execute(
        "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance, guarantee,"
        " added_at, extractor, extractor_version) SELECT a.id, s.id, ac.id, 'hun', 'doubts',"
        " 'nato_membership', '2026-01-01T00:00:00.000000Z', 'combined', '1'"
        " FROM articles AS a, sentences AS s, actors AS ac"
    )
    await old.close()
    async with open_store(store_url) as store:
        assert "positions-6-confidence" in await store.applied_migrations()
        [stored] = await store.positions(PositionFilter())
        assert stored.confidence is None and trust_suffix(stored) == ""
        assert await store.save_positions(ARTICLE.id, [UNSURE], "combined", "2")
        [stored] = await store.positions(PositionFilter())
        assert stored.confidence == 0.38


# --- cards --------------------------------------------------------------------------------


def stored(i: int = 1, **changes: Any) -> StoredPosition:
    values: dict[str, Any] = dict(
        id=i, article_id=f"a{i}", actor="hungary", party="hun", stance=Stance.DOUBTS,
        guarantee=Guarantee.NATO_MEMBERSHIP, guarantor=None, beneficiary="ukr",
        evidence=SENTENCE, url=f"https://e.example/{i}", title="T", outlet="Outlet",
        published=date(2026, 1, 1), added_at=datetime(2026, 1, 1, tzinfo=UTC),
        extractor="combined",
    )
    values.update(changes)
    return StoredPosition(**values)


def _card_texts(position: StoredPosition) -> list[str]:
    """Every place a card quotes one position's evidence."""
    from bot.cards.digest import _quote

    topic = Topic(("hungary",), "Hungary", PositionFilter(parties=("hun",)))
    evidence = Evidence(topic, position.guarantee, "NATO membership", (position,), 1)
    home = home_tab([], [position], 1, 1, date(2026, 1, 1))
    return [
        position_text(position, 2000),
        quote_text(position, 2000),
        _quote(position),
        change_text(Change(position, None)),
        json.dumps(evidence_message(evidence).to_dict(), ensure_ascii=False),
        json.dumps(home, ensure_ascii=False),
    ]


@pytest.mark.parametrize(("confidence", "corrected_by", "mark"), [
    (0.38, None, UNSURE_MARK),
    (0.499, None, UNSURE_MARK),
    (0.5, None, None),
    (0.915, None, None),
    (None, None, None),  # rules, a model, or stored before: shown as before
    (0.38, "U1", CHECKED_MARK),  # an analyst checked it: never also unsure
])
def test_cards_mark_the_positions_the_extractor_is_unsure_of(
    confidence: float | None, corrected_by: str | None, mark: str | None
) -> None:
    for text in _card_texts(stored(confidence=confidence, corrected_by=corrected_by)):
        for other in {UNSURE_MARK, CHECKED_MARK} - {mark}:
            assert other not in text
        if mark:
            assert f" · {mark}" in text


@pytest.mark.parametrize(("confidence", "corrected_by", "mark"), [
    (0.3, None, UNSURE_MARK), (0.3, "U1", CHECKED_MARK), (0.9, None, None), (None, None, None),
])
def test_the_compare_card_marks_its_quoted_positions_too(
    confidence: float | None, corrected_by: str | None, mark: str | None
) -> None:
    from bot.cards.compare import field_text
    from bot.compare import CompareCell

    position = stored(confidence=confidence, corrected_by=corrected_by,
                      evidence="A very long quote. " * 200)
    text = field_text("Hungary", CompareCell(Stance.DOUBTS, position, 1))
    stance_line = text.split("\n")[1]
    for other in {UNSURE_MARK, CHECKED_MARK} - {mark}:
        assert other not in text
    if mark:
        assert stance_line.endswith(f" · {mark}")


@pytest.mark.parametrize("corrected_by", [None, "U1"])
def test_a_mark_never_costs_a_long_link(corrected_by: str | None) -> None:
    """Whether the source keeps its link is decided without the mark: an unsure or checked
    position keeps the same link as an unmarked one."""
    for length in range(60, 260, 2):
        url = "https://e.example/" + "a" * length
        plain_ = stored(url=url)
        marked = stored(url=url, confidence=0.3, corrected_by=corrected_by)
        for render in (lambda p: position_text(p, 600), lambda p: quote_text(p, 400)):
            assert (f"<{url}|" in render(plain_)) == (f"<{url}|" in render(marked)), length


def test_unsure_marks_keep_every_card_within_slack_limits() -> None:
    evidence_text = "Long & hard <evidence> " * 250
    briefing = huge_briefing(200, evidence_text)
    unsure = tuple(
        replace(s, latest=replace(s.latest, confidence=0.2)) if s.latest else s
        for s in briefing.guarantees
    )
    payload = assert_within_limits(briefing_message(replace(briefing, guarantees=unsure)))
    assert UNSURE_MARK in json.dumps(payload, ensure_ascii=False)

    positions = tuple(
        stored(i, evidence="Quote & <b> " * 500, confidence=0.3, url="https://e.x/" + "|" * 50)
        for i in range(300)
    )
    topic = Topic(("ukraine",), "Ukraine", PositionFilter(parties=("ukr",)))
    evidence = Evidence(topic, Guarantee.NATO_MEMBERSHIP, "NATO membership", positions, 900)
    payload = assert_within_limits(evidence_message(evidence))
    assert UNSURE_MARK in json.dumps(payload, ensure_ascii=False)

    digest = big_digest("A very long sentence about guarantees. " * 200)
    unsure_digest = replace(
        digest,
        new=tuple((g, tuple(replace(p, confidence=0.3) for p in ps)) for g, ps in digest.new),
        shifts=tuple(replace(s, after=replace(s.after, confidence=0.3)) for s in digest.shifts),
    )
    payload = render_digest(unsure_digest).to_dict()
    assert check_message(payload) is None
    assert UNSURE_MARK in json.dumps(payload, ensure_ascii=False)


def _shift(pid: int, before: float | None, after: float | None) -> Shift:
    old = stored(pid, confidence=before, published=date(2026, 1, 5))
    new = replace(stored(pid + 100, confidence=after, published=date(2026, 1, 9)),
                  stance=Stance.OPPOSES)
    return Shift(ShiftKind.ACTOR, f"actor-{pid}", old.guarantee, old, new)


def test_a_shift_with_an_unsure_side_is_told_apart_as_possible() -> None:
    """Both quotes trusted (or unknown): a shift. Either side under the bar: a possible one,
    listed after the others and counted apart, so a misreading does not read as a move."""
    sure, unknown, new_unsure, old_unsure = (
        _shift(1, 0.9, 0.8), _shift(2, None, None), _shift(3, 0.9, 0.3), _shift(4, 0.2, 0.9))
    digest = replace(big_digest("Said so."), new=(),
                     shifts=(new_unsure, sure, old_unsure, unknown))
    payload = render_digest(digest).to_dict()
    assert check_message(payload) is None
    ids = [b["block_id"] for b in payload["blocks"] if b["block_id"].startswith("digest_")]
    assert ids[:8] == ["digest_header", "digest_summary",
                       "digest_shifts", "digest_shift_1", "digest_shift_3",
                       "digest_possible_shifts", "digest_shift_0", "digest_shift_2"]
    summary = json.dumps(payload["blocks"][1], ensure_ascii=False)
    assert "2 shifts · 2 possible" in summary
    assert payload["text"].endswith("2 shifts, 2 possible")

    only_sure = render_digest(replace(digest, shifts=(sure,))).to_dict()
    assert "possible" not in json.dumps(only_sure, ensure_ascii=False).lower()
    assert only_sure["text"].endswith("1 shift")

    checked = replace(new_unsure, after=replace(new_unsure.after, corrected_by="U1"))
    assert "possible" not in render_digest(replace(digest, shifts=(checked,))).text


def test_a_shift_heading_never_stands_without_a_shift() -> None:
    """When the budget runs out, a group's heading goes with its first shift or not at all."""
    long_quote = "A long sentence about guarantees. " * 60
    many = tuple(replace(_shift(i, 0.9, 0.9), before=replace(
        _shift(i, 0.9, 0.9).before, evidence=long_quote)) for i in range(1, 40))
    digest = replace(big_digest("Said so."), new=(), shifts=(*many, _shift(50, 0.9, 0.2)))
    payload = render_digest(digest).to_dict()
    assert check_message(payload) is None
    ids = [b["block_id"] for b in payload["blocks"]]
    assert "digest_shifts" in ids and "digest_more" in ids  # the budget did run out
    for heading in ("digest_shifts", "digest_possible_shifts"):
        if heading in ids:
            assert ids[ids.index(heading) + 1].startswith("digest_shift_")
    assert "digest_more" in ids


def test_what_changed_counts_possible_shifts_apart() -> None:
    from bot.cards.digest import render_changes
    from bot.digest import Changes
    from bot.models import DateWindow

    window = DateWindow(date(2026, 1, 1), date(2026, 1, 7), "this week")
    topic = Topic(("ukraine",), "Ukraine", PositionFilter(parties=("ukr",)))
    changes = Changes(new=((Guarantee.NATO_MEMBERSHIP, (stored(9),)),),
                      shifts=(_shift(3, 0.9, 0.3),))
    message = render_changes(changes, topic, window).to_dict()
    assert "1 new · 1 possible shift" in json.dumps(message["blocks"], ensure_ascii=False)
    assert message["text"].endswith("1 new position, 1 possible shift")


@pytest.mark.parametrize(("later", "possible"), [(0.3, True), (0.9, False), (None, False)])
async def test_the_briefing_marks_a_stance_change_it_is_unsure_of(
    store_url: str, later: float | None, possible: bool
) -> None:
    """Hungary backed a force in January and opposes it in March: on the briefing card that
    is a shift, marked possible when the extractor is unsure of either side, and not once
    an analyst has checked the unsure side."""
    from bot.briefing import build_briefing
    from bot.cards.corrections import POSSIBLE_SHIFT_MARK
    from bot.topics import load_topic_index

    january = replace(ARTICLE, id="c-jan", url="https://news.example/jan",
                      published=date(2026, 1, 5))
    march = replace(ARTICLE, id="c-mar", url="https://news.example/mar",
                    published=date(2026, 3, 5), text=f"Budapest changed course.\n{SENTENCE}")
    async with open_store(store_url) as store:
        for article, stance, confidence in ((january, Stance.BACKS, 0.9),
                                            (march, Stance.OPPOSES, later)):
            await store.add_article(article)
            await store.save_positions(
                article.id, [replace(SURE, stance=stance, confidence=confidence)], "combined", "1")

        async def shift_line(team: str | None = None) -> str:
            topic = (await load_topic_index(store)).resolve(["hungary"])
            if team is not None:
                topic = replace(topic, filter=replace(topic.filter,
                                                      team=await store.overlay_team(team)))
            briefing = await build_briefing(store, topic)
            [section] = [g for g in briefing.guarantees
                         if g.guarantee is Guarantee.PEACEKEEPING_FORCE]
            [shift] = section.shifts
            assert shift.possible is possible
            return json.dumps(briefing_message(briefing).to_dict(), ensure_ascii=False)

        assert (POSSIBLE_SHIFT_MARK in await shift_line()) is possible
        if possible:
            [unsure] = [p for p in await store.positions(PositionFilter())
                        if p.confidence == later]
            # an analyst reads it as doubt: still a change from backing, now a checked one
            await store.correct_position(unsure.id, CorrectionKind.STANCE, user_id="U1",
                                         team="TA", new_stance=Stance.DOUBTS)
            possible = False
            assert POSSIBLE_SHIFT_MARK not in await shift_line("TA")


# --- export -------------------------------------------------------------------------------


async def test_exports_carry_the_confidence(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(ARTICLE.id, [UNSURE, UNKNOWN], "combined", "1")
        out = io.StringIO()
        await write_export(store, PositionFilter(), out, "csv")
        rows = list(csv.DictReader(io.StringIO(out.getvalue())))
        assert "confidence" in COLUMNS
        assert {r["guarantee"]: r["confidence"] for r in rows} == {
            "nato_membership": "0.380", "eu_membership": ""
        }
        out = io.StringIO()
        await write_export(store, PositionFilter(), out, "jsonl")
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert {r["guarantee"]: r["confidence"] for r in lines} == {
            "nato_membership": 0.38, "eu_membership": None
        }


# --- eval ---------------------------------------------------------------------------------


def _gold(*keys: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "id": "g1", "text": SENTENCE,
        "positions": [
            {"party": p, "stance": s, "guarantee": g, "actor": p, "evidence": SENTENCE}
            for p, s, g in keys
        ],
    }


def test_eval_measures_precision_by_confidence_band() -> None:
    record = _gold(("hun", "doubts", "nato_membership"), ("hun", "opposes", "peacekeeping_force"))
    predicted = [
        UNSURE,  # 0.38, right
        replace(UNSURE, party="pol", confidence=0.25),  # wrong
        replace(UNSURE, party="cze", confidence=0.6),  # wrong
        SURE,  # 0.915, right
    ]
    bands = parse_bands("unsure_below = 0.5\nbands = [0.8]")
    result = score([record], {"g1": predicted}, bands)
    table = [(b.band, b.kept, b.right, b.unsure) for b in result.calibration]
    assert table == [
        ("0.00–0.50", 2, 1, True), ("0.50–0.80", 1, 0, False), ("0.80–1.00", 1, 1, False)
    ]
    assert result.calibration[0].precision == 0.5
    assert result.calibration[0].mean_confidence == pytest.approx(0.315)
    as_json = json.loads(json.dumps(result.as_dict()))
    assert as_json["calibration"][2] == {
        "band": "0.80–1.00", "kept": 1, "right": 1, "precision": 1.0,
        "mean_confidence": 0.915, "unsure": False,
    }
    report = format_report(result, verbose=False)
    assert "confidence" in report and "0.00–0.50 unsure" in report


def test_eval_has_no_calibration_for_extractors_without_confidence() -> None:
    record = _gold(("hun", "doubts", "nato_membership"))
    result = score([record], {"g1": [replace(UNSURE, confidence=None)]})
    assert result.calibration == [] and result.as_dict()["calibration"] == []
    assert "confidence" not in format_report(result, verbose=False)
