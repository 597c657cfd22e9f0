"""How far two annotators agree: the ceiling any extractor is measured against.

    python benchmarks/annotator_agreement.py [SECOND_ANNOTATION]

48 articles of the training and dev corpus (6 from each of eight writers, drawn with a fixed
seed) were annotated a second time by a colleague who saw only the texts, vocabulary.md and
the bundled corpus: not the first annotation, not the extractor. The second annotation is
scored against the first with the extractor's own metric (`bot.evaluate.score`), so the
figure compares directly with the extractor's F1.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.evaluate import score
from bot.extraction.learned.splits import load_split
from bot.models import Position
from bot.vocabulary import Guarantee, Stance

SECOND = Path("tests/fixtures/extraction/agreement/second_annotator.jsonl")


def positions(record: dict[str, object]) -> list[Position]:
    out = []
    for p in record["positions"]:  # type: ignore[attr-defined]
        out.append(Position(actor=p["actor"], party=p["party"], stance=Stance(p["stance"]),
                            guarantee=Guarantee(p["guarantee"]), guarantor=p.get("guarantor"),
                            beneficiary=p.get("beneficiary"), evidence=p["evidence"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("second", nargs="?", type=Path, default=SECOND)
    args = parser.parse_args()
    second = [json.loads(line) for line in args.second.read_text(encoding="utf-8").splitlines()]
    first = {str(r["id"]): r for split in ("train", "dev") for r in load_split(split)}
    records = [first[str(r["id"])] for r in second]
    result = score(records, {str(r["id"]): positions(r) for r in second})
    o = result.overall
    print(f"{len(records)} articles, {o.tp + o.fn} positions (first), {o.tp + o.fp} (second)")
    print(f"agreement F1 {o.f1:.3f} (second against first: P {o.precision:.3f}, "
          f"R {o.recall:.3f}); guarantor {result.guarantor_accuracy:.3f}, "
          f"evidence {result.evidence_accuracy:.3f}")
    for name, counts in sorted(result.per_set.items()):
        print(f"  {name:4s} F1 {counts.f1:.3f}")


if __name__ == "__main__":
    main()
