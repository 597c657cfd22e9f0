"""Corrections per workspace (issue 10): a correction made in workspace A changes A's cards
and nothing of B's; B can neither see nor undo it, by command, by button or by a forged team
id in a signed request; re-extraction keeps each workspace's corrections; corrections made
before this change belong to the single workspace.

The store tests run on SQLite and PostgreSQL (`store_url`); the end-to-end ones through the
OAuth server of `tests/test_workspaces.py`, on both as well.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from bot.cards.corrections import ACTION_CORRECT, CHECKED_MARK
from bot.models import PositionFilter
from bot.store import MIGRATIONS, Store, open_store
from bot.store.corrections import TEAM_MIGRATIONS, CorrectionError, CorrectionKind
from bot.store.positions import _sentence_hash
from bot.vocabulary import Guarantee, Stance
from tests.conftest import SIGNING_SECRET
from tests.correction_fixtures import ARTICLE, EXTRACTED, OTHER, SENTENCE
from tests.fakes.slack_payloads import overflow_action, sign, view_submission
from tests.test_e2e_corrections import chosen, menus
from tests.test_workspaces import (  # noqa: F401 (the fixture)
    CHANNEL_A,
    CHANNEL_B,
    FORM,
    USER_A,
    USER_B,
    A,
    B,
    Server,
    both_subscribed_to_ukraine,
    send_digests_at,
    server,
)

HUN = PositionFilter(parties=("hun",))


async def _cells(store: Store, team: str) -> set[tuple[str, str, int]]:
    scoped = PositionFilter(parties=("hun",), team=await store.overlay_team(team))
    return {(str(c.stance), str(c.guarantee), c.positions) for c in await store.cells(scoped)}


async def test_a_correction_is_its_workspace_s_only(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "1")
        shared = await _cells(store, "nobody")
        [extracted] = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))
        )
        result = await store.correct_position(
            extracted.id, CorrectionKind.STANCE, user_id=USER_A, team=A,
            new_stance=Stance.OPPOSES,
        )
        [mine] = await store.corrected_positions(result.correction.id)
        assert mine < 0 and result.correction.team == A
        assert ("opposes", "peacekeeping_force", 1) in await _cells(store, A)
        assert ("backs", "peacekeeping_force", 1) not in await _cells(store, A)
        # B, and the shared corpus, are as extracted: B reads no overlay at all.
        assert await store.overlay_team(B) is None
        assert await _cells(store, B) == shared
        # B can neither see A's corrected row, nor undo or re-correct it, nor list it.
        assert await store.positions_by_ids([mine], team=B) == []
        assert await store.positions_by_ids([mine], team=A) != []
        assert await store.undo_correction(mine, user_id=USER_B, team=B) is None
        assert not await store.undo_correction_by_id(
            result.correction.id, user_id=USER_B, team=B
        )
        with pytest.raises(CorrectionError):
            await store.correct_position(
                mine, CorrectionKind.NOT_POSITION, user_id=USER_B, team=B
            )
        assert await store.corrections(team=B) == []
        assert [c.id for c in await store.corrections(team=A)] == [result.correction.id]
        # B corrects the same extracted position its own way; each sees its own.
        await store.correct_position(
            extracted.id, CorrectionKind.NOT_POSITION, user_id=USER_B, team=B
        )
        assert {g for _, g, _ in await _cells(store, B)} == {"nato_membership"}
        assert ("opposes", "peacekeeping_force", 1) in await _cells(store, A)
        # A newer extractor replaces the article's positions: both corrections hold.
        assert await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "2")
        assert ("opposes", "peacekeeping_force", 1) in await _cells(store, A)
        assert {g for _, g, _ in await _cells(store, B)} == {"nato_membership"}
        assert await _cells(store, "nobody") == shared
        # A's undo brings A back to what the extractor said; B's correction stays.
        [mine] = await store.corrected_positions(result.correction.id)
        assert await store.undo_correction(mine, user_id=USER_A, team=A) is not None
        assert await store.overlay_team(A) is None
        assert await _cells(store, A) == shared
        assert {g for _, g, _ in await _cells(store, B)} == {"nato_membership"}


async def test_gold_export_is_per_workspace_or_names_each(store_url: str) -> None:
    import io

    from bot.corrections import write_gold

    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "1")
        first, second = await store.positions(PositionFilter(), limit=2)
        await store.correct_position(
            first.id, CorrectionKind.NOT_POSITION, user_id=USER_A, team=A
        )
        await store.correct_position(
            second.id, CorrectionKind.STANCE, user_id=USER_B, team=B, new_stance=Stance.OPPOSES
        )

        async def gold(team: str | None) -> list[dict[str, Any]]:
            out = io.StringIO()
            await write_gold(store, out, team)
            return [json.loads(line) for line in out.getvalue().splitlines()]

        [mine] = await gold(A)
        assert mine["team"] == A and mine["positions"] == []
        assert [r["checked_by"] for r in mine["rejected"]] == [USER_A]
        [theirs] = await gold(B)
        assert theirs["team"] == B and theirs["rejected"] == []
        assert [(p["stance"], p["checked_by"]) for p in theirs["positions"]] == [
            ("opposes", USER_B)
        ]
        assert await gold("") == []  # the single workspace made none
        assert sorted(r["team"] for r in await gold(None)) == [A, B]


async def test_existing_corrections_move_to_the_single_workspace(store_url: str) -> None:
    """A store corrected before corrections were per workspace (the corrected row in
    `positions`, the extracted one in `withheld_positions`): after the migration the shared
    corpus is as extracted again and the single workspace (team "") sees its correction."""
    older = [m for m in MIGRATIONS if m not in TEAM_MIGRATIONS]
    old = await Store.connect(store_url, older)
    assert isinstance(old, Store)
    try:
        await old.add_article(ARTICLE)
        async with old.transaction() as db:  # issue 9's save_positions, by hand
            await db.execute(
                "INSERT INTO sentences (id, hash, text) VALUES (1, ?, ?)",
                (_sentence_hash(SENTENCE), SENTENCE),
            )
            await db.execute(
                "INSERT INTO actors (id, slug, party) VALUES (1, 'viktor-orban', 'hun')"
            )
            for stance, guarantee in (
                ("backs", "peacekeeping_force"), ("doubts", "nato_membership")
            ):
                await db.execute(
                    "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance,"
                    " guarantee, beneficiary, published, added_at, extractor, extractor_version)"
                    " VALUES (1, 1, 1, 'hun', ?, ?, 'ukr', '2026-01-07',"
                    " '2026-01-07T00:00:00.000000Z', 'rules', '1')",
                    (stance, guarantee),
                )
        [extracted] = await old.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))
        )
        columns = (
            "article_id, sentence_id, actor_id, party, stance, guarantee, guarantor,"
            " beneficiary, published, added_at, extractor, extractor_version"
        )
        async with old.transaction() as db:  # what issue 9's store did for a correction
            await db.execute(
                "INSERT INTO corrections (id, article_key, sentence_hash, party, stance,"
                " guarantee, kind, new_stance, user_id, created_at) SELECT 1, a.key, s.hash,"
                " p.party, p.stance, p.guarantee, 'stance', 'opposes', 'U1',"
                " '2026-01-08T00:00:00.000000Z' FROM positions AS p"
                " JOIN articles AS a ON a.id = p.article_id"
                " JOIN sentences AS s ON s.id = p.sentence_id WHERE p.id = ?",
                (extracted.id,),
            )
            await db.execute(
                f"INSERT INTO withheld_positions (id, correction_id, {columns})"
                f" SELECT id, 1, {columns} FROM positions WHERE id = ?", (extracted.id,)
            )
            corrected = columns.replace("stance,", "'opposes',", 1)
            await db.execute(
                f"INSERT INTO positions ({columns}, correction_id)"
                f" SELECT {corrected}, 1 FROM positions WHERE id = ?",
                (extracted.id,),
            )
            await db.execute("DELETE FROM positions WHERE id = ?", (extracted.id,))
    finally:
        await old.close()
    async with open_store(store_url) as store:
        [correction] = await store.corrections(team="")
        assert correction.team == "" and correction.new_stance is Stance.OPPOSES
        assert {(str(c.stance), str(c.guarantee)) for c in await store.cells(HUN)} == {
            ("backs", "peacekeeping_force"), ("doubts", "nato_membership")
        }
        [back] = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))
        )
        assert back.id == extracted.id and back.corrected_by is None
        assert ("opposes", "peacekeeping_force", 1) in await _cells(store, "")
        [seen] = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}), team="")
        )
        assert (seen.stance, seen.corrected_by) == (Stance.OPPOSES, "U1")


# --- end to end: two workspaces through OAuth ------------------------------------------------


async def _card(srv: Server, team: str, user: str, channel: str) -> dict[str, Any]:
    url = await srv.command("ukraine", team, user, channel)
    return json.loads(await srv.answer(url))


async def _payload(srv: Server, payload: dict[str, Any]) -> str:
    body = "payload=" + urllib.parse.quote(json.dumps(payload), safe="")
    headers = {"Content-Type": FORM} | sign(SIGNING_SECRET, body)
    async with srv.http.post(f"{srv.base}/slack/events", data=body, headers=headers) as r:
        assert r.status == 200
        return await r.text()


async def _click(srv: Server, option: str, team: str, user: str, channel: str) -> str:
    url = srv.fake.new_response_url()
    click = overflow_action(
        ACTION_CORRECT, option, response_url=url, user_id=user, channel_id=channel,
        team_id=team,
    )
    await _payload(srv, click)
    return url


def _marked(card: dict[str, Any]) -> bool:
    return CHECKED_MARK in json.dumps(card, ensure_ascii=False)


async def test_workspaces_cannot_see_or_undo_each_others_corrections(
    server: Server,  # noqa: F811 (the fixture imported above)
) -> None:
    await server.install(A, USER_A)
    await server.install(B, USER_B)
    first = await _card(server, A, USER_A, CHANNEL_A)
    assert not _marked(first)
    option = next(o for opts in menus(first).values() for o in opts if o.startswith("stance:"))

    # A's analyst corrects a stance: the modal opens with A's token, the save is A's.
    before = len(server.fake.calls("views.open"))
    await _click(server, option, A, USER_A, CHANNEL_A)
    [opened] = await server.fake.wait_for(lambda: server.fake.calls("views.open")[before:])
    assert opened.team == A
    view = opened.payload["view"]
    view = json.loads(view) if isinstance(view, str) else view
    answer = await _payload(
        server, view_submission(view, chosen("opposes"), user_id=USER_A, team_id=A)
    )
    assert "Saved" in answer or "saved" in answer
    mine = await _card(server, A, USER_A, CHANNEL_A)
    assert _marked(mine)
    undo = next(o for opts in menus(mine).values() for o in opts if o.startswith("undo:"))
    assert int(undo.split(":")[1]) < 0

    # B's card is the shared corpus: no mark, and its menus never name A's corrected row.
    theirs = await _card(server, B, USER_B, CHANNEL_B)
    assert not _marked(theirs)
    assert undo not in {o for opts in menus(theirs).values() for o in opts}

    # B's user clicks an Undo carrying A's row (a forged button value): nothing undone.
    reply = await server.answer(await _click(server, undo, B, USER_B, CHANNEL_B))
    assert "no correction to undo" in reply
    # ... nor can B correct it again, nor open its form.
    forged = undo.replace("undo:", "stance:")
    reply = await server.answer(await _click(server, forged, B, USER_B, CHANNEL_B))
    assert "changed since the card was drawn" in reply
    # ... nor save a forged modal naming it.
    answer = await _payload(server, view_submission(
        {"type": "modal", "callback_id": "correction_view",
         "private_metadata": json.dumps({"p": int(undo.split(":")[1]), "k": "stance", "r": ""})},
        chosen("backs"), user_id=USER_B, team_id=B,
    ))
    assert "Not saved" in answer

    # A forged team id in a signed request (a workspace that never installed the app) gets
    # bolt's "install me" and nothing of A's: no card with A's mark, nothing undone.
    forged_card = await server.answer(await server.command("ukraine", "TEVIL", USER_B, CHANNEL_B))
    assert CHECKED_MARK not in forged_card
    await _click(server, undo, "TEVIL", USER_B, CHANNEL_B)

    # After all that, B still sees no mark and A still has its correction.
    assert not _marked(await _card(server, B, USER_B, CHANNEL_B))
    assert _marked(await _card(server, A, USER_A, CHANNEL_A))
    async with open_store(server.settings.store_location) as store:
        corrections = await store.corrections(team=None)
        assert [(c.team, c.user_id, c.undone_at) for c in corrections] == [(A, USER_A, None)]

    # A's own undo works.
    reply = await server.answer(await _click(server, undo, A, USER_A, CHANNEL_A))
    assert "Undone" in reply
    assert not _marked(await _card(server, A, USER_A, CHANNEL_A))


async def test_each_workspace_s_digest_carries_its_own_corrections(
    server: Server,  # noqa: F811 (the fixture imported above)
    gold_extractor: Any,
) -> None:
    from datetime import timedelta

    tomorrow = await both_subscribed_to_ukraine(server)
    # A's analyst corrects a position an hour before the digests go out.
    async with open_store(
        server.settings.store_location, clock=lambda: tomorrow - timedelta(hours=1)
    ) as store:
        [latest] = await store.positions(PositionFilter(parties=("ukr",)), limit=1)
        await store.correct_position(
            latest.id, CorrectionKind.STANCE, user_id=USER_A, team=A,
            new_stance=Stance.DOUBTS if latest.stance is not Stance.DOUBTS else Stance.BACKS,
        )
    assert await send_digests_at(server, gold_extractor, tomorrow) == 2
    posted = {
        c.channel: json.dumps(c.payload, ensure_ascii=False)
        for c in server.fake.calls("chat.postMessage") if c.ok
    }
    assert CHECKED_MARK in posted[CHANNEL_A]
    assert CHECKED_MARK not in posted[CHANNEL_B]


async def test_oauth_start_warns_of_the_single_workspace_s_corrections(
    store_url: str, make_settings: Any, fake_slack: Any, gold_extractor: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Corrections kept under team "" (from before per-workspace corrections) are read by no
    OAuth request: starting with OAuth says how many, and how to export them, in one line."""
    import logging

    from tests.fakes.running import serving

    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "1")
        for position in await store.positions(HUN):
            await store.correct_position(position.id, CorrectionKind.NOT_POSITION, user_id="U1")
        await store.correct_position(  # a workspace's own is read by that workspace: not told
            (await store.positions(HUN))[0].id, CorrectionKind.NOT_POSITION, user_id="U1",
            team=A,
        )
    oauth = make_settings(
        store_url=store_url, slack_bot_token=None, slack_client_id=fake_slack.client_id,
        slack_client_secret=fake_slack.client_secret, slack_state_secret="state-secret",
    )
    caplog.set_level(logging.WARNING, logger="bot.corrections")
    async with serving(oauth, socket_mode=False, extractor=gold_extractor):
        pass
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.corrections"]
    assert lines == [
        "2 active correction(s) from before per-workspace corrections sit under the single"
        " workspace (team \"\"), which no OAuth workspace reads; export them with"
        " `python -m bot export --corrections FILE --team ''`"
    ]
    # A single workspace reads them: nothing to say.
    caplog.clear()
    single = make_settings(store_url=store_url)
    async with serving(single, socket_mode=False, extractor=gold_extractor):
        pass
    assert not [r for r in caplog.records if r.name == "bot.corrections"]
