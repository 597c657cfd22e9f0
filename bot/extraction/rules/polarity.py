"""Polarity: what the clause before (or the verdict after) a guarantee says of it.

Stance cues before the guarantee ("pushed for", "ruled out") and their negators ("did not"),
cues after it ("bid", "is needed", "would be a legitimate target"), hedges that turn a refusal
into doubt ("not yet", "not outright"), curbs in the passive ("be capped") and guarantees doubted
as not enough alone. The result is "positive", "negative" or "doubt", with the holders found by
`holders.find_holders`.
"""

from __future__ import annotations

from spacy.tokens import Span

from bot.extraction.attribution import FUNCTION_WORDS, Actor, Mention
from bot.extraction.rules.guarantor import find_provider
from bot.extraction.rules.holders import find_holders
from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.state import BE, ArticleState

# How far after the guarantee a negative or doubting verdict on it may come.
AFTER_VERDICT = 10
# After a guarantee, before a negated verb: "observers alone would not stop an offensive".
ALONE = (("alone",), ("on", "its", "own"), ("on", "their", "own"), ("by", "itself"),
         ("by", "themselves"))
# Cues whose subject is the one receiving: "Ukraine deserves guarantees".
DESERVING = frozenset({"deserve", "deserves", "deserved", "deserving", "needs", "needed",
                       "need"})


def cues_before(st: ArticleState, start: int, g: Hit, cues: list[Hit]) -> list[Hit]:
    """Stance cues between `start` and the guarantee whose scope reaches it."""
    return [c for c in cues if c.kind in ("C", "CA") and start <= c.start and c.end <= g.start
            and c.value in ("positive", "negative", "doubt") and not cue_closed(st, c, g)]


def cue_closed(st: ArticleState, cue: Hit, g: Hit) -> bool:
    """A cue with its own object before the guarantee ("stop the fighting and ...")."""
    j = cue.end
    while j < g.start and st.lower[j] in ("the", "a", "an", "any", "its", "their", "his",
                                             "her", "this", "that"):
        j += 1
    if j + 1 >= g.start:
        return False
    word = st.words[j]
    return (word.isalpha() and word.islower() and j not in st.cue_tokens
            and st.lower[j] not in FUNCTION_WORDS
            and j not in st.in_guarantee
            and st.lower[j + 1] in ("and", ",", '"', "”", ".", "or", ";"))


def read_stance(
    st: ArticleState,
    sent: Span,
    g: Hit,
    start: int,
    cues: list[Hit],
    mentions: list[Mention],
    speaker: Actor | None,
    clause: int | None = None,
    own_speaker: bool = False,
) -> tuple[list[Actor], str | None, str | None]:
    """Polarity ("positive", "negative", "doubt") of the clause before a guarantee, who
    holds it, and who would provide it where a later cue of the chain names them ("expects
    Europe, not the US, to provide"). `own_speaker`: the sentence names its speaker itself."""
    window = [c for c in cues if c.kind == "C" and start <= c.start and c.end <= g.start]
    if any(c.value == "neutral" for c in window):
        # "has not said whether it would provide ...": an open question, no stance
        return [], None, None
    if not_enough_alone(st, sent, g, cues):
        return ([speaker] if speaker else find_holders(
            st, sent, g, None, mentions, speaker, [], clause, verdict=True,
            own_speaker=own_speaker)), "doubt", None
    stance_cues = cues_before(st, start, g, cues)
    negators = [c for c in window if c.value == "negator" and not contrastive(st, c)
                and not negator_closed(st, c, stance_cues, g)]
    head: Hit | None = stance_cues[0] if stance_cues else None
    owner = possessive_owner(st, g, mentions)
    after_near = [c.value for c in after_cues(st, sent, g, cues) if c.start - g.end <= 2]
    if any(st.lower[i] in st.after_words for i in range(g.start, g.end)):
        after_near.append("positive")  # "NATO membership bid"
    # "Ukraine's membership is excluded": a refusal after it is not the owner's bid
    refused = bool(after_near) and after_near[0] == "negative" and not stance_cues
    if owner is not None and after_near and not refused and not any(
        c.value in ("positive", "negative") and 0 <= g.start - c.end <= 4
        for c in stance_cues
    ):
        polarity = "doubt" if after_near[0] == "doubt" else "positive"
        return [owner], polarity, None
    without = [c for c in negators if st.lower[c.start] == "without"
               and g.start - c.end <= 5]
    verdict = False
    if without:
        negators = [c for c in negators if st.lower[c.start] != "without"]
        others = [c for c in cues if c.kind == "C" and (
            c.value == "negative" or (c.value == "negator"
                                      and st.lower[c.start] != "without"))]
        if not others:
            return [], None, None
        polarity = "positive"
        head = head or without[0]
    else:
        after = after_cues(st, sent, g, cues)
        if not stance_cues and not after:
            return [], None, None
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
                    and "," not in st.lower[g.end:c.start]
                    # "would not be deployed on the front line but would deter ...":
                    # a place is refused, not the force
                    and "but" not in st.lower[after[0].end:min(sent.end,
                                                                 after[0].end + 8)]]
            negatives = sum(c.value == "negative" for c in stance_cues) + len(negators)
            if curbed_after(st, sent, g, cues):
                negatives += 1  # "demanded that Ukraine's army be capped"
            if g.kind == "GI":
                negatives += 1
            polarity = "negative" if negatives % 2 else "positive"
            # "not ready to give a date"; "did not reject the proposal outright"
            timing = polarity == "negative" and about_timing(st, sent, g, start)
            partial = (polarity == "positive" and bool(negators)
                       and any(c.value == "negative" for c in stance_cues)
                       and partial_word(st, sent, g, start))
            if timing or partial:
                polarity = "doubt"
    holders = find_holders(st, sent, g, head, mentions, speaker, stance_cues, clause,
                           verdict=verdict, own_speaker=own_speaker)
    if head is not None and st.lower[head.start] in DESERVING and speaker is not None \
            and speaker.party != st.beneficiary and holders \
            and all(h.party == st.beneficiary for h in holders):
        # "X said Ukraine deserved guarantees": X backs them; Ukraine only receives
        holders = [speaker]
    return holders, polarity, find_provider(st, stance_cues, mentions, holders)


