"""What every card shares: the message type, mrkdwn escaping and Slack's size limits.

Article text is untrusted. Every string that reaches mrkdwn or a `text` fallback goes through
`escape` first, and truncation happens after escaping without cutting an entity in half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import Block

# Slack's hard limits (slack-notes.md).
MAX_BLOCKS = 50
MAX_SURFACE_BLOCKS = 100  # modals and the Home tab
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
# Slack refuses messages with roughly 12-13k characters of block text (`msg_blocks_too_long`).
MAX_TOTAL_TEXT = 12_000
MAX_FALLBACK_TEXT = 3000

ELLIPSIS = "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to.

    After this no article can write `<!channel>`, `<@U123>` or `<http://x|y>`.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int, suffix: str = ELLIPSIS) -> str:
    """Shorten already-escaped text to `limit` characters without splitting `&amp;` & co."""
    if len(text) <= limit:
        return text
    cut = max(0, limit - len(suffix))
    head = text[:cut]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    return head.rstrip() + suffix


def plain(text: str, limit: int) -> str:
    """Untrusted text for a plain_text field (header, button): no entities, just a length cap."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


@dataclass
class Message:
    """A Slack message: Block Kit blocks plus the `text` fallback for notifications."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}


def block_text_length(blocks: list[dict[str, Any]]) -> int:
    """Characters of text in serialised blocks, as Slack counts toward `msg_blocks_too_long`."""
    total = 0

    def walk(node: object) -> None:
        nonlocal total
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    total += len(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return total
