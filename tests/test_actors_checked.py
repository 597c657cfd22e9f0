"""The six late-2025/2026 appointments checked against public reporting (see the comments in
bot/data/actors.toml): by name they speak for their party, and by title alone, the way news
names an official before or without a name, they do too."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from bot.extraction import Extractor
from bot.extraction.rules import RuleExtractor
from tests.extraction_helpers import keys, run


@pytest.fixture(scope="module")
def extractor() -> RuleExtractor:
    """These tests pin the rules' own behaviour (the learned stage on top is tested apart)."""
    return RuleExtractor()

CHECKED = {
    "petr-macinka": "cze",
    "helen-mcentee": "irl",
    "robertas-kaunas": "ltu",
    "atanas-zapryanov": "bgr",
    "allison-hart": "nato",
    "mykhailo-fedorov": "ukr",
}


def test_checked_actors_are_in_the_data_with_their_party() -> None:
    data = tomllib.loads(resources.files("bot.data").joinpath("actors.toml").read_text("utf-8"))
    assert {slug: data[slug]["party"] for slug in CHECKED} == CHECKED
    assert "Defence Minister" in data["mykhailo-fedorov"]["titles"]


@pytest.mark.parametrize(
    ("name", "actor", "party"),
    [
        ("Petr Macinka", "petr-macinka", "cze"),
        ("Helen McEntee", "helen-mcentee", "irl"),
        ("Robertas Kaunas", "robertas-kaunas", "ltu"),
        ("Atanas Zapryanov", "atanas-zapryanov", "bgr"),
        ("Fedorov", "mykhailo-fedorov", "ukr"),
    ],
)
def test_by_name(extractor: Extractor, name: str, actor: str, party: str) -> None:
    found = run(extractor, f"{name} said the country backed security guarantees for Ukraine.")
    assert [(p.actor, p.party) for p in found] == [(actor, party)]


@pytest.mark.parametrize(
    ("speaker", "party"),
    [
        ("The Czech foreign minister", "cze"),
        ("The Irish foreign minister", "irl"),
        ("The Lithuanian defence minister", "ltu"),
        ("The Bulgarian defence minister", "bgr"),
        ("A NATO spokesperson", "nato"),
        ("NATO spokesperson Allison Hart", "nato"),
        ("The Ukrainian defence minister", "ukr"),
    ],
)
def test_by_title(extractor: Extractor, speaker: str, party: str) -> None:
    holder = "the alliance" if party == "nato" else "the country"
    found = run(extractor, f"{speaker} said {holder} backed security guarantees for Ukraine.")
    assert {party for party, _, _ in keys(found)} == {party}
