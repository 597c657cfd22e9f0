"""Holders: who takes the stance a clause states on a guarantee.

The subject of the cue chain before the guarantee, a possessive owner ("Kyiv's demands", "Moscow's
position that ..."), the subject of ", with X suggesting ...", a relative clause after the
guarantee ("which Kyiv had sought"), a passive's "by" list ("was pushed by Poland and Estonia"),
a refusal answering it ("but Washington refused"), else the sentence's speaker.
"""

from __future__ import annotations

from spacy.tokens import Span

from bot.extraction.attribution import (
    FUNCTION_WORDS,
    Actor,
    Mention,
    coordinated,
    coordination_start,
)
from bot.extraction.rules.pipeline import Hit
from bot.extraction.rules.speakers import in_place, object_context
from bot.extraction.rules.state import BE, MODALS, ArticleState

# Between the subject and the verb of a bare answer: "but Washington flatly refused".
ANSWER_FILLERS = frozenset({"then", "had", "has", "have", "did", "flatly", "firmly", "simply",
                            "again", "repeatedly", "reportedly", "ultimately", "quickly"})
# "X's position that ...": nouns whose that-clause states the owner's stance.
POSITION_NOUNS = frozenset({"position", "view", "demand", "demands", "insistence", "condition",
                            "stance", "line", "belief", "argument", "requirement"})
# Between the subject and the verb of a relative clause: "which Kyiv had long sought".
RELATIVE_AUX = frozenset({"had", "has", "have", "is", "are", "was", "were", "will", "would",
                          "long", "repeatedly", "already", "been", "also", "not", "n't",
                          "never", "now", "still", "could", "can", "be"})
RELATIVE_AFTER = frozenset({"in", "at", "for", "since", "during", "from", "before", "after",
                            "earlier", "last", "so", "and", "but", "as", "until"})
# Between a guarantee and its passive verb: "was first pushed by", "has been backed by".
PASSIVE_FILLERS = BE | frozenset({"has", "have", "had", "also", "first", "initially",
                                  "originally", "already", "later", "strongly", "jointly",
                                  "since", "now"})
PARTICIPLES = frozenset({"given", "sent", "led", "won", "got", "gotten", "shown", "built"})
# A subject that counts rather than names: "few pledged", "several ministers echoed".
QUANTIFIERS = frozenset({"few", "many", "some", "several", "most", "none", "others", "nobody",
                         "handful", "majority", "minority"})
# Between a subject and its verb: "few have since pledged".
SUBJECT_FILLERS = MODALS | frozenset({"have", "has", "had", "did", "do", "does", "also", "yet",
                                      "since", "then", "so", "far", "actually", "not", "n't"})


def answer_after(st: ArticleState, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention],
                  guarantees: list[Hit]) -> Actor | None:
    """"Kyiv pressed for a US guarantee, but Washington refused": a refusal with no object
    of its own in a later clause answers the guarantee before it."""
    lower = st.lower
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


def relative_clause(st: ArticleState, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention],
              speaker: Actor | None) -> tuple[list[Actor], str | None]:
    """A relative clause after the guarantee names who holds it: "security guarantees,
    which Kyiv had sought", "the guarantee we are offering"."""
    lower = st.lower
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
    holders = first_person(st, m, speaker) or coordinated(mentions, idx, lower)
    polarity = "negative" if (cue.value == "negative") != negated else "positive"
    return holders, polarity


def passive_after(st: ArticleState, sent: Span, g: Hit, cues: list[Hit], mentions: list[Mention]
                   ) -> tuple[list[Actor], str | None]:
    """"The idea was pushed by Poland, Estonia and Latvia": a passive after the guarantee
    names its holders after "by"."""
    lower = st.lower
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


def find_holders(
    st: ArticleState,
    sent: Span,
    g: Hit,
    head: Hit | None,
    mentions: list[Mention],
    speaker: Actor | None,
    chain: list[Hit] | None = None,
    clause: int | None = None,
    verdict: bool = False,
    own_speaker: bool = False,
) -> list[Actor]:
    """The subject of the cue chain before the guarantee (or the possessive before a cue
    noun: "Kiev's demands"), else the speaker of the sentence.

    The subject is looked for in the guarantee's own clause first ("..., adding that
    Finland was ready"); a clause without one ("but stressed that no troops would be
    sent") belongs to the sentence's speaker before any name of an earlier clause."""
    anchor = head.start if head is not None else g.start
    if head is not None and passive_of_recipient(st, head, sent):
        return []
    owner = position_owner(st, sent, anchor, mentions)
    if owner is not None:
        return [owner]
    absolute = absolute_subject(st, clause, anchor, mentions)
    if absolute is not None:
        return absolute
    for idx, m in enumerate(mentions):
        if verdict:
            break
        if m.possessive and m.actor and 0 <= anchor - (m.end + 1) <= 2 and \
                all(st.lower[i].isalpha() for i in range(m.end + 1, anchor)):
            found = first_person(st, m, speaker) or coordinated(mentions, idx, st.lower)
            return with_support(st, sent, m, mentions, speaker, found)
    begins = [sent.start]
    if clause is not None and clause > sent.start:
        begins.insert(0, clause)
    for n, begin in enumerate(begins):
        if n == 1 and speaker is not None and own_speaker:
            return [speaker]
        # The first cue of the chain that has a subject of its own.
        for cue in chain or ([head] if head else []):
            # a verdict after the guarantee: its subject is the guarantee, not a name
            # inside the verdict ("would be something Ukraine can rely on")
            subject = subject_before(st, mentions, begin, min(cue.start, g.start), speaker)
            if subject is not None:
                return subject
    subject = subject_before(st, mentions, sent.start, anchor, speaker)
    if subject is not None:
        return subject
    return [speaker] if speaker else []


