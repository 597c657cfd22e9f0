"""Places below the state (`bot/data/places.toml`) as names of their state, where an official
of theirs speaks: "Kharkiv Mayor Ihor Terekhov", "the Odesa regional military administration",
"Kharkiv's mayor", "the governor of the Belgorod region".

A place is matched as an `L` hit; this stage replaces it by its party's adjective (`J`), or its
name (`P`) before "'s", where it heads an official's phrase, and drops it elsewhere ("strikes
on Kharkiv" names nobody). The longest name wins: "Northern Ireland" is no mention of Ireland,
"New South Wales" none of Wales, and a party's or an actor's name over a place keeps it. The
words that make the phrases are in `bot/extraction/data/attribution.toml`, `[places]`.
"""

from __future__ import annotations

from spacy.tokens import Doc

from bot.extraction.lexicon import AttributionLexicon, attribution_lexicon
from bot.extraction.rules.pipeline import Hit

NAMES = ("A", "P", "J")


def official_places(found: list[Hit], doc: Doc) -> list[Hit]:
    """The hits with each place replaced by its party where it heads an official's phrase and
    dropped elsewhere; a name of another party inside a longer place is dropped too."""
    places = _longest([h for h in found if h.kind == "L"])
    if not places:
        return found  # most articles: nothing to do, and reading the tokens costs a tenth
    lex = attribution_lexicon()
    words = [t.text for t in doc]
    lower = [w.lower() for w in words]
    inside = {n for n in found if n.kind in NAMES for p in places
              if p.start <= n.start and n.end <= p.end and n.end - n.start < p.end - p.start
              and n.value != p.value}
    names = [n for n in found if n.kind in NAMES and n not in inside]
    out = [h for h in found if h.kind != "L" and h not in inside]
    for place in places:
        if any(n.start < place.end and place.start < n.end for n in names):
            continue  # "Kaunas" the minister, "Gaza" in "Gaza City": the name stands
        if any(w in lex.place_not_after for w in lower[max(0, place.start - 4):place.start]):
            continue  # "the Russian-installed Zaporizhzhia governor" is not Ukraine's
        kind = _heading(place, words, lower, lex)
        if kind is not None:
            out.append(Hit(place.start, place.end, kind, place.value))
    return out


def _longest(places: list[Hit]) -> list[Hit]:
    """Of overlapping places, the longest: "Baja California" over "California"."""
    kept: list[Hit] = []
    for h in sorted(places, key=lambda h: (h.start - h.end, h.start)):
        if all(h.end <= k.start or k.end <= h.start for k in kept):
            kept.append(h)
    return sorted(kept, key=lambda h: h.start)


def _heading(place: Hit, words: list[str], lower: list[str], lex: AttributionLexicon
             ) -> str | None:
    """`J` where the place heads an official's phrase ("Kharkiv Mayor"), `P` where it does so
    with "'s" ("Kharkiv's mayor"), `J` where an official "of" it comes before ("the governor of
    the Belgorod region"), else None."""
    k, kind = place.end, "J"
    if k < len(lower) and lower[k] in ("'s", "’s"):
        k, kind = k + 1, "P"
    size = _official_at(k, lower, lex.place_officials)
    while not size and k < len(lower) and lower[k] in lex.place_between:
        k += 1  # "regional", "oblast", but not the "first" of "first minister"
        size = _official_at(k, lower, lex.place_officials)
    if size and not (k + size < len(lower) and lower[k + size] in lex.place_not_before):
        return kind  # not "the Scottish Premier League", "the Chicago Council on ..."
    if kind == "J" and _official_before(place.start, lower, lex) and not (
            k < len(words) and words[k][:1].isupper() and words[k].isalpha()):
        return "J"  # not "the head of the Munich Security Conference"
    return None


def _official_at(k: int, lower: list[str], officials: frozenset[str]) -> int:
    """How many words an official's noun at `k` takes ("chief minister": 2), 0 without one."""
    if k + 1 < len(lower) and f"{lower[k]} {lower[k + 1]}" in officials:
        return 2
    return 1 if k < len(lower) and lower[k] in officials else 0


def _official_before(start: int, lower: list[str], lex: AttributionLexicon) -> bool:
    """Whether a title that rules a place and "of" come just before it: "the governor of (the)
    Belgorod region", "mayor of Kharkiv", "chief minister of Sabah"."""
    k = start - 1
    if k >= 0 and lower[k] == "the":
        k -= 1
    if k < 1 or lower[k] != "of":
        return False
    return lower[k - 1] in lex.place_titles or (
        k >= 2 and f"{lower[k - 2]} {lower[k - 1]}" in lex.place_titles)
