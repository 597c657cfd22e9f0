"""Correcting a position from Slack: the overflow menu on each evidence item, the modal that
asks for the new stance or party and an optional note, and the answers.

Overflow option values are `OP:POSITION_ID` (`stance:42`, `party:42`, `none:42`, `undo:42`);
the modal carries the position, the operation and where to answer in `private_metadata`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OptionGroup,
    OverflowMenuElement,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.cards.common import Message, escape, plain
from bot.confidence import marked_unsure
from bot.models import StoredPosition
from bot.vocabulary import Party, Stance

ACTION_CORRECT = "correct_position"  # the overflow menu on an evidence item
CALLBACK_CORRECTION_VIEW = "correction_view"
BLOCK_NEW_VALUE = "correction_value"
ACTION_NEW_VALUE = "correction_value_select"
BLOCK_NOTE = "correction_note"
ACTION_NOTE = "correction_note_input"
CHECKED_MARK = "✓ checked by an analyst"
# A position whose confidence is under the bar of bot/data/confidence.toml.
UNSURE_MARK = "⚠ extractor unsure"
# A change of stance with a side the extractor is unsure of (briefing card, terminal).
POSSIBLE_SHIFT_MARK = "⚠ possible: extractor unsure of a side"
MAX_NOTE = 1000
MAX_SELECT_OPTIONS = 100  # Slack: per select, and per option group

OPS = ("stance", "party", "none", "undo")
OP_TITLES = {
    "stance": "Correct the stance",
    "party": "Wrong party",
    "none": "Not a position",
}


@dataclass(frozen=True)
class CorrectionChoice:
    """What an overflow option asks for: an operation on one stored position."""

    op: str
    position_id: int


def correction_overflow(position: StoredPosition) -> OverflowMenuElement:
    """The ⋯ menu of one evidence item: correct the stance, wrong party, not a position, and
    undo when an analyst already corrected it."""
    options = [
        Option(text="Correct the stance…", value=f"stance:{position.id}"),
        Option(text="Wrong party…", value=f"party:{position.id}"),
        Option(text="Not a position…", value=f"none:{position.id}"),
    ]
    if position.corrected_by:
        options.append(Option(text="Undo the correction", value=f"undo:{position.id}"))
    return OverflowMenuElement(action_id=ACTION_CORRECT, options=options)


def parse_choice(value: str) -> CorrectionChoice:
    """The inverse of an overflow option value; ValueError on anything else."""
    op, _, number = value.partition(":")  # a workspace's corrected rows have negative ids
    if op not in OPS or not number.removeprefix("-").isdigit():
        raise ValueError("not a correction option")
    return CorrectionChoice(op, int(number))


def trust_suffix(position: StoredPosition) -> str:
    """` · ✓ checked by an analyst` for an analyst's correction, ` · ⚠ extractor unsure` for
    a position the extractor kept with a confidence under the bar, else nothing (a position
    with no confidence included)."""
    if position.corrected_by:
        return f" · {CHECKED_MARK}"
    return f" · {UNSURE_MARK}" if marked_unsure(position) else ""


def _position_line(position: StoredPosition, party_name: str) -> str:
    quote = escape(" ".join(position.evidence.split()))
    if len(quote) > 600:
        quote = quote[:600].rsplit(" ", 1)[0] + "…"
    return f"*{escape(party_name)}* {position.stance}\n> “{quote}”"


def correction_modal(
    choice: CorrectionChoice,
    position: StoredPosition,
    party_name: str,
    parties: list[Party],
    metadata: dict[str, Any],
) -> dict[str, Any]:
    """The modal asking for the correction: a stance or a party to choose (not for "not a
    position"), and an optional note."""
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=_position_line(position, party_name)))
    ]
    if choice.op == "stance":
        options = [Option(text=str(s), value=str(s)) for s in Stance if s is not position.stance]
        blocks.append(
            InputBlock(
                block_id=BLOCK_NEW_VALUE,
                label="The stance the sentence takes",
                element=StaticSelectElement(action_id=ACTION_NEW_VALUE, options=options),
            )
        )
    elif choice.op == "party":
        blocks.append(
            InputBlock(
                block_id=BLOCK_NEW_VALUE,
                label="The party that holds this position",
                element=StaticSelectElement(
                    action_id=ACTION_NEW_VALUE,
                    placeholder="Choose a party",
                    option_groups=party_groups(parties, exclude=position.party),
                ),
            )
        )
    blocks.append(
        InputBlock(
            block_id=BLOCK_NOTE,
            label="Note (optional)",
            optional=True,
            element=PlainTextInputElement(
                action_id=ACTION_NOTE, multiline=True, max_length=MAX_NOTE
            ),
        )
    )
    view = View(
        type="modal",
        callback_id=CALLBACK_CORRECTION_VIEW,
        title=OP_TITLES[choice.op],
        submit="Save",
        close="Cancel",
        private_metadata=json.dumps(metadata, separators=(",", ":")),
        blocks=blocks,
    )
    return view.to_dict()


def party_groups(parties: list[Party], exclude: str) -> list[OptionGroup]:
    """Every party as select options: groups and organisations first, then states (and
    self-governing territories) in alphabetical groups of at most 100 (Slack's limit per
    group)."""
    shown = [p for p in parties if p.code != exclude]
    groups = sorted((p for p in shown if not p.is_place), key=lambda p: p.name)
    states = sorted((p for p in shown if p.is_place), key=lambda p: p.name)
    result: list[OptionGroup] = []
    if groups:
        result.append(OptionGroup(label="Groups and organisations", options=_options(groups)))
    for start in range(0, len(states), MAX_SELECT_OPTIONS):
        chunk = states[start : start + MAX_SELECT_OPTIONS]
        label = f"States {chunk[0].name[0]}–{chunk[-1].name[0]}"
        result.append(OptionGroup(label=label, options=_options(chunk)))
    return result


def _options(parties: list[Party]) -> list[Option]:
    return [Option(text=plain(p.name, 75), value=p.code) for p in parties]


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A small modal that only says something (a refusal, a saved correction)."""
    view = View(
        type="modal",
        title=plain(title, 24),
        close="Close",
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )
    return view.to_dict()


def correction_message(text: str) -> Message:
    """A private answer about a correction."""
    return Message(
        text=text,
        blocks=[
            SectionBlock(text=MarkdownTextObject(text=text)),
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="Cards, digests, the Home tab and exports use the corrected position."
                    )
                ]
            ),
        ],
    )


@dataclass(frozen=True)
class Submission:
    """What an analyst sent from the correction modal."""

    choice: CorrectionChoice
    value: str | None  # the chosen stance or party code
    note: str | None
    response_url: str | None  # where the card that was corrected can be answered


def read_submission(view: dict[str, Any]) -> Submission:
    """The correction modal's state; ValueError when it is not one of ours."""
    meta = json.loads(view.get("private_metadata") or "{}")
    if not isinstance(meta, dict) or meta.get("k") not in OPS or not isinstance(meta.get("p"), int):
        raise ValueError("not a correction modal")
    values = (view.get("state") or {}).get("values") or {}
    selected = (values.get(BLOCK_NEW_VALUE) or {}).get(ACTION_NEW_VALUE) or {}
    note = (values.get(BLOCK_NOTE) or {}).get(ACTION_NOTE) or {}
    url = meta.get("r")
    return Submission(
        choice=CorrectionChoice(meta["k"], meta["p"]),
        value=(selected.get("selected_option") or {}).get("value"),
        note=note.get("value"),
        response_url=url if isinstance(url, str) and url else None,
    )
