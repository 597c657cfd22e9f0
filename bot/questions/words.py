"""The vocabulary of the question grammar (`bot/data/questions.toml`) and how typed text is
cut into words. Read once; every list is data an analyst extends."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.vocabulary import Guarantee, Stance

MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        start=1,
    )
    for name in names
}
WEEKDAYS = {
    name: number
    for number, names in enumerate(
        (("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"),
         ("thursday", "thu", "thurs"), ("friday", "fri"), ("saturday", "sat"),
         ("sunday", "sun"))
    )
    for name in names
}
Phrase = tuple[str, ...]


@dataclass(frozen=True)
class QuestionWords:
    """The vocabulary of `bot/data/questions.toml`, as phrases of words."""

    stances: dict[Phrase, Stance]
    ignore: frozenset[str]
    subcommands: dict[Phrase, str]  # phrase -> "compare" | "changes"
    time: dict[Phrase, str]  # phrase -> "today", "this_week", "since", "recent", ...
    units: dict[str, str]  # "days" -> "day"
    ambiguous: dict[str, Guarantee]  # a party word that is also a guarantee
    commands: dict[str, str]  # extra first words of bot.query's subcommands
    typo_targets: tuple[str, ...]  # single grammar words a typo may be corrected to


def _phrase(text: str) -> Phrase:
    return tuple(clean_words(text))


@cache
def question_words() -> QuestionWords:
    raw = tomllib.loads(
        resources.files("bot.data").joinpath("questions.toml").read_text(encoding="utf-8")
    )
    stances = {
        _phrase(word): Stance(name) for name, words in raw["stances"].items() for word in words
    }
    subcommands = {
        _phrase(word): name for name, words in raw["subcommands"].items() for word in words
    }
    time_words = dict(raw["time"])
    units = {str(k): str(v) for k, v in time_words.pop("units").items()}
    times = {_phrase(word): name for name, words in time_words.items() for word in words}
    ignore = frozenset(raw["ignore"]["words"])
    single = {word for p in (*stances, *subcommands, *times) for word in p} | set(ignore)
    targets = tuple(sorted(w for w in single | set(MONTHS) | set(WEEKDAYS) if len(w) >= 4))
    return QuestionWords(
        stances=stances,
        ignore=ignore,
        subcommands=subcommands,
        time=times,
        units=units,
        ambiguous={str(k): Guarantee(v) for k, v in raw.get("ambiguous", {}).items()},
        commands={str(k): str(v) for k, v in raw.get("commands", {}).items()},
        typo_targets=targets,
    )


_QUOTES = str.maketrans({"‘": "'", "’": "'", "‛": "'", "`": "'", "´": "'"})
_WORD = re.compile(r"[^\s\"“”„«»‹›?!,;()\[\]{}]+")
_NUMBER_UNIT = re.compile(r"(\d+)([a-z]+)")


def clean_words(text: str) -> list[str]:
    """Lower-case words without accents, quotes or question marks; `7d` is `7 d`; dates,
    times and hyphens stay inside their word (`2026-01-01`, `air-defence`)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words: list[str] = []
    for token in _WORD.findall(bare):
        token = token.strip(".'-:")
        if not token:
            continue
        split = _NUMBER_UNIT.fullmatch(token)
        if split and not token.endswith(("st", "nd", "rd", "th")):
            words += [split.group(1), split.group(2)]
        else:
            words.append(token.replace("'", ""))  # "italy's" -> "italys", as topics read it
    return words



def longest(words: list[str], i: int, table: dict[Phrase, str] | dict[Phrase, Stance],
             longest: int = 4) -> int:
    """How many words from `i` make the longest phrase of `table` (0: none)."""
    for size in range(min(longest, len(words) - i), 0, -1):
        if tuple(words[i : i + size]) in table:
            return size
    return 0


