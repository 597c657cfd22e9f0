"""Topic words to a `Topic`: parties, actors and guarantees a user may name.

The index is built from the vocabulary (`bot/data/*.toml`, `bot.vocabulary.GUARANTEES`) and the
actors the store has positions for. Matching ignores case, accents and punctuation
("U.S." is "us", "Zelenskyy" and "zelenskyy" are the same), takes the longest phrase first
("von der leyen", "white house", "united states"), and forgives a plural or singular
("peacekeeper", "guarantee", "Ukraine's").

Kinds combine as `PositionFilter` says. The first party named is the topic (positions that
involve it as holder, guarantor or beneficiary); further parties say who holds the position
(`ukraine usa`: US positions involving Ukraine; `usa ukraine`: the reverse). Actors and
guarantees are alternatives within their kind (OR), and the kinds narrow each other (AND).

Ambiguous words. "nato" and "alliance" name both a party and the `nato_membership` guarantee.
Alone (or with an actor or another guarantee) such a word is the party: `/guarantees nato` is
every position involving NATO as holder, guarantor or beneficiary, which covers membership
(NATO is its guarantor) as well as NATO troops or an Article-5 pledge. Beside another party it
is the guarantee: `ukraine nato` is Ukraine and NATO membership (reading it as "held by NATO"
would almost always be empty). Beside its own guarantee's words ("nato membership") it is that
guarantee. A phrase naming a party and an extracted actor ("russia") is the party.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from bot.models import PositionFilter
from bot.query import Topic, UserError
from bot.vocabulary import GUARANTEE_ORDER, GUARANTEES, Guarantee, actors, parties

if TYPE_CHECKING:
    from bot.store import Store

# The longest phrase tried, in words ("united states of america", "coalition of the willing").
MAX_PHRASE_WORDS = 5
# Words between topic words that carry no meaning: `/guarantees trump and peacekeepers`.
FILLER_WORDS = frozenset(
    {"the", "and", "on", "about", "of", "for", "with", "in", "to", "vs", "versus", "or", "a",
     "an", "by", "from"}
)
# Last words of extracted group actors that must not become a "surname" topic.
GENERIC_ACTOR_WORDS = frozenset(
    {"officials", "official", "government", "ministry", "minister", "leaders", "leader",
     "spokesperson", "spokesman", "military", "sources", "diplomats", "president", "willing",
     "office", "army", "forces", "parliament", "administration", "allies"}
)
# Offered when nothing typed is close to anything known.
DEFAULT_SUGGESTIONS = ("ukraine", "russia", "trump", "nato", "peacekeepers", "security")
MAX_SUGGESTIONS = 5


class Kind(StrEnum):
    PARTY = "party"
    ACTOR = "actor"
    GUARANTEE = "guarantee"


@dataclass(frozen=True)
class Reading:
    """One meaning of a phrase: a party code, an actor slug or a guarantee id."""

    kind: Kind
    value: str


# A phrase as typed (its normalised words) and what it may mean.
Matched = tuple[tuple[str, ...], set[Reading]]

_DROPPED = re.compile(r"[.'’`]")
_SEPARATORS = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Lower-case words without accents or punctuation: "Zelenskyy's U.S." -> "zelenskyys us"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    bare = _DROPPED.sub("", bare)  # "U.S." is "us"; "Ukraine's" is "ukraines"
    return " ".join(_SEPARATORS.sub(" ", bare).split())


def actor_display_name(slug: str) -> str:
    """A readable name for an actor slug: the vocabulary's name, else the slug in title case."""
    known = actors().get(slug)
    if known:
        return known.name
    words = [w for w in slug.replace("_", "-").split("-") if w]
    shown = [w if (i and w in FILLER_WORDS) else w.capitalize() for i, w in enumerate(words)]
    return " ".join(shown) or slug


def guarantee_label(guarantee: Guarantee) -> str:
    return GUARANTEES[guarantee].label


def party_label(code: str) -> str:
    party = parties().get(code)
    return party.name if party else code.upper()


