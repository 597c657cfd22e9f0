"""Guarantee spans: where an article names a guarantee, and which.

The lexicon's phrases are the start; around them this stage resolves what a phrase alone cannot
say: "membership" of which organisation, "the proposal" standing for a guarantee named before,
"X is the best security guarantee" (X is meant), a verb that leads the phrase ("to patrol
Ukraine's airspace"), a state's own forces sent abroad, and the guarantees that are no stance at
all (Russian troops, fallen soldiers, "better than European troops").
"""

from __future__ import annotations

from bisect import bisect_right, insort
from typing import TYPE_CHECKING

from spacy.tokens import Span

from bot.extraction.lexicon import cue_lexicon, reference_lexicon
from bot.extraction.rules.pipeline import Hit, longest
from bot.vocabulary import Guarantee

if TYPE_CHECKING:
    from bot.extraction.rules.state import ArticleState

DETERMINERS = frozenset({"a", "an", "the", "any", "its", "their", "his", "her", "our", "this",
                         "that", "such", "no", "every", "each"})
# Verbs that give their object a label: "called membership the best guarantee".
LABELLING = frozenset({"called", "calls", "call", "calling", "described", "describes",
                       "considers", "considered", "deemed", "sees", "saw", "branded"})
CASUALTIES = frozenset({"fallen", "dead", "killed", "wounded", "captured", "missing",
                        "injured", "deceased"})
# Parties whose own army is never the beneficiary's military strength.
FOREIGN_ARMIES = frozenset({"rus", "blr", "prk"})
# Parties whose troops are no peacekeeping force, besides the article's beneficiary.
BELLIGERENTS = frozenset({"rus", "ukr", "blr", "prk"})


def find_guarantees(st: ArticleState, hits: list[Hit]) -> tuple[list[Hit], list[Hit]]:
    """The article's guarantees in text order, and the praise words of copular sentences as
    positive cues. Adds to `hits` the party-led phrases it accepts ("Japanese firms")."""
    party_ends = {n.end for n in st.names if n.kind in ("J", "P")}
    # "Japanese firms": words that are a guarantee only right after a party word
    hits += [Hit(h.start, h.end, "G", h.value) for h in hits
             if h.kind == "GP" and h.start in party_ends]
    guarantees = longest([h for h in hits if h.kind in ("G", "GI", "M")])
    guarantees = memberships_named(st, guarantees, [h for h in st.names if h.kind in ("P", "J")])
    guarantees = [sent_abroad(st, g) for g in guarantees]
    guarantees = verb_led(st, guarantees, hits)
    cue_ends = {h.end for h in hits if h.kind == "C" and h.value in ("positive", "negative")}
    guarantees += references(st, [h for h in hits if h.kind == "R"], guarantees, cue_ends)
    guarantees.sort(key=lambda h: h.start)
    praise = copular(st, guarantees)
    return guarantees, praise


def sent_abroad(st: ArticleState, g: Hit) -> Hit:
    """"would not send its own forces to Ukraine": a state's own forces sent abroad are a
    foreign force, not Ukraine's army."""
    lower = st.lower
    if g.value != Guarantee.MILITARY_STRENGTH.value or lower[g.start] != "own" or \
            g.start < 2 or lower[g.start - 1] not in ("its", "their", "our", "his", "her"):
        return g
    verb = lower[g.start - 2]
    if verb in cue_lexicon().words["sending"]:
        return Hit(g.start, g.end, g.kind, Guarantee.PEACEKEEPING_FORCE.value)
    return g


def verb_led(st: ArticleState, guarantees: list[Hit], hits: list[Hit]) -> list[Hit]:
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
                " ".join(st.lower[g.start:end]) in leading and (
                g.start == 0 or st.lower[g.start - 1] not in DETERMINERS):
            g = Hit(end, g.end, g.kind, g.value)
        out.append(g)
    return out


def sentence_starts(st: ArticleState) -> list[int]:
    """Where each sentence starts, leaving out those of whitespace tokens alone (the blank
    lines between paragraphs; `str.isspace` is spaCy's IS_SPACE)."""
    return [s.start for s in st.doc.sents
            if not all(w.isspace() for w in st.words[s.start:s.end])]


def memberships_named(st: ArticleState, hits: list[Hit], parties_named: list[Hit]) -> list[Hit]:
    """"membership", "accession", "an invitation": membership of the organisation named
    nearest in the sentence, else of the one named last shortly before (discourse.toml)."""
    if not any(h.kind == "M" for h in hits):
        return hits
    lex = reference_lexicon()
    orgs = {"nato": Guarantee.NATO_MEMBERSHIP.value, "eu": Guarantee.EU_MEMBERSHIP.value}
    # blank lines between paragraphs are no sentences for the window
    starts = sentence_starts(st)
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
        text = " ".join(st.lower[h.start:h.end])
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


def copular(st: ArticleState, guarantees: list[Hit]) -> list[Hit]:
    """"X is the best security guarantee" / "the best security guarantee is X": the general
    word is re-valued in place as X, and the praise word returned as a positive cue."""
    lex = reference_lexicon()
    lower = st.lower
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
        cop = copula_ending(st, j)
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
            cop_end = copula_starting(st, j)
            nxt = guarantees[n + 1]
            if cop_end is not None and nxt.value != general and \
                    0 <= nxt.start - cop_end <= 6:
                other = nxt
        if other is not None:
            guarantees[n] = Hit(g.start, g.end, other.kind, other.value)
            cues.append(Hit(e, e + 1, "C", "positive"))
    return cues


