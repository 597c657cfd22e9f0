"""How the default extractor does on copy as it arrives rather than as it was annotated: the
same gold articles hard-wrapped, with HTML entities left in, with soft hyphens and zero-width
characters inside words, with no-break spaces, with Windows or old Mac line ends, with an
all-capitals headline. Gold evidence spans are carried into the damaged text, so evidence
accuracy still means "quoted a sentence the annotator marked".

Run: .venv/bin/python benchmarks/copy_damage.py [FILE ...]   (default: the dev split)
"""

from __future__ import annotations

import argparse
import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.evaluate import evaluate_records, read_gold
from bot.extraction.learned.splits import load_split


def hard_wrapped(text: str, width: int = 72) -> str:
    """Every line broken at the last space before `width`, as plain-text copy is (a space
    becomes a line break, so offsets do not move)."""
    out = list(text)
    column, last_space = 0, -1
    for i, char in enumerate(text):
        if char == "\n":
            column, last_space = 0, -1
            continue
        if char == " ":
            last_space = i
        column += 1
        if column > width and last_space >= 0:
            out[last_space] = "\n"
            column, last_space = i - last_space, -1
    return "".join(out)


def no_break_spaces(text: str) -> str:
    """A no-break space before every short word, as typeset copy has ("10\u00a0km", "Mr\u00a0X")."""
    return re.sub(r" (?=\w{1,3}\b)", "\u00a0", text)


def old_mac_line_ends(text: str) -> str:
    return text.replace("\n", "\r")


def capitals_headline(text: str) -> str:
    first, sep, rest = text.partition("\n")
    return first.upper() + sep + rest


def windows_line_ends(text: str) -> str:
    return text.replace("\n", "\r\n")


def entities(text: str) -> str:
    """Entities a feed or a scraper left in: quotes and apostrophes, and `&nbsp;` before short
    words."""
    encoded = (text.replace("&", "&amp;").replace("’", "&#8217;").replace("'", "&#39;")
               .replace('"', "&quot;"))
    return re.sub(r" (?=\w{1,3}\b)", "&nbsp;", encoded)


def soft_hyphens(text: str) -> str:
    """Hyphenation points inside the words the lexicons look for."""
    words = r"\b(Ukraine|NATO|Russia|guarantees?|peacekeep\w+)\b"
    return re.sub(words, lambda m: m.group(0)[:3] + "\u00ad" + m.group(0)[3:], text)


# damage that keeps every offset (spans are carried by position) and damage that does not
# (spans are damaged the same way)
SAME_LENGTH: dict[str, Callable[[str], str]] = {
    "as annotated": lambda text: text,
    "hard-wrapped at 72": hard_wrapped,
    "no-break spaces": no_break_spaces,
    "old Mac line ends": old_mac_line_ends,
    "capitals headline": capitals_headline,
}
RESIZING: dict[str, Callable[[str], str]] = {
    "Windows line ends": windows_line_ends,
    "HTML entities": entities,
    "soft hyphens": soft_hyphens,
}


def damaged(records: list[dict[str, Any]], damage: Callable[[str], str], same_length: bool
            ) -> list[dict[str, Any]]:
    out = copy.deepcopy(records)
    for record in out:
        old = str(record["text"])
        new = damage(old)
        record["text"] = new
        for position in record.get("positions", []):
            spans = [position["evidence"], *position.get("also", [])]
            carried = []
            for span in spans:
                if same_length:
                    at = old.find(span)
                    carried.append(new[at:at + len(span)] if at >= 0 else span)
                else:
                    carried.append(damage(span))
            position["evidence"], position["also"] = carried[0], carried[1:]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    records = [r for f in args.files for r in read_gold(f)] if args.files else load_split("dev")
    print(f"{len(records)} articles")
    print(f"{'copy':<20} {'F1':>6} {'P':>6} {'R':>6} {'guarantor':>9} {'evidence':>8}")
    for name, damage in [*SAME_LENGTH.items(), *RESIZING.items()]:
        result = evaluate_records(damaged(records, damage, name in SAME_LENGTH))
        o = result.overall
        print(f"{name:<20} {o.f1:6.3f} {o.precision:6.3f} {o.recall:6.3f} "
              f"{result.guarantor_accuracy:9.3f} {result.evidence_accuracy:8.3f}")


if __name__ == "__main__":
    main()