@dataclass
class TopicIndex:
    """Every phrase a user may type, with its readings; build it with `build_topic_index`."""

    phrases: dict[str, set[Reading]] = field(default_factory=dict)
    # Readings the store has data for: suggestions prefer them (empty: no preference).
    known: set[Reading] = field(default_factory=set)
    _choices: tuple[list[str], list[str]] | None = None
    _words: frozenset[str] | None = None

    def words(self) -> frozenset[str]:
        """Every word of every phrase (a word typed that is none of these is not a topic)."""
        if self._words is None:
            self._words = frozenset(w for phrase in self.phrases for w in phrase.split())
        return self._words

    def add(self, phrase: str, reading: Reading) -> None:
        key = normalise(phrase)
        if key and key not in FILLER_WORDS:  # "and" is Andorra's code, but mostly "and"
            self.phrases.setdefault(key, set()).add(reading)

    def lookup(self, phrase: str) -> set[Reading]:
        """Readings of a normalised phrase, forgiving a plural or a singular on its last word."""
        for candidate in _number_variants(phrase):
            found = self.phrases.get(candidate)
            if found:
                return found
        return set()

    def match(self, words: Iterable[str]) -> tuple[list[Matched], list[str]]:
        """Topic words to the phrases they make (longest first) and the words not known."""
        tokens = normalise(" ".join(words)).split()
        matched: list[Matched] = []
        unknown: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
                phrase = tokens[i : i + size]
                readings = self.lookup(" ".join(phrase))
                if readings:
                    matched.append((tuple(phrase), readings))
                    i += size
                    break
            else:
                if tokens[i] not in FILLER_WORDS:
                    unknown.append(tokens[i])
                i += 1
        return matched, unknown

    def resolve(self, words: Iterable[str]) -> Topic:
        """Topic words (as typed, or as stored by a subscription) to a `Topic`.

        Raises `UserError` with the closest known topics when a word is not understood.
        """
        matched, unknown = self.match(words)
        if unknown:
            word = unknown[0]
            shown = word if len(word) <= 40 else word[:39] + "…"
            raise UserError(f"I don't know the topic “{shown}”.", self.suggest(word))
        if not matched:
            raise UserError(
                "Name a topic: a party, a person or a guarantee, for example `ukraine`.",
                DEFAULT_SUGGESTIONS,
            )
        return self._topic(matched)

    def alternatives(self, words: Iterable[str]) -> tuple[Topic, ...]:
        """The other readings of words that name both a party and a guarantee (`eu`, `nato`):
        each ambiguous phrase read the other way, one at a time, then all together. Empty
        when nothing is ambiguous (or a word is unknown)."""
        matched, unknown = self.match(words)
        if unknown:
            return ()
        ambiguous = [i for i, (_, readings) in enumerate(matched) if _is_ambiguous(readings)]
        flips = [frozenset({i}) for i in ambiguous]
        if len(ambiguous) > 1:
            flips.append(frozenset(ambiguous))
        primary = self._topic(matched)
        found: list[Topic] = []
        for flip in flips:
            topic = self._topic(matched, flip)
            if topic.filter != primary.filter and all(t.filter != topic.filter for t in found):
                found.append(topic)
        return tuple(found)

    def relaxations(self, words: Iterable[str]) -> tuple[Topic, ...]:
        """Nearby topics with one phrase left out (`hungary nato` -> `nato`, `hungary`)."""
        matched, unknown = self.match(words)
        if unknown or len(matched) < 2:
            return ()
        return tuple(
            self._topic(matched[:i] + matched[i + 1 :]) for i in range(len(matched) - 1, -1, -1)
        )

    def _topic(self, matched: list[Matched], flip: frozenset[int] = frozenset()) -> Topic:
        """The topic of matched phrases; ambiguous phrases whose position is in `flip` are
        read the other way than the rule of the module docstring says."""
        chosen: list[Reading] = []
        ambiguous: list[tuple[set[Reading], bool]] = []
        for i, (_, readings) in enumerate(matched):
            if _is_ambiguous(readings):
                ambiguous.append((readings, i in flip))
            else:
                chosen.append(_preferred(readings))
        named_guarantees = {r.value for r in chosen if r.kind is Kind.GUARANTEE}
        named_parties = {r.value for r in chosen if r.kind is Kind.PARTY}
        for readings, flipped in ambiguous:
            as_guarantee = sorted(
                (r for r in readings if r.kind is Kind.GUARANTEE), key=lambda r: r.value
            )
            as_party = sorted((r for r in readings if r.kind is Kind.PARTY), key=lambda r: r.value)
            if bool(
                named_guarantees & {r.value for r in as_guarantee}
                or (named_parties - {r.value for r in as_party})
            ) != flipped:
                chosen.append(as_guarantee[0])
            else:
                chosen.append(as_party[0])
        party_codes = tuple(dict.fromkeys(r.value for r in chosen if r.kind is Kind.PARTY))
        actor_slugs = tuple(dict.fromkeys(r.value for r in chosen if r.kind is Kind.ACTOR))
        guarantee_ids = [g for g in GUARANTEE_ORDER if g in {r.value for r in chosen}]
        words = tuple(word for phrase, _ in matched for word in phrase)
        labels = [
            " · ".join(party_label(code) for code in party_codes),
            " / ".join(actor_display_name(slug) for slug in actor_slugs),
            " / ".join(guarantee_label(g) for g in guarantee_ids),
        ]
        return Topic(
            words=words,
            label=" · ".join(label for label in labels if label),
            filter=PositionFilter(
                parties=party_codes[:1],
                held_by=frozenset(party_codes[1:]),
                actors=frozenset(actor_slugs),
                guarantees=frozenset(guarantee_ids),
            ),
        )

    def suggest(self, word: str) -> tuple[str, ...]:
        """The known phrases closest to a word not understood (rapidfuzz), best first:
        topics the store has positions on, else anything in the vocabulary."""
        if self._choices is None:
            typable = [p for p in self.phrases if len(p) >= 3 and len(p.split()) <= 3]
            with_data = [
                p for p in typable
                if not self.known or self.phrases[p] & self.known
                or _is_guarantee(self.phrases[p])
            ]
            self._choices = (sorted(with_data), sorted(typable))
        for choices in self._choices:
            picked = self._closest(word[:60], choices)
            if picked:
                return picked
        return DEFAULT_SUGGESTIONS

    def _closest(self, word: str, choices: list[str]) -> tuple[str, ...]:
        hits = process.extract(word, choices, scorer=fuzz.ratio, limit=20, score_cutoff=65)
        picked: list[str] = []
        seen: set[frozenset[Reading]] = set()
        for phrase, _score, _ in hits:
            meaning = frozenset(self.phrases[phrase])
            if meaning not in seen:
                seen.add(meaning)
                picked.append(phrase)
            if len(picked) == MAX_SUGGESTIONS:
                break
        return tuple(picked)


