"""Copy as it arrives (hard-wrapped, HTML entities, invisible characters, odd spaces and line
breaks) is read like clean copy, and evidence is still quoted verbatim from the original."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.extraction import default_extractor
from bot.extraction.plaintext import normalise, unwrap, wrap_width
from bot.extraction.rules import RuleExtractor
from bot.models import Article

SEED = Path(__file__).resolve().parents[1] / "bot" / "corpus" / "seed_gold.jsonl"

PROSE = (
    "Ukraine's foreign minister said on Tuesday that Kyiv would keep pressing its European "
    "partners for a reassurance force on the ground, adding that air policing over the west of "
    "the country would have to be part of any package. Officials in Paris and London said "
    "planning for such a force was well advanced, although no country has yet said how many "
    "troops it would send or under whose command they would serve."
)


def hard_wrapped(text: str, width: int = 72) -> str:
    """Each line of `text` wrapped as plain-text copy is: at a fixed column."""
    return "\n".join(textwrap.fill(line, width) if line else "" for line in text.split("\n"))


def seed() -> dict[str, object]:
    record: dict[str, object] = json.loads(SEED.read_text(encoding="utf-8").splitlines()[0])
    return record


def test_clean_text_is_read_as_it_is() -> None:
    plain = normalise(PROSE)
    assert plain.unchanged and plain.text is PROSE
    assert plain.restore(PROSE[10:40]) == PROSE[10:40]


def test_entities_are_decoded_even_when_encoded_twice_and_map_back() -> None:
    original = ("Kyiv&#8217;s bid &amp; the &amp;quot;coalition&AMP;quot; AT&T &madeup; "
                "&ampersand; &amp;amp;")
    plain = normalise(original)
    assert plain.text == 'Kyiv’s bid & the "coalition" AT&T &madeup; &ampersand; &'
    at = plain.text.index('"coalition"')
    assert plain.original_span(at, at + len('"coalition"')) == "&amp;quot;coalition&AMP;quot;"
    assert plain.restore("Kyiv’s bid") == "Kyiv&#8217;s bid"


def test_decoded_entities_are_read_like_the_characters_typed() -> None:
    plain = normalise("Ukr&shy;aine&nbsp;asks NA&#8203;TO for help.&#13;&#10;Moscow says no.")
    assert plain.text == "Ukraine asks NATO for help.\n\nMoscow says no."
    restored = plain.restore("Ukraine asks NATO for help.")
    assert restored == "Ukr&shy;aine&nbsp;asks NA&#8203;TO for help."


def test_invisible_characters_go_and_odd_spaces_and_breaks_become_plain() -> None:
    original = "Ukr\u00adaine asks NA\u200bTO\u00a0for help.\r\nMoscow says no.\rKyiv\u2028waits."
    plain = normalise(original)
    assert plain.text == "Ukraine asks NATO for help.\nMoscow says no.\nKyiv\nwaits."
    restored = plain.restore("Ukraine asks NATO for help.")
    assert restored == "Ukr\u00adaine asks NA\u200bTO\u00a0for help."
    assert plain.restore("Moscow says no.") == "Moscow says no."


def test_hard_wrapped_paragraphs_are_joined_with_a_space_for_each_break() -> None:
    wrapped = hard_wrapped("Kyiv presses for a force\n\n" + PROSE + "\n\n" + PROSE)
    assert wrap_width(wrapped.split("\n")) is not None
    joined = unwrap(wrapped)
    assert joined.split("\n\n") == ["Kyiv presses for a force", PROSE, PROSE]
    plain = normalise(wrapped)
    at = plain.text.index("Officials in Paris")
    assert plain.original_span(at, len(plain.text)) == wrapped[wrapped.index("Officials in"):]


def test_a_word_broken_at_its_hyphen_is_mended_and_a_long_headline_kept_apart() -> None:
    headline = "Kyiv keeps pressing its European partners for a reassurance force on the ground"
    body = PROSE.replace("reassurance force", "peace-keeping force")
    wrapped = headline + "\n" + textwrap.fill(body, 56) + "\n\n" + textwrap.fill(body, 56)
    assert any(line.endswith("peace-") for line in wrapped.split("\n"))
    joined = unwrap(wrapped)
    assert joined.split("\n")[0] == headline
    assert joined.split("\n")[1] == body


@pytest.mark.parametrize("text", [
    # a list of short items, a crawl: every line its own
    "\n".join(f"{i:02d} UKRAINE / Item number {i} on the air-defence package for Kyiv, "
              f"as agreed by ministers on Monday" for i in range(1, 11)),
    # a transcript: turns begin with the speaker
    "\n".join(["Q: Will Germany send troops to Ukraine after a ceasefire is agreed?",
               "A: We have said we will look at it when the conditions are clear, no sooner.",
               ] * 5),
    # ordinary copy: one line a paragraph
    "\n".join([PROSE] * 6),
    # short paragraphs of one sentence each, all near one width: no line goes on in lower case
    "\n".join([f"Paragraph {i} says that Kyiv wants a European force on the ground soon."
               for i in range(8)]),
])
def test_lines_that_were_not_wrapped_stay_apart(text: str) -> None:
    assert unwrap(text) == text
    assert normalise(text).unchanged


@pytest.mark.parametrize("damage", [
    pytest.param(hard_wrapped, id="hard-wrapped"),
    pytest.param(lambda t: t.replace("’", "&#8217;").replace('"', "&quot;").replace(" ", "&nbsp;"),
                 id="entities"),
    pytest.param(lambda t: t.replace("Ukraine", "Ukr\u00adaine").replace("NATO", "NA\u200bTO")
                 .replace("guarantee", "guar\u00adantee").replace("\n", "\r\n"),
                 id="invisible-crlf"),
])
@pytest.mark.parametrize("make", [default_extractor, RuleExtractor], ids=["combined", "rules"])
def test_damaged_copy_gives_the_clean_copy_s_positions_quoted_from_itself(damage, make) -> None:
    record = seed()
    clean = Article(id="clean", title=str(record["title"]), text=str(record["text"]))
    damaged = Article(id="damaged", title=str(record["title"]), text=damage(clean.text))
    assert damaged.text != clean.text
    extractor = make()
    expected = extractor.extract(clean)
    found = extractor.extract(damaged)
    assert expected and {p.key for p in found} == {p.key for p in expected}
    for position in found:
        assert position.evidence in damaged.text  # verbatim, as the article came


def test_no_training_text_is_changed_so_training_reads_what_the_extractor_reads() -> None:
    """Training parses the raw gold texts of the train split (their spans index them); that
    is only right while the plain-text pass leaves each of them as it is. Dev and test are
    read through the extractor, plain-text pass included: round 17's teletext pages (w109),
    hard-wrapped, are joined into sentences there, as any such page would be."""
    from bot.extraction.learned.splits import load_split

    root = Path(__file__).resolve().parents[1]
    for record in load_split("train", root):
        assert normalise(str(record["text"])).unchanged, record["id"]
