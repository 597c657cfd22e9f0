"""Frozen records that flow between the stages: articles in, positions out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.vocabulary import Guarantee, Stance


@dataclass(frozen=True)
class Article:
    """One news article as ingested. `id` is stable: the gold id, or derived from URL or text."""

    id: str
    title: str
    text: str
    url: str | None = None
    outlet: str | None = None
    published: date | None = None
    source: str | None = None  # where it came from: a file path, a feed URL, "gold"
    guid: str | None = None  # a feed entry's GUID, when it came from a feed


@dataclass(frozen=True)
class Position:
    """One actor's stance on one guarantee, backed by one sentence (vocabulary.md)."""

    actor: str
    party: str
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    beneficiary: str | None
    evidence: str
    # Who found it when two extractors are merged (hybrid): "rules", "llm" or "both".
    found_by: str | None = None
    # How likely the extractor thinks this position is right, 0-1 (the combined extractor's
    # chance that one of the position's candidate sentences carries it, rounded to 3 places;
    # calibrated on the dev split, see bot/data/confidence.toml). None: an extractor that
    # gives none (rules, a language model).
    confidence: float | None = None

    @property
    def key(self) -> tuple[str, Stance, Guarantee]:
        """What the spec's matching compares within one article."""
        return (self.party, self.stance, self.guarantee)


@dataclass(frozen=True)
class StoredPosition:
    """A position as read back from the store, with where and when it was reported."""

    id: int
    article_id: str
    actor: str
    party: str
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    beneficiary: str | None
    evidence: str
    url: str | None
    title: str
    outlet: str | None
    published: date | None
    added_at: datetime
    extractor: str
    # How many outlets told the same story (articles clustered as near-duplicates).
    outlets: int = 1
    found_by: str | None = None  # "rules", "llm" or "both" (hybrid); None: one extractor
    extractor_version: str = ""
    # The Slack user id of the analyst whose correction this position is, if any.
    corrected_by: str | None = None
    # The extractor's confidence (`Position.confidence`); None when it gave none, when the
    # position was stored before confidences were, and for an analyst's correction (checked).
    confidence: float | None = None


@dataclass(frozen=True)
class PositionFilter:
    """Which positions a card or digest covers. Kinds combine with AND, values within a kind
    with OR.

    `parties` holds at most ONE party, the topic: positions that involve it as the party
    holding the position, the guarantor or the beneficiary (`/guarantees ukraine`). To narrow
    to who holds the position (`/guarantees ukraine usa`), use `held_by`.
    """

    parties: tuple[str, ...] = ()
    actors: frozenset[str] = frozenset()
    guarantees: frozenset[Guarantee] = frozenset()
    held_by: frozenset[str] = frozenset()
    # Narrow to these stances (`/guarantees who opposes peacekeepers`); empty: every stance.
    stances: frozenset[Stance] = frozenset()
    # Whose corrections apply (a workspace with active corrections, `bot.store.team_overlay`);
    # None: the corpus as extracted.
    team: str | None = None

    def __post_init__(self) -> None:
        if len(self.parties) > 1:
            raise ValueError("PositionFilter.parties takes one topic party; narrow with held_by")

    @property
    def topic(self) -> str:
        """The key of the per-topic summary: the topic party, or '*' for everything."""
        return self.parties[0] if self.parties else "*"

    @property
    def is_empty(self) -> bool:
        return not (
            self.parties or self.actors or self.guarantees or self.held_by or self.stances
        )


@dataclass(frozen=True)
class DateWindow:
    """Publication dates a question covers: `since` <= published < `until` (either end open
    when None), as days in the digest time zone. `label` is how the card names it
    ("this week", "since 2026-01-01")."""

    since: date | None
    until: date | None
    label: str

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("DateWindow.since must come before until")

    @property
    def span(self) -> str:
        """The dates covered, for the context line: `2026-03-02 – 2026-03-04`."""
        last = self.until - timedelta(days=1) if self.until else None
        if self.since and last:
            return self.since.isoformat() if self.since == last else f"{self.since} – {last}"
        if self.since:
            return f"from {self.since}"
        return f"until {last}" if last else "any date"


@dataclass(frozen=True)
class StanceCell:
    """One party's stance on one guarantee under a topic, folded over all its actors."""

    guarantee: Guarantee
    stance: Stance
    party: str
    positions: int
    actors: int  # how many distinct actors of this party took this stance
    latest_actor: str  # the actor of the freshest position
    latest_published: date | None
    latest_position_id: int
    # The most prominent actors (slug, positions), most positions first, when asked for.
    top_actors: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class SummaryRow:
    """All positions of one actor with one stance on one guarantee, folded into a count.
    `guarantor` and `beneficiary` are those of the freshest of them."""

    actor: str
    party: str
    guarantee: Guarantee
    stance: Stance
    guarantor: str | None
    beneficiary: str | None
    positions: int
    latest_published: date | None
    latest_position_id: int


@dataclass(frozen=True)
class Subscription:
    """A channel's daily digest on one topic. The topic is kept as the words typed and is
    resolved again at each digest, so new actors and aliases apply."""

    id: int
    channel_id: str
    topic_words: tuple[str, ...]
    label: str
    at: time  # local time of day
    zone: str  # IANA zone
    team_id: str | None = None
    created_by: str | None = None
    paused_reason: str | None = None  # set when Slack refused to post (not_in_channel, ...)
    skip_when_empty: bool = False  # no message at all on a day with nothing new
