"""Places below the state (`bot/data/places.toml`) as names of their state, where an official
of theirs speaks: "Kharkiv Mayor Ihor Terekhov", "the Odesa regional military administration",
"Kharkiv's mayor", "the Belgorod region's governor", "the governor of the Belgorod region".

A place is matched as an `L` hit; this stage replaces it by its party's adjective (`J`), or its
name (`P`) before "'s", where it heads an official's phrase, and drops it elsewhere ("strikes
on Kharkiv" names nobody). The longest name wins: "Northern Ireland" is no mention of Ireland,
"New South Wales" none of Wales; a party's or an actor's name over a place keeps it (an
actor's inside a place goes: "Sharif" in "Mazar-i-Sharif"). A place that is part of another
name ("a Bayern Munich spokesman", "a University of Michigan spokesman", "Manchester City
officials"), or whose officials an occupier or a rival appointed ("the Russian-installed
Zaporizhzhia governor", "..., appointed by Moscow"), names nobody. The words are in
`bot/extraction/data/attribution.toml`, `[places]`.
"""

from __future__ import annotations

from spacy.tokens import Doc

from bot.extraction.lexicon import AttributionLexicon, attribution_lexicon
from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.sentences import token_lists

NAMES = ("A", "P", "J")
APPOINTED_WINDOW = 6  # tokens after an official's phrase read for "appointed by <another>"


def official_places(found: list[Hit], doc: Doc) -> list[Hit]:
    """The hits with each place replaced by its party where an official of it speaks and
    dropped elsewhere; a name (of another party, or an actor's) inside a longer place is
    dropped too."""
    places = _longest([h for h in found if h.kind == "L"])
    if not places:
        return found  # most articles: nothing to do
    lex = attribution_lexicon()
    tokens = token_lists(doc)
    starts = {s.start for s in doc.sents}
    inside = {n for n in found if n.kind in NAMES for p in places
              if p.start <= n.start and n.end <= p.end and n.end - n.start < p.end - p.start
              and n.value != p.value}
    names = [n for n in found if n.kind in NAMES and n not in inside]
    out = [h for h in found if h.kind != "L" and h not in inside]
    reader = _Reader(doc, tokens.words, tokens.lower, starts, names, lex)
    for place in places:
        if any(n.start < place.end and place.start < n.end for n in names):
            continue  # "Kaunas" the minister, "Gaza" in "Gaza City": the name stands
        kind = reader.heading(place)
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


