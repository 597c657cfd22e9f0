"""Candidates and their features: every (sentence, party, guarantee) the rules and the
lexicons make plausible, described by sparse string features for the learned stage.

The rules propose; this module widens their proposals to every party named in a sentence
that names a guarantee (and to the speaker carried over from earlier sentences), and writes
down what a reader would look at: who is named where, which words lie between the party and
the guarantee, which cues, negations and hedges the sentence holds, whether it is a question,
history or a hypothetical, and what the rules concluded.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise

from spacy.tokens import Doc, Span

from bot.extraction.learned.mentions import (
    GuaranteeHit,
    GuaranteePhrase,
    PartyMention,
    article_mentions,
    guarantee_hits,
    guarantee_phrases,
)
from bot.extraction.lexicon import attribution_lexicon
from bot.extraction.plaintext import PlainText
from bot.extraction.rules import Hit, Proposal, RuleAnalysis
from bot.extraction.rules.beneficiary import article_beneficiary
from bot.extraction.rules.sentences import token_lists
from bot.extraction.rules.speakers import word_before
from bot.vocabulary import parties

GROUPS = frozenset({"eu", "europe", "nato", "un", "g7"})
PREPOSITIONS = frozenset({"to", "for", "in", "from", "with", "by", "on", "of", "against",
                          "over", "into", "at", "between", "toward", "towards", "about"})
SPEECH_NEAR = 4
WINDOW = 3
BETWEEN_MAX = 12
PAST_YEAR = re.compile(r"\b(19\d\d|200\d|201\d)\b")
HYPOTHETICAL = frozenset({"if", "whether", "unless", "suppose", "imagine", "hypothetically"})
QUESTION_OPENERS = frozenset({"q", "q:", "question", "question:"})
STOP = frozenset({"the", "a", "an", "of", "and", ",", ".", "its", "their", "his", "her", "to",
                  "in", "on", "for", "that", "this", "is", "was", "be", "as", "with", "by",
                  "at", "it", "from"})
# A guarantee the sentence model finds likely becomes a candidate even where no phrase of the
# lexicon names it ("no soldiers on Ukrainian soil").
GUESS_MIN = 0.25
# The sentence model's labels that are stances, not guarantees ("st:opposes"): how likely the
# sentence carries a position of each stance, whoever holds it.
STANCE_LABEL = "st:"
# A sentence the sentence model finds this unlikely to carry a position of any stance gets
# candidates only where the rules proposed one: the others were all but never kept (one in
# about 2,000 kept candidates of dev and the real-news set), and building them was a fifth of
# the candidates' cost. Only the extractor prunes (`prune`): the model is fitted on every
# candidate, and its bars are chosen through the extractor, so with pruning. Part of the
# extractor's version: changing it re-extracts stores.
UNLIKELY_STANCE = 0.02
# Words by which a sentence refers back to what the previous one proposed.
REFERRING = frozenset({"it", "this", "that", "idea", "plan", "proposal", "move", "such",
                       "offer", "request", "bid", "agree", "them", "they"})
FIRST_PERSON = frozenset({"we", "our", "us", "i", "my", "me", "ours"})


# Whose security the article is about, from its named parties in text order and the token
# where the headline ends (0 without one) (`learned.beneficiary`); without one, the rules'
# list decides.
Chooser = Callable[[Sequence[PartyMention], int], str]


@dataclass
class Candidate:
    """One (sentence, party, guarantee) to classify, with its features."""

    sentence: int
    party: str
    guarantee: str
    actor: str
    features: dict[str, float] = field(default_factory=dict)
    rule_guarantor: str | None = None


# The sentence model: each sentence's words to the probability of each guarantee.
Guesser = Callable[[list[dict[str, float]]], list[dict[str, float]]]


def sentence_words(sent: Span, lower: list[str], lexicon: set[str]) -> dict[str, float]:
    """What the sentence model reads: words, word pairs and the guarantees the lexicon found."""
    words = [w for w in lower[sent.start:sent.end] if w.isalpha() or w == "n't"]
    f = {"u=" + w: 1.0 for w in words if w not in STOP}
    for a, b in pairwise(words):
        f[f"bi={a}_{b}"] = 1.0
    for g in sorted(lexicon):  # a fixed order: the sums come out the same bits every run
        f["lex=" + g] = 1.0
    return f


def _stance_prior(guessed: dict[str, float]) -> dict[str, float]:
    """How likely the sentence carries a position of each stance, whoever holds it (the
    sentence model's stance labels), in buckets, and the likeliest stance."""
    prior = {g[len(STANCE_LABEL):]: p for g, p in guessed.items() if g.startswith(STANCE_LABEL)}
    if not prior:  # a sentence model without stance labels
        return {}
    f = {f"sp={stance}&{_probability_bucket(p)}": 1.0 for stance, p in prior.items()}
    f["sp_top=" + max(prior, key=prior.__getitem__)] = 1.0
    return f


def _stance_max(guessed: dict[str, float]) -> float:
    """The sentence model's highest stance probability (1.0 for a model without stances)."""
    return max((p for g, p in guessed.items() if g.startswith(STANCE_LABEL)), default=1.0)


def _probability_bucket(p: float) -> str:
    return "0" if p < 0.1 else ("1" if p < 0.3 else ("2" if p < 0.5 else ("3" if p < 0.8 else "4")))


@dataclass(frozen=True)
class ArticleView:
    """One article as the learned stage sees it."""

    sentences: list[Span]
    candidates: list[Candidate]
    beneficiary: str
    rules: RuleAnalysis
    sentence_features: list[dict[str, float]]
    mentions: list[list[PartyMention]]  # named parties, by sentence
    guarantees: list[list[GuaranteeHit]]  # guarantee phrases, by sentence
    text: str  # the text the pipeline read (spaCy rebuilds `doc.text` at each call)
    plain: PlainText | None = None  # how `text` maps to the article as it came, where it differs
    headline: bool = True  # whether sentence 0 is the article's headline

    @cached_property
    def named_counts(self) -> Counter[str]:
        """How often the article names each party (its mentions), counted once per view and
        shared by every reader: read it, never change it."""
        return Counter(m.party for ms in self.mentions for m in ms)

    def quote(self, sentence: Span) -> str:
        """A sentence as evidence: stripped, in the article's own characters."""
        start, end = sentence.start_char, sentence.end_char
        if self.plain is None:
            return self.text[start:end].strip()
        piece = self.text[start:end]
        lead = len(piece) - len(piece.lstrip())
        return self.plain.original_span(start + lead, start + len(piece.rstrip())).strip()


def _bucket(items: list, sents: list[Span], start_of) -> list[list]:  # type: ignore[type-arg]
    out: list[list] = [[] for _ in sents]  # type: ignore[type-arg]
    k = 0
    for item in sorted(items, key=start_of):
        while k + 1 < len(sents) and sents[k + 1].start <= start_of(item):
            k += 1
        out[k].append(item)
    return out


def _distance_bucket(d: int) -> str:
    if d <= 2:
        return "0-2"
    if d <= 6:
        return "3-6"
    if d <= 12:
        return "7-12"
    return "13+"


def headline_end(first: Span | None, headline: bool) -> int:
    """The token where the headline ends (the first sentence's end), 0 without one: what a
    `Chooser` reads to know which names are in the headline."""
    return first.end if first is not None and headline else 0


def read_beneficiary(doc: Doc, hits: list[Hit], beneficiary_of: Chooser, *,
                     headline: bool = True, mentions: list[PartyMention] | None = None) -> str:
    """Whose security a parsed article is about, as `beneficiary_of` reads its named parties
    (`mentions` when read already): what `build_view` reads, found before the rules run so
    that they read it too."""
    if mentions is None:
        mentions = article_mentions(hits, token_lists(doc).lower)
    return beneficiary_of(mentions, headline_end(next(iter(doc.sents), None), headline))


def build_view(doc: Doc, rules: RuleAnalysis, guesser: Guesser | None = None, *,
               headline: bool = True, prune: bool = False,
               beneficiary_of: Chooser | None = None, beneficiary: str | None = None,
               mentions: list[PartyMention] | None = None) -> ArticleView:
    """Every candidate of one parsed article, with features. `guesser` gives the probability
    of each guarantee for a sentence's words (the sentence model); `headline`: the text's
    first line is the article's title (as ingest makes it; a gold text may open otherwise, so
    the callers check: `opens_with_title`); `beneficiary_of` reads whose security the article
    is about (the rules' list when not given), unless `beneficiary` gives what it read already
    (`read_beneficiary`); `mentions`: the article's named parties when read already
    (`article_mentions` of the same hits), so that they are not read twice."""
    sents = list(doc.sents)
    text = rules.text or doc.text
    lower = rules.lower or [t.lower_ for t in doc]
    hits = rules.hits
    if mentions is None:
        mentions = article_mentions(hits, lower)
    if beneficiary is None:
        beneficiary = (beneficiary_of(mentions, headline_end(sents[0] if sents else None,
                                                             headline))
                       if beneficiary_of is not None else article_beneficiary(mentions))
    mentions_by = _bucket(mentions, sents, lambda m: m.start)
    guarantees_by = _bucket(guarantee_hits(rules.guarantees, hits), sents, lambda g: g[0])
    cues = [h for h in hits if h.kind in ("C", "CA")]
    cues_by = _bucket(cues, sents, lambda h: h.start)
    speech_by = _bucket([h for h in hits if h.kind in ("S", "SP")], sents, lambda h: h.start)
    proposals_by: dict[int, list[Proposal]] = {}
    for p in rules.proposals:
        proposals_by.setdefault(p.sentence, []).append(p)
    final = {(p.party, p.guarantee.value): p.stance.value for p in rules.positions}
    candidates: list[Candidate] = []
    carried: str | None = None
    recent: set[str] = set()  # guarantees of the last sentence that named any
    main = _main_party(mentions, rules)
    sentence_features = [sentence_words(sent, lower, {g[2] for g in guarantees_by[k]})
                         for k, sent in enumerate(sents)]
    guesses = guesser(sentence_features) if guesser is not None else [{} for _ in sents]
    for k, sent in enumerate(sents):
        guessed = guesses[k]  # guarantees, and stances under STANCE_LABEL
        ms = list(mentions_by[k])
        speaker = rules.speakers[k] if k < len(rules.speakers) else None
        if speaker is not None and speaker.party in parties():
            carried = speaker.party
        gs = guarantees_by[k]
        props = proposals_by.get(k, [])
        names = {m.party for m in ms}
        g_values = {g[2] for g in gs} | {p.guarantee.value for p in props}
        new = {g for g, p in guessed.items()
               if p >= GUESS_MIN and g not in g_values and not g.startswith(STANCE_LABEL)}
        # "Hungary would block it": a stance with no guarantee of its own refers back
        back = recent - g_values - new if k > 0 and not g_values and cues_by[k] else set()
        if g_values:
            recent = set(g_values)
        new |= back
        if carried and carried not in names and (g_values or new):
            ms.append(PartyMention(sent.start, sent.start, carried, "S",
                                   speaker.slug if speaker else None))
        for p in props:
            if p.party not in {m.party for m in ms}:
                ms.append(PartyMention(sent.start, sent.start, p.party, "R", p.actor))
        if g_values or new:
            # a quote, an answer or a "we" whose speaker was named before: the parties of
            # the last sentences and the article's main speaker are candidates too
            for rank, party in enumerate(_recent_parties(mentions_by, k), start=1):
                if party not in {m.party for m in ms}:
                    ms.append(PartyMention(sent.start, sent.start, party, f"C{rank}"))
            if main and main not in {m.party for m in ms}:
                ms.append(PartyMention(sent.start, sent.start, main, "M"))
        if not (g_values or new) or not ms:
            continue
        unlikely = prune and _stance_max(guessed) < UNLIKELY_STANCE
        if unlikely and not props:
            continue
        proposed = {(p.party, p.guarantee.value) for p in props}
        phrases = guarantee_phrases(gs)
        prior = _stance_prior(guessed)
        context = _sentence_features(text[sent.start_char:sent.end_char], sent, lower,
                                     cues_by[k], k if headline else k + 1)
        for party in dict.fromkeys(m.party for m in ms):
            party_ms = [m for m in ms if m.party == party]
            for g in sorted(g_values | new):
                if unlikely and (party, g) not in proposed:
                    continue
                g_hits = [h for h in gs if h[2] == g]
                cand = _candidate(k, sent, party, g, party_ms, g_hits, ms, lower, cues_by[k],
                                  speech_by[k], props, final, beneficiary, context)
                _guarantee_rank(cand.features, party_ms, phrases, g)
                if guesser is not None:
                    cand.features["gp=" + _probability_bucket(guessed.get(g, 0.0))] = 1.0
                cand.features.update(prior)
                if g in back:
                    cand.features["g_back"] = 1.0
                    cand.features["g_back&g=" + g] = 1.0
                    for w in sorted(REFERRING & set(lower[sent.start:sent.end])):
                        cand.features["g_back&w=" + w] = 1.0
                elif g in new:
                    cand.features["g_guessed"] = 1.0
                    cand.features["g_guessed&g=" + g] = 1.0
                candidates.append(cand)
    return ArticleView(sents, candidates, beneficiary, rules, sentence_features, mentions_by,
                       guarantees_by, text, headline=headline)


# The names (before any "=") of the features that say how the party is named and which cues
# surround it: every feature of the first kind is paired with every one of the second. Names
# match exactly ("question", not "question_mark"). `_candidate` notes each role and cue feature
# as it sets it and pairs what it noted (`_pair_up`); `_conjoin`, which finds them by these
# names, is the reference it is held to (tests/test_learned_shortcuts.py). A new role or cue
# feature is paired only once `_candidate` notes it, and must have its name here too.
ROLE_NAMES = frozenset({"pk", "pos", "dist", "first_named", "sent_start", "speech_after",
                        "speech_before", "prep", "possessive", "adj_of_g", "in_list", "p",
                        "not_subject"})
CUE_NAMES = frozenset({"bc", "near_before", "sc", "first_person", "question", "quoted", "pc"})


def _conjoin(f: dict[str, float]) -> None:
    """Pairs of how the party is named and which cues surround it: a linear model cannot
    combine them itself ("negative cue between" means opposes only when the party is the
    subject). The reference reading, by feature names; the extractor pairs what each candidate
    noted (`_pair_up`), which gives the same features in the same order."""
    roles: list[str] = []
    cues: list[str] = []
    for key in f:
        if "&" in key:
            continue
        name = key.partition("=")[0]
        if name in ROLE_NAMES:
            roles.append(key)
        elif name in CUE_NAMES:
            cues.append(key)
    f.update(dict.fromkeys([f"{r}&{c}" for r in roles for c in cues], 1.0))


def _pair_up(f: dict[str, float], roles: list[str], cues: list[str]) -> None:
    """`_conjoin` for a candidate that noted its role and cue features as it set them, in
    the order it set them: the same pairs in the same order, without reading every feature's
    name again (a feature noted twice gives its pairs once: `dict.fromkeys` keeps the first)."""
    f.update(dict.fromkeys([f"{r}&{c}" for r in roles for c in cues], 1.0))


def _guarantee_rank(f: dict[str, float], party_ms: list[PartyMention],
                    phrases: list[GuaranteePhrase], g: str) -> None:
    """Which of the sentence's guarantee phrases (`mentions.guarantee_phrases`) the party's
    name is nearest: in "Ankara backs a monitoring mission but not NATO membership", a stance
    belongs to one of them. `ng`: how many phrases the sentence names; `g_rank`: how many
    phrases of other guarantees are nearer the party's name than this one's nearest;
    `g_between`: one of them lies between the two."""
    f["ng=" + str(min(len(phrases), 3))] = 1.0
    if len(phrases) < 2:  # one phrase or none: nothing to rank
        return
    named = [m for m in party_ms if m.kind in ("A", "P", "J")]
    own = [p for p in phrases if g in p[2]]
    others = [p for p in phrases if g not in p[2]]
    if not named or not own or not others:
        return

    def apart(m: PartyMention, phrase: GuaranteePhrase) -> int:
        return max(phrase[0] - m.head_end, m.head_start - phrase[1], 0)

    m, nearest = min(((m, p) for m in named for p in own), key=lambda mp: apart(*mp))
    distance = apart(m, nearest)
    nearer = sum(1 for o in others if any(apart(x, o) < distance for x in named))
    f["g_rank=" + str(min(nearer, 2))] = 1.0
    lo, hi = ((m.head_end, nearest[0]) if m.head_end <= nearest[0]
              else (nearest[1], m.head_start))
    if any(lo <= o[0] and o[1] <= hi for o in others):
        f["g_between"] = 1.0


def _main_party(mentions: list[PartyMention], rules: RuleAnalysis) -> str | None:
    """The party whose people the article quotes most: named actors and resolved speakers."""
    counts = Counter(m.party for m in mentions if m.kind == "A")
    counts.update(s.party for s in rules.speakers if s is not None)
    return counts.most_common(1)[0][0] if counts else None


def _recent_parties(mentions_by: list[list[PartyMention]], k: int, limit: int = 2) -> list[str]:
    """The last distinct parties named in the three sentences before sentence `k`."""
    out: list[str] = []
    for j in range(k - 1, max(-1, k - 4), -1):
        for m in sorted(mentions_by[j], key=lambda m: m.start):
            if m.party not in out:
                out.append(m.party)
        if len(out) >= limit:
            break
    return out[:limit]


def _sentence_features(text: str, sent: Span, lower: list[str], cues: list[Hit], k: int
                       ) -> dict[str, float]:
    words = lower[sent.start:sent.end]
    f: dict[str, float] = {}
    if k == 0:
        f["title"] = 1.0
    if text.rstrip().endswith("?"):
        f["question"] = 1.0
    if words and words[0] in QUESTION_OPENERS:
        f["q_turn"] = 1.0
    if PAST_YEAR.search(text):
        f["past_year"] = 1.0
    if HYPOTHETICAL & set(words):
        f["hypothetical"] = 1.0
    if any(q in text for q in ('"', "“", "”", "«")):
        f["quoted"] = 1.0
    first_person = FIRST_PERSON & set(words)
    if first_person:
        f["first_person"] = 1.0
    if words and words[0] in ("a", "a:", "answer") and len(words) > 1 and words[1] in (":", "."):
        f["a_turn"] = 1.0
    if text.lstrip()[:1] in ("•", "-", "*", "–") or re.match(r"\s*\d+[.)]\s", text):
        f["bullet"] = 1.0
    for c in cues:
        f["sc=" + c.value] = 1.0
    return f


STANCE_CUES = frozenset({"positive", "negative", "doubt", "negator"})


def _mention_context(f: dict[str, float], start: int, end: int, sent: Span, lower: list[str]
                     ) -> bool:
    """The two words before the party's name and the word after it (of the whole list, for a
    list): whether it is the one speaking or acting ("Ankara said"), an addressee ("asked
    Indonesia, Egypt and Qatar to contribute troops", "urged Berlin to"), or part of a
    description ("the U.S.-led alliance"); `not_subject` when the word governing it (past "the" or
    "eastern") is one by which the rules take a name for an object (attribution.toml), as they
    do themselves (`object_context`); whether it set `not_subject`."""
    f["mw-=" + _context_word(lower, start - 1, sent)] = 1.0
    f["mw--=" + _context_word(lower, start - 2, sent)] = 1.0
    f["mw+=" + _context_word(lower, end, sent)] = 1.0
    governing = word_before(lower, start, sent.start)
    if governing >= 0 and lower[governing] in attribution_lexicon().not_subject:
        f["not_subject"] = 1.0
        return True
    return False


def _context_word(lower: list[str], at: int, sent: Span) -> str:
    """The token at `at` as a context feature: `<s>` or `</s>` outside the sentence, `<ws>`
    for a line break or other whitespace token."""
    if at < sent.start:
        return "<s>"
    if at >= sent.end:
        return "</s>"
    return lower[at] if lower[at].strip() else "<ws>"


def _clause(marks: list[int], token: int) -> int:
    """Which clause of its sentence a token is in, counting the boundary words before it
    (`marks` in text order, as a sentence's cues are)."""
    return bisect_right(marks, token)


def _candidate(
    k: int, sent: Span, party: str, g: str, party_ms: list[PartyMention],
    g_hits: list[GuaranteeHit], all_ms: list[PartyMention], lower: list[str],
    sentence_cues: list[Hit], speech: list[Hit], props: list[Proposal],
    final: dict[tuple[str, str], str], beneficiary: str, context: dict[str, float],
) -> Candidate:
    f = dict(context)
    f["g=" + g] = 1.0
    is_benef = party == beneficiary
    group = "group" if party in GROUPS else ("benef" if is_benef else "state")
    f["p=" + group] = 1.0
    roles = ["p=" + group]  # the role and cue features `_pair_up` pairs, as they are set
    cue_keys = [key for key in context if key.partition("=")[0] in CUE_NAMES]
    f[f"p={group}&g={g}"] = 1.0
    # who the party is: Moscow rarely seeks Ukraine's NATO membership, Kyiv rarely opposes it
    f["pid=" + party] = 1.0
    f[f"pid={party}&g={g}"] = 1.0
    f[f"pid={party}&ben={beneficiary}"] = 1.0
    f[f"ben={beneficiary}&g={g}"] = 1.0
    n_parties = len({m.party for m in all_ms})
    f["nparties=" + str(min(n_parties, 4))] = 1.0
    actor = next((m.actor for m in party_ms if m.actor), None)
    # the mention and guarantee phrase closest to each other
    real_ms = [m for m in party_ms if m.kind in ("A", "P", "J")]
    for m in party_ms:
        f["pk=" + m.kind] = 1.0
        roles.append("pk=" + m.kind)
        if m.kind in ("S", "C1", "C2", "M", "R") and not real_ms:
            for key in ("first_person", "quoted", "a_turn", "q_turn", "question", "title"):
                if key in context:
                    f[f"pk={m.kind}&{key}"] = 1.0
            f[f"pk={m.kind}&{group}"] = 1.0
    if g_hits and real_ms:
        m, h = min(((m, h) for m in real_ms for h in g_hits),
                   key=lambda mh: abs(mh[0].head_start - mh[1][0]))
        if m.list_size > 1:
            f["in_list"] = 1.0
            roles.append("in_list")
        m_start, m_end = m.head_start, m.head_end
        before = m_end <= h[0]
        dist = (h[0] - m_end) if before else (m_start - h[1])
        placed = ("pos=" + ("before" if before else "after"),
                  "dist=" + _distance_bucket(max(dist, 0)))
        f.update(dict.fromkeys(placed, 1.0))
        roles += placed
        f["how=" + h[3]] = 1.0
        lo, hi = (m_end, h[0]) if before else (h[1], m_start)
        between = lower[lo:hi][:BETWEEN_MAX]
        for w in between:
            if w not in STOP and w.isalpha():
                f["b=" + w] = 1.0
        for c in sentence_cues:
            if lo <= c.start < hi:
                f["bc=" + c.value] = 1.0
                f[f"bc={c.value}&{group}"] = 1.0
                cue_keys.append("bc=" + c.value)
        if m.kind == "J" and before and h[0] - m.end <= 1:
            f["adj_of_g"] = 1.0
            roles.append("adj_of_g")
        if m_start > sent.start and lower[m_start - 1] in PREPOSITIONS:
            f["prep=" + lower[m_start - 1]] = 1.0
            roles.append("prep=" + lower[m_start - 1])
        if m_end < sent.end and lower[m_end] in ("'s", "’s", "'", "’"):
            f["possessive"] = 1.0
            roles.append("possessive")
        if m is min(real_ms, key=lambda x: x.start) and all(
                x.start >= m.start for x in all_ms if x.kind in ("A", "P", "J")):
            f["first_named"] = 1.0
            roles.append("first_named")
        if m_start - sent.start <= 2:
            f["sent_start"] = 1.0
            roles.append("sent_start")
        if _mention_context(f, m_start, m_end, sent, lower):
            roles.append("not_subject")
        if any(0 <= s.start - m_end <= SPEECH_NEAR for s in speech):
            f["speech_after"] = 1.0
            roles.append("speech_after")
        if any(0 <= m_start - s.end <= 2 for s in speech):
            f["speech_before"] = 1.0
            roles.append("speech_before")
        for w in lower[max(sent.start, h[0] - WINDOW):h[0]]:
            f["w-=" + w] = 1.0
        for w in lower[h[1]:min(sent.end, h[1] + WINDOW)]:
            f["w+=" + w] = 1.0
        for c in sentence_cues:
            if c.value in ("negator", "negative", "doubt") and 0 <= h[0] - c.end <= 5:
                f["near_before=" + c.value] = 1.0
                cue_keys.append("near_before=" + c.value)
        # the clause the party is named in: "..., while Indonesia said it was ready"
        marks = [c.start for c in sentence_cues if c.value == "boundary"]
        party_clause = _clause(marks, m_start)
        if party_clause != _clause(marks, h[0]):
            f["other_clause"] = 1.0
        for c in sentence_cues:
            if c.value in STANCE_CUES and _clause(marks, c.start) == party_clause:
                f["pc=" + c.value] = 1.0
                cue_keys.append("pc=" + c.value)
    elif real_ms:
        m = min(real_ms, key=lambda x: x.head_start)
        if m.head_start - sent.start <= 2:
            f["sent_start"] = 1.0
            roles.append("sent_start")
        if any(0 <= s.start - m.head_end <= SPEECH_NEAR for s in speech):
            f["speech_after"] = 1.0
            roles.append("speech_after")
        if m.head_start > sent.start and lower[m.head_start - 1] in PREPOSITIONS:
            f["prep=" + lower[m.head_start - 1]] = 1.0
            roles.append("prep=" + lower[m.head_start - 1])
        if _mention_context(f, m.head_start, m.head_end, sent, lower):
            roles.append("not_subject")
        f["no_g_phrase"] = 1.0
    else:
        f["party_not_named"] = 1.0
    if speech and not real_ms:
        f["speech_unnamed"] = 1.0
    ruled = [p for p in props if p.party == party and p.guarantee == g]
    if ruled:
        best = max(ruled, key=lambda p: p.quality)
        f["r=" + best.stance.value] = 1.0
        f[f"r={best.stance.value}&{group}"] = 1.0
        f[f"r={best.stance.value}&q{best.quality}"] = 1.0
        actor = actor or best.actor
    elif any(p.guarantee == g for p in props):
        f["r_other_party"] = 1.0
    else:
        f["r_none"] = 1.0
    art = final.get((party, g))
    if art:
        f["ra=" + art] = 1.0
    _pair_up(f, roles, cue_keys)
    cand = Candidate(k, party, g, actor or "", f)
    if ruled:
        cand.rule_guarantor = max(ruled, key=lambda p: p.quality).guarantor
    return cand
