"""Places below the state (bot/data/places.toml): a governor's or a mayor's place names the
state they speak for, and a place named on its own names nobody."""

from __future__ import annotations

import pytest

from bot.extraction import Extractor
from bot.extraction.rules import Hit
from bot.extraction.rules.pipeline import official_places
from bot.vocabulary import parties, places
from tests.extraction_helpers import keys_of
from tests.rules_helpers import shared_extractor


def _names(text: str) -> set[tuple[str, str, str]]:
    ex = shared_extractor()
    doc = ex.nlp(text)
    return {(doc[h.start:h.end].text, h.kind, h.value) for h in ex.hits(doc)
            if h.kind in ("P", "J", "L")}


def test_every_place_belongs_to_a_known_party_and_is_not_a_party_name() -> None:
    known = parties()
    words = {w.casefold() for p in known.values()
             for w in (*p.names, *p.adjectives, *p.capitals, *p.metonyms)}
    assert len(places()) > 300
    for place, code in places().items():
        assert code in known
        assert place.casefold() not in words, place


@pytest.mark.parametrize(("text", "place", "kind", "party"), [
    ("Kharkiv Mayor Ihor Terekhov said the city needed more air defence.", "Kharkiv", "J", "ukr"),
    ("The Odesa regional military administration asked for help.", "Odesa", "J", "ukr"),
    ("Belgorod Governor Vyacheslav Gladkov spoke.", "Belgorod", "J", "rus"),
    ("Sabah Chief Minister Hajiji Noor urged Putrajaya to act.", "Sabah", "J", "mys"),
    ("Kharkiv's mayor said so.", "Kharkiv", "P", "ukr"),
    ("Vyacheslav Gladkov, the governor of the Belgorod region, said no.", "Belgorod", "J", "rus"),
    ("The mayor of Kharkiv said no.", "Kharkiv", "J", "ukr"),
])
def test_a_place_heading_an_officials_phrase_names_its_state(
        text: str, place: str, kind: str, party: str) -> None:
    assert (place, kind, party) in _names(text)


@pytest.mark.parametrize("text", [
    "Drones struck Kharkiv overnight, killing three.",
    "Air defence for Odesa is the priority.",
    "The Kharkiv region needs more systems.",  # the region itself is no official
    "Officials in Belgorod said the shelling continued.",
])
def test_a_place_on_its_own_names_nobody(text: str) -> None:
    assert not _names(text)


def test_a_party_name_covering_a_place_wins() -> None:
    lower = ["papua", "new", "guinea", "governor"]
    found = [Hit(0, 3, "P", "png"), Hit(0, 1, "L", "idn")]
    assert official_places(found, lower) == [Hit(0, 3, "P", "png")]


@pytest.mark.parametrize(("text", "key"), [
    ("Belgorod Governor Vyacheslav Gladkov said the region would never accept foreign "
     "peacekeepers near the border.", ("rus", "opposes", "peacekeeping_force")),
    ("Kharkiv Mayor Ihor Terekhov said on Tuesday the city needed more Patriot systems from "
     "Western partners to protect it from Russian glide bombs.",
     ("ukr", "seeks", "air_sea_protection")),
])
def test_a_governors_or_mayors_position_is_their_states(
        extractor: Extractor, text: str, key: tuple[str, str, str]) -> None:
    """Before places.toml neither sentence gave any position: no state was named."""
    assert key in keys_of(extractor, text)