class _Reader:
    """The words around the places of one article."""

    def __init__(self, doc: Doc, words: list[str], lower: list[str], starts: set[int],
                 names: list[Hit], lex: AttributionLexicon) -> None:
        self.doc, self.words, self.lower, self.starts = doc, words, lower, starts
        self.names, self.lex = names, lex

    def heading(self, place: Hit) -> str | None:
        """`J`, or `P` with "'s", where an official of the place speaks ("Kharkiv Mayor",
        "Kharkiv's mayor", "the Belgorod region's governor", "the governor of the Belgorod
        region"), else None."""
        of = self._of_at(place.start)
        if self._occupier_before(of - 1 if of >= 0 else place.start):
            return None  # "the Russian-installed Zaporizhzhia governor"
        k, kind, size, skipped = place.end, "J", 0, []
        while k < len(self.lower):
            if self.lower[k] in ("'s", "’s"):
                k, kind = k + 1, "P"
            size = self._official_at(k)
            if size or not self._between(k):
                break
            skipped.append(self.words[k])
            k += 1  # "regional", "oblast", but not the "first" of "first minister"
        if size:
            noun = " ".join(self.lower[k:k + size])
            if k + size < len(self.lower) and self.lower[k + size] in self.lex.place_not_before:
                return None  # "the Scottish Premier League", "the regional administration building"
            if noun in self.lex.place_generic and (self._after_a_name(place.start) or (
                    place.value in self.lex.place_club_countries
                    and {"City", "State"} & set(skipped))):
                return None  # "a Bayern Munich spokesman", "Ohio State officials"
            if of >= 0 and self._named_before_of(of):
                return None  # "a University of Michigan spokesman"
            return None if self._appointed_after(k + size, place.value) else kind
        if of >= 0 and kind == "J" and self._title_before(of) and not self._organisation_after(k):
            return "J"
        return None

    def _between(self, k: int) -> bool:
        """A word between a place and its official; a hyphen only inside a word ("civil-
        military"), not a dash between two clauses."""
        if self.lower[k] == "-":
            return bool(k > 0 and not self.doc[k - 1].whitespace_ and not self.doc[k].whitespace_)
        return self.lower[k] in self.lex.place_between

    def _official_at(self, k: int) -> int:
        """How many words an official's noun at `k` takes ("chief minister": 2), 0 without."""
        officials, lower = self.lex.place_officials, self.lower
        if k + 1 < len(lower) and f"{lower[k]} {lower[k + 1]}" in officials:
            return 2
        return 1 if k < len(lower) and lower[k] in officials else 0

    def _of_at(self, start: int) -> int:
        """Where "of" stands just before the place, -1 without: "of Kharkiv", "of the Belgorod
        region", "of the southern Kherson region" (`of_modifiers` between)."""
        k = start - 1
        while k >= 0 and start - k <= 3 and self.lower[k] in self.lex.place_of_modifiers:
            k -= 1
        if k >= 0 and self.lower[k] == "the":
            k -= 1
        return k if k >= 0 and self.lower[k] == "of" else -1

    def _title_before(self, of: int) -> bool:
        """Whether a title that rules a place comes before "of": "the governor of ...", "Mayor
        of Kharkiv", "chief minister of Sabah"."""
        lower, titles = self.lower, self.lex.place_titles
        return of >= 1 and (lower[of - 1] in titles or (
            of >= 2 and f"{lower[of - 2]} {lower[of - 1]}" in titles))

    def _named_before_of(self, of: int) -> bool:
        """Whether a capitalised word that is no title comes before "of": "the University of
        Michigan", but not "head of the Kharkiv Regional Military Administration"."""
        k = of - 1
        return k >= 0 and self.words[k][:1].isupper() and not self._title_before(of) and \
            k not in self.starts

    def _after_a_name(self, start: int) -> bool:
        """Whether a capitalised word that opens no sentence and names no party comes just
        before the place: "Bayern Munich", "Har Hebron"."""
        k = start - 1
        if k < 0 or k in self.starts or not (self.words[k][:1].isupper()
                                             and self.words[k].isalpha()):
            return False
        return not any(n.start <= k < n.end for n in self.names)

    def _occupier_before(self, end: int) -> bool:
        """Whether the words just before `end`, in its sentence, make the officials an
        occupier's or a rival's: "the Russian-installed", "Kremlin-backed", "self-proclaimed"."""
        lower, not_after = self.lower, self.lex.place_not_after
        k = end - 1
        while k >= 0 and end - k <= 4:
            if lower[k] in not_after or (k > 0 and lower[k - 1] == "-"
                                         and "-" + lower[k] in not_after):
                return True
            if k in self.starts:
                break
            k -= 1
        return False

    def _appointed_after(self, end: int, party: str) -> bool:
        """Whether the official is "in exile" or "appointed by" another party, just after its
        phrase: "..., appointed by Moscow", but not "appointed by Zelensky" for Kharkiv."""
        lower = self.lower
        if end + 1 < len(lower) and lower[end] == "in" and lower[end + 1] == "exile":
            return True
        for k in range(end, min(len(lower) - 1, end + APPOINTED_WINDOW)):
            if k in self.starts or lower[k] in ("said", "says", "told"):
                return False
            if lower[k] in self.lex.place_appointed and lower[k + 1] == "by":
                after = [n for n in self.names if k + 1 < n.start <= k + 4]
                return bool(after) and after[0].kind != "A" and after[0].value != party
        return False

    def _organisation_after(self, k: int) -> bool:
        """Whether the capitalised words after the place end in an organisation's noun: "the
        governor of the Hong Kong Monetary Authority", but not "Mayor of Kharkiv Ihor
        Terekhov"."""
        words = self.words
        while k < len(words) and words[k][:1].isupper() and words[k].isalpha():
            if self.lower[k] in self.lex.place_organisations:
                return True
            k += 1
        return False
