"""The rule-based extractor: guarantee words, stance cues and attribution, sentence by sentence.

Offline and deterministic: a blank English spaCy pipeline (tokenizer, a quote- and line-aware
sentence splitter), PhraseMatchers built once per extractor from the TOML lexicons, then plain
Python over the token indices of the sentences that name a guarantee.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import spacy
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from bot.extraction.attribution import (
    FUNCTION_WORDS,
    Actor,
    Mention,
    Tracker,
    build_mentions,
    coordinated,
    coordination_start,
    resolve,
)
from bot.extraction.lexicon import (
    attribution_lexicon,
    cue_lexicon,
    guarantee_lexicons,
    memberships,
    reference_lexicon,
)
from bot.models import Article, Position
from bot.vocabulary import Guarantee, Stance, actors, parties

BENEFICIARY = "ukr"
# Parties whose troops are never the guarantee ("Russian troops would not enter").
NOT_GUARANTORS = frozenset({"rus", "blr", "prk", BENEFICIARY})
# A reported future or possibility: "Macron said European allies would ...".
MODALS = frozenset({"would", "will", "could", "can", "might", "may", "should", "'ll", "’ll"})
# Tables of cues.toml that are word lists for rules, not cue classes.
NOT_CUES = frozenset({"sending", "leading"})
CASUALTIES = frozenset({"fallen", "dead", "killed", "wounded", "captured", "missing",
                        "injured", "deceased"})
# Parties whose own army is never Ukraine's military strength.
FOREIGN_ARMIES = frozenset({"rus", "blr", "prk"})
# Cues whose subject is the one receiving: "Ukraine deserves guarantees".
DESERVING = frozenset({"deserve", "deserves", "deserved", "deserving", "needs", "needed",
                       "need"})
# Between the subject and the verb of a bare answer: "but Washington flatly refused".
ANSWER_FILLERS = frozenset({"then", "had", "has", "have", "did", "flatly", "firmly", "simply",
                            "again", "repeatedly", "reportedly", "ultimately", "quickly"})
# "X's position that ...": nouns whose that-clause states the owner's stance.
POSITION_NOUNS = frozenset({"position", "view", "demand", "demands", "insistence", "condition",
                            "stance", "line", "belief", "argument", "requirement"})
# After a comma, words that add a part to what was just named.
CONTINUATIONS = frozenset({"including", "notably", "especially", "particularly", "such",
                           "namely", "chiefly", "mainly", "starting"})
# An obligation is reported like a modal: "Macron said Europe had to be ready to ...".
OBLIGATION = frozenset({"must", "ought", "needs", "has to", "have to", "had to"})
# Between the subject and the verb of a relative clause: "which Kyiv had long sought".
RELATIVE_AUX = frozenset({"had", "has", "have", "is", "are", "was", "were", "will", "would",
                          "long", "repeatedly", "already", "been", "also", "not", "n't",
                          "never", "now", "still", "could", "can", "be"})
RELATIVE_AFTER = frozenset({"in", "at", "for", "since", "during", "from", "before", "after",
                            "earlier", "last", "so", "and", "but", "as", "until"})
QUOTES_OPEN = {"“", "«", "‘"}
QUOTES_CLOSE = {"”", "»", "’"}
MAX_QUOTE_TOKENS = 120
# How far after the guarantee a negative or doubting verdict on it may come.
AFTER_VERDICT = 10
# Verbs that give their object a label: "called membership the best guarantee".
LABELLING = frozenset({"called", "calls", "call", "calling", "described", "describes",
                       "considers", "considered", "deemed", "sees", "saw", "branded"})
BE = frozenset({"is", "are", "was", "were", "be", "been", "being"})
# Between a guarantee and its passive verb: "was first pushed by", "has been backed by".
PASSIVE_FILLERS = BE | frozenset({"has", "have", "had", "also", "first", "initially",
                                  "originally", "already", "later", "strongly", "jointly",
                                  "since", "now"})
# Between the comma closing an appositive and the speech verb: "X, which ..., has said".
APPOSITIVE_AUX = frozenset({"has", "have", "had", "also", "later", "then", "again",
                            "previously", "repeatedly", "publicly"})
# Words that open an inserted phrase after a name: "Medvedev, now deputy head of ...",
# "Romania and Bulgaria, both NATO members, said".
APPOSITIVE_OPENERS = frozenset({"who", "which", "a", "an", "the", "now", "both", "then",
                                "himself", "herself", "itself", "formerly", "once", "whose"})
# Adverbs that end no clause when set off by commas: "He questioned, however, whether".
PARENTHETICAL = frozenset({"however", "meanwhile"})
# Words between a preposition and a place: "in western Ukraine" is no subject.
REGIONS = frozenset({"western", "eastern", "southern", "northern", "central", "occupied",
                     "southeastern", "northeastern", "southwestern", "northwestern", "free",
                     "independent", "wartime", "postwar", "post-war", "neighbouring",
                     "neighboring"})
# Prepositions of place: "flying from bases in Poland and Romania" names no subject.
PLACE_PREPOSITIONS = frozenset({"in", "from", "at", "near", "across", "over", "via", "through",
                                "within", "inside"})
DETERMINERS = frozenset({"a", "an", "the", "any", "its", "their", "his", "her", "our", "this",
                         "that", "such", "no", "every", "each"})
SUBJECT_PRONOUNS = frozenset({"he", "she", "they", "we", "i", "it"})
PARTICIPLES = frozenset({"given", "sent", "led", "won", "got", "gotten", "shown", "built"})
# A subject that counts rather than names: "few pledged", "several ministers echoed".
QUANTIFIERS = frozenset({"few", "many", "some", "several", "most", "none", "others", "nobody",
                         "handful", "majority", "minority"})
# Between a subject and its verb: "few have since pledged".
SUBJECT_FILLERS = MODALS | frozenset({"have", "has", "had", "did", "do", "does", "also", "yet",
                                      "since", "then", "so", "far", "actually", "not", "n't"})
# After a guarantee, before a negated verb: "observers alone would not stop an offensive".
ALONE = (("alone",), ("on", "its", "own"), ("on", "their", "own"), ("by", "itself"),
         ("by", "themselves"))
# Verbs by which someone provides a guarantee: "provided by European countries".
PROVIDED = frozenset({"provided", "offered", "given", "led", "backed", "supplied", "deployed",
                      "guaranteed", "underwritten", "supported", "secured"})


@Language.component("guarantees_sentence_marks")
def sentence_marks(doc: Doc) -> Doc:
    """Start a sentence after every line break; never split inside a short quotation."""
    inside = False
    opened = -1
    for token in doc:
        if token.i > 0 and "\n" in doc[token.i - 1].text_with_ws and not token.is_space:
            token.is_sent_start = True
            inside = False
            continue
        if token.i > 0 and doc[token.i - 1].is_space:
            token.is_sent_start = False
        text = token.text
        opens = text in QUOTES_OPEN or (text == '"' and not inside)
        if opens and token.i > 0 and doc[token.i - 1].text in (".", "!", "?"):
            token.is_sent_start = True
        if text == '"':
            inside = not inside
            opened = token.i
        elif text in QUOTES_OPEN:
            inside, opened = True, token.i
        elif text in QUOTES_CLOSE:
            inside = False
        elif inside and token.i - opened < MAX_QUOTE_TOKENS and token.i > 0:
            token.is_sent_start = False
    return doc


@dataclass(frozen=True)
class Hit:
    """One matched phrase: token range, what it is and its value."""

    start: int
    end: int
    kind: str
    value: str


@dataclass(frozen=True)
class Proposal:
    """One (holder, stance, guarantee) the rules proposed in one sentence, before the article's
    positions were deduplicated: `quality` 0 headline, 1 lead, 2 body."""

    sentence: int
    actor: str
    party: str
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    quality: int


@dataclass(frozen=True)
class RuleAnalysis:
    """What the rules saw in one article: their positions, their proposals by sentence, the
    speaker they resolved for each sentence, and every phrase match."""

    positions: list[Position]
    proposals: list[Proposal]
    speakers: list[Actor | None]
    hits: list[Hit]
    guarantees: list[Hit]  # guarantee phrases, memberships and references resolved


@dataclass
class Found:
    """A position before it becomes a `Position`: kept per article by its key."""

    actor: Actor
    stance: Stance
    guarantee: Guarantee
    guarantor: str | None
    evidence: str
    quality: int


class RuleExtractor:
    """Rules over spaCy matches; `extract` is safe to call from one thread at a time."""

    name = "rules"
    version = "1.26"

    def __init__(self) -> None:
        self._nlp: Language | None = None
        self._lower: PhraseMatcher | None = None
        self._orth: PhraseMatcher | None = None
        self._labels: dict[int, tuple[str, str]] = {}

    # -- pipeline -------------------------------------------------------------------------

    def _build(self) -> None:
        nlp = spacy.blank("en")
        nlp.add_pipe("guarantees_sentence_marks")
        nlp.add_pipe("sentencizer")
        lower = PhraseMatcher(nlp.vocab, attr="LOWER")
        orth = PhraseMatcher(nlp.vocab, attr="ORTH")
        labels: dict[int, tuple[str, str]] = {}

        def add(matcher: PhraseMatcher, kind: str, value: str, phrases: list[str]) -> None:
            key = f"{kind}|{value}"
            labels[nlp.vocab.strings.add(key)] = (kind, value)
            docs = [nlp.make_doc(p) for p in dict.fromkeys(phrases) if p.strip()]
            if docs:
                matcher.add(key, docs)

        for lex in guarantee_lexicons():
            add(lower, "G", lex.guarantee.value, list(lex.phrases))
            add(lower, "GI", lex.guarantee.value, list(lex.inverse))
            add(lower, "GP", lex.guarantee.value, list(lex.after_party))
        cues = cue_lexicon()
        for cls, words in cues.words.items():
            if cls not in NOT_CUES:
                add(lower, "C", cls, list(words))
        for cls, words in cues.after.items():
            add(lower, "CA", cls, list(words))
        refs = reference_lexicon()
        add(lower, "M", "eu", list(refs.membership_eu))
        add(lower, "M", "", list(refs.membership_other))
        add(lower, "R", "generic", list(refs.generic))
        for value, nouns in refs.typed.items():
            add(lower, "R", value, list(nouns))
        attr = attribution_lexicon()
        add(lower, "S", "speech", list(attr.speech))
        add(lower, "SP", "speech", list(attr.speech_phrases))
        add(lower, "T", "title", list(attr.titles))
        for slug, actor in actors().items():
            cased = [a for a in actor.aliases if a != a.lower()]
            add(orth, "A", slug, _with_the(cased))
            add(lower, "A", slug, [a for a in actor.aliases if a == a.lower()])
        for code, party in parties().items():
            names = [*party.names, *party.capitals, *party.metonyms]
            add(orth, "P", code, _with_the([n for n in names if n != n.lower()]))
            add(lower, "P", code, [n for n in names if n == n.lower()])
            only_adjectives = [a for a in party.adjectives if a not in names]
            add(orth, "J", code, only_adjectives)
        self._nlp, self._lower, self._orth, self._labels = nlp, lower, orth, labels

    @property
    def nlp(self) -> Language:
        if self._nlp is None:
            self._build()
        assert self._nlp is not None
        return self._nlp

    # -- extraction -----------------------------------------------------------------------

    def extract(self, article: Article) -> list[Position]:
        """Positions of one article, at most one per (party, stance, guarantee)."""
        return self.analyse(self.nlp(article.text)).positions

    def analyse(self, doc: Doc) -> RuleAnalysis:
        """The rules' positions for a parsed article, with every proposal they made on the way
        (for a later stage that decides among them) and the speaker of each sentence."""
        run = _ArticleRun(self, doc)
        positions = run.run()
        return RuleAnalysis(positions, run.proposals, run.speakers, run.hits, run.guarantees)

    def hits(self, doc: Doc) -> list[Hit]:
        assert self._lower is not None and self._orth is not None
        found = []
        for matcher in (self._lower, self._orth):
            for match_id, start, end in matcher(doc):
                kind, value = self._labels[match_id]
                found.append(Hit(start, end, kind, value))
        return found


def _with_the(names: list[str]) -> list[str]:
    """Names with a leading "the" also match without it and with "The"."""
    out: list[str] = []
    for name in names:
        if name.startswith("the "):
            bare = name[4:]
            out += [bare, "The " + bare]
        else:
            out.append(name)
    return out


def _longest(hits: list[Hit]) -> list[Hit]:
    """Non-overlapping hits, longer first, then earlier."""
    taken: set[int] = set()
    result = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        span = range(hit.start, hit.end)
        if any(i in taken for i in span):
            continue
        taken.update(span)
        result.append(hit)
    return sorted(result, key=lambda h: h.start)


class _ArticleRun:
    """State of one article's extraction: tokens, matches, the attribution tracker."""

    def __init__(self, extractor: RuleExtractor, doc: Doc) -> None:
        self.doc = doc
        self.text = doc.text
        self.words = [t.text for t in doc]
        self.lower = [t.lower_ for t in doc]
        self.title_case = [t.is_title for t in doc]
        hits = extractor.hits(doc)
        self.hits = list(hits)
        self.proposals: list[Proposal] = []
        self.speakers: list[Actor | None] = []
        self.sentence_index = 0
        self.names = _longest([h for h in hits if h.kind in ("A", "P", "J", "T")])
        party_ends = {n.end for n in self.names if n.kind in ("J", "P")}
        # "Japanese firms": words that are a guarantee only right after a party word
        hits += [Hit(h.start, h.end, "G", h.value) for h in hits
                 if h.kind == "GP" and h.start in party_ends]
        guarantees = _longest([h for h in hits if h.kind in ("G", "GI", "M")])
        guarantees = self._memberships(guarantees, [h for h in self.names if h.kind in ("P", "J")])
        guarantees = [self._sent_abroad(g) for g in guarantees]
        guarantees = self._verb_led(guarantees, hits)
        cue_ends = {h.end for h in hits if h.kind == "C" and h.value in ("positive", "negative")}
        guarantees += self._references([h for h in hits if h.kind == "R"], guarantees, cue_ends)
        guarantees.sort(key=lambda h: h.start)
        praise = self._copular(guarantees)
        hits += praise
        self.guarantees = guarantees
        self.in_guarantee = {i for g in guarantees for i in range(g.start, g.end)}
        cue_hits = [h for h in hits if h.kind in ("C", "CA", "S", "SP")]
        cue_hits = [h for h in cue_hits if not any(i in self.in_guarantee
                                                  for i in range(h.start, h.end))]
        in_name = {i for n in self.names for i in range(n.start, n.end)}
        # "United States" is no "states"; "Western-supplied" is a modifier, no stance
        cue_hits = [h for h in cue_hits if not (h.kind in ("S", "SP") and h.start in in_name)
                    and not (h.kind == "C" and h.start > 1 and self.lower[h.start - 1] == "-"
                             and self.words[h.start - 2].isalpha())]
        self.cues = _longest_per_kind(cue_hits)
        self.cue_tokens = {i for c in self.cues if c.kind == "C" for i in range(c.start, c.end)}
        self.tracker = Tracker()
        self.attr = attribution_lexicon()
        self.found: dict[tuple[str, Stance, Guarantee], Found] = {}
        self.last_speaker: Actor | None = None
        self._timing_words = frozenset(cue_lexicon().words.get("timing", ()))
        self._after_words = frozenset(
            w for w in cue_lexicon().after.get("positive", ()) if " " not in w)
        self.provider: str | None = None
        self.own_speaker = False
        self.speaker_group: list[Actor] = []

    def _sent_abroad(self, g: Hit) -> Hit:
        """"would not send its own forces to Ukraine": a state's own forces sent abroad are a
        foreign force, not Ukraine's army."""
        lower = self.lower
        if g.value != Guarantee.MILITARY_STRENGTH.value or lower[g.start] != "own" or \
                g.start < 2 or lower[g.start - 1] not in ("its", "their", "our", "his", "her"):
            return g
        verb = lower[g.start - 2]
        if verb in cue_lexicon().words["sending"]:
            return Hit(g.start, g.end, g.kind, Guarantee.PEACEKEEPING_FORCE.value)
        return g

    def _verb_led(self, guarantees: list[Hit], hits: list[Hit]) -> list[Hit]:
        """"to patrol Ukraine's airspace", "will train Ukrainian troops": a guarantee phrase
        led by a stance verb keeps the verb as a cue and names the guarantee after it (not
        after a determiner: "a monitoring mission" is one noun phrase)."""
        starts: dict[int, int] = {}
        for h in hits:
            if h.kind == "C" and h.value in ("positive", "negative"):
                starts[h.start] = max(starts.get(h.start, 0), h.end)
        leading = frozenset(cue_lexicon().words["leading"])
        out = []
        for g in guarantees:
            end = starts.get(g.start)
            if g.kind == "G" and end is not None and end < g.end and \
                    " ".join(self.lower[g.start:end]) in leading and (
                    g.start == 0 or self.lower[g.start - 1] not in DETERMINERS):
                g = Hit(end, g.end, g.kind, g.value)
            out.append(g)
        return out

    def _memberships(self, hits: list[Hit], parties_named: list[Hit]) -> list[Hit]:
        """"membership", "accession", "an invitation": membership of the organisation named
        nearest in the sentence, else of the one named last shortly before (discourse.toml)."""
        if not any(h.kind == "M" for h in hits):
            return hits
        lex = reference_lexicon()
        orgs = {"nato": Guarantee.NATO_MEMBERSHIP.value, "eu": Guarantee.EU_MEMBERSHIP.value}
        # blank lines between paragraphs are no sentences for the window
        starts = [s.start for s in self.doc.sents if not all(t.is_space for t in s)]
        # (position, guarantee) of every mention that names an organisation; a membership
        # word once resolved names it too, so a chain of them keeps its organisation
        named = sorted([(h.start, orgs[h.value]) for h in parties_named if h.value in orgs]
                       + [(h.start, h.value) for h in hits if h.kind == "G"
                          and h.value in orgs.values()])
        out: list[Hit] = []
        for h in hits:
            if h.kind != "M":
                out.append(h)
                continue
            text = " ".join(self.lower[h.start:h.end])
            nato_only = text in lex.membership_nato_only
            k = bisect_right(starts, h.start) - 1
            same = [(abs(pos - h.start), value) for pos, value in named
                    if bisect_right(starts, pos) - 1 == k
                    and (not nato_only or value == orgs["nato"])]
            value: str | None = min(same)[1] if same else None
            if value is None:
                # "an invitation" is NATO's even when the EU was named in between
                before = [(pos, value) for pos, value in named if pos < h.start
                          and k - (bisect_right(starts, pos) - 1) <= lex.membership_window
                          and (not nato_only or value == orgs["nato"])]
                value = before[-1][1] if before else None
            if value is None and h.value == "eu":
                value = orgs["eu"]
            if nato_only and value != orgs["nato"]:
                value = None
            if value is not None:
                out.append(Hit(h.start, h.end, "G", value))
                insort(named, (h.start, value))
        return out

    def _copular(self, guarantees: list[Hit]) -> list[Hit]:
        """"X is the best security guarantee" / "the best security guarantee is X": the general
        word is re-valued in place as X, and the praise word returned as a positive cue."""
        lex = reference_lexicon()
        lower = self.lower
        cues: list[Hit] = []
        general = Guarantee.SECURITY_GUARANTEE.value
        for n, g in enumerate(guarantees):
            if g.value != general or g.kind != "G":
                continue
            e = next((j for j in range(g.start - 1, max(-1, g.start - 4), -1)
                      if lower[j] in lex.evaluatives), None)
            if e is None:
                continue
            other: Hit | None = None
            # before: "X is the (most) cheapest ...", "X was in itself a major ..."
            j = e - 1
            while j > 0 and lower[j] in ("the", "a", "an", "most", "itself", "in", "still",
                                          "by", "far", '"', "“"):
                j -= 1
            cop = self._copula_ending(j)
            # "called membership the cheapest security guarantee": an object and its label
            labelled = next((prev for prev in guarantees[:n] if prev.end == j + 1
                             and prev.start > 0 and lower[prev.start - 1] in LABELLING), None)
            if labelled is not None and labelled.value != general:
                other = labelled
            elif cop is not None:
                for prev in reversed(guarantees[:n]):
                    if prev.value != general and 0 <= cop - prev.end <= 8 and not any(
                            w in (",", ".", ";", ":", "that", "which") for w in
                            lower[prev.end:cop]):
                        other = prev
                    break
            # after: "... security guarantee (for Ukraine) is/remained a strong army"
            if other is None and n + 1 < len(guarantees):
                j = g.end
                if j < len(lower) and lower[j] == "for":
                    j += 2
                cop_end = self._copula_starting(j)
                nxt = guarantees[n + 1]
                if cop_end is not None and nxt.value != general and \
                        0 <= nxt.start - cop_end <= 6:
                    other = nxt
            if other is not None:
                guarantees[n] = Hit(g.start, g.end, other.kind, other.value)
                cues.append(Hit(e, e + 1, "C", "positive"))
        return cues

    def _copula_ending(self, j: int) -> int | None:
        """Start of a copula whose last token is `j`, if there is one."""
        copulas = reference_lexicon().copulas
        if j >= 0 and self.lower[j] in copulas:
            return j
        if j >= 1 and f"{self.lower[j - 1]} {self.lower[j]}" in copulas:
            return j - 1
        return None

    def _copula_starting(self, j: int) -> int | None:
        """End of a copula starting at `j`, if there is one."""
        copulas = reference_lexicon().copulas
        if j + 1 < len(self.lower) and f"{self.lower[j]} {self.lower[j + 1]}" in copulas:
            return j + 2
        if j < len(self.lower) and self.lower[j] in copulas:
            return j + 1
        return None

    def _references(self, refs: list[Hit], named: list[Hit], cue_ends: set[int]) -> list[Hit]:
        """"the proposal", "the force", "a strip of land": noun phrases that stand for a
        guarantee named shortly before (data/discourse.toml), as hits of that guarantee; a
        typed plural needs no determiner right after a stance verb ("contribute vessels")."""
        if not refs or not named:
            return []
        lex = reference_lexicon()
        starts = [s.start for s in self.doc.sents if not all(t.is_space for t in s)]
        kinds: dict[tuple[int, int], set[str]] = {}
        for r in refs:
            kinds.setdefault((r.start, r.end), set()).add(r.value)
        taken = {i for g in named for i in range(g.start, g.end)}
        # (start, sentence, hit) of every guarantee named so far, in text order; not
        # "Russian troops", which are no guarantee
        memory = [(g.start, bisect_right(starts, g.start) - 1, g) for g in named
                  if not self._skip(g)]
        out: list[Hit] = []
        for r in _longest(refs):
            if any(i in taken for i in range(r.start, r.end)) or r.start == 0:
                continue
            if r.end < len(self.lower) and self.lower[r.end] in ("of", "for", "to"):
                continue
            det = {self.lower[r.start - 1], " ".join(self.lower[max(0, r.start - 2):r.start])}
            k = bisect_right(starts, r.start) - 1
            before = memory[:bisect_right(memory, r.start, key=lambda m: m[0])]
            values = kinds[(r.start, r.end)]
            typed = values - {"generic"}
            found: Hit | None = None
            bare = r.start in cue_ends and " ".join(self.lower[r.start:r.end]) in lex.bare
            if typed and (det & lex.typed_determiners or bare):
                for _, sent, g in reversed(before):
                    if k - sent > lex.typed_window:
                        break
                    if g.value in typed:
                        found = g
                        break
            if found is None and "generic" in values and det & lex.generic_determiners \
                    and before and k - before[-1][1] <= lex.generic_window:
                found = before[-1][2]
            if found is not None:
                hit = Hit(r.start, r.end, found.kind, found.value)
                out.append(hit)
                insort(memory, (r.start, k, hit), key=lambda m: m[0])
        return out

    def run(self) -> list[Position]:
        sents = list(self.doc.sents)
        names_by_sent = _bucket(self.names, sents)
        guarantees_by_sent = _bucket(self.guarantees, sents)
        cues_by_sent = _bucket(self.cues, sents)
        speakers: list[Actor | None] = self.speakers
        mentions_by_sent: list[list[Mention]] = []
        for k, sent in enumerate(sents):
            dateline = self._dateline_end(sent)
            spans = [(h.start, h.end, h.kind, h.value) for h in names_by_sent[k]
                     if h.start >= dateline]
            mentions = build_mentions(
                self.words, self.lower, self.title_case, spans, sent.start, sent.end,
                self.attr, self.in_guarantee, self.cue_tokens,
            )
            resolve(mentions, self.tracker, self.lower)
            speaker = self._speaker(sent, mentions, cues_by_sent[k])
            if speaker is not None:
                self._pronoun_after_speech(speaker, mentions, cues_by_sent[k])
            self.speaker_group = self._speaker_group(speaker, mentions, cues_by_sent[k])
            speakers.append(speaker)
            if speaker is not None and speaker.person:
                # "he" in the next sentence is most often the one who just spoke, not the
                # last person named inside an aside ("X, who met Y, said ...")
                self.tracker.person = speaker
            mentions_by_sent.append(mentions)
            if guarantees_by_sent[k]:
                self._sentence(sent, k, sents, mentions, guarantees_by_sent[k], cues_by_sent[k],
                               speakers)
        # A headline squeezes several clauses into one line: where the body gives the same
        # party a stance on the same guarantee, the body's stance stands alone.
        stated = {(key[0], key[2]) for key, f in self.found.items() if f.quality > 0}
        kept = [f for key, f in self.found.items()
                if f.quality > 0 or (key[0], key[2]) not in stated]
        return [
            Position(
                actor=f.actor.slug,
                party=f.actor.party,
                stance=f.stance,
                guarantee=f.guarantee,
                guarantor=f.guarantor,
                beneficiary=BENEFICIARY,
                evidence=f.evidence,
            )
            for f in kept
        ]

    def _dateline_end(self, sent: Span) -> int:
        """"ROME, Aug 21 (Reuters) - Italy will ...": the place and date before the dash name
        no one who speaks; the first token after the dash, else the sentence start."""
        first = self.words[sent.start]
        if not (first.isalpha() and first.isupper() and len(first) > 1):
            return sent.start
        for j in range(sent.start + 1, min(sent.end, sent.start + 15)):
            if self.lower[j] in ("-", "—", "–", "--"):
                return j + 1
        return sent.start

    # -- speakers -------------------------------------------------------------------------

    def _speaker(self, sent: Span, mentions: list[Mention], cues: list[Hit]) -> Actor | None:
        """Who the sentence reports: "X said", "said X", "X told", "according to X"."""
        speech = [c for c in cues if c.kind in ("S", "SP")]
        for cue in speech:
            if cue.kind == "SP":
                after = [m for m in mentions if cue.end <= m.start <= cue.end + 1 and m.actor]
                if after:
                    return after[0].actor
                continue
            after = [m for m in mentions if m.start == cue.end and m.actor]
            if after and after[0].kind.endswith("pronoun") and self.lower[cue.start - 1] == ",":
                after = []  # "X and Y, both members, said they ...": no inverted subject
            if after and (cue.start == sent.start or self.lower[cue.start - 1] in (",", '"', "”")):
                return after[0].actor
            head = self._appositive_subject(sent, cue, mentions)
            if head is not None:
                return head
            before = [m for m in mentions if m.end <= cue.start and m.actor
                      and cue.start - m.end <= 3 and not m.possessive
                      and not self._object_context(m)]
            if before:
                actor = before[-1].actor
                if before[-1].kind == "first":
                    continue
                return actor
        return None

    def _pronoun_after_speech(self, speaker: Actor, mentions: list[Mention],
                              cues: list[Hit]) -> None:
        """"Finland, which borders Russia, has said it will not ...": a pronoun right after
        the speech verb is the speaker when it fits (a person for "he", a state for "it")."""
        ends = {c.end for c in cues if c.kind == "S"}
        for m in mentions:
            if m.start not in ends and not (m.start - 1 in ends and self.lower[m.start - 1]
                                            == "that"):
                continue
            fits = (m.kind == "person-pronoun" and speaker.person) or (
                m.kind == "thing-pronoun" and not speaker.person)
            if fits and m.actor != speaker:
                m.actor, m.members = speaker, [speaker]
            if m.kind == "group-pronoun":
                # "Romania and Bulgaria, both NATO members, said they were ready"
                idx = next((n for n, s in enumerate(mentions) if s.actor == speaker
                            and s.end <= m.start), None)
                group = coordinated(mentions, idx, self.lower) if idx is not None else []
                if len(group) > 1:
                    m.actor, m.members = group[0], group

    def _speaker_group(self, speaker: Actor | None, mentions: list[Mention],
                       cues: list[Hit]) -> list[Actor]:
        """"Both leaders said": everyone the speaking mention stands for."""
        if speaker is None:
            return []
        speech = {c.start for c in cues if c.kind == "S"}
        for m in mentions:
            if m.actor == speaker and len(m.members) > 1 and m.kind in ("pair", "group-pronoun") \
                    and any(0 <= s - m.end <= 2 for s in speech):
                return list(m.members)
        return []

    def _appositive_subject(self, sent: Span, cue: Hit, mentions: list[Mention]
                            ) -> Actor | None:
        """"Lavrov, Russia's foreign minister, said" and "Healey, who co-chaired the meeting
        with Lecornu, said": the name before the inserted phrase speaks, not the last name."""
        j = cue.start - 1
        while j > sent.start and self.lower[j] in APPOSITIVE_AUX:
            j -= 1  # "Finland, which borders Russia, has said"
        if j <= sent.start or self.lower[j] != ",":
            return None
        name_starts = {n.start for n in self.names}
        for m in mentions:
            if m.end >= cue.start - 1 or m.actor is None or m.possessive or m.kind == "first":
                continue
            if m.end + 1 >= sent.end or self.lower[m.end] != ",":
                continue
            if self._object_context(m):
                continue
            nxt = self.lower[m.end + 1]
            if nxt in APPOSITIVE_OPENERS or m.end + 1 in name_starts:
                return m.actor
        return None

    def _object_context(self, m: Mention) -> bool:
        """Is the mention after a preposition ("to Ukraine") or "not" ("not the US")?"""
        k = m.start - 1
        while k >= 0 and (self.lower[k] in ("the", "a", "an") or self.lower[k] in REGIONS):
            k -= 1
        return k >= 0 and self.lower[k] in self.attr.not_subject

    def _in_place(self, m: Mention) -> bool:
        """Is the mention a place after a preposition of place ("bases in Poland")?"""
        k = m.start - 1
        while k >= 0 and (self.lower[k] in ("the", "a", "an") or self.lower[k] in REGIONS):
            k -= 1
        return k >= 0 and self.lower[k] in PLACE_PREPOSITIONS

    # -- positions ------------------------------------------------------------------------

    def _sentence(
        self,
        sent: Span,
        k: int,
        sents: list[Span],
        mentions: list[Mention],
        guarantees: list[Hit],
        cues: list[Hit],
        speakers: list[Actor | None],
    ) -> None:
        self.sentence_index = k
        speaker = speakers[k] or self._quote_speaker(k, sents, speakers)
        self.own_speaker = speakers[k] is not None
        evidence = self.text[sent.start_char:sent.end_char].strip()
        # A headline is a poor piece of evidence, the lead's summary a weak one: a body
        # sentence saying the same wins.
        headline = sent.start_char == 0 and "\n" in self.text
        lead = self._dateline_end(sent) > sent.start or (
            k == 1 and "\n" in self.text[:sent.start_char]
            and "\n" not in self.text[sents[0].end_char:sent.start_char].strip())
        quality = 0 if headline else (1 if lead else 2)
        boundaries = self._boundaries(sent, cues)
        previous: Hit | None = None
        previous_result: tuple[list[Actor], str | None, str | None] | None = None
        done: set[tuple[str, Guarantee]] = set()
        for g in guarantees:
            guarantee = Guarantee(g.value)
            if self._skip(g) or self._compared(g, sent):
                continue
            clause = max([b + 1 for b in boundaries if b < g.start], default=sent.start)
            start = max(clause, previous.end if previous else sent.start)
            if previous is not None and previous_result and (
                self._coordinated(previous, g) or self._continued(previous, g)
                or (g.start - previous.end <= 3 and not self._stance_cues(start, g, cues))
            ):
                holders, polarity, _ = previous_result
            else:
                self.provider = None
                holders, polarity = self._stance(sent, g, start, cues, mentions, speaker, clause)
                if polarity is None:
                    holders, polarity = self._relative(sent, g, cues, mentions, speaker)
                if polarity is None:
                    holders, polarity = self._passive_after(sent, g, cues, mentions)
            previous = g
            if speaker is not None and holders == [speaker] and self.speaker_group and \
                    self.own_speaker:
                holders = list(self.speaker_group)
            guarantor = self._guarantor(g, guarantee, cues, mentions, sent) or self.provider
            if self._reported_future(clause, g.start):
                holders, guarantor = _as_member(holders, speaker, guarantor)
            previous_result = (holders, polarity, guarantor)
            answer = self._answer_after(sent, g, cues, mentions, guarantees)
            if answer is not None and (answer.party, guarantee) not in done:
                done.add((answer.party, guarantee))
                self._add(answer, Stance.OPPOSES, guarantee, guarantor
                          if guarantor and guarantor == answer.party else None, evidence, quality)
            if polarity is None:
                continue
            for holder in holders:
                if (holder.party, guarantee) in done:
                    continue
                done.add((holder.party, guarantee))
                stance = _stance_of(polarity, holder)
                self._add(holder, stance, guarantee, guarantor, evidence, quality)

    def _answer_after(self, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention],
                      guarantees: list[Hit]) -> Actor | None:
        """"Kyiv pressed for a US guarantee, but Washington refused": a refusal with no object
        of its own in a later clause answers the guarantee before it."""
        lower = self.lower
        later = [h.start for h in guarantees if h.start > g.start]
        end = min([sent.end, *later])
        for b in range(g.end, end - 2):
            if lower[b] != "but":
                continue
            m = next((m for m in mentions if m.start in (b + 1, b + 2) and m.actor is not None
                      and m.kind in ("named", "party", "group") and not m.possessive), None)
            if m is None:
                return None
            j = m.end
            while j < end and lower[j] in ANSWER_FILLERS:
                j += 1
            cue = next((c for c in cues if c.kind == "C" and c.start == j
                        and c.value == "negative"), None)
            if cue is not None and (cue.end >= sent.end or lower[cue.end] in (",", ".", ";")):
                return m.actor
            return None
        return None

    def _relative(self, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention],
                  speaker: Actor | None) -> tuple[list[Actor], str | None]:
        """A relative clause after the guarantee names who holds it: "security guarantees,
        which Kyiv had sought", "the guarantee we are offering"."""
        lower = self.lower
        j = g.end
        if j < sent.end and lower[j] == ",":
            j += 1
        if j < sent.end and lower[j] in ("which", "that", "whom"):
            j += 1
        idx = next((n for n, m in enumerate(mentions) if m.start == j), None)
        if idx is None or (mentions[idx].actor is None and mentions[idx].kind != "first"):
            return [], None
        m = mentions[idx]
        k = m.end
        negated = False
        while k < sent.end and lower[k] in RELATIVE_AUX:
            negated ^= lower[k] in ("not", "n't", "never")
            k += 1
        cue = next((c for c in cues if c.kind == "C" and c.start == k
                    and c.value in ("positive", "negative")), None)
        # The relative clause's object is the guarantee: nothing of its own after the cue.
        if cue is None or (cue.end < sent.end and lower[cue.end].isalpha()
                           and lower[cue.end] not in RELATIVE_AFTER):
            return [], None
        holders = self._first_person(m, speaker) or coordinated(mentions, idx, lower)
        polarity = "negative" if (cue.value == "negative") != negated else "positive"
        return holders, polarity

    def _passive_after(self, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention]
                       ) -> tuple[list[Actor], str | None]:
        """"The idea was pushed by Poland, Estonia and Latvia": a passive after the guarantee
        names its holders after "by"."""
        lower = self.lower
        j = g.end
        be = False
        while j < min(sent.end, g.end + 5) and lower[j] in PASSIVE_FILLERS:
            be = be or lower[j] in BE
            j += 1
        cue = next((c for c in cues if c.kind == "C" and c.start == j
                    and c.value in ("positive", "negative")), None)
        if not be or cue is None or cue.end + 1 >= sent.end or lower[cue.end] != "by":
            return [], None
        k = cue.end + 1
        if lower[k] == "the":
            k += 1
        idx = next((n for n, m in enumerate(mentions) if m.start == k and m.actor), None)
        if idx is None:
            return [], None
        # the whole list after "by": walk to its last name, then collect it backwards
        while idx + 1 < len(mentions) and mentions[idx + 1].actor is not None and all(
                w in (",", "and", "&") for w in lower[mentions[idx].end:mentions[idx + 1].start]
        ) and mentions[idx + 1].start > mentions[idx].end:
            idx += 1
        return coordinated(mentions, idx, lower), cue.value

    def _compared(self, g: Hit, sent: Span) -> bool:
        """"would protect Ukraine better than European troops": the second term of a
        comparison is not what the cue is about (not "more than 10,000 troops")."""
        lower = self.lower
        # "free shipping is as much a security guarantee as any soldier": a likeness, no stance
        if g.start >= 3 and lower[g.start - 3] == "as" and lower[g.start - 1] in ("a", "an") \
                and g.end < sent.end and lower[g.end] == "as":
            return True
        for t in range(g.start - 1, max(sent.start, g.start - 5) - 1, -1):
            word = lower[t]
            if word in (",", ";", ":", ".") or t in self.in_guarantee:
                return False
            if word == "instead" and t + 1 < g.start and lower[t + 1] == "of":
                return True
            if word == "than":
                nxt = lower[t + 1]
                numeric = (lower[t - 1] in ("more", "fewer", "less", "up")
                           and (nxt[:1].isdigit() or nxt in ("a", "about", "some", "around",
                                                             "up", "several")))
                return not numeric
        return False

    def _boundaries(self, sent: Span, cues: list[Hit]) -> list[int]:
        """Tokens that end the clause a cue governs: boundary words, "said that" / "adding
        that", the closing quote of '"...," X said', a colon, and "as" opening a new clause
        with its own subject ("X pledges troops as Y signals support")."""
        out = [c.start for c in cues if c.kind == "C" and c.value == "boundary"
               and not self._parenthetical(c)]
        name_starts = {n.start for n in self.names}
        for c in cues:
            if c.kind == "S" and self._subject_at(c.end, sent, name_starts) and \
                    self.lower[c.start] not in self.attr.not_subject:
                # "he said this week he opposed ...": the reported clause starts after the verb
                out.append(c.end - 1)
            if c.kind == "S":
                for j in range(c.end, min(c.end + 4, sent.end)):
                    if self.lower[j] == "that":
                        out.append(j)
                        break
                    if self.lower[j] in (",", ".", '"', "“", "”", ":"):
                        break
        out += [i for i in range(sent.start + 1, sent.end - 1)
                if self._colon(i, sent) or self._closing_quote(i)
                or self._as_clause(i, name_starts) or self._and_clause(i, sent, name_starts)
                or self._with_clause(i, sent, name_starts)]
        return sorted(set(out))

    def _with_clause(self, i: int, sent: Span, name_starts: set[int]) -> bool:
        """", with Brazil's adviser suggesting a buffer zone": an absolute clause with a
        subject of its own ends the clause before it."""
        return self.lower[i] == "with" and self.lower[i - 1] == "," and \
            self._subject_at(i + 1, sent, name_starts) and \
            self.lower[i + 1] not in SUBJECT_PRONOUNS and \
            "," not in self.lower[i + 1:min(sent.end, i + 9)]  # not ", with X's support, are"

    def _parenthetical(self, c: Hit) -> bool:
        """"He questioned, however, whether ...": an adverb between commas ends no clause."""
        return (self.lower[c.start] in PARENTHETICAL and c.start > 0 and c.end < len(self.lower)
                and self.lower[c.start - 1] == "," and self.lower[c.end] == ",")

    def _subject_at(self, j: int, sent: Span, name_starts: set[int]) -> bool:
        """Does a subject (a name, "the" and a name, or a personal pronoun) start at `j`?"""
        if j >= sent.end:
            return False
        if j in name_starts or self.lower[j] in SUBJECT_PRONOUNS:
            return True
        return self.lower[j] == "the" and j + 1 in name_starts

    def _and_clause(self, i: int, sent: Span, name_starts: set[int]) -> bool:
        """", and the Kremlin has insisted ...": a new subject after ", and" opens a clause
        of its own, so a cue of the clause before does not compose with its cues."""
        if self.lower[i] != "and":
            return False
        that = i + 1 < sent.end and self.lower[i + 1] == "that"
        if that and "that" in self.lower[sent.start:i]:
            return True  # "said that X ... and that Y": a second reported clause
        return self.lower[i - 1] == "," and (
            self._subject_at(i + 1, sent, name_starts) or that)  # ", and that ..."

    def _colon(self, i: int, sent: Span) -> bool:
        return self.lower[i] == ":" and i > sent.start + 2

    def _closing_quote(self, i: int) -> bool:
        """The closing mark of '"...," X said' (after punctuation, or before a comma)."""
        return self.lower[i] in ('"', "”") and (
            self.lower[i - 1] in (",", ".", "?", "!") or self.lower[i + 1] == ",")

    def _as_clause(self, i: int, name_starts: set[int]) -> bool:
        """"as Washington weighs ...", not "such as Britain" or "as well as"."""
        if self.lower[i] != "as" or self.lower[i - 1] in ("such", "well", "same", "so", "just",
                                                           "known"):
            return False
        return i + 1 in name_starts or (self.lower[i + 1] == "the" and i + 2 in name_starts)

    def _skip(self, g: Hit) -> bool:
        """Troops of Russia or Ukraine are not a peacekeeping force, nor are fallen soldiers
        or "the presence of" something named after it."""
        if self._contrasted(g):
            return True
        if g.kind == "GI" and g.value == Guarantee.NATO_MEMBERSHIP.value:
            # "Irish neutrality" is Ireland's own status, no curb on Ukraine's membership
            return any(n.end == g.start and n.kind in ("J", "P") and n.value != BENEFICIARY
                       for n in self.names)
        if g.value == Guarantee.AIR_SEA_PROTECTION.value:
            # "air policing over its own territory": a neighbour guarding itself
            after = self.lower[g.end:g.end + 3]
            return "own" in after and any(w in ("its", "their", "our") for w in after)
        if g.value == Guarantee.MILITARY_STRENGTH.value:
            # "the Russian army" is no stance on Ukraine's own forces
            return any(n.end == g.start and n.kind in ("J", "P") and n.value in FOREIGN_ARMIES
                       for n in self.names)
        if g.value != Guarantee.PEACEKEEPING_FORCE.value:
            return False
        if g.start > 0 and self.lower[g.start - 1] in CASUALTIES:
            return True
        if g.start > 2 and self.lower[g.start - 1][:1].isdigit() and any(
                w in ("army", "military", "forces") for w in self.lower[g.start - 4:g.start - 1]):
            return True  # "cap the army at 600,000 troops" is a size, no foreign force
        if g.end - g.start == 1 and self.lower[g.start] == "presence" and \
                g.end < len(self.lower) and self.lower[g.end] == "of":
            return True
        for name in self.names:
            if name.end <= g.start and g.start - name.end <= 1 and name.kind in ("J", "P"):
                return name.value in ("rus", "ukr", "blr", "prk")
        return False

    def _contrasted(self, g: Hit) -> bool:
        """"Japan offers investment, not troops": the guarantee set against what is offered
        takes no stance from the clause's cue."""
        j = g.start
        if j > 0 and self.lower[j - 1] in ("any", "its", "their", "the"):
            j -= 1
        before = self.lower[max(0, j - 2):j]
        return before in ([",", "not"], ["but", "not"], ["and", "not"], ["rather", "than"],
                          ["instead", "of"])

    def _stance_cues(self, start: int, g: Hit, cues: list[Hit]) -> list[Hit]:
        """Stance cues between `start` and the guarantee whose scope reaches it."""
        return [c for c in cues if c.kind in ("C", "CA") and start <= c.start and c.end <= g.start
                and c.value in ("positive", "negative", "doubt") and not self._closed(c, g)]

    def _closed(self, cue: Hit, g: Hit) -> bool:
        """A cue with its own object before the guarantee ("stop the fighting and ...")."""
        j = cue.end
        while j < g.start and self.lower[j] in ("the", "a", "an", "any", "its", "their", "his",
                                                 "her", "this", "that"):
            j += 1
        if j + 1 >= g.start:
            return False
        word = self.words[j]
        return (word.isalpha() and word.islower() and j not in self.cue_tokens
                and self.lower[j] not in FUNCTION_WORDS
                and j not in self.in_guarantee
                and self.lower[j + 1] in ("and", ",", '"', "”", ".", "or", ";"))

    def _reported_future(self, begin: int, end: int) -> bool:
        """A modal or an obligation in the clause: "would", "could", "had to", "must"."""
        words = self.lower[begin:end]
        return any(w in MODALS or w in OBLIGATION for w in words) or any(
            f"{a} {b}" in OBLIGATION for a, b in pairwise(words))

    def _continued(self, previous: Hit, g: Hit) -> bool:
        """"... Ukraine's security, including through a presence on the ground": a part of
        the guarantee before shares its stance."""
        gap = [w for w in self.lower[previous.end:g.start] if w not in ('"', "“", "”")]
        return 2 <= len(gap) <= 6 and gap[0] == "," and gap[1] in CONTINUATIONS and not any(
            w in (",", ";", ".") for w in gap[2:])

    def _coordinated(self, previous: Hit, g: Hit) -> bool:
        gap = self.lower[previous.end:g.start]
        return len(gap) <= 3 and all(w in (",", "and", "or", "nor", "as", "well", "&")
                                     for w in gap)

    def _stance(
        self,
        sent: Span,
        g: Hit,
        start: int,
        cues: list[Hit],
        mentions: list[Mention],
        speaker: Actor | None,
        clause: int | None = None,
    ) -> tuple[list[Actor], str | None]:
        """Polarity ("positive", "negative", "doubt") of the clause before a guarantee, and
        who holds it."""
        window = [c for c in cues if c.kind == "C" and start <= c.start and c.end <= g.start]
        if any(c.value == "neutral" for c in window):
            # "has not said whether it would provide ...": an open question, no stance
            return [], None
        if self._not_enough_alone(sent, g, cues):
            return ([speaker] if speaker else self._holders(
                sent, g, None, mentions, speaker, [], clause, verdict=True)), "doubt"
        stance_cues = self._stance_cues(start, g, cues)
        negators = [c for c in window if c.value == "negator" and not self._contrastive(c)
                    and not self._negator_closed(c, stance_cues, g)]
        head: Hit | None = stance_cues[0] if stance_cues else None
        owner = self._possessive_owner(g, mentions)
        after_near = [c.value for c in self._after_cues(sent, g, cues) if c.start - g.end <= 2]
        if any(self.lower[i] in self._after_words for i in range(g.start, g.end)):
            after_near.append("positive")  # "NATO membership bid"
        # "Ukraine's membership is excluded": a refusal after it is not the owner's bid
        refused = bool(after_near) and after_near[0] == "negative" and not stance_cues
        if owner is not None and after_near and not refused and not any(
            c.value in ("positive", "negative") and 0 <= g.start - c.end <= 4
            for c in stance_cues
        ):
            polarity = "doubt" if after_near[0] == "doubt" else "positive"
            self.provider = None
            return [owner], polarity
        without = [c for c in negators if self.lower[c.start] == "without"
                   and g.start - c.end <= 5]
        verdict = False
        if without:
            negators = [c for c in negators if self.lower[c.start] != "without"]
            others = [c for c in cues if c.kind == "C" and (
                c.value == "negative" or (c.value == "negator"
                                          and self.lower[c.start] != "without"))]
            if not others:
                return [], None
            polarity = "positive"
            head = head or without[0]
        else:
            after = self._after_cues(sent, g, cues)
            if not stance_cues and not after:
                return [], None
            # "Ukraine's membership of NATO is excluded": a verdict after the guarantee is
            # the speaker's or the subject's before it, not the possessive owner's
            verdict = not stance_cues and after[0].value != "positive"
            if any(c.value == "doubt" for c in stance_cues + after):
                polarity = "doubt"
            elif not stance_cues and after and after[0].value == "negative":
                polarity = "negative"
            else:
                if not stance_cues:
                    stance_cues = after[:1]
                    # "Polish soldiers would not be deployed": a negator between the
                    # guarantee and the cue after it turns that cue around
                    negators = negators + [
                        c for c in cues if c.kind == "C" and c.value == "negator"
                        and g.end <= c.start and c.end <= after[0].start
                        and "," not in self.lower[g.end:c.start]
                        # "would not be deployed on the front line but would deter ...":
                        # a place is refused, not the force
                        and "but" not in self.lower[after[0].end:min(sent.end,
                                                                     after[0].end + 8)]]
                negatives = sum(c.value == "negative" for c in stance_cues) + len(negators)
                if self._curbed_after(sent, g, cues):
                    negatives += 1  # "demanded that Ukraine's army be capped"
                if g.kind == "GI":
                    negatives += 1
                polarity = "negative" if negatives % 2 else "positive"
                # "not ready to give a date"; "did not reject the proposal outright"
                timing = polarity == "negative" and self._about_timing(sent, g, start)
                partial = (polarity == "positive" and bool(negators)
                           and any(c.value == "negative" for c in stance_cues)
                           and self._partial(sent, g, start))
                if timing or partial:
                    polarity = "doubt"
        holders = self._holders(sent, g, head, mentions, speaker, stance_cues, clause,
                                verdict=verdict)
        if head is not None and self.lower[head.start] in DESERVING and speaker is not None \
                and speaker.party != BENEFICIARY and holders \
                and all(h.party == BENEFICIARY for h in holders):
            # "X said Ukraine deserved guarantees": X backs them; Ukraine only receives
            holders = [speaker]
        self.provider = self._provider(stance_cues, mentions, holders)
        return holders, polarity

    def _curbed_after(self, sent: Span, g: Hit, cues: list[Hit]) -> bool:
        """"demanded that Ukraine's armed forces be capped": a curb in the passive right after
        the guarantee turns the cue before it around."""
        return any(c.value == "negative" and c.start - g.end <= 1
                   and self.lower[c.start] in ("be", "been")
                   for c in self._after_cues(sent, g, cues))

    def _not_enough_alone(self, sent: Span, g: Hit, cues: list[Hit]) -> bool:
        """"unarmed observers alone would not stop an offensive": the guarantee is doubted as
        insufficient on its own, neither refused nor backed."""
        j = g.end
        for words in ALONE:
            if tuple(self.lower[j:j + len(words)]) == words:
                j += len(words)
                return any(c.kind == "C" and c.value == "negator" and j <= c.start < j + 3
                           and c.end <= sent.end for c in cues)
        return False

    def _provider(
        self, chain: list[Hit], mentions: list[Mention], holders: list[Actor]
    ) -> str | None:
        """"expects Europe, not the US, to provide": the subject of a later cue in the chain."""
        held = {h.party for h in holders}
        for before, cue in pairwise(chain):
            for m in reversed(mentions):
                if before.end <= m.start and m.end <= cue.start and m.actor is not None \
                        and not m.possessive and not self._object_context(m) \
                        and m.kind not in ("first",) and m.actor.party not in held \
                        and m.actor.party not in NOT_GUARANTORS:
                    return m.actor.party
        return None

    def _possessive_owner(self, g: Hit, mentions: list[Mention]) -> Actor | None:
        """"Kyiv's NATO bid": the possessive right before the guarantee."""
        for m in mentions:
            if m.possessive and m.actor and m.end + 1 == g.start and m.kind != "first":
                return m.actor
        return None

    def _negator_closed(self, negator: Hit, stance_cues: list[Hit], g: Hit) -> bool:
        """"position had not changed, pointing to a vote in which X rejected ...": a negator
        whose own verb ends before a comma does not reach the cue after it."""
        target = next((c.start for c in stance_cues if c.start >= negator.end), g.start)
        if "unless" in self.lower[negator.end:g.start]:
            return True  # "no ceasefire will last unless it is backed by guarantees"
        return "," in self.lower[negator.end:target]

    def _contrastive(self, negator: Hit) -> bool:
        """"not the US" or "not only" are not negations of the cue."""
        j = negator.end
        if j < len(self.lower) and self.lower[j] in ("only", "just", "least"):
            return True
        if negator.start > 0 and self.lower[negator.start - 1] == "," and \
                j + 1 < len(self.lower) and self.lower[j].isalpha() and \
                self.lower[j + 1] in ('"', "”", "’", ",", ";"):
            return True  # 'expected "decisions, not declarations" on its accession'

        while j < len(self.lower) and self.lower[j] in ("the", "a"):
            j += 1
        return any(n.start == j and n.kind in ("P", "A") for n in self.names)

    def _after_cues(self, sent: Span, g: Hit, cues: list[Hit]) -> list[Hit]:
        """Cues after the guarantee, before the next one: near for praise ("bid", "is
        needed"), a little further for a verdict ("... would be considered a legitimate
        target")."""
        limit = sent.end
        for other in self.guarantees:
            if other.start >= g.end:
                limit = min(limit, other.start)
                break
        return [c for c in cues if c.kind == "CA" and g.end <= c.start and c.end <= limit
                and (c.end <= g.end + (6 if c.value == "positive" else AFTER_VERDICT)
                     or (c.start <= g.end + AFTER_VERDICT and self._copular_verdict(g, c)))]

    def _copular_verdict(self, g: Hit, c: Hit) -> bool:
        """"any naval escort for Ukrainian cargo would be regarded as 'a party to the
        conflict'": a verdict after a copula, with no comma or other clause between."""
        gap = self.lower[g.end:c.start]
        return any(w in BE for w in gap) and not any(
            w in (",", ";", ":", "that", "which", "who", "and", "but") for w in gap)

    def _partial(self, sent: Span, g: Hit, start: int) -> bool:
        """"did not reject the proposal outright": a partial word near the guarantee."""
        return any(c.kind == "C" and c.value == "partial" and start <= c.start < g.end + 3
                   for c in self.cues)

    def _about_timing(self, sent: Span, g: Hit, start: int) -> bool:
        timing = self._timing_words
        end = min(sent.end, g.end + 8)
        if any(self.lower[i] in timing for i in range(start, end)):
            return True
        # phrases: "did not expect an invitation for many years"
        text = " " + " ".join(self.lower[start:end]) + " "
        return any(" " in w and f" {w} " in text for w in timing)

    def _holders(
        self,
        sent: Span,
        g: Hit,
        head: Hit | None,
        mentions: list[Mention],
        speaker: Actor | None,
        chain: list[Hit] | None = None,
        clause: int | None = None,
        verdict: bool = False,
    ) -> list[Actor]:
        """The subject of the cue chain before the guarantee (or the possessive before a cue
        noun: "Kiev's demands"), else the speaker of the sentence.

        The subject is looked for in the guarantee's own clause first ("..., adding that
        Finland was ready"); a clause without one ("but stressed that no troops would be
        sent") belongs to the sentence's speaker before any name of an earlier clause."""
        anchor = head.start if head is not None else g.start
        if head is not None and self._passive_of_recipient(head, sent):
            return []
        owner = self._position_owner(sent, anchor, mentions)
        if owner is not None:
            return [owner]
        absolute = self._absolute_subject(clause, anchor, mentions)
        if absolute is not None:
            return absolute
        for idx, m in enumerate(mentions):
            if verdict:
                break
            if m.possessive and m.actor and 0 <= anchor - (m.end + 1) <= 2 and \
                    all(self.lower[i].isalpha() for i in range(m.end + 1, anchor)):
                found = self._first_person(m, speaker) or coordinated(mentions, idx, self.lower)
                return self._with_support(sent, m, mentions, speaker, found)
        begins = [sent.start]
        if clause is not None and clause > sent.start:
            begins.insert(0, clause)
        for n, begin in enumerate(begins):
            if n == 1 and speaker is not None and self.own_speaker:
                return [speaker]
            # The first cue of the chain that has a subject of its own.
            for cue in chain or ([head] if head else []):
                # a verdict after the guarantee: its subject is the guarantee, not a name
                # inside the verdict ("would be something Ukraine can rely on")
                subject = self._subject_before(mentions, begin, min(cue.start, g.start), speaker)
                if subject is not None:
                    return subject
        subject = self._subject_before(mentions, sent.start, anchor, speaker)
        if subject is not None:
            return subject
        return [speaker] if speaker else []

    def _absolute_subject(self, clause: int | None, anchor: int, mentions: list[Mention]
                          ) -> list[Actor] | None:
        """The subject of ", with X('s adviser) suggesting ...": the name right after "with",
        or its owner when a title follows the possessive."""
        if clause is None or clause < 2 or self.lower[clause - 1] != "with" or \
                self.lower[clause - 2] != ",":
            return None
        j = clause + (self.lower[clause] == "the")
        for idx, m in enumerate(mentions):
            if m.start == j and m.actor is not None and m.end <= anchor:
                if m.possessive:
                    return [m.actor]
                # "with Washington and Budapest resisting": the whole list holds it
                while idx + 1 < len(mentions) and mentions[idx + 1].actor is not None and \
                        mentions[idx + 1].end <= anchor and \
                        mentions[idx + 1].start > mentions[idx].end and all(
                        w in (",", "and") for w in
                        self.lower[mentions[idx].end:mentions[idx + 1].start]):
                    idx += 1
                return coordinated(mentions, idx, self.lower)
        return None

    def _with_support(self, sent: Span, m: Mention, mentions: list[Mention],
                      speaker: Actor | None, found: list[Actor]) -> list[Actor]:
        """"Lithuania and Estonia, with Poland's support, are pushing for ...": the subject
        before the inserted "with X's support" holds the stance too."""
        k = m.start - 1
        if k - 1 <= sent.start or self.lower[k] != "with" or self.lower[k - 1] != ",":
            return found
        subject = self._subject_before(mentions, sent.start, k - 1, speaker) or []
        return [*subject, *(a for a in found if a not in subject)]

    def _position_owner(self, sent: Span, anchor: int, mentions: list[Mention]
                        ) -> Actor | None:
        """"Moscow's position that Kyiv must renounce ...": the owner of a stated position
        holds what the that-clause demands, not the subject inside it."""
        for m in mentions:
            if not (m.possessive and m.actor) or m.kind == "first":
                continue
            noun = m.end + 1
            if noun + 1 < anchor and self.lower[noun] in POSITION_NOUNS and \
                    self.lower[noun + 1] == "that":
                return m.actor
        return None

    def _passive_of_recipient(self, head: Hit, sent: Span) -> bool:
        """"Ukraine was granted candidate status": the subject of a passive of giving receives
        the guarantee and takes no stance (not "was prepared to", "was backed by")."""
        word = self.lower[head.start]
        if head.end - head.start != 1 or not (word.endswith("ed") or word in PARTICIPLES):
            return False
        j = head.start - 1
        while j > sent.start and self.lower[j] in ("also", "already", "formally", "never",
                                                   "first", "not", "n't"):
            j -= 1
        nxt = self.lower[head.end] if head.end < sent.end else ""
        return self.lower[j] in BE and nxt not in ("to", "by", "with", "that", "in", "on")

    def _subject_before(
        self, mentions: list[Mention], begin: int, end: int, speaker: Actor | None
    ) -> list[Actor] | None:
        if self._quantified_subject(begin, end):
            return []
        for idx in range(len(mentions) - 1, -1, -1):
            m = mentions[idx]
            if m.end > end or m.start < begin:
                continue
            if m.possessive or self._object_context(m) or m.actor is None:
                continue
            if any(i in self.in_guarantee for i in range(m.start, m.end)):
                continue
            if m.kind == "first":
                return [speaker] if speaker else []
            first = coordination_start(mentions, idx, self.lower)
            if first != idx and self._in_place(mentions[first]):
                # "jets flying from bases in Poland and Romania will ...": places, no subject
                continue
            return coordinated(mentions, idx, self.lower)
        return None

    def _quantified_subject(self, begin: int, end: int) -> bool:
        """"but few pledged troops", "a point several ministers echoed": a subject counted,
        not named, holds nothing we can name."""
        j = end - 1
        while j >= begin and self.lower[j] in SUBJECT_FILLERS:
            j -= 1
        if j < begin:
            return False
        if self.lower[j] in QUANTIFIERS:
            return j == begin or self.lower[j - 1] not in ("the", "a", "an", "of")
        return (j - 1 >= begin and self.lower[j - 1] in QUANTIFIERS and self.words[j].isalpha()
                and self.words[j].islower() and self.lower[j] not in FUNCTION_WORDS
                and (j - 1 == begin or self.lower[j - 2] not in ("the", "a", "an", "of")))

    def _first_person(self, m: Mention, speaker: Actor | None) -> list[Actor] | None:
        if m.kind == "first":
            return [speaker] if speaker else []
        return None

    def _quote_speaker(self, k: int, sents: list[Span], speakers: list[Actor | None]
                       ) -> Actor | None:
        """A quotation whose speaker is named in the sentence before or after."""
        sent = sents[k]
        if not any(w in ('"', "“", "”") for w in self.lower[sent.start:sent.end]):
            return None
        if k + 1 < len(sents) and speakers[k] is None:
            nxt = sents[k + 1]
            mentions_next = [n for n in self.names if nxt.start <= n.start < nxt.start + 3]
            if mentions_next and mentions_next[0].kind == "A":
                return Actor(mentions_next[0].value, actors()[mentions_next[0].value].party,
                             person=True)
        j = k - 1
        # a paragraph that opens with a quotation goes on with the speaker before the blank
        opens = self.lower[sent.start] in ('"', "“")
        while opens and j > 0 and speakers[j] is None and all(t.is_space for t in sents[j]):
            j -= 1
        return speakers[j] if j >= 0 and k > 0 else None

    def _guarantor(
        self,
        g: Hit,
        guarantee: Guarantee,
        cues: list[Hit],
        mentions: list[Mention],
        sent: Span,
    ) -> str | None:
        """Who would provide it, where the text says: "European peacekeepers", "troops from
        NATO countries", "expects Europe to provide"."""
        fixed = {lex.guarantee: lex.guarantor for lex in guarantee_lexicons()}.get(guarantee)
        if fixed:
            return fixed
        modifiers = [n.value for n in self.names if n.kind in ("J", "P")
                     and (g.start <= n.start < g.end or 0 <= g.start - n.end <= 3)
                     and all(w in ("and", ",", "-", '"', "“", "”", "'s", "’s")
                             or (w.isalpha() and w not in FUNCTION_WORDS)
                             for w in self.lower[n.end:g.start])
                     and not any(i in self.cue_tokens for i in range(n.end, g.start))
                     and not (n.start > 0 and self.lower[n.start - 1] == "not")
                     and n.start >= sent.start]
        modifiers = [m for m in modifiers if m not in NOT_GUARANTORS]
        if modifiers:
            return _group(modifiers)
        after = [n for n in self.names if n.kind in ("J", "P", "A") and g.end <= n.start
                 < min(sent.end, g.end + 12) and n.start > 0
                 and (self.lower[n.start - 1] in ("from", "by")
                      or (n.start > 1 and self.lower[n.start - 2] in ("from", "by")
                          and self.lower[n.start - 1] == "the"))]
        for n in after:
            party = _party_of(n)
            if party and party not in NOT_GUARANTORS:
                return party
        return None

    def _add(self, holder: Actor, stance: Stance, guarantee: Guarantee, guarantor: str | None,
             evidence: str, quality: int) -> None:
        if not holder.party or holder.party not in parties():
            return
        if guarantor is None:
            guarantor = _default_guarantor(holder, stance, guarantee)
        self.proposals.append(Proposal(self.sentence_index, holder.slug, holder.party, stance,
                                       guarantee, guarantor, quality))
        key = (holder.party, stance, guarantee)
        old = self.found.get(key)
        if old is not None and old.quality >= quality:
            return
        if old is not None:  # keep the first holder and guarantor, take the better sentence
            holder, guarantor = old.actor, old.guarantor
        self.found[key] = Found(holder, stance, guarantee, guarantor, evidence, quality)