def curbed_after(st: ArticleState, sent: Span, g: Hit, cues: list[Hit]) -> bool:
    """"demanded that Ukraine's armed forces be capped": a curb in the passive right after
    the guarantee turns the cue before it around."""
    return any(c.value == "negative" and c.start - g.end <= 1
               and st.lower[c.start] in ("be", "been")
               for c in after_cues(st, sent, g, cues))


def not_enough_alone(st: ArticleState, sent: Span, g: Hit, cues: list[Hit]) -> bool:
    """"unarmed observers alone would not stop an offensive": the guarantee is doubted as
    insufficient on its own, neither refused nor backed."""
    j = g.end
    for words in ALONE:
        if tuple(st.lower[j:j + len(words)]) == words:
            j += len(words)
            return any(c.kind == "C" and c.value == "negator" and j <= c.start < j + 3
                       and c.end <= sent.end for c in cues)
    return False


def possessive_owner(st: ArticleState, g: Hit, mentions: list[Mention]) -> Actor | None:
    """"Kyiv's NATO bid": the possessive right before the guarantee."""
    for m in mentions:
        if m.possessive and m.actor and m.end + 1 == g.start and m.kind != "first":
            return m.actor
    return None


def negator_closed(st: ArticleState, negator: Hit, stance_cues: list[Hit], g: Hit) -> bool:
    """"position had not changed, pointing to a vote in which X rejected ...": a negator
    whose own verb ends before a comma does not reach the cue after it."""
    target = next((c.start for c in stance_cues if c.start >= negator.end), g.start)
    if "unless" in st.lower[negator.end:g.start]:
        return True  # "no ceasefire will last unless it is backed by guarantees"
    return "," in st.lower[negator.end:target]


def contrastive(st: ArticleState, negator: Hit) -> bool:
    """"not the US" or "not only" are not negations of the cue."""
    j = negator.end
    if j < len(st.lower) and st.lower[j] in ("only", "just", "least"):
        return True
    if negator.start > 0 and st.lower[negator.start - 1] == "," and \
            j + 1 < len(st.lower) and st.lower[j].isalpha() and \
            st.lower[j + 1] in ('"', "”", "’", ",", ";"):
        return True  # 'expected "decisions, not declarations" on its accession'

    while j < len(st.lower) and st.lower[j] in ("the", "a"):
        j += 1
    return any(n.start == j and n.kind in ("P", "A") for n in st.names)


def after_cues(st: ArticleState, sent: Span, g: Hit, cues: list[Hit]) -> list[Hit]:
    """Cues after the guarantee, before the next one: near for praise ("bid", "is
    needed"), a little further for a verdict ("... would be considered a legitimate
    target")."""
    limit = sent.end
    for other in st.guarantees:
        if other.start >= g.end:
            limit = min(limit, other.start)
            break
    return [c for c in cues if c.kind == "CA" and g.end <= c.start and c.end <= limit
            and (c.end <= g.end + (6 if c.value == "positive" else AFTER_VERDICT)
                 or (c.start <= g.end + AFTER_VERDICT and copular_verdict(st, g, c)))]


def copular_verdict(st: ArticleState, g: Hit, c: Hit) -> bool:
    """"any naval escort for Ukrainian cargo would be regarded as 'a party to the
    conflict'": a verdict after a copula, with no comma or other clause between."""
    gap = st.lower[g.end:c.start]
    return any(w in BE for w in gap) and not any(
        w in (",", ";", ":", "that", "which", "who", "and", "but") for w in gap)


def partial_word(st: ArticleState, sent: Span, g: Hit, start: int) -> bool:
    """"did not reject the proposal outright": a partial word near the guarantee."""
    return any(c.kind == "C" and c.value == "partial" and start <= c.start < g.end + 3
               for c in st.cues)


def about_timing(st: ArticleState, sent: Span, g: Hit, start: int) -> bool:
    timing = st.timing_words
    end = min(sent.end, g.end + 8)
    if any(st.lower[i] in timing for i in range(start, end)):
        return True
    # phrases: "did not expect an invitation for many years"
    text = " " + " ".join(st.lower[start:end]) + " "
    return any(" " in w and f" {w} " in text for w in timing)
