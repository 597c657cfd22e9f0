"""Places below the state (bot/data/places.toml): a governor's or a mayor's place names the
state they speak for, and a place named on its own names nobody."""

from __future__ import annotations

import pytest

from bot.extraction import Extractor
from bot.extraction.rules import Hit
from bot.extraction.rules.places import official_places
from bot.vocabulary import parties, places
from tests.extraction_helpers import keys_of
from tests.rules_helpers import shared_extractor


def _names(text: str) -> set[tuple[str, str, str]]:
    """The party names and adjectives the rules find in a text."""
    ex = shared_extractor()
    doc = ex.nlp(text)
    return {(doc[h.start:h.end].text, h.kind, h.value) for h in ex.hits(doc)
            if h.kind in ("P", "J")}


def test_no_place_is_also_a_partys_name() -> None:
    words = {w.casefold() for p in parties().values()
             for w in (*p.names, *p.adjectives, *p.capitals, *p.metonyms)}
    assert len(places()) > 300
    assert not [place for place in places() if place.casefold() in words]


def test_every_place_with_its_governor_names_its_state_and_nothing_else() -> None:
    """The longest name wins: "Northern Ireland" is not Ireland, "Baja California" not the
    United States, "Mocímboa da Praia" not Cape Verde ("Gaza" in "Gaza City" stands: the
    same party)."""
    found = {place: _names(f"The {place} governor said so.") for place in places()}
    wrong = {place: names for place, names in found.items()
             if {value for *_, value in names} != {places()[place]}}
    assert wrong == {}


@pytest.mark.parametrize(("text", "place", "kind", "party"), [
    ("Kharkiv Mayor Ihor Terekhov said the city needed more air defence.", "Kharkiv", "J", "ukr"),
    ("The Odesa regional military administration asked for help.", "Odesa", "J", "ukr"),
    ("The Odesa civil-military administration asked for help.", "Odesa", "J", "ukr"),
    ("Belgorod Governor Vyacheslav Gladkov spoke.", "Belgorod", "J", "rus"),
    ("The Belgorod governor on Sunday said so.", "Belgorod", "J", "rus"),
    ("Sabah Chief Minister Hajiji Noor urged Putrajaya to act.", "Sabah", "J", "mys"),
    ("Kharkiv's mayor said so.", "Kharkiv", "P", "ukr"),
    ("The Belgorod region's governor said so.", "Belgorod", "P", "rus"),
    ("Vyacheslav Gladkov, the governor of the Belgorod region, said no.", "Belgorod", "J", "rus"),
    ("The mayor of Kharkiv said no.", "Kharkiv", "J", "ukr"),
    ("Mayor of Kharkiv Ihor Terekhov said no.", "Kharkiv", "J", "ukr"),
    ("Oleksandr Prokudin, governor of the southern Kherson region, said so.", "Kherson",
     "J", "ukr"),
    ("KYIV, Jan 5 (Reuters) - The Kharkiv governor said so.", "Kharkiv", "J", "ukr"),
    ("On Tuesday Kharkiv Mayor Ihor Terekhov said so.", "Kharkiv", "J", "ukr"),
    ("Oleh Syniehubov, head of the Kharkiv Regional Military Administration, said so.",
     "Kharkiv", "J", "ukr"),
    ("The Lviv City Military Administration said so.", "Lviv", "J", "ukr"),
    ("Borno State officials said so.", "Borno", "J", "nga"),
    ("Kharkiv Governor Oleh Syniehubov, appointed by Zelensky in 2020, said so.", "Kharkiv",
     "J", "ukr"),
    ("The newly appointed Kharkiv governor said so.", "Kharkiv", "J", "ukr"),
    ("Northern Ireland First Minister Michelle O'Neill spoke.", "Northern Ireland", "J", "gbr"),
    ("The Northern Irish government said so.", "Northern Irish", "J", "gbr"),
    ("New South Wales Premier Chris Minns spoke.", "New South Wales", "J", "aus"),
    ("British Columbia Premier David Eby spoke.", "British Columbia", "J", "can"),
    ("New Mexico Governor Michelle Lujan Grisham spoke.", "New Mexico", "J", "usa"),
    ("Manchester City Council said so.", "Manchester", "J", "gbr"),
])
def test_a_place_heading_an_officials_phrase_names_its_state(
        text: str, place: str, kind: str, party: str) -> None:
    assert _names(text) == {(place, kind, party)}


@pytest.mark.parametrize(("text", "parties"), [
    ("Drones struck Kharkiv overnight, killing three.", set()),
    ("Air defence for Odesa is the priority.", set()),
    ("The Kharkiv region needs more systems.", set()),  # the region itself is no official
    ("Officials in Belgorod said the shelling continued.", set()),
    ("Catches in Hodeidah governorate have fallen.", set()),
    ("A missile struck the Kharkiv regional administration building.", set()),
    ("He spoke to the head of the Munich Security Conference.", set()),
    ("The governor of the Hong Kong Monetary Authority said so.", set()),
    ("The chief executive of Texas Instruments said so.", set()),
    ("The leader of the Sinaloa cartel was arrested.", set()),
    ("A University of Michigan spokesman said so.", set()),
    ("The Scottish Premier League resumes on Saturday.", set()),
    ("The Manchester City head coach said so.", set()),
    ("A Manchester City spokesman said so.", set()),
    ("Ohio State officials said the camp would be cleared.", set()),
    ("A Bayern Munich spokesman said the club supported guarantees.", set()),
    ("The Russian-installed Zaporizhzhia governor said he opposed a peacekeeping force.",
     {"rus"}),
    ("Kremlin-backed Zaporizhzhia officials said so.", {"rus"}),
    ("The self-proclaimed Kherson governor said so.", set()),
    ("Moscow-appointed Kherson officials said so.", {"rus"}),
    ("Kursk military administration head Eduard Moskalyov, appointed by Kyiv, said so.",
     {"ukr"}),
    ("Vladimir Saldo, the Moscow-installed governor of the occupied Kherson region, said so.",
     {"rus"}),
    ("Moscow appointed governors of Kherson and Zaporizhzhia in 2022.", {"rus"}),
    ("Vyacheslav Gladkov, the governor of the region bordering Kharkiv, said so.", set()),
    ("Ukraine shelled Belgorod - officials in Kyiv said the strike hit a depot.", {"ukr"}),
    ("Shelling hit Kharkiv - officials said three people died.", set()),
    ("The Chechen government in exile said so.", set()),
])
def test_a_place_that_no_official_of_speaks_for_names_nobody(text: str, parties: set[str]
                                                               ) -> None:
    """Only the parties the sentence names otherwise ("Russian-installed": Russia)."""
    assert {value for *_, value in _names(text)} == parties


def test_a_name_covering_a_place_wins() -> None:
    doc = shared_extractor().nlp("Papua New Guinea governor")
    found = [Hit(0, 3, "P", "png"), Hit(0, 1, "L", "idn")]
    assert official_places(found, doc) == [Hit(0, 3, "P", "png")]


def test_a_name_inside_a_longer_place_of_another_party_is_dropped() -> None:
    doc = shared_extractor().nlp("Northern Ireland First Minister")
    found = [Hit(1, 2, "P", "irl"), Hit(0, 2, "L", "gbr")]
    assert official_places(found, doc) == [Hit(0, 2, "J", "gbr")]


def test_hits_without_a_place_come_back_as_they_are() -> None:
    doc = shared_extractor().nlp("Poland backs it")
    found = [Hit(0, 1, "P", "pol")]
    assert official_places(found, doc) is found


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