def _as_member(holders: list[Actor], speaker: Actor | None, guarantor: str | None
               ) -> tuple[list[Actor], str | None]:
    """"Macron said European allies would ...": a group the speaker's state belongs to speaks
    through the speaker, who holds the position with the group as guarantor (the caller
    checks the clause is a reported future or possibility)."""
    if speaker is None:
        return holders, guarantor
    groups = memberships().get(speaker.party, frozenset())
    out: list[Actor] = []
    for holder in holders:
        if holder.party in groups:
            guarantor = guarantor or holder.party
            holder = speaker
        if holder not in out:
            out.append(holder)
    return out, guarantor


def _party_of(hit: Hit) -> str | None:
    if hit.kind == "A":
        return actors()[hit.value].party
    return hit.value


def _group(codes: list[str]) -> str:
    """One guarantor for "British and French troops" (Europe) or "American" (usa)."""
    unique = list(dict.fromkeys(codes))
    if len(unique) > 1 and all("europe" in memberships().get(c, ()) or c in ("europe", "eu")
                                for c in unique):
        return "europe"
    return unique[0]


def _default_guarantor(holder: Actor, stance: Stance, guarantee: Guarantee) -> str | None:
    if holder.party == BENEFICIARY:
        return None
    if stance in (Stance.BACKS, Stance.OPPOSES):
        return holder.party
    return None


