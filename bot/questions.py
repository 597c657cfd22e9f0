"""Questions as analysts type them, to typed requests: the grammar behind `bot.query`.

    /guarantees who opposes peacekeepers          -> peacekeepers, stance opposes
    /guarantees where does italy stand on troops? -> italy peacekeepers
    /guarantees ukraine since 2026-01-01          -> ukraine, published from 2026-01-01
    /guarantees what changed this week            -> the shifts of this week
    /guarantees compare france italy              -> France and Italy side by side

A question is read in this order: the words are cleaned (case, accents, Unicode quotes, a
trailing `?`); grammar words mistyped by a letter or two are corrected (never topic words:
those get the closest topics instead); one time window is taken out; a subcommand word
(`compare`, `changed`) picks the request; stance words narrow; question and function words are
dropped; what is left is the topic (`bot.topics`). Every word list is data
(`bot/data/questions.toml`). Dates are days in the digest time zone, counted from the `today`
the caller passes in, so the same text on the same day always reads the same.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from bot.models import DateWindow, PositionFilter
from bot.query import (
    MAX_TOPIC_CHARS,
    MAX_TOPIC_WORDS,
    BriefingRequest,
    ChangesRequest,
    CompareRequest,
    ParseContext,
    Request,
    Topic,
    UserError,
)
from bot.vocabulary import GUARANTEE_ORDER, Guarantee, Stance

if TYPE_CHECKING:
    from bot.topics import TopicIndex

# A grammar word this close (rapidfuzz ratio, 0-100) to an unknown word of 5+ letters replaces it.
TYPO_SCORE = 84
MIN_TYPO_LENGTH = 5
MIN_COMPARED, MAX_COMPARED = 2, 4
# The window of `what changed` when none is named.
DEFAULT_CHANGES_DAYS = 7
MAX_WINDOW_COUNT = 3650  # `last N days` beyond ten years is not a question
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
STANCE_WORD = {
    Stance.SEEKS: "seeks", Stance.BACKS: "backs", Stance.OPPOSES: "opposes",
    Stance.DOUBTS: "doubts",
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


# --- the question ---------------------------------------------------------------------------


def parse_question(text: str, tokens: list[str], ctx: ParseContext) -> Request:
    """A question (anything that is not a fixed subcommand) to a request."""
    if any("<" in token or ">" in token for token in tokens):
        raise UserError(
            "Mentions, channels and links are not topics: name a party, a person or a"
            " guarantee, for example `ukraine`."
        )
    vocab = question_words()
    words = _correct_typos(clean_words(text), ctx.index, vocab)
    window, words = take_window(words, ctx.today, vocab)
    command, words = _take_subcommand(words, vocab)
    stances, words = _take_stances(words, vocab, _in_phrases(words, ctx.index))
    keep = _in_phrases(words, ctx.index)
    words = [w for i, w in enumerate(words) if i in keep or w not in vocab.ignore]
    if len(words) > MAX_TOPIC_WORDS or sum(len(w) for w in words) > MAX_TOPIC_CHARS:
        raise UserError(
            f"A topic is a few words (at most {MAX_TOPIC_WORDS}), for example `trump peacekeepers`."
        )
    if command == "compare":
        return _compare(words, stances, window, ctx.index)
    if command == "changes":
        topic = _topic(words, stances, ctx.index, required=False)
        if window is None:
            window = DateWindow(
                ctx.today - timedelta(days=DEFAULT_CHANGES_DAYS - 1),
                ctx.today + timedelta(days=1),
                f"last {DEFAULT_CHANGES_DAYS} days",
            )
        return ChangesRequest(topic, window)
    topic = _topic(words, stances, ctx.index, required=not (stances or window))
    alternatives = tuple(_with_stances(t, stances) for t in ctx.index.alternatives(words))
    nearby = tuple(_with_stances(t, stances) for t in ctx.index.relaxations(words))
    return BriefingRequest(topic, window, alternatives, nearby, question_text(topic, window))


def _topic(
    words: list[str], stances: frozenset[Stance], index: TopicIndex, *, required: bool
) -> Topic:
    if not words and not required:
        label = "All parties"
        return _with_stances(Topic((), label, PositionFilter()), stances)
    return _with_stances(index.resolve(words), stances)


def _with_stances(topic: Topic, stances: frozenset[Stance]) -> Topic:
    if not stances:
        return topic
    who = "who " + " or ".join(STANCE_WORD[s] for s in sorted(stances))
    return Topic(
        words=topic.words,
        label=f"{topic.label} · {who}",
        filter=replace(topic.filter, stances=stances),
    )


def _window_words(window: DateWindow | None) -> list[str]:
    """A window as words that read back to the same dates, for buttons."""
    if window is None:
        return []
    if window.since and window.until:
        last = window.until - timedelta(days=1)
        return ["since", window.since.isoformat(), "until", last.isoformat()]
    if window.since:
        return ["since", window.since.isoformat()]
    assert window.until is not None
    return ["until", (window.until - timedelta(days=1)).isoformat()]


def _compare(
    words: list[str],
    stances: frozenset[Stance],
    window: DateWindow | None,
    index: TopicIndex,
) -> CompareRequest:
    from bot.topics import Kind, actor_display_name

    matched, unknown = index.match(words)
    if unknown:
        raise UserError(f"I don't know the party “{unknown[0][:40]}”.", index.suggest(unknown[0]))
    parties: list[str] = []
    guarantees: set[Guarantee] = set()
    for _phrase, readings in matched:
        party = sorted(r.value for r in readings if r.kind is Kind.PARTY)
        if party:  # "nato" beside other parties is the party here
            if party[0] not in parties:
                parties.append(party[0])
        elif any(r.kind is Kind.GUARANTEE for r in readings):
            guarantees.update(Guarantee(r.value) for r in readings if r.kind is Kind.GUARANTEE)
        else:
            name = actor_display_name(sorted(r.value for r in readings)[0])
            raise UserError(
                f"`compare` takes parties, not people: “{name}” is a person."
                " Try `compare france italy`."
            )
    if not MIN_COMPARED <= len(parties) <= MAX_COMPARED:
        raise UserError(
            f"Compare two to four parties, for example `compare france italy` (got"
            f" {len(parties)})."
        )
    return CompareRequest(tuple(parties), frozenset(guarantees), stances, window)


# --- words ----------------------------------------------------------------------------------


def _correct_typos(words: list[str], index: TopicIndex, vocab: QuestionWords) -> list[str]:
    """Grammar words mistyped by a letter or two, corrected; topic words are left alone."""
    known = index.words()
    corrected: list[str] = []
    for word in words:
        if (
            len(word) >= MIN_TYPO_LENGTH
            and word.isalpha()
            and word not in known
            and not index.lookup(word)
            and word not in vocab.ignore
            and (word,) not in vocab.stances
            and (word,) not in vocab.subcommands
            and (word,) not in vocab.time
            and word not in MONTHS
            and word not in WEEKDAYS
        ):
            hit = process.extractOne(
                word, vocab.typo_targets, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE
            )
            if hit is not None:
                word = hit[0]
        corrected.append(word)
    return corrected


def _longest(words: list[str], i: int, table: dict[Phrase, str] | dict[Phrase, Stance],
             longest: int = 4) -> int:
    """How many words from `i` make the longest phrase of `table` (0: none)."""
    for size in range(min(longest, len(words) - i), 0, -1):
        if tuple(words[i : i + size]) in table:
            return size
    return 0


def _take_subcommand(words: list[str], vocab: QuestionWords) -> tuple[str | None, list[str]]:
    """`compare` after any leading question words; a change word anywhere."""
    i = 0
    while i < len(words) and words[i] in vocab.ignore:
        i += 1
    size = _longest(words, i, vocab.subcommands)
    if size:
        return vocab.subcommands[tuple(words[i : i + size])], words[:i] + words[i + size :]
    for j in range(len(words)):
        size = _longest(words, j, vocab.subcommands)
        if size and vocab.subcommands[tuple(words[j : j + size])] == "changes":
            return "changes", words[:j] + words[j + size :]
    return None, words


def _in_phrases(words: list[str], index: TopicIndex) -> set[int]:
    """Positions of words inside a topic phrase of several words (`coalition of the willing`,
    `united states`): those are topic words, not function or stance words."""
    from bot.topics import MAX_PHRASE_WORDS, normalise

    covered: set[int] = set()
    for i in range(len(words) - 1):
        for size in range(min(MAX_PHRASE_WORDS, len(words) - i), 1, -1):
            if index.lookup(normalise(" ".join(words[i : i + size]))):
                covered.update(range(i, i + size))
                break
    return covered


def _take_stances(
    words: list[str], vocab: QuestionWords, keep: set[int]
) -> tuple[frozenset[Stance], list[str]]:
    stances: set[Stance] = set()
    rest: list[str] = []
    i = 0
    while i < len(words):
        size = 0 if i in keep else _longest(words, i, vocab.stances)
        if size:
            stances.add(vocab.stances[tuple(words[i : i + size])])
            i += size
        else:
            rest.append(words[i])
            i += 1
    return frozenset(stances), rest


# --- time windows ---------------------------------------------------------------------------

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_ORDINAL = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")
_YEAR = re.compile(r"(19|20)\d\d")


def take_window(
    words: list[str], today: date, vocab: QuestionWords | None = None
) -> tuple[DateWindow | None, list[str]]:
    """Take one time window out of the words; raises `UserError` for a second one or a date
    that cannot be read."""
    vocab = vocab or question_words()
    window: DateWindow | None = None
    rest: list[str] = []
    i = 0
    while i < len(words):
        found = _window_at(words, i, today, vocab)
        if found is None:
            rest.append(words[i])
            i += 1
            continue
        if window is not None:
            later = found[0]
            if (  # `since X until Y`, `from X to Y`: one window
                window.since is not None
                and later.since is None
                and later.until is not None
                and later.until > window.since
            ):
                window = DateWindow(window.since, later.until, f"{window.label} {later.label}")
                i += found[1]
                continue
            raise UserError("One time window at a time, for example `ukraine this week`.")
        window, used = found
        i += used
    return window, rest


def _window_at(
    words: list[str], i: int, today: date, vocab: QuestionWords
) -> tuple[DateWindow, int] | None:
    size = _longest(words, i, vocab.time)
    kind = vocab.time[tuple(words[i : i + size])] if size else None
    tomorrow = today + timedelta(days=1)
    if kind in _FIXED:
        since, until = _FIXED[kind](today)
        return DateWindow(since, until, " ".join(words[i : i + size])), size
    if kind == "recent":
        return _recent(words, i + size, today, vocab, size)
    if kind in ("since", "until", "within"):
        parsed = _date_at(words, i + size, today, month_window=kind == "within")
        if parsed is None:
            from bot.topics import FILLER_WORDS

            if kind == "within" or words[i] in vocab.ignore or words[i] in FILLER_WORDS:
                return None  # "in", "to", "from" before a topic word
            shown = " ".join(words[i : i + size + 2])[:40]
            raise UserError(
                f"I can't read the date in “{shown}”: try `since 2026-01-01`, `since monday`"
                " or `in january`."
            )
        start, end, used = parsed
        label = " ".join(words[i : i + size + used])
        if kind == "since":
            if words[i] == "after":
                start = end
            if start > today:
                raise UserError(f"“{label}” is in the future: nothing is published yet.")
            return DateWindow(start, tomorrow, label), size + used
        if kind == "until":
            return DateWindow(None, start if words[i] == "before" else end, label), size + used
        if start > today:
            raise UserError(f"“{label}” is in the future: nothing is published yet.")
        return DateWindow(start, min(end, tomorrow), label), size + used
    # A bare date is that day: `ukraine 2026-01-04`.
    iso = _iso(words[i])
    if iso is not None:
        return DateWindow(iso, iso + timedelta(days=1), words[i]), 1
    return None


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month(day: date) -> date:
    return (_month_start(day) - timedelta(days=1)).replace(day=1)


_FIXED = {
    "today": lambda t: (t, t + timedelta(days=1)),
    "yesterday": lambda t: (t - timedelta(days=1), t),
    "this_week": lambda t: (_week_start(t), t + timedelta(days=1)),
    "last_week": lambda t: (_week_start(t) - timedelta(days=7), _week_start(t)),
    "this_month": lambda t: (_month_start(t), t + timedelta(days=1)),
    "last_month": lambda t: (_previous_month(t), _month_start(t)),
    "this_year": lambda t: (date(t.year, 1, 1), t + timedelta(days=1)),
    "last_year": lambda t: (date(t.year - 1, 1, 1), date(t.year, 1, 1)),
}


def _recent(
    words: list[str], j: int, today: date, vocab: QuestionWords, lead: int
) -> tuple[DateWindow, int] | None:
    """`last 7 days`, `past 2 weeks`, `last month` is handled as a fixed phrase; `last day`."""
    count = 1
    used = 0
    if j < len(words) and words[j].isdigit():
        count, used = int(words[j]), 1
    unit = vocab.units.get(words[j + used]) if j + used < len(words) else None
    if unit is None or count < 1 or count > MAX_WINDOW_COUNT:
        return None
    days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * count
    label = " ".join(words[j - lead : j + used + 1])
    return DateWindow(today - timedelta(days=days - 1), today + timedelta(days=1), label), (
        lead + used + 1
    )


def _iso(word: str) -> date | None:
    match = _ISO.fullmatch(word)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise UserError(f"“{word[:20]}” is not a date: use YYYY-MM-DD.") from None


def _date_at(
    words: list[str], j: int, today: date, *, month_window: bool
) -> tuple[date, date, int] | None:
    """The day (or month, or year) named at `words[j:]`: (first day, day after the last, words
    used). Months and weekdays without a year are the latest not after today."""
    if j >= len(words):
        return None
    word = words[j]
    iso = _iso(word)
    if iso is not None:
        return iso, iso + timedelta(days=1), 1
    if word in ("today", "yesterday"):
        day = today - timedelta(days=0 if word == "today" else 1)
        return day, day + timedelta(days=1), 1
    if word in WEEKDAYS and not month_window:
        day = today - timedelta(days=(today.weekday() - WEEKDAYS[word]) % 7)
        return day, day + timedelta(days=1), 1
    nxt = words[j + 1] if j + 1 < len(words) else ""
    if word in MONTHS:
        # "march 3", "march 3rd 2026", "march 2026", "march"
        day_match = _ORDINAL.fullmatch(nxt)
        if day_match and not _YEAR.fullmatch(nxt):
            year, used = _year_after(words, j + 2)
            return _day(year, MONTHS[word], int(day_match.group(1)), today, 2 + used)
        year, used = _year_after(words, j + 1)
        return _month(year, MONTHS[word], today, 1 + used)
    day_match = _ORDINAL.fullmatch(word)
    if day_match and nxt in MONTHS:  # "3 march", "3rd march 2026"
        year, used = _year_after(words, j + 2)
        return _day(year, MONTHS[nxt], int(day_match.group(1)), today, 2 + used)
    if _YEAR.fullmatch(word):
        year = int(word)
        return date(year, 1, 1), date(year + 1, 1, 1), 1
    if month_window:
        return None
    return _fallback(tuple(words[j : j + 3]), today)


def _year_after(words: list[str], j: int) -> tuple[int | None, int]:
    if j < len(words) and _YEAR.fullmatch(words[j]):
        return int(words[j]), 1
    return None, 0


def _day(
    year: int | None, month: int, day: int, today: date, used: int
) -> tuple[date, date, int]:
    try:
        found = date(year or today.year, month, day)
        if year is None and found > today:
            found = found.replace(year=today.year - 1)
    except ValueError:
        raise UserError("That day does not exist: try `since 2026-01-01`.") from None
    return found, found + timedelta(days=1), used


def _month(year: int | None, month: int, today: date, used: int) -> tuple[date, date, int]:
    if year is None:
        year = today.year if month <= today.month else today.year - 1
    start = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return start, end, used


def _fallback(words: tuple[str, ...], today: date) -> tuple[date, date, int] | None:
    """Other ways to write a date (`01/02/2026`, `2 weeks ago`), through dateparser; the
    longest run of words it reads wins."""
    for size in range(len(words), 0, -1):
        found = _dateparser(" ".join(words[:size]), today)
        if found is not None:
            return found, found + timedelta(days=1), size
    return None


@lru_cache(maxsize=1024)
def _dateparser(text: str, today: date) -> date | None:
    if not any(ch.isdigit() for ch in text) and " " not in text:
        return None  # a lone word that is not a date word above: a topic, not a date
    import dateparser

    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": _noon(today),
            "PREFER_DATES_FROM": "past",
            "DATE_ORDER": "DMY",
            "STRICT_PARSING": False,
            "REQUIRE_PARTS": [],
        },
    )
    return parsed.date() if parsed is not None else None


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12))


# --- saying what was understood -------------------------------------------------------------


def question_text(topic: Topic, window: DateWindow | None) -> str:
    """Words that read back to this topic, its stances and window: for buttons and for
    "try `/guarantees ...`"."""
    stances = (STANCE_WORD[s] for s in sorted(topic.filter.stances))
    return " ".join([*topic.words, *stances, *_window_words(window)])


def describe(topic: Topic, window: DateWindow | None = None) -> str:
    """A topic in words: "Hungary on EU membership", "European Union about Hungary",
    "everyone on Peacekeeping force, who opposes, this week"."""
    from bot.topics import actor_display_name, guarantee_label, party_label

    filter_ = topic.filter
    subject = [party_label(p) for p in filter_.parties]
    subject += [actor_display_name(a) for a in sorted(filter_.actors)]
    who = " and ".join(subject)
    if filter_.held_by:
        held = " and ".join(party_label(p) for p in sorted(filter_.held_by))
        who = f"{held} about {who}" if who else held
    text = who or "everyone"
    if filter_.guarantees:
        text += " on " + " / ".join(
            guarantee_label(g) for g in GUARANTEE_ORDER if g in filter_.guarantees
        )
    if filter_.stances:
        text += ", who " + " or ".join(STANCE_WORD[s] for s in sorted(filter_.stances))
    if window is not None:
        text += f", {window.label}"
    return text
