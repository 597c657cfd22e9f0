"""Who is speaking: actor mentions in a sentence, pronouns and roles resolved to earlier
actors, the speaker of a sentence ("X said", "said X", "according to X").

Works on token indices of a spaCy `Doc` made by a blank English pipeline; the matches come
from `bot.extraction.rules.pipeline`, which owns the matchers; the speaker of
a sentence is chosen in `bot.extraction.rules.speakers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from bot.extraction.lexicon import AttributionLexicon, party_slug, slugify
from bot.extraction.lexicon import word_set as _words
from bot.vocabulary import actors, parties

# Verbs and auxiliaries after a party word that show it is used as a noun ("the US will").
AUXILIARIES = _words(
    "is are was were has have had will would could can may might should must does did do 's ’s"
    " also still has already remains"
)
NAME_PARTICLES = frozenset({"von", "der", "de", "van", "bin", "da", "al", "del", "la", "le"})
COORDINATORS = frozenset({",", "and", "&"})
FUNCTION_WORDS = _words(
    "and or but nor to in of for with on at by from as that which who whom whose than then"
    " so if when while where because after before since until said says told say tells"
    " has have had is are was were will would could can may might should must do does did"
    " not also still already had been be being alone only too either neither each both"
)
LOCATIVE = frozenset({"in", "at", "near", "outside", "inside", "from"})


@dataclass(frozen=True)
class Actor:
    """Who holds a position: slug and party (both resolved)."""

    slug: str
    party: str
    person: bool = False


@dataclass
class Mention:
    """One way a sentence names (or refers back to) an actor."""

    start: int
    end: int
    # named | party | group | person-pronoun | group-pronoun | thing-pronoun | first | role
    kind: str
    actor: Actor | None = None
    possessive: bool = False
    party_hint: str | None = None  # for roles: "the UK prime minister"
    members: list[Actor] = field(default_factory=list)  # a coordinated subject

    @property
    def resolved(self) -> bool:
        return self.actor is not None


@dataclass
class Tracker:
    """The last actors named, for "he", "they", "it" and "the minister"."""

    person: Actor | None = None
    persons: list[Actor] = field(default_factory=list)
    group: list[Actor] = field(default_factory=list)
    thing: Actor | None = None
    speaker: Actor | None = None

    def note(self, actor: Actor, members: list[Actor] | None = None) -> None:
        if actor.person:
            self.person = actor
            self.persons.append(actor)
        else:
            self.thing = actor
            self.group = [actor]
        if members and len(members) > 1:
            self.group = list(members)


def is_possessive(doc_words: list[str], end: int) -> bool:
    return end < len(doc_words) and doc_words[end] in ("'s", "’s", "'", "’")


def resolve_role(tracker: Tracker, party_hint: str | None) -> Actor | None:
    """"the president" -> the last person named; "the French president" -> the last French one."""
    if party_hint is None:
        return tracker.person
    for person in reversed(tracker.persons):
        if person.party == party_hint:
            return person
    return Actor(party_slug(party_hint), party_hint)


def build_mentions(
    words: list[str],
    lower: list[str],
    title_case: list[bool],
    spans: list[tuple[int, int, str, str]],
    sent_start: int,
    sent_end: int,
    lex: AttributionLexicon,
    in_guarantee: set[int],
    cue_tokens: set[int],
) -> list[Mention]:
    """Actor mentions of one sentence from the name matches (`A`, `P`, `J`, `T`, `R` spans).

    `spans` are (start, end, kind, value) within the sentence, longest first resolved.
    """
    known = actors()
    by_start: dict[int, tuple[int, int, str, str]] = {}
    for found in spans:
        by_start.setdefault(found[0], found)
    mentions: list[Mention] = []
    pronouns = lex.pronouns
    i = sent_start
    while i < sent_end:
        span = by_start.get(i)
        token = lower[i]
        if span is None:
            if token not in pronouns and token not in UNNAMED_STARTS:  # most words
                i += 1
                continue
            if token == "it" and _expletive(lower, i, sent_end):
                i += 1
                continue
            pair = _pair(lower, i, sent_end)
            if pair:
                mentions.append(Mention(i, pair, "pair"))
                i = pair
                continue
            mention = _pronoun(i, token, lex)
            if mention:
                mention.possessive = token in ("his", "her", "its", "their", "our", "my")
                mentions.append(mention)
            i += 1
            continue
        start, end, kind, value = span
        if kind == "A":
            actor = known[value]
            m = Mention(start, end, "named", Actor(value, actor.party, person=value not in
                                                   _GROUP_ACTORS))
            m.start = _absorb_title_before(start, by_start, spans)
            m.possessive = is_possessive(lower, end)
            mentions.append(m)
            i = end
            continue
        if kind == "T":
            person = _titled_person(start, end, words, lower, title_case, sent_end, by_start)
            if person is not None:
                name_end, name = person
                party = _party_before(start, by_start, lower)
                nested = by_start.get(end)
                if nested and nested[2] == "A":
                    i = end
                    continue
                if party:
                    m = Mention(start, name_end, "named", Actor(slugify(name), party, person=True))
                    m.possessive = is_possessive(lower, name_end)
                    mentions.append(m)
                i = name_end
                continue
            if (start > sent_start and lower[start - 1] == "the") or (
                start > sent_start + 1 and lower[start - 2] == "the"
                and _party_before(start, by_start, lower)
            ):
                hint = _party_before(start, by_start, lower)
                m = Mention(start, end, "role", party_hint=hint)
                mentions.append(m)
            i = end
            continue
        if kind in ("P", "J"):
            group_end = _officials(end, lower, sent_end, lex)
            if group_end is not None and group_end in in_guarantee:
                group_end = None  # "any European military contingent": a modifier, no group
            if group_end is not None:
                noun = lower[group_end - 1]
                party = value
                if noun in ("government", "administration", "governments"):
                    slug = party_slug(party)
                else:
                    mods = [w for w in lower[end:group_end - 1] if w in _SLUG_MODIFIERS]
                    head = "officials" if noun in ("official", "source", "sources") else noun
                    if head in ("ministry",):
                        head = "officials"
                    if not head.endswith("s") and head not in _MASS_NOUNS:
                        head += "s"
                    slug = "-".join([_adjective_slug(words[start:end], party), *mods, head])
                m = Mention(start, group_end, "group", Actor(slug, party))
                m.possessive = is_possessive(lower, group_end)
                mentions.append(m)
                i = group_end
                continue
            if kind == "P" and (
                (end < sent_end and lower[end] in lex.speech_words)  # "the Kremlin signalled"
                or not _adjective_use(end, lower, words, sent_end, in_guarantee, cue_tokens,
                                      by_start)):
                if end < sent_end and title_case[end] and words[end][:1].isupper() and \
                        lower[end] not in AUXILIARIES and end != sent_start:
                    # "Washington Post", "Moscow State University": a name, not the party.
                    i = end
                    continue
                m = Mention(start, end, "party", Actor(party_slug(value), value))
                m.possessive = is_possessive(lower, end)
                mentions.append(m)
            i = end
            continue
        i = end
    return mentions


_GROUP_ACTORS = frozenset({"coalition-of-the-willing"})
# After a possessive these name a party's forces or friends, not who speaks: "Ukraine's army".
_OWN_FORCES = frozenset({"army", "military", "allies", "partners", "side", "intelligence",
                         "leaders", "leader"})
_MASS_NOUNS = frozenset({"intelligence", "military", "army", "parliament", "presidency",
                         "side", "delegation", "security council", "presidential office"})
_SLUG_MODIFIERS = frozenset({"military", "government", "defence", "defense", "security",
                             "intelligence", "foreign", "presidential"})


def _adjective_slug(words: list[str], party: str) -> str:
    text = " ".join(words)
    return slugify(text) or party


# Besides pronouns, the words with which a mention no name match covers can begin: "it"
# (`_expletive`) and "both" and "the" of a pair (`_pair`); `build_mentions` passes over the rest.
UNNAMED_STARTS = frozenset({"it", "both", "the"})


def _pair(lower: list[str], i: int, sent_end: int) -> int | None:
    """End of "both leaders" or "the two presidents": the last two people named."""
    if lower[i] == "both":
        j = i + 1
    elif lower[i] == "the" and i + 1 < sent_end and lower[i + 1] == "two":
        j = i + 2
    else:
        return None
    return j + 1 if j < sent_end and lower[j] in _PAIR_NOUNS else None


_PAIR_NOUNS = frozenset({"leaders", "men", "women", "presidents", "ministers", "premiers",
                         "chancellors", "envoys", "officials", "politicians"})


def _expletive(lower: list[str], i: int, sent_end: int) -> bool:
    """"it was premature to ...", "it is unclear whether ...": an "it" that stands for the
    clause after it, not for an actor; not "it was ready to", where "it" is a state."""
    j = i + 1
    if j < sent_end and lower[j] in ("would", "will", "could", "might", "may"):
        j += 1
        if j >= sent_end or lower[j] != "be":
            return False
    elif j >= sent_end or lower[j] not in _COPULAS:
        return False
    for k in range(j + 1, min(sent_end, j + 8)):
        word = lower[k]
        if word in _HOLDER_PREDICATES:
            return False
        if word in _CLAUSE_OPENERS:
            return k > j + 1
        if not (word.isalpha() or word in ('"', "“", "”", "-")):
            return False
    return False


_COPULAS = frozenset({"is", "was", "'s", "’s", "remains", "remained", "seems", "seemed",
                      "appears", "appeared"})
_CLAUSE_OPENERS = frozenset({"to", "that", "whether", "who", "what", "when", "how", "if",
                             "why", "where"})
# Predicates whose "it" is a state or a body: "it was ready to", "it was not going to".
_HOLDER_PREDICATES = frozenset({
    "ready", "willing", "prepared", "able", "unable", "unwilling", "keen", "eager",
    "determined", "open", "reluctant", "committed", "set", "due", "going", "poised", "happy",
    "obliged", "bound", "about", "trying", "seeking", "working", "planning", "likely",
})


def _pronoun(i: int, token: str, lex: AttributionLexicon) -> Mention | None:
    if token in lex.person_pronouns and token not in ("him",):
        return Mention(i, i + 1, "person-pronoun")
    if token in lex.group_pronouns and token != "them":
        return Mention(i, i + 1, "group-pronoun")
    if token in lex.thing_pronouns:
        return Mention(i, i + 1, "thing-pronoun")
    if token in lex.first_person:
        return Mention(i, i + 1, "first")
    return None


def _absorb_title_before(start: int, by_start: dict, spans: list) -> int:
    """Extend a known actor's mention left over "Ukrainian President" and the like."""
    begin = start
    for span in spans:
        s, e, kind, _ = span
        if e == begin and kind in ("T", "P", "J"):
            begin = s
    for span in spans:
        s, e, kind, _ = span
        if e == begin and kind in ("P", "J"):
            begin = s
    return begin


