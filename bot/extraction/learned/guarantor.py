"""Who would provide the guarantee: a choice among nobody, the holder, the parties the
evidence sentence names and the guarantors the rules found for the same guarantee elsewhere
in the article, made by a small linear model over how each is named.

"Kyiv wants US guarantees" → usa; "France offered troops" → fra (the holder);
"Ukraine seeks membership" → nobody.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from bot.extraction.learned.features import GROUPS, ArticleView, Candidate, PartyMention
from bot.extraction.learned.model import LinearModel

NOBODY = ""


def options(view: ArticleView, cand: Candidate, stance: str) -> list[str]:
    """Nobody, the holder, every other party named in the sentence, the rules' pick, and the
    guarantors the rules found for the same guarantee anywhere in the article."""
    out = [NOBODY, cand.party]
    out += [m.party for m in view.mentions[cand.sentence]]
    out += [p.guarantor for p in view.rules.proposals
            if p.party == cand.party and p.guarantee.value == cand.guarantee and p.guarantor]
    out += _article_guarantors(view, cand)
    return list(dict.fromkeys(o for o in out if o != view.beneficiary or o == NOBODY))


def _article_guarantors(view: ArticleView, cand: Candidate) -> list[str]:
    """Guarantors the rules found for the same guarantee anywhere in the article."""
    return list(dict.fromkeys(p.guarantor for p in view.rules.proposals
                              if p.guarantee.value == cand.guarantee and p.guarantor))


def _rules_pick(view: ArticleView, cand: Candidate, stance: str) -> str | None:
    same = [p for p in view.rules.proposals
            if p.party == cand.party and p.guarantee.value == cand.guarantee]
    for p in sorted(same, key=lambda p: (p.sentence != cand.sentence, p.stance.value != stance)):
        return p.guarantor or NOBODY
    return None


def features(view: ArticleView, cand: Candidate, stance: str, option: str,
             article: Collection[str] | None = None) -> dict[str, float]:
    """How `option` relates to the position and its sentence."""
    holder_benef = cand.party == view.beneficiary
    kind = "nobody" if option == NOBODY else ("holder" if option == cand.party else "other")
    f = {
        f"o={kind}": 1.0,
        f"o={kind}&s={stance}": 1.0,
        f"o={kind}&g={cand.guarantee}": 1.0,
        f"o={kind}&hb={holder_benef}": 1.0,
        f"o={kind}&s={stance}&hb={holder_benef}": 1.0,
        f"o={kind}&hgroup={cand.party in GROUPS}": 1.0,
    }
    if kind == "nobody":
        others = {m.party for m in view.mentions[cand.sentence]} - {cand.party, view.beneficiary}
        f[f"others_named={min(len(others), 2)}"] = 1.0
        f[f"others_named={min(len(others), 2)}&s={stance}"] = 1.0
    picked = _rules_pick(view, cand, stance)
    if picked is not None and picked == option:
        f[f"rules&o={kind}"] = 1.0
    if kind == "other":
        f[f"other_group={option in GROUPS}"] = 1.0
        if option in GROUPS:
            f[f"group={option}&g={cand.guarantee}"] = 1.0
        if option in (_article_guarantors(view, cand) if article is None else article):
            f["article_guarantor"] = 1.0
            f[f"article_guarantor&s={stance}"] = 1.0
        for name, value in _relation(view, cand, option):
            f[name] = value
            f[f"{name}&s={stance}"] = value
    elif kind == "holder":
        # "American troops", "Britain's own forces": the holder named with the guarantee
        for name, value in _relation(view, cand, option):
            f["h_" + name] = value
            f[f"h_{name}&s={stance}"] = value
    return f


def _relation(view: ArticleView, cand: Candidate, option: str) -> Iterator[tuple[str, float]]:
    ms: list[PartyMention] = [m for m in view.mentions[cand.sentence] if m.party == option]
    hits = [h for h in view.guarantees[cand.sentence] if h[2] == cand.guarantee]
    if not ms:
        yield "not_named", 1.0
        return
    if not hits:
        yield "no_phrase", 1.0
        return
    doc = view.sentences[cand.sentence].doc
    m, h = min(((m, h) for m in ms for h in hits), key=lambda mh: abs(mh[0].start - mh[1][0]))
    if m.end <= h[0]:
        gap = h[0] - m.end
        yield ("before_adjacent" if gap <= 1 else "before"), 1.0
        yield f"kind={m.kind}&before={min(gap, 3)}", 1.0
    else:
        gap = m.start - h[1]
        yield ("after_adjacent" if gap <= 2 else "after"), 1.0
    if m.start > 0:
        yield "prev=" + doc[m.start - 1].lower_, 1.0
    if m.end < len(doc) and doc[m.end].lower_ in ("'s", "’s"):
        yield "possessive", 1.0


def choose(model: LinearModel, view: ArticleView, cand: Candidate, stance: str) -> str | None:
    """The likeliest guarantor (the first of equals), None for nobody."""
    article = frozenset(_article_guarantors(view, cand))
    found = options(view, cand, stance)
    scores = model.label_scores([features(view, cand, stance, o, article) for o in found], "yes")
    return found[scores.index(max(scores))] or None
