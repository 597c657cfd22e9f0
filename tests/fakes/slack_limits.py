"""Slack's Block Kit limits as the fake Slack enforces them: a message or view that breaks
one is refused with Slack's error code (`invalid_blocks`, `msg_blocks_too_long`,
`missing_text`). Tests also call `check_message` directly on what the bot renders."""

from __future__ import annotations

from typing import Any

# Block Kit limits (Slack's documented ones; see docs/slack-notes in the spec).
MAX_MESSAGE_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_TOTAL_TEXT = 12_000
MAX_OVERFLOW_OPTIONS = 5
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _count_text(node: Any) -> int:
    if isinstance(node, dict):
        return sum(
            len(v) if k == "text" and isinstance(v, str) else _count_text(v)
            for k, v in node.items()
        )
    if isinstance(node, list):
        return sum(_count_text(item) for item in node)
    return 0


def check_blocks(blocks: Any, *, max_blocks: int) -> str | None:
    """Slack's error code for these blocks, or None when Slack would accept them."""
    if not isinstance(blocks, list):
        return "invalid_blocks_format"
    if len(blocks) > max_blocks:
        return "invalid_blocks"
    block_ids: set[str] = set()
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "invalid_blocks"
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > MAX_ID or block_id in block_ids:
                return "invalid_blocks"
            block_ids.add(block_id)
        kind = block["type"]
        if kind == "section":
            text = _text_of(block.get("text")) if "text" in block else None
            fields = block.get("fields") or []
            if text is None and not fields:
                return "invalid_blocks"
            if text is not None and not 1 <= len(text) <= MAX_SECTION_TEXT:
                return "invalid_blocks"
            if len(fields) > MAX_FIELDS:
                return "invalid_blocks"
            if any(len(_text_of(f)) > MAX_FIELD_TEXT for f in fields):
                return "invalid_blocks"
            if block.get("accessory") and _check_element(block["accessory"]):
                return "invalid_blocks"
        elif kind == "header":
            if not 1 <= len(_text_of(block.get("text"))) <= MAX_HEADER_TEXT:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
                return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 25 or any(_check_element(e) for e in elements):
                return "invalid_blocks"
    return None


def _check_element(element: dict[str, Any]) -> bool:
    """True when an interactive element breaks a limit."""
    if element.get("type") == "button":
        if not 1 <= len(_text_of(element.get("text"))) <= MAX_BUTTON_TEXT:
            return True
        if len(str(element.get("value", ""))) > MAX_BUTTON_VALUE:
            return True
    if element.get("type") == "overflow":
        options = element.get("options") or []
        if not 2 <= len(options) <= MAX_OVERFLOW_OPTIONS:
            return True
        if any(
            len(_text_of(o.get("text"))) > MAX_OPTION_TEXT
            or len(str(o.get("value", ""))) > MAX_OPTION_VALUE
            for o in options
        ):
            return True
    return len(str(element.get("action_id", ""))) > MAX_ID


def check_message(payload: dict[str, Any]) -> str | None:
    """Slack's error code for a message payload (chat.* or a response URL), or None."""
    blocks = payload.get("blocks")
    text = payload.get("text")
    if blocks is None:
        return None if text else "no_text"
    if not text:
        # Slack takes blocks alone but then has no notification text; the bot must send one.
        return "missing_text"
    error = check_blocks(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
    if error:
        return error
    if _count_text(blocks) > MAX_TOTAL_TEXT:
        return "msg_blocks_too_long"
    return None


def check_view(view: Any) -> str | None:
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        return "invalid_arguments"
    if view["type"] == "modal" and len(_text_of(view.get("title"))) > 24:
        return "invalid_arguments"
    return check_blocks(view.get("blocks", []), max_blocks=MAX_SURFACE_BLOCKS)