def _titled_person(
    start: int,
    end: int,
    words: list[str],
    lower: list[str],
    title_case: list[bool],
    sent_end: int,
    by_start: dict,
) -> tuple[int, str] | None:
    """Capitalised name tokens after a title: "Prime Minister Robert Golob" -> "Robert Golob"."""
    j = end
    names: list[str] = []
    while j < sent_end and len(names) < 4:
        word = words[j]
        if by_start.get(j) and by_start[j][2] in ("P", "J", "T"):
            break
        if (word[:1].isupper() and word.isalpha()) or (names and lower[j] in NAME_PARTICLES) or (
            names and "-" in word and word[:1].isupper()
        ):
            names.append(word)
            j += 1
            continue
        break
    while names and names[-1].lower() in NAME_PARTICLES:
        names.pop()
        j -= 1
    if not names:
        return None
    return j, " ".join(names)


def _party_before(start: int, by_start: dict, lower: list[str]) -> str | None:
    """The party word just before a title: "Slovenian Prime Minister", "EU foreign policy chief"."""
    for back in range(1, 4):
        k = start - back
        if k < 0:
            break
        for span_start in range(max(0, k - 3), k + 1):
            span = by_start.get(span_start)
            if span and span[1] == k + 1 and span[2] in ("P", "J"):
                return span[3]
        if lower[k] in ("'s", "’s"):
            # "Ireland's Tanaiste Simon Harris", "Austria's foreign minister Beate ..."
            for span_start in range(max(0, k - 3), k):
                span = by_start.get(span_start)
                if span and span[1] == k and span[2] == "P":
                    return span[3]
            break
        if lower[k] == "the" or not lower[k].isalpha():
            break
    return None


