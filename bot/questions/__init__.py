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

from dataclasses import replace
from datetime import timedelta
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
from bot.questions.windows import take_window
from bot.questions.words import (
    MONTHS,
    WEEKDAYS,
    QuestionWords,
    clean_words,
    longest,
    question_words,
)
from bot.vocabulary import GUARANTEE_ORDER, Guarantee, Stance

if TYPE_CHECKING:
    from bot.topics import TopicIndex

__all__ = [
    "clean_words",
    "describe",
    "parse_question",
    "question_text",
    "question_words",
    "take_window",
]

# A grammar word this close (rapidfuzz ratio, 0-100) to an unknown word of 5+ letters replaces it.
TYPO_SCORE = 84
MIN_TYPO_LENGTH = 5
MIN_COMPARED, MAX_COMPARED = 2, 4
# The window of `what changed` when none is named.
DEFAULT_CHANGES_DAYS = 7
STANCE_WORD = {
    Stance.SEEKS: "seeks", Stance.BACKS: "backs", Stance.OPPOSES: "opposes",
    Stance.DOUBTS: "doubts",
}

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


def _take_subcommand(words: list[str], vocab: QuestionWords) -> tuple[str | None, list[str]]:
    """`compare` after any leading question words; a change word anywhere."""
    i = 0
    while i < len(words) and words[i] in vocab.ignore:
        i += 1
    size = longest(words, i, vocab.subcommands)
    if size:
        return vocab.subcommands[tuple(words[i : i + size])], words[:i] + words[i + size :]
    for j in range(len(words)):
        size = longest(words, j, vocab.subcommands)
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
        size = 0 if i in keep else longest(words, i, vocab.stances)
        if size:
            stances.add(vocab.stances[tuple(words[i : i + size])])
            i += size
        else:
            rest.append(words[i])
            i += 1
    return frozenset(stances), rest


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
