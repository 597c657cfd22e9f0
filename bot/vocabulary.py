"""The shared vocabulary of vocabulary.md: stances, guarantees, parties and known actors.

Stance and guarantee ids are fixed by the spec and live here as enums. Parties and actors are
domain knowledge an analyst extends, so they are read from `bot/data/*.toml`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources


class Stance(StrEnum):
    SEEKS = "seeks"
    BACKS = "backs"
    OPPOSES = "opposes"
    DOUBTS = "doubts"


class Guarantee(StrEnum):
    SECURITY_GUARANTEE = "security_guarantee"
    NATO_MEMBERSHIP = "nato_membership"
    PEACEKEEPING_FORCE = "peacekeeping_force"
    MILITARY_STRENGTH = "military_strength"
    AIR_SEA_PROTECTION = "air_sea_protection"
    DEMILITARIZED_ZONE = "demilitarized_zone"
    EU_MEMBERSHIP = "eu_membership"
    ECONOMIC_STAKE = "economic_stake"


@dataclass(frozen=True)
class GuaranteeInfo:
    id: Guarantee
    hard: bool
    label: str
    # Words a user may type to name this guarantee (`/guarantees peacekeepers`).
    topic_words: tuple[str, ...]


GUARANTEES: dict[Guarantee, GuaranteeInfo] = {
    info.id: info
    for info in (
        GuaranteeInfo(
            Guarantee.SECURITY_GUARANTEE, True, "Security guarantees",
            ("security", "guarantee", "guarantees", "backstop", "article5", "assurances"),
        ),
        GuaranteeInfo(
            Guarantee.NATO_MEMBERSHIP, True, "NATO membership",
            ("membership", "nato-membership", "alliance"),
        ),
        GuaranteeInfo(
            Guarantee.PEACEKEEPING_FORCE, True, "Peacekeeping force",
            ("peacekeepers", "peacekeeping", "troops", "reassurance", "boots", "force"),
        ),
        GuaranteeInfo(
            Guarantee.MILITARY_STRENGTH, True, "Ukraine's own armed forces",
            ("military", "army", "weapons", "arms", "porcupine"),
        ),
        GuaranteeInfo(
            Guarantee.AIR_SEA_PROTECTION, True, "Air and sea protection",
            ("air", "sea", "no-fly", "airspace", "maritime", "air-defence", "air-defense"),
        ),
        GuaranteeInfo(
            Guarantee.DEMILITARIZED_ZONE, True, "Demilitarised zone",
            ("dmz", "buffer", "demilitarized", "demilitarised", "zone"),
        ),
        GuaranteeInfo(
            Guarantee.EU_MEMBERSHIP, False, "EU membership",
            ("eu-membership", "accession", "enlargement"),
        ),
        GuaranteeInfo(
            Guarantee.ECONOMIC_STAKE, False, "Economic stake",
            ("minerals", "economic", "investors", "resources", "mining", "deal"),
        ),
    )
}

# Hard guarantees first, in the order of the spec: the card shows sections in this order.
GUARANTEE_ORDER: tuple[Guarantee, ...] = tuple(GUARANTEES)


PARTY_KINDS = ("state", "territory", "organisation", "group")


@dataclass(frozen=True)
class Party:
    code: str
    name: str
    kind: str  # "state", "territory" (self-governing), "organisation" or "group"
    names: tuple[str, ...]
    adjectives: tuple[str, ...]
    capitals: tuple[str, ...]
    metonyms: tuple[str, ...]

    @property
    def is_place(self) -> bool:
        """A state or a self-governing territory, as against a group or an organisation."""
        return self.kind in ("state", "territory")

    def all_words(self) -> tuple[str, ...]:
        return (self.code, self.name, *self.names, *self.adjectives, *self.capitals, *self.metonyms)


@dataclass(frozen=True)
class Actor:
    slug: str
    name: str
    party: str
    aliases: tuple[str, ...]
    titles: tuple[str, ...]


def _read_toml(name: str) -> dict[str, dict[str, object]]:
    text = resources.files("bot.data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _strings(entry: dict[str, object], key: str) -> tuple[str, ...]:
    value = entry.get(key, ())
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    raise ValueError(f"{key} must be a string or a list of strings, not {value!r}")


@cache
def parties() -> dict[str, Party]:
    """All parties of `bot/data/parties.toml`, keyed by code."""
    table = _read_toml("parties.toml")
    for code, entry in table.items():
        if entry.get("kind", "state") not in PARTY_KINDS:
            raise ValueError(f"parties.toml: [{code}] has kind {entry.get('kind')!r}, not one of "
                             f"{', '.join(PARTY_KINDS)}")
    return {
        code: Party(
            code=code,
            name=str(entry["name"]),
            kind=str(entry.get("kind", "state")),
            names=_strings(entry, "names"),
            adjectives=_strings(entry, "adjectives"),
            capitals=_strings(entry, "capitals"),
            metonyms=_strings(entry, "metonyms"),
        )
        for code, entry in table.items()
    }


@cache
def actors() -> dict[str, Actor]:
    """Known actors of `bot/data/actors.toml`, keyed by slug."""
    table = _read_toml("actors.toml")
    return {
        slug: Actor(
            slug=slug,
            name=str(entry["name"]),
            party=str(entry["party"]),
            aliases=_strings(entry, "aliases"),
            titles=_strings(entry, "titles"),
        )
        for slug, entry in table.items()
    }


@cache
def places() -> dict[str, str]:
    """Regions and cities below the state (`bot/data/places.toml`), each to its party's code."""
    table = _read_toml("places.toml")
    known = parties()
    out: dict[str, str] = {}
    for code, entry in table.items():
        if code not in known:
            raise ValueError(f"places.toml: [{code}] is not a party of parties.toml")
        if not isinstance(entry, dict):
            raise ValueError(f"places.toml: {code} must be a table with a `places` list")
        for place in _strings(entry, "places"):
            if place in out and out[place] != code:
                raise ValueError(f"places.toml: {place!r} is under [{out[place]}] and [{code}]")
            out[place] = code
    return out


def party_name(code: str | None) -> str:
    if code is None:
        return "unspecified"
    party = parties().get(code)
    return party.name if party else code.upper()


def actor_name(slug: str) -> str:
    """Display name of an actor: the known name, else the slug made readable."""
    actor = actors().get(slug)
    if actor:
        return actor.name
    return slug.replace("-", " ").capitalize()