def _officials(end: int, lower: list[str], sent_end: int, lex: AttributionLexicon) -> int | None:
    """End of "Ukrainian [military] officials" (or "Russia's defence ministry") when the party
    word starts one."""
    j = end
    if j + 1 < sent_end and lower[j] in ("'s", "’s") and lower[j + 1] not in _OWN_FORCES:
        j += 1
    first = j
    while j < sent_end and lower[j] in lex.official_modifiers:
        j += 1
    if j < sent_end and lower[j] in lex.official_nouns:
        if j + 1 < sent_end and f"{lower[j]} {lower[j + 1]}" in lex.official_nouns:
            return j + 2
        return j + 1
    if j > first and lower[j - 1] in lex.official_nouns:
        return j  # "the Russian defence ministry said": the last modifier is the noun
    return None


def _adjective_use(
    end: int,
    lower: list[str],
    words: list[str],
    sent_end: int,
    in_guarantee: set[int],
    cue_tokens: set[int],
    by_start: dict,
) -> bool:
    """Is a party word used as a modifier ("US troops") rather than as a name ("the US said")?"""
    if end >= sent_end:
        return False
    nxt = lower[end]
    if nxt in AUXILIARIES or end in cue_tokens:
        return False
    if end in in_guarantee:
        return True
    if nxt.endswith("ed") and len(nxt) > 4 and end + 1 < sent_end and \
            lower[end + 1] not in (",", ".", "-"):
        return False  # "Moscow regarded ...", "Washington rejected ...": a verb in the past
    return (words[end].isalpha() and words[end].islower() and end not in cue_tokens
            and nxt not in FUNCTION_WORDS)


