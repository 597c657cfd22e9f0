"""Who would provide the guarantee: a choice among nobody, the holder, the parties named in
or beside the position's sentence, the article's most-named parties and the rules'
guarantors of the same guarantee, made by a small linear model over how each is named and
who each is.

"Kyiv wants US guarantees" → usa; "France offered troops" → fra (the holder);
"Ukraine seeks membership" → nobody. Besides how an option is named, the ranker reads who
it is, for which guarantee and which beneficiary: a European force for Ukraine, EU monitors
in Armenia and UN peacekeepers in Lebanon are named so often that the article may leave the
provider implicit ("Russia says the monitors must leave").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from bot.extraction.learned.features import GROUPS, ArticleView, Candidate
from bot.extraction.learned.mentions import PartyMention
from bot.extraction.learned.model import LinearModel

NOBODY = ""
MOST_NAMED = 3  # the article's most-named parties are options for every position


@dataclass(frozen=True)
class ArticleFacts:
    """What the ranker reads from the whole article, computed once per position."""

    guarantors: tuple[str, ...]  # the rules' guarantors of the same guarantee, anywhere
    named: Counter[str]  # how often each party is named in the article
    # the guarantor of the rules' proposal for the same holder and guarantee (the same stance
    # first, then the same sentence): NOBODY when the rules proposed none, None without one
    picked: str | None


def article_facts(view: ArticleView, cand: Candidate, stance: str) -> ArticleFacts:
    return ArticleFacts(_article_guarantors(view, cand), view.named_counts,
                        _rules_pick(view, cand, stance))


def options(view: ArticleView, cand: Candidate, stance: str,
            facts: ArticleFacts | None = None) -> list[str]:
    """Nobody; the holder; every other party named in the sentence; every guarantor the rules
    proposed for the same holder and guarantee; the guarantors the rules found for the same
    guarantee anywhere in the article; the parties of the sentences either side; and the
    article's most-named parties. The beneficiary only as the holder ("Ukraine will keep
    building its own army")."""
    facts = facts or article_facts(view, cand, stance)
    k = cand.sentence
    out = [NOBODY, cand.party]
    out += [m.party for m in view.mentions[k]]
    out += [p.guarantor for p in view.rules.proposals
            if p.party == cand.party and p.guarantee == cand.guarantee and p.guarantor]
    out += sorted(facts.guarantors)
    out += [m.party for j in (k - 1, k + 1) if 0 <= j < len(view.mentions)
            for m in view.mentions[j]]
    out += [p for p, _ in facts.named.most_common(MOST_NAMED)]
    return list(dict.fromkeys(o for o in out
                              if o in (NOBODY, cand.party) or o != view.beneficiary))


def _article_guarantors(view: ArticleView, cand: Candidate) -> tuple[str, ...]:
    """Guarantors the rules found for the same guarantee anywhere in the article."""
    return tuple(dict.fromkeys(p.guarantor for p in view.rules.proposals
                               if p.guarantee == cand.guarantee and p.guarantor))


def _rules_pick(view: ArticleView, cand: Candidate, stance: str) -> str | None:
    same = [p for p in view.rules.proposals
            if p.party == cand.party and p.guarantee == cand.guarantee]
    # the same stance first: "opposes NATO troops" names no provider of a force it backs
    for p in sorted(same, key=lambda p: (p.stance != stance, p.sentence != cand.sentence)):
        return p.guarantor or NOBODY
    return None


def features(view: ArticleView, cand: Candidate, stance: str, option: str,
             facts: ArticleFacts | None = None) -> dict[str, float]:
    """How `option` relates to the position, its sentence and its article, and who it is."""
    facts = facts or article_facts(view, cand, stance)
    kind = _kind(cand, option)
    return {**_kind_features(view, cand, stance, kind),
            **_option_features(view, cand, stance, option, kind, facts)}


def _kind(cand: Candidate, option: str) -> str:
    return "nobody" if option == NOBODY else ("holder" if option == cand.party else "other")


