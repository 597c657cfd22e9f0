"""Places below the state (`bot/data/places.toml`) as names of their state, where an official
of theirs speaks: "Kharkiv Mayor Ihor Terekhov", "the Odesa regional military administration",
"Kharkiv's mayor", "the Belgorod region's governor", "the governor of the Belgorod region".

A place is matched as an `L` hit; this stage replaces it by its party's adjective (`J`), or its
name (`P`) before "'s", where it heads an official's phrase, and drops it elsewhere ("strikes
on Kharkiv" names nobody). The longest name wins: "Northern Ireland" is no mention of Ireland,
"New South Wales" none of Wales; a party's or an actor's name over a place keeps it (an
actor's inside a place goes: "Sharif" in "Mazar-i-Sharif"). A place that is part of another
name ("Bayern Munich", "University of Michigan", "Manchester City officials"), or whose
officials an occupier or a rival appointed ("the Russian-installed Zaporizhzhia governor",
"... appointed by the M23"), names nobody. The words are in
`bot/extraction/data/attribution.toml`, `[places]`.
"""

from __future__ import annotations

from spacy.tokens import Doc

from bot.extraction.lexicon import AttributionLexicon, attribution_lexicon
from bot.extraction.rules.pipeline import Hit

NAMES = ("A", "P", "J")
# After these, the place's capitalised "City" or "State" is a club's or a university's name
# unless a body that governs follows: "Manchester City Council", not "Manchester City officials".
GOVERNING = frozenset({"mayor", "governor", "council", "government", "administration",
                       "legislature", "hall"})
AFTER_WINDOW = 8  # tokens after an official's phrase read for "appointed by", "in exile"


def official_places(found: list[Hit], doc: Doc) -> list[Hit]:
    """The hits with each place replaced by its party where an official of it speaks and
    dropped elsewhere; a name (of another party, or an actor's) inside a longer place is
    dropped too."""
    places = _longest([h for h in found if h.kind == "L"])
    if not places:
        return found  # most articles: nothing to do, and reading the tokens costs a tenth
    lex = attribution_lexicon()
    words = [t.text for t in doc]
    lower = [w.lower() for w in words]
    starts = [t.is_sent_start is True for t in doc]
    inside = {n for n in found if n.kind in NAMES for p in places
              if p.start <= n.start and n.end <= p.end and n.end - n.start < p.end - p.start
              and n.value != p.value}
    names = [n for n in found if n.kind in NAMES and n not in inside]
    out = [h for h in found if h.kind != "L" and h not in inside]
    for place in places:
        if any(n.start < place.end and place.start < n.end for n in names):
            continue  # "Kaunas" the minister, "Gaza" in "Gaza City": the name stands
        if _inside_a_name(place.start, words, starts) or _occupier_before(place.start, lower,
                                                                         starts, lex):
            continue
        heading = _heading(place, words, lower, lex)
        if heading is not None and not _appointed_after(heading[1], lower, starts, lex):
            out.append(Hit(place.start, place.end, heading[0], place.value))
    return out


def _longest(places: list[Hit]) -> list[Hit]:
    """Of overlapping places, the longest: "Baja California" over "California"."""
    kept: list[Hit] = []
    for h in sorted(places, key=lambda h: (h.start - h.end, h.start)):
        if all(h.end <= k.start or k.end <= h.start for k in kept):
            kept.append(h)
    return sorted(kept, key=lambda h: h.start)


def _inside_a_name(start: int, words: list[str], starts: list[bool]) -> bool:
    """Whether a capitalised word that opens no sentence comes just before the place: "Bayern
    Munich", "Olympique Marseille", "Har Hebron"."""
    k = start - 1
    return k >= 0 and not starts[k] and words[k][:1].isupper() and words[k].isalpha()