def resolve(mentions: list[Mention], tracker: Tracker, lower: list[str]) -> None:
    """Resolve pronouns and roles in order, noting named actors as they come; a coordinated
    run of names ("Britain and France") becomes the group that "they" refers to."""
    run: list[Actor] = []
    run_end = -1
    for m in mentions:
        if m.kind in ("named", "party", "group"):
            assert m.actor is not None
            gap = lower[run_end:m.start] if run_end >= 0 else ["x"]
            if run and _coordinating(gap):
                run.append(m.actor)
            else:
                run = [m.actor]
            run_end = m.end
            if _in_aside(lower, m.start) and m.actor.person and tracker.person is not None:
                # "Nawrocki, who is close to Donald Trump, said he ...": "he" is not Trump
                tracker.persons.append(m.actor)
            elif m.start == 0 or lower[m.start - 1] not in LOCATIVE:
                tracker.note(m.actor, run)
        elif m.kind == "person-pronoun":
            m.actor = tracker.person
        elif m.kind == "group-pronoun":
            if tracker.group:
                m.actor = tracker.group[0]
                m.members = list(tracker.group)
        elif m.kind == "thing-pronoun":
            m.actor = tracker.thing
        elif m.kind == "pair":
            last_two: list[Actor] = []
            for person in reversed(tracker.persons):
                if person not in last_two:
                    last_two.insert(0, person)
                if len(last_two) == 2:
                    break
            if len(last_two) == 2:
                m.actor, m.members = last_two[0], last_two
        elif m.kind == "role":
            m.actor = resolve_role(tracker, m.party_hint)
            if m.actor is not None:
                tracker.note(m.actor)
        if m.actor is not None and not m.members:
            m.members = [m.actor]


_ASIDE_ENDS = frozenset({",", ".", ";", '"', "“", "”"})


def _in_aside(lower: list[str], start: int) -> bool:
    """Is a name inside a relative aside set off by a comma (", who met X")?"""
    for k in range(start - 1, max(-1, start - 15), -1):
        if lower[k] in _ASIDE_ENDS:
            return lower[k] == "," and k + 1 < start and lower[k + 1] in ("who", "whose")
    return False


def _coordinating(gap: list[str]) -> bool:
    """Is the gap between two names a coordinator: ", ", "and", ", and the"?"""
    if gap and gap[-1] == "the" and len(gap) > 1:
        gap = gap[:-1]  # "Denmark and the Netherlands"
    return bool(gap) and len(gap) <= 2 and all(w in COORDINATORS for w in gap)


def coordination_start(mentions: list[Mention], index: int, lower: list[str]) -> int:
    """Index of the first member of the coordination ending at mentions[index]: "Poland" in
    "bases in Poland and Romania"."""
    k = index
    while k > 0:
        prev = mentions[k - 1]
        if not _coordinating(lower[prev.end:mentions[k].start]) or prev.actor is None \
                or prev.possessive or prev.kind in ("first",):
            break
        k -= 1
    return k


def coordinated(mentions: list[Mention], index: int, lower: list[str]) -> list[Actor]:
    """The actors of a coordinated subject ending at mentions[index]: "Poland, Spain and Italy"."""
    m = mentions[index]
    found = list(m.members) if m.members else ([m.actor] if m.actor else [])
    k = index
    start = m.start
    while k > 0:
        prev = mentions[k - 1]
        if not _coordinating(lower[prev.end:start]):
            break
        if prev.actor is None or prev.possessive or prev.kind in ("first",):
            break
        found = [*prev.members, *found] if prev.members else [prev.actor, *found]
        start = prev.start
        k -= 1
    # And forward: "Britain and France have committed" when the search landed on "Britain".
    unique: dict[str, Actor] = {}
    for actor in found:
        unique.setdefault(actor.slug, actor)
    return list(unique.values())


def with_party(actor: Actor, party: str) -> Actor:
    return replace(actor, party=party)


def party_exists(code: str) -> bool:
    return code in parties()