def _is_ambiguous(readings: set[Reading]) -> bool:
    kinds = {r.kind for r in readings}
    return Kind.PARTY in kinds and Kind.GUARANTEE in kinds


def _is_guarantee(readings: set[Reading]) -> bool:
    return any(r.kind is Kind.GUARANTEE for r in readings)


_PRIORITY = {Kind.PARTY: 0, Kind.GUARANTEE: 1, Kind.ACTOR: 2}


def _preferred(readings: set[Reading]) -> Reading:
    """A party beats an actor of the same name ("russia" extracted as an actor)."""
    return min(readings, key=lambda r: (_PRIORITY[r.kind], r.value))


def _number_variants(phrase: str) -> list[str]:
    variants = [phrase]
    if phrase.endswith("es"):
        variants.append(phrase[:-2])
    if phrase.endswith("s"):
        variants.append(phrase[:-1])
    else:
        variants.append(phrase + "s")
    return variants


@cache
def _vocabulary_phrases() -> tuple[dict[str, frozenset[Reading]], frozenset[str]]:
    """Phrases of the vocabulary alone, and every word of a party name; built once."""
    index = TopicIndex()
    for info in GUARANTEES.values():
        reading = Reading(Kind.GUARANTEE, str(info.id))
        for phrase in (str(info.id), info.label, *info.topic_words):
            index.add(phrase, reading)
    index.add("article 5", Reading(Kind.GUARANTEE, str(Guarantee.SECURITY_GUARANTEE)))
    # "nato" is also the membership question (see the module docstring for how it is read);
    # more such words ("eu") come from the question vocabulary (bot/data/questions.toml).
    index.add("nato", Reading(Kind.GUARANTEE, str(Guarantee.NATO_MEMBERSHIP)))
    from bot.questions import question_words

    for phrase, guarantee in question_words().ambiguous.items():
        index.add(phrase, Reading(Kind.GUARANTEE, str(guarantee)))
    party_words: set[str] = set()
    for party in parties().values():
        reading = Reading(Kind.PARTY, party.code)
        for phrase in party.all_words():
            index.add(phrase, reading)
            key = normalise(phrase)
            party_words.update(key.split())
            if key.startswith("the "):
                index.add(key[4:], reading)
    for actor in actors().values():
        reading = Reading(Kind.ACTOR, actor.slug)
        for phrase in (actor.slug, actor.name, *actor.aliases):
            index.add(phrase, reading)
    frozen = {key: frozenset(readings) for key, readings in index.phrases.items()}
    return frozen, frozenset(party_words)