def _occupier_before(start: int, lower: list[str], starts: list[bool],
                     lex: AttributionLexicon) -> bool:
    """Whether the place's own sentence calls its officials an occupier's or a rival's in the
    words just before it: "the Russian-installed", "Kremlin-backed", "the self-proclaimed"."""
    k = start - 1
    while k >= 0 and start - k <= 4:
        if lower[k] in lex.place_not_after or (
                k > 0 and lower[k - 1] == "-" and "-" + lower[k] in lex.place_not_after):
            return True
        if starts[k]:
            break
        k -= 1
    return False


def _appointed_after(end: int, lower: list[str], starts: list[bool],
                     lex: AttributionLexicon) -> bool:
    """Whether the words after the official's phrase, in its sentence, say an occupier or a
    rival appointed it: "..., appointed by the M23", "the Chechen government in exile"."""
    for k in range(end, min(len(lower), end + AFTER_WINDOW)):
        if starts[k]:
            return False
        if lower[k] == "exile" or (lower[k] in ("appointed", "installed", "named")
                                   and k + 1 < len(lower) and lower[k + 1] == "by"):
            return True
    return False


def _heading(place: Hit, words: list[str], lower: list[str], lex: AttributionLexicon
             ) -> tuple[str, int] | None:
    """(`J` or, with "'s", `P`; where the official's phrase ends) where the place heads an
    official's phrase ("Kharkiv Mayor", "Kharkiv's mayor", "the Belgorod region's
    governor"), or comes after one of `titles` and "of" ("the governor of the Belgorod
    region"), else None."""
    k, kind = place.end, "J"
    of = _of_at(place.start, words)
    while True:
        if k < len(lower) and lower[k] in ("'s", "’s"):
            k, kind = k + 1, "P"
        size = _official_at(k, lower, lex.place_officials)
        if size or k >= len(lower) or lower[k] not in lex.place_between:
            break
        if words[k] in ("City", "State") and not (k + 1 < len(lower)
                                                  and lower[k + 1] in GOVERNING):
            return None  # "Manchester City officials", "Ohio State officials"
        k += 1  # "regional", "oblast", but not the "first" of "first minister"
    if size and of < 0 and not (k + size < len(lower)
                                       and lower[k + size] in lex.place_not_before):
        return kind, k + size  # not "the Scottish Premier League", "a regional building"
    if of >= 0 and kind == "J" and _official_before(of, lower, lex) and \
            not _organisation_after(k, words, lower, lex):
        return "J", k
    return None


def _of_at(start: int, words: list[str]) -> int:
    """Where "of" stands just before the place, -1 without: "of Kharkiv", "of the Belgorod
    region", "of the partly occupied Kherson region" (up to three lower-case words between)."""
    k = start - 1
    while k >= 0 and start - k <= 3 and words[k].islower() and words[k] not in ("of", "the"):
        k -= 1
    if k >= 0 and words[k].lower() == "the":
        k -= 1
    return k if k >= 0 and words[k].lower() == "of" else -1


def _official_at(k: int, lower: list[str], officials: frozenset[str]) -> int:
    """How many words an official's noun at `k` takes ("chief minister": 2), 0 without one."""
    if k + 1 < len(lower) and f"{lower[k]} {lower[k + 1]}" in officials:
        return 2
    return 1 if k < len(lower) and lower[k] in officials else 0


def _official_before(of: int, lower: list[str], lex: AttributionLexicon) -> bool:
    """Whether a title that rules a place comes before its "of" (at `of`): "the governor of
    the Belgorod region", "Mayor of Kharkiv", "chief minister of Sabah"."""
    return of >= 1 and (lower[of - 1] in lex.place_titles or (
        of >= 2 and f"{lower[of - 2]} {lower[of - 1]}" in lex.place_titles))


def _organisation_after(k: int, words: list[str], lower: list[str],
                        lex: AttributionLexicon) -> bool:
    """Whether the capitalised words after the place end in an organisation's noun: "the
    governor of the Hong Kong Monetary Authority", but not "Mayor of Kharkiv Ihor Terekhov"."""
    while k < len(words) and words[k][:1].isupper() and words[k].isalpha():
        if lower[k] in lex.place_organisations:
            return True
        k += 1
    return False
