"""The briefing from a real SQLite store filled with hand-made positions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from bot.briefing import (
    build_briefing,
    build_evidence,
    is_contested,
    latest_positions,
    short_actor_name,
)
from bot.store import Store, open_store
from bot.topics import load_topic_index
from bot.vocabulary import Guarantee, Stance
from tests.briefing_fixtures import HOSTILE_EVIDENCE, fill


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "store.db")) as opened:
        await fill(opened)
        yield opened


async def briefing_for(store: Store, text: str):  # type: ignore[no-untyped-def]
    topic = (await load_topic_index(store)).resolve(text.split())
    return await build_briefing(store, topic)


async def test_ukraine_sections_in_vocabulary_order_hard_first(store: Store) -> None:
    briefing = await briefing_for(store, "ukraine")
    assert [g.guarantee for g in briefing.guarantees] == [
        Guarantee.SECURITY_GUARANTEE,
        Guarantee.NATO_MEMBERSHIP,
        Guarantee.PEACEKEEPING_FORCE,
        Guarantee.AIR_SEA_PROTECTION,
        Guarantee.EU_MEMBERSHIP,
    ]
    assert briefing.positions == 11
    assert briefing.sources == 4
    assert briefing.last_update == date(2025, 5, 1)


async def test_holders_name_party_and_short_actor_names(store: Store) -> None:
    briefing = await briefing_for(store, "ukraine")
    security = briefing.guarantees[0]
    seeks = security.line(Stance.SEEKS)
    assert seeks is not None
    [ukraine] = seeks.holders
    assert ukraine.name == "Ukraine"
    assert set(ukraine.actors) == {"Zelensky", "officials"}
    assert ukraine.positions == 2
    opposes = security.line(Stance.OPPOSES)
    assert opposes is not None and opposes.holders[0].actors == ("Trump",)
    assert security.line(Stance.DOUBTS) is None


async def test_party_speaking_as_itself_has_no_actor_list(store: Store) -> None:
    briefing = await briefing_for(store, "ukraine")
    nato = next(g for g in briefing.guarantees if g.guarantee is Guarantee.NATO_MEMBERSHIP)
    opposes = nato.line(Stance.OPPOSES)
    assert opposes is not None
    assert opposes.holders[0].name == "Russia" and opposes.holders[0].actors == ()


async def test_contested_needs_two_different_parties(store: Store) -> None:
    briefing = await briefing_for(store, "ukraine")
    by_id = {g.guarantee: g for g in briefing.guarantees}
    assert by_id[Guarantee.SECURITY_GUARANTEE].contested  # Ukraine seeks, US opposes
    assert by_id[Guarantee.PEACEKEEPING_FORCE].contested  # UK backs, Russia opposes
    assert not by_id[Guarantee.EU_MEMBERSHIP].contested  # Ukraine seeks and doubts: hesitation
    assert not by_id[Guarantee.AIR_SEA_PROTECTION].contested  # only backed


def test_contested_rule_directly() -> None:
    assert is_contested({Stance.SEEKS: {"ukr"}, Stance.DOUBTS: {"eu"}})
    assert is_contested({Stance.BACKS: {"ukr"}, Stance.OPPOSES: {"ukr", "rus"}})
    assert not is_contested({Stance.SEEKS: {"ukr"}, Stance.DOUBTS: {"ukr"}})
    assert not is_contested({Stance.SEEKS: {"ukr"}, Stance.BACKS: {"usa"}})
    assert not is_contested({Stance.OPPOSES: {"rus"}, Stance.DOUBTS: {"usa"}})


async def test_freshest_evidence_per_guarantee(store: Store) -> None:
    briefing = await briefing_for(store, "ukraine")
    peacekeeping = next(
        g for g in briefing.guarantees if g.guarantee is Guarantee.PEACEKEEPING_FORCE
    )
    assert peacekeeping.latest is not None
    assert peacekeeping.latest.evidence == HOSTILE_EVIDENCE
    assert peacekeeping.latest.published == date(2025, 5, 1)


async def test_filters_combine(store: Store) -> None:
    briefing = await briefing_for(store, "trump peacekeepers")
    assert briefing.topic.label == "Donald Trump · Peacekeeping force"
    [section] = briefing.guarantees
    assert section.guarantee is Guarantee.PEACEKEEPING_FORCE
    assert [line.stance for line in section.stances] == [Stance.BACKS]
    assert briefing.positions == 1

    # First party is the topic, the second says who holds the position.
    briefing = await briefing_for(store, "ukraine russia")
    assert {g.guarantee for g in briefing.guarantees} == {
        Guarantee.PEACEKEEPING_FORCE,
        Guarantee.NATO_MEMBERSHIP,
    }
    assert all(
        h.party == "rus" for g in briefing.guarantees for line in g.stances for h in line.holders
    )


async def test_nato_alone_is_the_party_and_beside_a_party_the_guarantee(store: Store) -> None:
    alone = await briefing_for(store, "nato")
    assert [g.guarantee for g in alone.guarantees] == [Guarantee.NATO_MEMBERSHIP]
    narrowed = await briefing_for(store, "ukraine nato")
    assert narrowed.topic.label == "Ukraine · NATO membership"
    assert [g.guarantee for g in narrowed.guarantees] == [Guarantee.NATO_MEMBERSHIP]


async def test_empty_topic(store: Store) -> None:
    briefing = await briefing_for(store, "dmz")
    assert briefing.is_empty and briefing.positions == 0 and briefing.last_update is None


async def test_evidence_newest_first_and_total(store: Store) -> None:
    topic = (await load_topic_index(store)).resolve(["ukraine"])
    evidence = await build_evidence(store, topic, Guarantee.PEACEKEEPING_FORCE)
    assert evidence.total == 3
    dates = [p.published for p in evidence.positions]
    assert dates == sorted(dates, reverse=True)
    limited = await build_evidence(store, topic, Guarantee.PEACEKEEPING_FORCE, limit=2)
    assert len(limited.positions) == 2 and limited.total == 3


async def test_latest_positions_freshest_first(store: Store) -> None:
    latest = await latest_positions(store, limit=3)
    assert latest[0].evidence == HOSTILE_EVIDENCE
    assert [p.published for p in latest] == sorted((p.published for p in latest), reverse=True)


def test_short_actor_names() -> None:
    assert short_actor_name("volodymyr-zelensky", "ukr") == "Zelensky"
    assert short_actor_name("ukrainian-military-officials", "ukr") == "military officials"
    assert short_actor_name("ukraine", "ukr") is None
    assert short_actor_name("some-new-person", "fra") == "Some New Person"


async def test_big_topics_name_the_freshest_actor_and_count_the_rest(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = await briefing_for(store, "ukraine")
    monkeypatch.setattr("bot.briefing.NAMED_ACTORS_LIMIT", 0)
    counted = await briefing_for(store, "ukraine")
    seeks = counted.guarantees[0].line(Stance.SEEKS)
    assert seeks is not None
    [ukraine] = seeks.holders
    # Both actors have one position on 2025-02-01; one is named, the other counted.
    assert len(ukraine.actors) == 1 and ukraine.more_actors == 1 and ukraine.positions == 2
    # Everything but the naming is the same on both paths.
    assert [(g.guarantee, g.contested, g.positions, g.latest) for g in named.guarantees] == [
        (g.guarantee, g.contested, g.positions, g.latest) for g in counted.guarantees
    ]
