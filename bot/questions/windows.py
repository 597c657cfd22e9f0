"""Time windows of a question: `today`, `this week`, `last 7 days`, `since 2026-01-01`,
`since monday`, `in january`, `from X to Y`, `before X`. Days in the digest time zone, counted
back from the `today` the caller passes in; dates in rarer formats go through dateparser."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from bot.models import DateWindow
from bot.query import UserError
from bot.questions.words import MONTHS, WEEKDAYS, QuestionWords, longest, question_words

MAX_WINDOW_COUNT = 3650  # `last N days` beyond ten years is not a question

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
    size = longest(words, i, vocab.time)
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
    if unit == "hour":  # dates are days: the hours reach back over whole days
        days = -(-count // 24) + 1
    else:
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