def build_topic_index(
    store_actors: Mapping[str, str] | None = None, store_parties: Iterable[str] = ()
) -> TopicIndex:
    """The index from the vocabulary plus the store's actors (slug -> party).

    `store_parties` (parties with positions) only steers suggestions toward topics with data.
    """
    return _build_index(frozenset((store_actors or {}).items()), frozenset(store_parties))


@lru_cache(maxsize=4)
def _build_index(
    store_actors: frozenset[tuple[str, str]], known_parties: frozenset[str]
) -> TopicIndex:
    # Cached: the same store contents give the same index, so a command costs two small
    # queries and a dictionary lookup. A TopicIndex is only read after it is built.
    base, party_words = _vocabulary_phrases()
    index = TopicIndex(phrases={key: set(readings) for key, readings in base.items()})
    vocab_actors = actors()
    surnames: dict[str, set[Reading]] = {}
    for slug in sorted(slug for slug, _ in store_actors):
        reading = Reading(Kind.ACTOR, slug)
        phrase = normalise(slug)
        if not phrase or any(r.kind is Kind.PARTY for r in index.phrases.get(phrase, ())):
            continue  # "russia" as an actor is the party Russia
        index.add(phrase, reading)
        words = phrase.split()
        last = words[-1]
        if (
            slug not in vocab_actors
            and len(words) > 1
            and not party_words & set(words)
            and last not in GENERIC_ACTOR_WORDS
            and last not in FILLER_WORDS
        ):
            surnames.setdefault(last, set()).add(reading)
    for vocab_actor in vocab_actors.values():
        last = normalise(vocab_actor.name).split()[-1]
        surnames.setdefault(last, set()).add(Reading(Kind.ACTOR, vocab_actor.slug))
    for surname, readings in surnames.items():
        if surname not in index.phrases:  # a surname never shadows a party or guarantee word
            for reading in readings:
                index.add(surname, reading)
    if store_actors or known_parties:
        index.known = {Reading(Kind.ACTOR, slug) for slug, _ in store_actors} | {
            Reading(Kind.PARTY, code) for code in known_parties
        }
    return index


async def load_topic_index(store: Store) -> TopicIndex:
    """The index for this store: vocabulary plus the actors and parties it has positions for
    (rebuilt only after the store changed)."""

    async def build() -> TopicIndex:
        known_actors = await store.known_actors()
        known_parties = await store.known_parties()
        return build_topic_index(known_actors, known_parties)

    return await store.memo("topic-index", build)


async def resolve_topic(store: Store, words: Iterable[str]) -> Topic:
    """Topic words stored by a subscription, resolved against today's store (raises UserError)."""
    index = await load_topic_index(store)
    return index.resolve(words)