def _kind_features(view: ArticleView, cand: Candidate, stance: str, kind: str
                   ) -> dict[str, float]:
    """What every option of one kind (nobody, the holder, another party) shares."""
    g, ben = cand.guarantee, view.beneficiary
    holder_benef = cand.party == ben
    f = {
        f"o={kind}": 1.0,
        f"o={kind}&s={stance}": 1.0,
        f"o={kind}&g={g}": 1.0,
        f"o={kind}&hb={holder_benef}": 1.0,
        f"o={kind}&s={stance}&hb={holder_benef}": 1.0,
        f"o={kind}&hgroup={cand.party in GROUPS}": 1.0,
        # who holds the position, for what, for whom: Russia opposing a force is no provider
        f"o={kind}&party={cand.party}": 1.0,
        f"o={kind}&party={cand.party}&s={stance}": 1.0,
        f"o={kind}&party={cand.party}&g={g}": 1.0,
        f"o={kind}&ben={ben}": 1.0,
        f"o={kind}&g={g}&ben={ben}": 1.0,
    }
    if kind == "nobody":
        others = {m.party for m in view.mentions[cand.sentence]} - {cand.party, ben}
        f[f"others_named={min(len(others), 2)}"] = 1.0
        f[f"others_named={min(len(others), 2)}&s={stance}"] = 1.0
    return f


def _option_features(view: ArticleView, cand: Candidate, stance: str, option: str, kind: str,
                     facts: ArticleFacts) -> dict[str, float]:
    """What is particular to one option: whether the rules picked it; for the holder, how
    the sentence names it with the guarantee; for another party, who it is (with the
    guarantee, the stance and the beneficiary), how often the article names it, whether it is
    named in the sentence, beside it or further away, whether the rules found it as a
    guarantor, and how the sentence names it."""
    f = {}
    if facts.picked is not None and facts.picked == option:
        f[f"rules&o={kind}"] = 1.0
    if kind == "other":
        f.update(_other(view, cand, stance, option, facts))
    elif kind == "holder":
        # "American troops", "Britain's own forces": the holder named with the guarantee
        for name, value in _relation(view, cand, option):
            f["h_" + name] = value
            f[f"h_{name}&s={stance}"] = value
    return f


def _other(view: ArticleView, cand: Candidate, stance: str, option: str,
           facts: ArticleFacts) -> dict[str, float]:
    """Features of a provider other than the holder: who it is, where the article names it
    and how the sentence relates it to the guarantee."""
    g = cand.guarantee
    f = {
        f"oid={option}": 1.0,
        f"oid={option}&g={g}": 1.0,
        f"oid={option}&g={g}&s={stance}": 1.0,
        f"oid={option}&ben={view.beneficiary}": 1.0,
        f"other_group={option in GROUPS}": 1.0,
        f"art_count={min(facts.named[option], 4)}": 1.0,
    }
    if option in GROUPS:
        f[f"group={option}&g={g}"] = 1.0
    if option in facts.guarantors:
        f["article_guarantor"] = 1.0
        f[f"article_guarantor&s={stance}"] = 1.0
    k = cand.sentence
    if not any(m.party == option for m in view.mentions[k]):
        near = any(m.party == option for j in (k - 1, k + 1) if 0 <= j < len(view.mentions)
                   for m in view.mentions[j])
        pool = "near" if near else "far"
        f[f"pool={pool}"] = 1.0
        f[f"pool={pool}&s={stance}"] = 1.0
    for name, value in _relation(view, cand, option):
        f[name] = value
        f[f"{name}&s={stance}"] = value
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
    """The likeliest guarantor (the first of equals), None for nobody. What the options of
    one kind share is scored once per kind."""
    facts = article_facts(view, cand, stance)
    found = options(view, cand, stance, facts)
    kinds = [_kind(cand, o) for o in found]
    unique = list(dict.fromkeys(kinds))
    shared = dict(zip(unique, model.label_scores(
        [_kind_features(view, cand, stance, k) for k in unique], "yes"), strict=True))
    own = model.label_scores([_option_features(view, cand, stance, o, k, facts)
                              for o, k in zip(found, kinds, strict=True)], "yes", bias=False)
    scores = [shared[k] + s for k, s in zip(kinds, own, strict=True)]
    return found[scores.index(max(scores))] or None
