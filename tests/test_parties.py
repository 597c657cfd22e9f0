"""The parties file: every kind is one the code knows, and territories sit with the states."""

from __future__ import annotations

from bot.cards.corrections import party_groups
from bot.vocabulary import PARTY_KINDS, parties
from tests.rules_helpers import shared_extractor


def test_every_party_has_a_known_kind() -> None:
    assert {p.kind for p in parties().values()} <= set(PARTY_KINDS)


def test_a_territory_is_listed_with_the_states_not_the_groups() -> None:
    greenland = parties()["grl"]
    assert greenland.kind == "territory" and greenland.is_place
    groups = party_groups(list(parties().values()), exclude="ukr")
    assert groups[0].label == "Groups and organisations"
    in_groups = {o.value for o in groups[0].options}
    in_states = {o.value for g in groups[1:] for o in g.options}
    assert "grl" in in_states and "grl" not in in_groups and "nato" in in_groups


def test_the_falklands_speak_for_themselves() -> None:
    """Round 16's writers coded the Falkland Islands' own government `flk`, as Greenland's."""
    falklands = parties()["flk"]
    assert falklands.kind == "territory" and "Falkland Islands" in falklands.names
    assert not falklands.capitals  # Stanley is also a first name
    ex = shared_extractor()
    doc = ex.nlp("The Falkland Islands government said it welcomed the pledge. Milei said the "
                 "Malvinas were Argentine.")
    found = {(doc[h.start:h.end].text, h.value) for h in ex.hits(doc) if h.kind in ("P", "J")}
    # the islands' own government, but not Argentina's word for its claim
    assert found == {("Falkland Islands", "flk"), ("Argentine", "arg")}
