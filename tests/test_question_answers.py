"""Questions answered from a real store of hand-made positions: windows, stance words,
readings of ambiguous words, `what changed`, `compare` and the matrix. The store-backed tests
run on SQLite and on PostgreSQL (`store_url`): the windowed queries are SQLite-first SQL that
`bot.store.dialect` translates.

The store holds the briefing fixtures (published 2025-02-01 .. 2025-05-01) and three more
articles; the bot's clock says Wednesday 2025-06-04.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from bot.briefing import build_briefing
from bot.cards.common import Message, parse_button_value
from bot.commands import answer, evidence_reply
from bot.digest import find_changes
from bot.matrix import build_matrix
from bot.models import Article, DateWindow, Position, PositionFilter
from bot.replies import CommandContext
from bot.services import Services
from bot.settings import Settings
from bot.store import Store, open_store
from bot.store.corrections import CorrectionKind
from bot.topics import load_topic_index
from bot.vocabulary import Guarantee, Stance
from tests.briefing_fixtures import fill
from tests.test_e2e_http import all_text

G = Guarantee
S = Stance
NOW = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
SLACK = CommandContext(user_id="U1", channel_id="C1", team_id="T1")

MORE = [
    (
        Article("b1", "Brussels and Warsaw", "Brussels pledges. " * 4, "https://d.example/5",
                "Outlet D", date(2025, 5, 20)),
        [
            Position("eu-officials", "eu", S.BACKS, G.SECURITY_GUARANTEE, "eu", "pol",
                     "EU officials backed guarantees for Poland."),
        ],
    ),
    (
        Article("b2", "Trump turns", "Trump turns. " * 4, "https://e.example/6", "Outlet E",
                date(2025, 6, 2)),
        [
            Position("donald-trump", "usa", S.BACKS, G.SECURITY_GUARANTEE, "usa", "ukr",
                     "Trump now backs security guarantees for Ukraine."),
            Position("vladimir-putin", "rus", S.OPPOSES, G.SECURITY_GUARANTEE, "usa", "ukr",
                     "Putin rejects any guarantee."),
        ],
    ),
    (
        Article("b3", "Undated", "No date here. " * 4, "https://f.example/7", "Outlet F", None),
        [
            Position("keir-starmer", "gbr", S.BACKS, G.SECURITY_GUARANTEE, "gbr", "ukr",
                     "Starmer backs guarantees."),
        ],
    ),
]


@pytest.fixture
async def services(store_url: str) -> AsyncIterator[Services]:
    settings = Settings(_env_file=None, store_url=store_url)  # type: ignore[call-arg]
    async with open_store(settings.store_location) as store:
        await fill(store)
        for article, positions in MORE:
            await store.add_article(article)
            await store.save_positions(article.id, positions, "hand", "1")
        yield Services(settings, store, None, None, None, lambda: NOW)  # type: ignore[arg-type]


def body(message: Message) -> str:
    return json.dumps(message.to_dict(), ensure_ascii=False)


def texts(message: Message) -> str:
    return all_text(message.to_dict())


# --- the store's windowed queries -----------------------------------------------------------

WINDOWS = [
    DateWindow(date(2025, 3, 1), date(2025, 6, 5), "since march"),
    DateWindow(date(2025, 2, 1), date(2025, 2, 2), "one day"),
    DateWindow(None, date(2025, 4, 1), "before april"),
    DateWindow(date(2025, 5, 15), None, "open"),
]
FILTERS = [
    PositionFilter(),
    PositionFilter(parties=("ukr",)),
    PositionFilter(parties=("ukr",), stances=frozenset({S.OPPOSES, S.DOUBTS})),
    PositionFilter(guarantees=frozenset({G.SECURITY_GUARANTEE})),
    PositionFilter(parties=("ukr",), held_by=frozenset({"usa"})),
    PositionFilter(actors=frozenset({"donald-trump"})),
]


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: w.label)
@pytest.mark.parametrize("filter_", FILTERS, ids=str)
async def test_window_cells_match_the_positions_inside(
    services: Services, window: DateWindow, filter_: PositionFilter
) -> None:
    store: Store = services.store
    inside = [
        p for p in await store.positions(filter_, limit=1000)
        if p.published is not None
        and (window.since is None or p.published >= window.since)
        and (window.until is None or p.published < window.until)
    ]
    cells = await store.window_cells(filter_, window)
    counted = Counter((p.guarantee, p.stance, p.party) for p in inside)
    assert {(c.guarantee, c.stance, c.party): c.positions for c in cells} == dict(counted)
    for cell in cells:
        mine = [p for p in inside if (p.guarantee, p.stance, p.party) ==
                (cell.guarantee, cell.stance, cell.party)]
        assert cell.actors == len({p.actor for p in mine})
        assert cell.latest_published == max(p.published for p in mine if p.published)
    stats = await store.window_stats(filter_, window)
    assert stats.positions == len(inside)
    assert stats.sources == len({p.article_id for p in inside})
    assert (await store.positions(filter_, window=window, limit=1000)) == sorted(
        inside, key=lambda p: (p.published or date.min, p.id), reverse=True
    )


async def test_stance_narrows_cells_summary_and_stats(services: Services) -> None:
    store = services.store
    opposes = PositionFilter(parties=("ukr",), stances=frozenset({S.OPPOSES}))
    cells = await store.cells(opposes)
    assert {c.stance for c in cells} == {S.OPPOSES}
    assert {c.party for c in cells} == {"usa", "rus"}
    assert {r.stance for r in await store.summary(opposes)} == {S.OPPOSES}
    stats = await store.stats(opposes)
    # a1 Trump, a2 Russia on peacekeepers, a3 Russia on NATO membership, b2 Putin
    assert stats.positions == sum(c.positions for c in cells) == 4
    assert stats.sources == 4

async def test_windowed_briefing_counts_only_the_window(services: Services) -> None:
    index = await load_topic_index(services.store)
    topic = index.resolve(["ukraine"])
    whole = await build_briefing(services.store, topic)
    window = DateWindow(date(2025, 5, 1), date(2025, 6, 5), "since may")
    windowed = await build_briefing(services.store, topic, window)
    assert whole.positions == 14 and windowed.positions == 3
    assert windowed.sources == 2 and windowed.last_update == date(2025, 6, 2)
    assert windowed.window == window
    security = next(g for g in windowed.guarantees if g.guarantee is G.SECURITY_GUARANTEE)
    assert [line.stance for line in security.stances] == [S.BACKS, S.OPPOSES]
    assert security.contested
    assert security.latest is not None and security.latest.published == date(2025, 6, 2)


# --- answers --------------------------------------------------------------------------------


async def test_stance_question_shows_only_that_stance(services: Services) -> None:
    reply = await answer(services, "Who opposes peacekeepers?", SLACK)
    assert reply.public
    text = texts(reply.message)
    assert "Peacekeeping force · who opposes" in text
    assert "*Opposes:* Russia" in text
    assert "Seeks:" not in text and "Backs:" not in text and "Starmer" not in text


async def test_time_window_is_shown_in_the_context_line(services: Services) -> None:
    reply = await answer(services, "ukraine since 2025-05-01", SLACK)
    text = texts(reply.message)
    assert "since 2025-05-01 (2025-05-01 – 2025-06-04)" in text
    assert "*3* positions from *2* sources" in text
    assert "Starmer" not in text  # his only dated position is from March
    # the evidence button asks for the same window again
    buttons = [
        parse_button_value(e["value"])
        for b in reply.message.to_dict()["blocks"] if b.get("accessory")
        for e in [b["accessory"]]
    ]
    assert buttons and all("since 2025-05-01" in b.topic for b in buttons)
    evidence = await evidence_reply(services, buttons[0].topic, buttons[0].guarantee or "")
    assert "Putin rejects" in body(evidence)
    assert "Trump will not give" not in body(evidence)  # February: outside the window


async def test_ambiguous_word_takes_the_reading_with_positions(services: Services) -> None:
    # "eu" beside a party is first read as EU membership; Poland has none, but the EU holds
    # a position about Poland, so that reading is shown and said.
    reply = await answer(services, "poland eu", SLACK)
    text = texts(reply.message)
    assert "Read as: *European Union about Poland*" in text
    assert "EU officials backed guarantees for Poland." in text
    # the usual reading, when it has positions, is shown without a note
    usual = texts((await answer(services, "ukraine eu", SLACK)).message)
    assert "EU membership" in usual and "Read as" not in usual


async def test_nothing_known_says_how_it_was_read_and_what_has_positions(
    services: Services,
) -> None:
    reply = await answer(services, "hungary nato", SLACK)
    text = texts(reply.message)
    assert "Nothing is known yet about *Hungary · NATO membership*" in text
    assert "Read as: *Hungary on NATO membership*" in text
    assert "Try `/guarantees nato`" in text
    windowed = texts((await answer(services, "russia peacekeepers this week", SLACK)).message)
    assert "Try `/guarantees russia peacekeepers`" in windowed


async def test_what_changed_tells_the_shifts_of_the_window(services: Services) -> None:
    reply = await answer(services, "what changed in ukraine since 2025-05-15?", SLACK)
    assert reply.public
    text = texts(reply.message)
    assert "What changed: Ukraine" in text
    assert "since 2025-05-15 (2025-05-15 – 2025-06-04) · by publication date" in text
    assert "*Donald Trump* (United States) on *Security guarantees*: opposes → *backs*" in text
    assert "Trump will not give security guarantees." in text  # the quote before
    button = reply.message.to_dict()["blocks"][-1]["elements"][0]
    assert parse_button_value(button["value"]).topic == "ukraine"
    changes = await find_changes(
        services.store, PositionFilter(parties=("ukr",)),
        window=DateWindow(date(2025, 5, 15), date(2025, 6, 5), "x"),
    )
    assert changes.new_count == 2 and len(changes.shifts) == 1
    quiet = texts((await answer(services, "what changed this week", SLACK)).message)
    assert "What changed" in quiet  # b2 (2025-06-02) is in this week
    empty = texts((await answer(services, "changes russia yesterday", SLACK)).message)
    assert "Nothing new on *Russia* yesterday (2025-06-03)." in empty


async def test_compare_puts_parties_side_by_side(services: Services) -> None:
    reply = await answer(services, "compare ukraine russia", SLACK)
    assert reply.public
    blocks = reply.message.to_dict()["blocks"]
    rows = {b["block_id"]: b for b in blocks if b.get("block_id", "").startswith("compare:")}
    nato = rows["compare:nato_membership"]
    assert "split" in nato["text"]["text"]
    ukraine, russia = (f["text"] for f in nato["fields"])
    assert ukraine.startswith("*Ukraine*\n*Seeks*")
    assert russia.startswith("*Russia*\n*Opposes*")
    assert "<https://c.example/3|Outlet C, 2025-04-01>" in russia
    # security guarantees: Ukraine seeks (twice), Russia's latest is Putin opposing
    security = [f["text"] for f in rows["compare:security_guarantee"]["fields"]]
    assert "Seeks" in security[0] and "(2 positions)" in security[0]
    assert "*Opposes* · Putin" in security[1]
    # guarantees neither holds a stance on are left out
    assert "compare:demilitarized_zone" not in rows
    assert "compare:air_sea_protection" not in rows
    windowed = await answer(services, "compare usa russia since 2025-06-01", SLACK)
    fields = [
        f["text"] for b in windowed.message.to_dict()["blocks"] for f in b.get("fields", [])
    ]
    assert fields[0].startswith("*United States*\n*Backs*")
    assert fields[1].startswith("*Russia*\n*Opposes*")


async def test_questions_not_understood_are_private(services: Services) -> None:
    for text in ("compare france", "ukraine since someday", "who opposes peacekeeprs"):
        reply = await answer(services, text, SLACK)
        assert not reply.public, text


async def test_help_lists_the_question_forms(services: Services) -> None:
    text = texts((await answer(services, "help", SLACK)).message)
    for example in ("who opposes peacekeepers", "where does italy stand on troops?",
                    "ukraine this week", "since 2026-01-01", "what changed this week",
                    "compare france italy", "hungary eu"):
        assert example in text


async def test_time_words_follow_the_clock(services: Services) -> None:
    later = replace(services, clock=lambda: datetime(2025, 7, 1, tzinfo=UTC))
    text = texts((await answer(later, "ukraine this month", SLACK)).message)
    assert "Nothing is known yet about *Ukraine* this month" in text
    text = texts((await answer(services, "ukraine this month", SLACK)).message)
    assert "this month (2025-06-01 – 2025-06-04)" in text


@pytest.mark.parametrize("filter_", FILTERS[:5], ids=str)
async def test_latest_before_is_the_freshest_earlier_position(
    services: Services, filter_: PositionFilter
) -> None:
    store = services.store
    before = date(2025, 5, 15)
    everything = await store.positions(filter_, limit=1000)
    keys = sorted(
        {("actor", p.actor, p.guarantee) for p in everything}
        | {("party", p.party, p.guarantee) for p in everything}
    )
    found = await store.latest_before(filter_, keys, before)
    for kind, who, guarantee in keys:
        earlier = [
            p for p in everything
            if p.published is not None and p.published < before and p.guarantee is guarantee
            and (p.actor if kind == "actor" else p.party) == who
        ]
        expected = max(earlier, key=lambda p: (p.published, p.id), default=None)
        got = found.get((kind, who, guarantee))
        assert (got.id if got else None) == (expected.id if expected else None), (kind, who)


def test_compare_card_stays_within_slack_limits_and_escapes() -> None:
    from bot.cards.common import MAX_TOTAL_TEXT, block_text_length
    from bot.cards.compare import comparison_message
    from bot.compare import CompareCell, CompareRow, Comparison
    from bot.models import StoredPosition
    from bot.vocabulary import GUARANTEE_ORDER

    def position(i: int) -> StoredPosition:
        return StoredPosition(
            id=i, article_id=f"a{i}", actor="<!channel>", party="fra", stance=S.BACKS,
            guarantee=G.SECURITY_GUARANTEE, guarantor=None, beneficiary=None,
            evidence="<!channel> <@U1> & " + "very long evidence " * 100,
            url="https://example.org/" + "x" * 950, title="t", outlet="<b>Outlet</b>",
            published=date(2025, 1, 1), added_at=NOW, extractor="hand",
        )

    rows = tuple(
        CompareRow(g, str(g), tuple(CompareCell(S.BACKS, position(i * 4 + j), 3) for j in range(4)))
        for i, g in enumerate(GUARANTEE_ORDER)
    )
    comparison = Comparison(("fra", "ita", "pol", "deu"), ("France", "Italy", "Poland",
                                                          "Germany"), rows)
    payload = comparison_message(comparison).to_dict()
    blocks = payload["blocks"]
    assert len(blocks) <= 50
    assert block_text_length(blocks) <= MAX_TOTAL_TEXT
    for block in blocks:
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
            assert "<!channel>" not in field["text"] and "<@U1>" not in field["text"]
        assert len(block.get("fields", [])) <= 10
    assert "<!channel>" not in payload["text"]


async def test_terminal_hides_stances_nobody_holds(services: Services) -> None:
    from rich.console import Console

    from bot.terminal import print_reply

    console = Console(record=True, width=100)
    print_reply(await answer(services, "russia", CommandContext.terminal()), console)
    out = console.export_text()
    assert "Opposes" in out
    assert "Seeks" not in out and "Doubts" not in out and "—  " not in out
    console = Console(record=True, width=100)
    print_reply(await answer(services, "compare ukraine russia", CommandContext.terminal()),
                console)
    out = console.export_text()
    assert "Side by side · Ukraine · Russia" in out and "Ukraine" in out and "Opposes" in out


async def test_matrix_and_a_team_s_windowed_reads(services: Services) -> None:
    """The matrix's first date, and a workspace's windowed reads over its corrections (the
    team's rows and withheld ones: `bot.store.team_positions`, `bot.store.team_overlay`)."""
    store = services.store
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    matrix = await build_matrix(store, topic)
    assert matrix.first == date(2025, 2, 1) and matrix.last == date(2025, 6, 2)
    february = DateWindow(date(2025, 2, 1), date(2025, 3, 1), "february")
    shared = await store.positions(topic.filter, window=february, limit=100)
    assert len(shared) == 3
    for position in shared:  # T1 says none of February's rows is a position
        await store.correct_position(
            position.id, CorrectionKind.NOT_POSITION, user_id="U1", team="T1"
        )
    mine = topic.for_team(await store.overlay_team("T1"))
    assert mine.filter.team == "T1"
    assert (await build_matrix(store, mine)).first == date(2025, 3, 1)
    assert await store.earliest_published(mine.filter) == date(2025, 3, 1)
    assert await store.window_cells(mine.filter, february) == []
    assert (await store.window_stats(mine.filter, february)).positions == 0
    trump = [("actor", "donald-trump", G.SECURITY_GUARANTEE)]
    assert trump[0] in await store.latest_before(topic.filter, trump, date(2025, 5, 15))
    assert await store.latest_before(mine.filter, trump, date(2025, 5, 15)) == {}
    changes = await find_changes(store, mine.filter, window=february)
    assert changes.new_count == 0 and not changes.shifts
