"""What a digest says (new positions, shifts, contested) and how its card keeps Slack's limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from bot.cards.common import MAX_BLOCKS, MAX_SECTION_TEXT, block_text_length
from bot.cards.digest import ACTION_OPEN_BRIEFING, render_digest
from bot.digest import Digest, DigestBuilder, Shift, ShiftKind, find_shifts, latest_by_key
from bot.models import Article, Position, StoredPosition, Subscription
from bot.store import open_store
from bot.vocabulary import GUARANTEE_ORDER, Guarantee, Stance
from tests.fakes.slack_limits import check_message

KYIV = "Europe/Kyiv"
SG = Guarantee.SECURITY_GUARANTEE


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def sub(**kw: object) -> Subscription:
    values: dict[str, object] = dict(
        id=1, channel_id="C1", topic_words=("ukraine",), label="Ukraine", at=time(8), zone=KYIV
    )
    values.update(kw)
    return Subscription(**values)  # type: ignore[arg-type]


def article(key: str, day: date, text: str) -> Article:
    return Article(id=key, title=f"Report {key}", text=text, url=f"https://news.example/{key}",
                   outlet="Example News", published=day)


def position(actor: str, party: str, stance: Stance, evidence: str) -> Position:
    return Position(actor=actor, party=party, stance=stance, guarantee=SG, guarantor=party,
                    beneficiary="ukr", evidence=evidence)


async def test_a_party_that_backs_then_opposes_shows_as_a_shift_with_both_quotes(
    tmp_path: Path,
) -> None:
    day1, day2 = date(2025, 3, 3), date(2025, 3, 4)
    clock = Clock(datetime(2025, 3, 3, 12, tzinfo=UTC))
    backs = "US officials said Washington will provide security guarantees to Kyiv."
    opposes = "Donald Trump said the United States will not give Ukraine security guarantees."
    async with open_store(str(tmp_path / "s.db"), clock=clock) as store:
        await store.add_article(article("a1", day1, backs))
        await store.save_positions(
            "a1", [position("us-officials", "usa", Stance.BACKS, backs)], "hand", "1"
        )
        day1_digest_end = datetime(2025, 3, 4, 6, tzinfo=UTC)  # 08:00 Kyiv on day 2
        clock.now = datetime(2025, 3, 4, 12, tzinfo=UTC)
        await store.add_article(article("a2", day2, opposes))
        await store.save_positions(
            "a2", [position("donald-trump", "usa", Stance.OPPOSES, opposes)], "hand", "1"
        )
        first = await DigestBuilder(store).build(
            sub(), day2, day1_digest_end - timedelta(days=1), day1_digest_end
        )
        second = await DigestBuilder(store).build(
            sub(), date(2025, 3, 5), day1_digest_end, datetime(2025, 3, 5, 6, tzinfo=UTC)
        )
    # The day-1 digest has the backing and no shift; the day-2 digest has the shift.
    assert first.new_count == 1 and first.shifts == ()
    assert second.new_count == 1
    (shift,) = second.shifts
    assert (shift.kind, shift.who, shift.guarantee) == (ShiftKind.PARTY, "usa", SG)
    assert (shift.before.stance, shift.after.stance) == (Stance.BACKS, Stance.OPPOSES)
    text = str(render_digest(second).to_dict())
    assert backs in text and opposes in text
    assert "https://news.example/a1" in text and "https://news.example/a2" in text
    assert "2025-03-03" in text and "2025-03-04" in text


def stored(pid: int, actor: str, party: str, stance: Stance, day: date,
           guarantee: Guarantee = SG, evidence: str = "Said so.") -> StoredPosition:
    return StoredPosition(
        id=pid, article_id=f"a{pid}", actor=actor, party=party, stance=stance,
        guarantee=guarantee, guarantor=None, beneficiary="ukr", evidence=evidence,
        url=f"https://news.example/{pid}", title="t", outlet="Example", published=day,
        added_at=datetime.combine(day, time(12), tzinfo=UTC), extractor="hand",
    )


def test_shift_rule_actor_first_no_repeat_for_party_and_no_flip_from_old_news() -> None:
    d1, d2, d0 = date(2025, 3, 3), date(2025, 3, 4), date(2025, 2, 1)
    before = latest_by_key([stored(1, "donald-trump", "usa", Stance.BACKS, d1)])
    inside = latest_by_key([stored(2, "donald-trump", "usa", Stance.OPPOSES, d2)])
    shifts = find_shifts(inside, before)
    assert [(s.kind, s.who) for s in shifts] == [(ShiftKind.ACTOR, "donald-trump")]
    # An old article ingested late does not flip the stance.
    late = latest_by_key([stored(3, "donald-trump", "usa", Stance.OPPOSES, d0)])
    assert find_shifts(late, before) == []
    # Same stance again: no shift.
    same = latest_by_key([stored(4, "donald-trump", "usa", Stance.BACKS, d2)])
    assert find_shifts(same, before) == []


def big_digest(evidence: str) -> Digest:
    positions = tuple(
        stored(i, f"actor-{i}", "usa", Stance.BACKS, date(2025, 3, 4), g, evidence)
        for i, g in enumerate(GUARANTEE_ORDER * 10)
    )
    groups = tuple(
        (g, tuple(p for p in positions if p.guarantee == g)) for g in GUARANTEE_ORDER
    )
    shifts = tuple(
        Shift(ShiftKind.ACTOR, p.actor, p.guarantee, replace_stance(p), p) for p in positions
    )
    return Digest(
        subscription=sub(label="Ukraine <!channel>"),
        local_date=date(2025, 3, 5),
        since=datetime(2025, 3, 4, 6, tzinfo=UTC),
        until=datetime(2025, 3, 5, 6, tzinfo=UTC),
        new=groups,
        shifts=shifts,
    )


def replace_stance(p: StoredPosition) -> StoredPosition:
    from dataclasses import replace

    return replace(p, id=p.id + 1000, stance=Stance.OPPOSES, published=date(2025, 3, 1))


def test_a_huge_digest_stays_within_slack_limits() -> None:
    message = render_digest(big_digest("A very long sentence about guarantees. " * 200))
    payload = message.to_dict()
    assert len(payload["blocks"]) <= MAX_BLOCKS
    assert block_text_length(payload["blocks"]) <= 12_000
    for block in payload["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION_TEXT
    assert check_message(payload) is None  # the fake Slack's checks, as Slack would refuse
    assert payload["blocks"][-1]["elements"][0]["action_id"] == ACTION_OPEN_BRIEFING
    assert "more sections in the full briefing" in str(payload)


def test_untrusted_text_is_escaped_everywhere() -> None:
    message = render_digest(big_digest("Attack <!channel> & <@U123> <https://evil.example|x>"))
    payload = message.to_dict()
    sections = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    contexts = [e["text"] for b in payload["blocks"] if b["type"] == "context"
                for e in b["elements"]]
    for text in [payload["text"], *sections, *contexts]:
        assert "<!channel>" not in text and "<@U123>" not in text
        assert "<https://evil" not in text
    assert any("&lt;!channel&gt;" in s for s in sections)
    assert "&lt;!channel&gt;" in payload["text"]  # the label in the fallback


def test_empty_digest_is_one_short_line() -> None:
    empty = Digest(subscription=sub(), local_date=date(2025, 3, 5),
                   since=datetime(2025, 3, 4, 6, tzinfo=UTC),
                   until=datetime(2025, 3, 5, 6, tzinfo=UTC))
    payload = render_digest(empty).to_dict()
    assert len(payload["blocks"]) == 1 and "Nothing new" in payload["blocks"][0]["text"]["text"]
