"""The rule-based extractor, in stages a reader can take one at a time:

- `pipeline`: the spaCy pipeline, sentence marks, phrase matchers and their `Hit`s;
- `state`: one article's tokens and matches (`ArticleState`), shared by every stage;
- `guarantees`: guarantee spans (memberships, references, copulas, verb-led phrases);
- `speakers`: who a sentence reports (mentions themselves: `bot.extraction.attribution`);
- `clauses`: where a cue's clause ends, how two guarantees of a sentence relate;
- `polarity`: stance cues, negation, hedges, curbs and verdicts after the guarantee;
- `holders`: who takes the stance; `guarantor`: who would provide the guarantee;
- `beneficiary`: whose security the article is about, and so seeks versus backs;
- `extractor`: `RuleExtractor`, which runs them sentence by sentence.
"""

from bot.extraction.rules.extractor import Proposal, RuleAnalysis, RuleExtractor
from bot.extraction.rules.pipeline import Hit

__all__ = ["Hit", "Proposal", "RuleAnalysis", "RuleExtractor"]
