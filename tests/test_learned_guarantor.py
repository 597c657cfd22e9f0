"""The guarantor ranker's options and features: who may provide a guarantee, and what the
ranker reads about each option."""

from __future__ import annotations

import pytest

from bot.extraction.learned.features import ArticleView, Candidate, build_view
from bot.extraction.learned.guarantor import NOBODY, features, options
from bot.extraction.rules import RuleExtractor


@pytest.fixture(scope="module")
def rules() -> RuleExtractor:
    return RuleExtractor()


def view_of(rules: RuleExtractor, text: str) -> ArticleView:
    doc = rules.nlp(text)
    return build_view(doc, rules.analyse(doc))


def candidate(view: ArticleView, party: str, guarantee: str, sentence: int) -> Candidate:
    return next(c for c in view.candidates
                if (c.party, c.guarantee, c.sentence) == (party, guarantee, sentence))


def test_a_guarantor_named_earlier_in_the_article_is_an_option(rules: RuleExtractor) -> None:
    view = view_of(rules, "Kyiv presses for guarantees\n"
                          "Kyiv wants binding security guarantees from the United States. "
                          "Poland said on Monday that such guarantees must be ratified.")
    cand = candidate(view, "pol", "security_guarantee", 2)
    assert "usa" not in {m.party for m in view.mentions[2]}
    assert "usa" in options(view, cand, "backs")
    assert "article_guarantor" in features(view, cand, "backs", "usa")
    assert "article_guarantor" not in features(view, cand, "backs", NOBODY)


def test_the_holder_named_with_the_guarantee_is_read(rules: RuleExtractor) -> None:
    view = view_of(rules, "No US troops\n"
                          "The United States will not deploy American troops to Ukraine, "
                          "the president said on Tuesday.")
    cand = candidate(view, "usa", "peacekeeping_force", 1)
    holder = features(view, cand, "opposes", "usa")
    assert any(name.startswith("h_") for name in holder)
    assert not any(name.startswith("h_") for name in features(view, cand, "opposes", NOBODY))


def test_a_group_option_carries_its_guarantee(rules: RuleExtractor) -> None:
    view = view_of(rules, "Cyprus asks for renewal\n"
                          "Cyprus asked the UN to renew its peacekeeping mission on the island.")
    cand = candidate(view, "cyp", "peacekeeping_force", 1)
    assert "un" in options(view, cand, "seeks")
    assert "group=un&g=peacekeeping_force" in features(view, cand, "seeks", "un")


def test_nobody_knows_whether_anyone_else_is_named(rules: RuleExtractor) -> None:
    """"Ukraine seeks guarantees" names no one who could give them; "Kyiv wants US
    guarantees" does: the ranker reads how many other parties the sentence names."""
    alone = view_of(rules, "Kyiv\nUkraine wants security guarantees, its president said.")
    named = view_of(rules, "Kyiv\nUkraine wants security guarantees from Britain and France.")
    assert "others_named=0" in features(
        alone, candidate(alone, "ukr", "security_guarantee", 1), "seeks", NOBODY)
    assert "others_named=2" in features(
        named, candidate(named, "ukr", "security_guarantee", 1), "seeks", NOBODY)


def test_a_provider_named_in_the_sentence_before_is_an_option(rules: RuleExtractor) -> None:
    """"The EU deployed monitors to Armenia. Russia says they must leave.": the provider is
    named one sentence before the position."""
    view = view_of(rules, "Monitors\nThe European Union deployed civilian monitors to Armenia. "
                          "Azerbaijan wants the peacekeepers to leave, Baku said.")
    cand = candidate(view, "aze", "peacekeeping_force", 2)
    assert "eu" not in {m.party for m in view.mentions[2]}
    assert "eu" in options(view, cand, "opposes")
    read = features(view, cand, "opposes", "eu")
    assert {"pool=near", "oid=eu", "oid=eu&g=peacekeeping_force"} <= read.keys()


