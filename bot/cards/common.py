"""What every card shares: the message type, mrkdwn escaping and Slack's size limits.

Article text is untrusted. Every string that reaches mrkdwn or a `text` fallback goes through
`escape` first, and truncation happens after escaping without cutting an entity in half.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
    """Shorten already-escaped text to `limit` characters without splitting `&amp;` & co. or
    a `<url|label>` link (escaped text has no other `<`)."""
    if len(text) <= limit:
        return text
    cut = max(0, limit - len(suffix))
    head = text[:cut]
    amp = head.rfind("&")
    if amp != -1 and ";" not in head[amp:]:
        head = head[:amp]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    return head.rstrip() + suffix


def plain(text: str, limit: int) -> str:
    """Untrusted text for a plain_text field (header, button): no entities, just a length cap."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


@dataclass
class Message:
    """A Slack message: Block Kit blocks plus the `text` fallback for notifications.

    `model` optionally carries the view model the blocks were drawn from (a `Briefing`), so
    the terminal can lay the same answer out as tables; it never reaches Slack.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)
    model: object | None = field(default=None, compare=False, repr=False)
    _payload: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    _json: dict[tuple[tuple[str, object], ...], bytes] | None = field(
        default=None, compare=False, repr=False
    )

    def to_dict(self) -> dict[str, Any]:
        """The message as Slack's JSON (a new top-level dict each call: callers add keys)."""
        if self._payload is not None:
            return dict(self._payload)
        return {"text": self.text, "blocks": [block.to_dict() for block in self.blocks]}

    def freeze(self) -> Message:
        """Serialise once, for a message sent many times (a cached card). Call it only when
        the blocks are final: later changes to them would not be sent."""
        self._payload = self.to_dict()
        self._json = {}
        return self

    def to_json(self, **extra: object) -> bytes:
        """The JSON body of the message plus `extra` top-level keys (`response_type`, ...);
        encoded once per set of extras when the message is frozen."""
        key = tuple(sorted(extra.items()))
        cached = self._json.get(key) if self._json is not None else None
        if cached is None:
            cached = json.dumps({**self.to_dict(), **extra}, ensure_ascii=False).encode()
            if self._json is not None:
                self._json[key] = cached
        return cached


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


# --- interactive ids: listeners register on these constants -------------------------------

ACTION_SHOW_EVIDENCE = "show_evidence"  # value: button_value(topic words, guarantee id)
ACTION_SUBSCRIBE = "subscribe_topic"  # value: button_value(topic words)
BLOCK_BRIEFING_ACTIONS = "briefing_actions"
BLOCK_GUARANTEE_PREFIX = "guarantee:"  # + guarantee id: one section per guarantee
CALLBACK_EVIDENCE_VIEW = "evidence_view"
ACTION_MATRIX = "show_matrix"  # value: button_value(topic words)
BLOCK_CORRECT_PREFIX = "correct:"  # + guarantee id: the card's correction menu of its quote


@dataclass(frozen=True)
class ButtonValue:
    """What a card button carries: the topic words as typed, and a guarantee id or None."""

    topic: str
    guarantee: str | None = None


def button_value(topic_words: str, guarantee: str | None = None) -> str:
    """Short JSON for a button value: `{"t": "ukraine usa", "g": "nato_membership"}`."""
    payload: dict[str, str] = {"t": topic_words[:500]}
    if guarantee:
        payload["g"] = guarantee
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def parse_button_value(value: str) -> ButtonValue:
    """The inverse of `button_value`; raises ValueError on anything else."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise ValueError("not a card button value")
    guarantee = data.get("g")
    if guarantee is not None and not isinstance(guarantee, str):
        raise ValueError("not a card button value")
    return ButtonValue(topic=data["t"], guarantee=guarantee)


# --- links --------------------------------------------------------------------------------

MAX_LINK_URL = 1000
# Characters that would end or split `<url|label>`, percent-encoded as a browser would.
_URL_UNSAFE = {"|": "%7C", ">": "%3E", "<": "%3C", " ": "%20", '"': "%22"}


def safe_url(url: str | None) -> str | None:
    """An http(s) URL made safe inside `<...|...>`, or None when it cannot be."""
    if not url or len(url) > MAX_LINK_URL or any(ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    for char, code in _URL_UNSAFE.items():
        url = url.replace(char, code)
    return url.replace("&", "&amp;")


def link(url: str | None, label: str) -> str:
    """A mrkdwn link `<url|label>` (label escaped here); just the label when the URL is unsafe."""
    shown = escape(label).replace("|", "¦")
    target = safe_url(url)
    return f"<{target}|{shown}>" if target else shown


def host_of(url: str | None) -> str | None:
    """The site name of a URL ("www.bbc.co.uk" -> "bbc.co.uk"), for a link without an outlet."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.removeprefix("www.") if host else None


def reported_by(outlets: int) -> str:
    """` · reported by N outlets` when a story was told by several outlets, else nothing.

    One position stands for its whole cluster of near-identical articles instead of being
    repeated once per outlet."""
    return f" · reported by {outlets} outlets" if outlets > 1 else ""


FOUND_BY = {
    "both": "rules and model agree",
    "llm": "model only",
    "rules": "rules only",
}


def found_by_mark(found_by: str | None) -> str:
    """` · rules and model agree` (or `model only`, `rules only`) for a position the hybrid
    or model extractor stored; nothing for a single extractor's."""
    label = FOUND_BY.get(found_by or "")
    return f" · {label}" if label else ""