def copula_ending(st: ArticleState, j: int) -> int | None:
    """Start of a copula whose last token is `j`, if there is one."""
    copulas = reference_lexicon().copulas
    if j >= 0 and st.lower[j] in copulas:
        return j
    if j >= 1 and f"{st.lower[j - 1]} {st.lower[j]}" in copulas:
        return j - 1
    return None


def copula_starting(st: ArticleState, j: int) -> int | None:
    """End of a copula starting at `j`, if there is one."""
    copulas = reference_lexicon().copulas
    if j + 1 < len(st.lower) and f"{st.lower[j]} {st.lower[j + 1]}" in copulas:
        return j + 2
    if j < len(st.lower) and st.lower[j] in copulas:
        return j + 1
    return None


def references(st: ArticleState, refs: list[Hit], named: list[Hit], cue_ends: set[int]
               ) -> list[Hit]:
    """"the proposal", "the force", "a strip of land": noun phrases that stand for a
    guarantee named shortly before (data/discourse.toml), as hits of that guarantee; a
    typed plural needs no determiner right after a stance verb ("contribute vessels")."""
    if not refs or not named:
        return []
    lex = reference_lexicon()
    starts = sentence_starts(st)
    kinds: dict[tuple[int, int], set[str]] = {}
    for r in refs:
        kinds.setdefault((r.start, r.end), set()).add(r.value)
    taken = {i for g in named for i in range(g.start, g.end)}
    # (start, sentence, hit) of every guarantee named so far, in text order; not
    # "Russian troops", which are no guarantee
    memory = [(g.start, bisect_right(starts, g.start) - 1, g) for g in named
              if not skip(st, g)]
    out: list[Hit] = []
    for r in longest(refs):
        if any(i in taken for i in range(r.start, r.end)) or r.start == 0:
            continue
        if r.end < len(st.lower) and st.lower[r.end] in ("of", "for", "to"):
            continue
        det = {st.lower[r.start - 1], " ".join(st.lower[max(0, r.start - 2):r.start])}
        k = bisect_right(starts, r.start) - 1
        before = memory[:bisect_right(memory, r.start, key=lambda m: m[0])]
        values = kinds[(r.start, r.end)]
        typed = values - {"generic"}
        found: Hit | None = None
        bare = r.start in cue_ends and " ".join(st.lower[r.start:r.end]) in lex.bare
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


def compared(st: ArticleState, g: Hit, sent: Span) -> bool:
    """"would protect Ukraine better than European troops": the second term of a
    comparison is not what the cue is about (not "more than 10,000 troops")."""
    lower = st.lower
    # "free shipping is as much a security guarantee as any soldier": a likeness, no stance
    if g.start >= 3 and lower[g.start - 3] == "as" and lower[g.start - 1] in ("a", "an") \
            and g.end < sent.end and lower[g.end] == "as":
        return True
    for t in range(g.start - 1, max(sent.start, g.start - 5) - 1, -1):
        word = lower[t]
        if word in (",", ";", ":", ".") or t in st.in_guarantee:
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


def skip(st: ArticleState, g: Hit) -> bool:
    """Troops of Russia, of Ukraine or of the article's beneficiary are not a peacekeeping
    force, nor are fallen soldiers or "the presence of" something named after it."""
    if contrasted(st, g):
        return True
    if g.kind == "GI" and g.value == Guarantee.NATO_MEMBERSHIP.value:
        # "Irish neutrality" is Ireland's own status, no curb on Ukraine's membership
        return any(n.end == g.start and n.kind in ("J", "P") and n.value != st.beneficiary
                   for n in st.names)
    if g.value == Guarantee.AIR_SEA_PROTECTION.value:
        # "air policing over its own territory": a neighbour guarding itself
        after = st.lower[g.end:g.end + 3]
        return "own" in after and any(w in ("its", "their", "our") for w in after)
    if g.value == Guarantee.MILITARY_STRENGTH.value:
        # "the Russian army" is no stance on Ukraine's own forces
        return any(n.end == g.start and n.kind in ("J", "P") and n.value in FOREIGN_ARMIES
                   for n in st.names)
    if g.value != Guarantee.PEACEKEEPING_FORCE.value:
        return False
    if g.start > 0 and st.lower[g.start - 1] in CASUALTIES:
        return True
    if g.start > 2 and st.lower[g.start - 1][:1].isdigit() and any(
            w in ("army", "military", "forces") for w in st.lower[g.start - 4:g.start - 1]):
        return True  # "cap the army at 600,000 troops" is a size, no foreign force
    if g.end - g.start == 1 and st.lower[g.start] == "presence" and \
            g.end < len(st.lower) and st.lower[g.end] == "of":
        return True
    for name in st.names:
        if name.end <= g.start and g.start - name.end <= 1 and name.kind in ("J", "P"):
            return name.value in BELLIGERENTS or name.value == st.beneficiary
    return False


def contrasted(st: ArticleState, g: Hit) -> bool:
    """"Japan offers investment, not troops": the guarantee set against what is offered
    takes no stance from the clause's cue."""
    j = g.start
    if j > 0 and st.lower[j - 1] in ("any", "its", "their", "the"):
        j -= 1
    before = st.lower[max(0, j - 2):j]
    return before in ([",", "not"], ["but", "not"], ["and", "not"], ["rather", "than"],
                      ["instead", "of"])