def absolute_subject(st: ArticleState, clause: int | None, anchor: int, mentions: list[Mention]
                      ) -> list[Actor] | None:
    """The subject of ", with X('s adviser) suggesting ...": the name right after "with",
    or its owner when a title follows the possessive."""
    if clause is None or clause < 2 or st.lower[clause - 1] != "with" or \
            st.lower[clause - 2] != ",":
        return None
    j = clause + (st.lower[clause] == "the")
    for idx, m in enumerate(mentions):
        if m.start == j and m.actor is not None and m.end <= anchor:
            if m.possessive:
                return [m.actor]
            # "with Washington and Budapest resisting": the whole list holds it
            while idx + 1 < len(mentions) and mentions[idx + 1].actor is not None and \
                    mentions[idx + 1].end <= anchor and \
                    mentions[idx + 1].start > mentions[idx].end and all(
                    w in (",", "and") for w in
                    st.lower[mentions[idx].end:mentions[idx + 1].start]):
                idx += 1
            return coordinated(mentions, idx, st.lower)
    return None


def with_support(st: ArticleState, sent: Span, m: Mention, mentions: list[Mention],
                  speaker: Actor | None, found: list[Actor]) -> list[Actor]:
    """"Lithuania and Estonia, with Poland's support, are pushing for ...": the subject
    before the inserted "with X's support" holds the stance too."""
    k = m.start - 1
    if k - 1 <= sent.start or st.lower[k] != "with" or st.lower[k - 1] != ",":
        return found
    subject = subject_before(st, mentions, sent.start, k - 1, speaker) or []
    return [*subject, *(a for a in found if a not in subject)]


def position_owner(st: ArticleState, sent: Span, anchor: int, mentions: list[Mention]
                    ) -> Actor | None:
    """"Moscow's position that Kyiv must renounce ...": the owner of a stated position
    holds what the that-clause demands, not the subject inside it."""
    for m in mentions:
        if not (m.possessive and m.actor) or m.kind == "first":
            continue
        noun = m.end + 1
        if noun + 1 < anchor and st.lower[noun] in POSITION_NOUNS and \
                st.lower[noun + 1] == "that":
            return m.actor
    return None


def passive_of_recipient(st: ArticleState, head: Hit, sent: Span) -> bool:
    """"Ukraine was granted candidate status": the subject of a passive of giving receives
    the guarantee and takes no stance (not "was prepared to", "was backed by")."""
    word = st.lower[head.start]
    if head.end - head.start != 1 or not (word.endswith("ed") or word in PARTICIPLES):
        return False
    j = head.start - 1
    while j > sent.start and st.lower[j] in ("also", "already", "formally", "never",
                                               "first", "not", "n't"):
        j -= 1
    nxt = st.lower[head.end] if head.end < sent.end else ""
    return st.lower[j] in BE and nxt not in ("to", "by", "with", "that", "in", "on")


def subject_before(
    st: ArticleState, mentions: list[Mention], begin: int, end: int, speaker: Actor | None
) -> list[Actor] | None:
    if quantified_subject(st, begin, end):
        return []
    for idx in range(len(mentions) - 1, -1, -1):
        m = mentions[idx]
        if m.end > end or m.start < begin:
            continue
        if m.possessive or object_context(st, m) or m.actor is None:
            continue
        if any(i in st.in_guarantee for i in range(m.start, m.end)):
            continue
        if m.kind == "first":
            return [speaker] if speaker else []
        first = coordination_start(mentions, idx, st.lower)
        if first != idx and in_place(st, mentions[first]):
            # "jets flying from bases in Poland and Romania will ...": places, no subject
            continue
        return coordinated(mentions, idx, st.lower)
    return None


def quantified_subject(st: ArticleState, begin: int, end: int) -> bool:
    """"but few pledged troops", "a point several ministers echoed": a subject counted,
    not named, holds nothing we can name."""
    j = end - 1
    while j >= begin and st.lower[j] in SUBJECT_FILLERS:
        j -= 1
    if j < begin:
        return False
    if st.lower[j] in QUANTIFIERS:
        return j == begin or st.lower[j - 1] not in ("the", "a", "an", "of")
    return (j - 1 >= begin and st.lower[j - 1] in QUANTIFIERS and st.words[j].isalpha()
            and st.words[j].islower() and st.lower[j] not in FUNCTION_WORDS
            and (j - 1 == begin or st.lower[j - 2] not in ("the", "a", "an", "of")))


def first_person(st: ArticleState, m: Mention, speaker: Actor | None) -> list[Actor] | None:
    if m.kind == "first":
        return [speaker] if speaker else []
    return None