def test_the_ranker_reads_who_holds_the_position_and_for_whom(rules: RuleExtractor) -> None:
    view = view_of(rules, "No troops\nRussia rejects any European peacekeepers in Ukraine.")
    cand = candidate(view, "rus", "peacekeeping_force", 1)
    read = features(view, cand, "opposes", NOBODY)
    assert {"o=nobody&party=rus&s=opposes", "o=nobody&party=rus&g=peacekeeping_force",
            f"o=nobody&g=peacekeeping_force&ben={view.beneficiary}"} <= read.keys()


def test_a_beneficiary_can_provide_for_itself_but_not_for_others(rules: RuleExtractor) -> None:
    """"Ukraine will keep building its own army": Ukraine holds the position and provides;
    for anyone else's position the beneficiary is never the provider."""
    view = view_of(rules, "Army\nUkraine will keep building its own army, Zelensky said, "
                          "and Britain will train Ukrainian soldiers.")
    assert view.beneficiary == "ukr"
    own = next(c for c in view.candidates if c.party == "ukr")
    assert "ukr" in options(view, own, "seeks")
    other = next(c for c in view.candidates if c.party == "gbr")
    assert "ukr" not in options(view, other, "backs")


def test_the_choice_scores_every_option_on_all_its_features(rules: RuleExtractor) -> None:
    """`choose` scores what the options of one kind share once: it picks what scoring each
    option's whole feature set (as training sees it) picks."""
    from bot.extraction.learned.extractor import load_model
    from bot.extraction.learned.guarantor import choose

    model = load_model("guarantor")
    view = view_of(rules, "Talks in Paris\nFrance and Britain are ready to send troops to "
                          "Ukraine. Kyiv wants American air cover and security guarantees "
                          "from Washington. Russia rejects any European force, Moscow said.")
    checked = 0
    for cand in view.candidates:
        for stance in ("seeks", "backs", "opposes"):
            found = options(view, cand, stance)
            scores = model.label_scores([features(view, cand, stance, o) for o in found], "yes")
            assert choose(model, view, cand, stance) == (
                found[scores.index(max(scores))] or None)
            checked += 1
    assert checked >= 12


def test_the_rules_guarantor_comes_from_a_proposal_of_the_same_stance_first(
        rules: RuleExtractor) -> None:
    """Proposals made by hand, as for "Russia rejects NATO troops ... Moscow would accept
    Chinese peacekeepers": the rules' pick for Russia backing a force is the provider of the
    force it backs, even where its refusal shares the candidate's sentence; the same sentence
    decides between proposals of the same stance."""
    from dataclasses import replace

    from bot.extraction.learned.guarantor import article_facts
    from bot.extraction.rules import Proposal
    from bot.vocabulary import Guarantee, Stance

    view = view_of(rules, "Russia rejects NATO troops in Ukraine. Moscow wants a force.")
    cand = candidate(view, "rus", "peacekeeping_force", 0)

    def proposal(sentence: int, stance: Stance, guarantor: str | None) -> Proposal:
        return Proposal(sentence, "russia", "rus", stance, Guarantee.PEACEKEEPING_FORCE,
                        guarantor, 2)

    def picked(*proposals: Proposal, stance: str) -> str | None:
        staged = replace(view, rules=replace(view.rules, proposals=list(proposals)))
        return article_facts(staged, cand, stance).picked

    refusal, offer = proposal(0, Stance.OPPOSES, "nato"), proposal(1, Stance.BACKS, "chn")
    assert picked(refusal, offer, stance="backs") == "chn"
    assert picked(refusal, offer, stance="opposes") == "nato"
    # the same stance twice: the candidate's own sentence first
    assert picked(proposal(1, Stance.BACKS, "chn"), proposal(0, Stance.BACKS, "tur"),
                  stance="backs") == "tur"
    # no proposal of the same stance: the other stance's still counts, NOBODY for none
    assert picked(refusal, stance="backs") == "nato"
    assert picked(proposal(0, Stance.BACKS, None), stance="backs") == NOBODY
    assert picked(stance="backs") is None
