"""The extractor's word lists, read from `bot/extraction/data/*.toml` and `bot/data/*.toml`.

Everything an analyst may want to extend lives in those files; this module only expands the
small phrase syntax ("a|b" alternatives, "word?" optional) and inflects verbs.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources

from bot.vocabulary import Guarantee, actors, parties


def _read(name: str) -> dict[str, dict[str, object]]:
    text = resources.files("bot.extraction").joinpath("data", name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _list(table: dict[str, object], key: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    raise ValueError(f"{key} must be a string or a list of strings, not {value!r}")


def word_set(text: str) -> frozenset[str]:
    """A set of words written as one space-separated string."""
    return frozenset(text.split())


def expand_phrase(phrase: str) -> list[str]:
    """All the concrete phrases a pattern stands for: "join|joining the? bloc" gives four."""
    slots: list[list[str]] = []
    for word in phrase.split():
        optional = word.endswith("?") and len(word) > 1
        if optional:
            word = word[:-1]
        choices = [choice for choice in word.split("|") if choice]
        if optional:
            choices.append("")
        slots.append(choices)
    expanded = (" ".join(w for w in combo if w) for combo in itertools.product(*slots))
    return [text for text in expanded if text]


_VOWELS = "aeiou"


def inflect(verb: str) -> list[str]:
    """Base, third person, past and -ing forms of a verb or of a phrase's first word.

    Over-generation is harmless (an unused form never matches), so doubling a final
    consonant is produced beside the plain form when in doubt.
    """
    head, _, rest = verb.partition(" ")
    tail = f" {rest}" if rest else ""
    forms = {head}
    if head.endswith("e"):
        forms |= {head + "s", head + "d", head[:-1] + "ing"}
    elif head.endswith("y") and len(head) > 1 and head[-2] not in _VOWELS:
        forms |= {head[:-1] + "ies", head[:-1] + "ied", head + "ing"}
    elif head.endswith(("s", "sh", "ch", "x", "z", "o")):
        forms |= {head + "es", head + "ed", head + "ing"}
    else:
        forms |= {head + "s", head + "ed", head + "ing"}
    if re.search(r"[^aeiou][aeiou][^aeiouwxy]$", head):
        last = head[-1]
        forms |= {head + last + "ed", head + last + "ing"}
    irregular = _IRREGULAR.get(head, ())
    forms.update(irregular)
    return sorted(form + tail for form in forms)


_IRREGULAR: dict[str, tuple[str, ...]] = {
    "give": ("gave", "given"), "send": ("sent",), "lead": ("led",), "put": ("put",),
    "win": ("won",), "get": ("got", "gotten"), "stand": ("stood",), "set": ("set",),
    "build": ("built",), "say": ("said",), "tell": ("told",), "write": ("wrote", "written"),
    "fight": ("fought",), "seek": ("sought",), "draw": ("drew", "drawn"), "cut": ("cut",),
    "forbid": ("forbade", "forbidden"), "freeze": ("froze", "frozen"), "shrink": ("shrank",),
    "withhold": ("withheld",), "give up": ("gave up", "given up"), "bar": ("barred",),
}


@dataclass(frozen=True)
class GuaranteeLexicon:
    guarantee: Guarantee
    phrases: tuple[str, ...]
    inverse: tuple[str, ...]
    guarantor: str | None
    after_party: tuple[str, ...] = ()  # only right after a party word: "Japanese firms"


@dataclass(frozen=True)
class CueLexicon:
    """Cue phrases by class: positive, negative, doubt, negator, timing, boundary, partial,
    neutral."""

    words: dict[str, tuple[str, ...]]
    after: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class AttributionLexicon:
    speech: tuple[str, ...]
    speech_words: frozenset[str]  # one-word forms of `speech`, for look-ups
    speech_phrases: tuple[str, ...]
    titles: tuple[str, ...]
    official_nouns: frozenset[str]
    official_modifiers: frozenset[str]
    person_pronouns: frozenset[str]
    group_pronouns: frozenset[str]
    thing_pronouns: frozenset[str]
    first_person: frozenset[str]
    role_nouns: tuple[str, ...]
    not_subject: frozenset[str]
    place_between: frozenset[str] = frozenset()  # "regional" in "the Kharkiv regional governor"
    place_officials: frozenset[str] = frozenset()  # "governor": a place's officials
    place_titles: frozenset[str] = frozenset()  # "governor" of "the governor of Belgorod"
    place_not_before: frozenset[str] = frozenset()  # "league": "Scottish Premier League"
    place_not_after: frozenset[str] = frozenset()  # "-installed": "Russian-installed"
    place_organisations: frozenset[str] = frozenset()  # "authority": "... Monetary Authority"
    place_of_modifiers: frozenset[str] = frozenset()  # "southern": "of the southern Kherson region"
    place_generic: frozenset[str] = frozenset()  # "spokesman": any organisation's official
    place_club_countries: frozenset[str] = frozenset()  # "gbr": "Manchester City officials"
    place_appointed: frozenset[str] = frozenset()  # "appointed": "appointed by Moscow"

    @cached_property
    def pronouns(self) -> frozenset[str]:
        """Every pronoun of the four kinds above, in one set."""
        return (self.person_pronouns | self.group_pronouns | self.thing_pronouns
                | self.first_person)


@dataclass(frozen=True)
class ReferenceLexicon:
    """Noun phrases that refer back to a guarantee (data/discourse.toml)."""

    generic: tuple[str, ...]
    generic_determiners: frozenset[str]
    generic_window: int
    typed: dict[str, tuple[str, ...]]  # guarantee id -> nouns
    typed_determiners: frozenset[str]
    typed_window: int
    bare: frozenset[str]  # typed nouns that need no determiner right after a stance verb
    evaluatives: frozenset[str]
    copulas: frozenset[str]
    membership_eu: tuple[str, ...]  # "accession": EU membership unless NATO is nearer
    membership_other: tuple[str, ...]  # "membership": nothing unless an organisation is near
    membership_nato_only: frozenset[str]
    membership_window: int


def _expand_all(patterns: Iterable[str]) -> tuple[str, ...]:
    out: dict[str, None] = {}
    for pattern in patterns:
        for phrase in expand_phrase(pattern):
            out[phrase.lower()] = None
    return tuple(out)


@cache
def guarantee_lexicons() -> tuple[GuaranteeLexicon, ...]:
    table = _read("guarantees.toml")
    result = []
    for key, entry in table.items():
        guarantor = entry.get("guarantor")
        result.append(
            GuaranteeLexicon(
                guarantee=Guarantee(key),
                phrases=_expand_all(_list(entry, "phrases")),
                inverse=_expand_all(_list(entry, "inverse")),
                guarantor=str(guarantor) if guarantor else None,
                after_party=_expand_all(_list(entry, "after_party")),
            )
        )
    return tuple(result)


@cache
def cue_lexicon() -> CueLexicon:
    table = _read("cues.toml")
    words: dict[str, tuple[str, ...]] = {}
    after: dict[str, tuple[str, ...]] = {}
    for cls, entry in table.items():
        forms: list[str] = []
        for verb in _list(entry, "verbs"):
            forms += inflect(verb)
        forms += _list(entry, "words")
        dropped = set(_list(entry, "except"))
        words[cls] = tuple(f for f in _expand_all(forms) if f not in dropped)
        after[cls] = _expand_all(_list(entry, "after"))
    return CueLexicon(words=words, after=after)


@cache
def reference_lexicon() -> ReferenceLexicon:
    table = _read("discourse.toml")
    generic, typed, copular = table["generic"], table["typed"], table["copular"]
    member = table["membership"]
    nouns = typed.get("nouns", {})
    assert isinstance(nouns, dict)
    for key in nouns:
        Guarantee(key)  # a typo in the data fails loudly
    return ReferenceLexicon(
        generic=_expand_all(_list(generic, "nouns")),
        generic_determiners=frozenset(_list(generic, "determiners")),
        generic_window=int(generic.get("window", 2)),  # type: ignore[call-overload]
        typed={key: _expand_all(_list(nouns, key)) for key in nouns},
        typed_determiners=frozenset(_list(typed, "determiners")),
        typed_window=int(typed.get("window", 4)),  # type: ignore[call-overload]
        bare=frozenset(_expand_all(_list(typed, "bare"))),
        evaluatives=frozenset(_list(copular, "evaluatives")),
        copulas=frozenset(_list(copular, "copulas")),
        membership_eu=_expand_all(_list(member, "eu_by_default")),
        membership_other=_expand_all(_list(member, "others")),
        membership_nato_only=frozenset(_expand_all(_list(member, "nato_only"))),
        membership_window=int(member.get("window", 4)),  # type: ignore[call-overload]
    )


@cache
def attribution_lexicon() -> AttributionLexicon:
    table = _read("attribution.toml")
    speech: list[str] = []
    for verb in _list(table["speech"], "verbs"):
        speech += inflect(verb)
    titles = {t.lower() for t in _list(table["titles"], "words")}
    party_words = {w.lower() for party in parties().values()
                   for w in (*party.names, *party.adjectives)}
    for actor in actors().values():
        for title in actor.titles:
            words = title.split()
            # "Slovenian Prime Minister": the party word is matched on its own.
            while len(words) > 1 and words[0].lower() in party_words:
                words = words[1:]
            titles.add(" ".join(words).lower())
    anaphora = table["anaphora"]
    return AttributionLexicon(
        speech=tuple(sorted(set(speech))),
        speech_words=frozenset(s for s in speech if " " not in s),
        speech_phrases=tuple(_list(table["speech"], "words")),
        titles=tuple(sorted(titles)),
        official_nouns=frozenset(_list(table["officials"], "nouns")),
        official_modifiers=frozenset(_list(table["officials"], "modifiers")),
        person_pronouns=frozenset(_list(anaphora, "person_pronouns")),
        group_pronouns=frozenset(_list(anaphora, "group_pronouns")),
        thing_pronouns=frozenset(_list(anaphora, "thing_pronouns")),
        first_person=frozenset(_list(anaphora, "first_person")),
        role_nouns=tuple(_list(anaphora, "role_nouns")),
        not_subject=frozenset(_list(table["not_subject"], "before")),
        place_between=frozenset(_list(table["places"], "between")),
        place_officials=frozenset(_list(table["places"], "officials")),
        place_titles=frozenset(_list(table["places"], "titles")),
        place_not_before=frozenset(_list(table["places"], "not_before")),
        place_not_after=frozenset(_list(table["places"], "not_after")),
        place_organisations=frozenset(_list(table["places"], "organisations")),
        place_of_modifiers=frozenset(_list(table["places"], "of_modifiers")),
        place_generic=frozenset(_list(table["places"], "generic_officials")),
        place_club_countries=frozenset(_list(table["places"], "club_countries")),
        place_appointed=frozenset(_list(table["places"], "appointed")),
    )


@cache
def memberships() -> dict[str, frozenset[str]]:
    """The groups each state belongs to (`member_of` in bot/data/parties.toml)."""
    text = resources.files("bot.data").joinpath("parties.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return {code: frozenset(_list(entry, "member_of")) for code, entry in table.items()
            if entry.get("member_of")}


def slugify(text: str) -> str:
    """Lower-case ASCII-ish slug with hyphens: "Robert Golob" -> "robert-golob"."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")


@cache
def party_slug(code: str) -> str:
    """The actor slug of a party speaking as a whole: "gbr" -> "united-kingdom" (once per
    code: the parties are read once per process)."""
    party = parties().get(code)
    return slugify(party.name) if party else code