def _stance_of(polarity: str, holder: Actor) -> Stance:
    if polarity == "doubt":
        return Stance.DOUBTS
    if polarity == "negative":
        return Stance.OPPOSES
    return Stance.SEEKS if holder.party == BENEFICIARY else Stance.BACKS


def _longest_per_kind(hits: list[Hit]) -> list[Hit]:
    """Cue hits: speech cues and stance cues may share a token, stance cues among themselves
    keep the longest."""
    speech = _longest([h for h in hits if h.kind in ("S", "SP")])
    stance = _longest([h for h in hits if h.kind == "C" and h.value not in (
        "negator", "timing", "boundary", "partial")])
    after = _longest([h for h in hits if h.kind == "CA"])
    extra = [h for h in hits if h.kind == "C" and h.value in ("negator", "timing", "boundary",
                                                              "partial")]
    taken = {i for h in stance for i in range(h.start, h.end)}
    extra = [h for h in _longest(extra) if not any(i in taken for i in range(h.start, h.end))
             or h.value == "timing"]
    return sorted(speech + stance + after + extra, key=lambda h: (h.start, h.end))


def _bucket(hits: list[Any], sents: list[Span]) -> list[list[Any]]:
    """Hits grouped by the sentence they start in."""
    out: list[list[Any]] = [[] for _ in sents]
    starts = [s.start for s in sents]
    k = 0
    for hit in sorted(hits, key=lambda h: h.start):
        while k + 1 < len(starts) and starts[k + 1] <= hit.start:
            k += 1
        out[k].append(hit)
    return out
