"""Slack's HTTP requests read on our side of bolt's adapter: checked, then parsed by us.

slack-bolt 1.30 parses request bodies itself (`slack_bolt.request.internals.parse_body`) and
gets several inputs wrong, all of them before it checks the signature:

- a form body holding the letters `payload` anywhere (the command text, a channel or user
  name such as `#payload-team`) is taken for an interactive payload; with no `payload` field
  it becomes `{}`, no listener matches, Slack gets a 404 and the command is lost;
- a `payload` field that is not JSON, or a JSON body that is not valid JSON, raises inside
  the request's constructor: a 500 with a traceback in the log, for anyone who posts one;
- any body starting with `{` is read as JSON whatever its content type, and a JSON body that
  is not an object (a list, a number) breaks bolt's context building;
- a body that is not UTF-8 makes aiohttp's `request.text()` raise (500 again);
- a timestamp header that is not a number makes `SignatureVerifier` raise `ValueError`;
- a repeated form field silently keeps its last value.

So `read_slack_request` reads the raw bytes, answers Slack's `ssl_check` probe (bolt answers
it before verification too), verifies the signature over the raw bytes with slack_sdk's
`SignatureVerifier` (a bad or stale one is a 401 and nothing else happens), then parses the
body by content type: a form with a `payload` field is an interactive payload (JSON inside),
any other form is a command (first value of each field), and JSON is an event. Bolt receives
a request whose body is already parsed; its own signature check stays on and runs again over
the same raw text, so nothing is weaker than before.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

FORM_TYPE = "application/x-www-form-urlencoded"
JSON_TYPE = "application/json"
# Slack's forms hold about twenty fields; far more is not Slack.
MAX_FORM_FIELDS = 200


class BadSlackRequest(Exception):
    """The request cannot be used; `status` and the one-line `reason` are the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SslCheck:
    """Slack's probe of the command URL's certificate: answered 200, nothing else done."""


class ParsedBoltRequest(AsyncBoltRequest):
    """An HTTP-mode bolt request built from a body we parsed, keeping the raw text for bolt's
    own signature check. (Bolt only takes a dict body in Socket Mode, hence the detour.)"""

    def __init__(
        self,
        *,
        raw_body: str,
        body: dict[str, Any],
        query: str | Mapping[str, Sequence[str]] | None,
        headers: Mapping[str, str | Sequence[str]],
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            body=body,
            query=query,  # type: ignore[arg-type]
            headers=dict(headers),  # type: ignore[arg-type]
            context=context,
            mode="socket_mode",
        )
        self.raw_body = raw_body
        self.mode = "http"

    def to_copyable(self) -> ParsedBoltRequest:
        # bolt's own copy would re-parse `raw_body` with its parser; keep ours.
        return ParsedBoltRequest(
            raw_body=self.raw_body,
            body=self.body,
            query=self.query,
            headers=self.headers,
            context=self.context.to_copyable(),
        )


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_form(text: str) -> dict[str, str]:
    """Form fields, `+` and %-escapes decoded as UTF-8; a repeated field keeps its first
    value (Slack never repeats one). Raises `BadSlackRequest` on bytes that are not UTF-8."""
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise BadSlackRequest(400, "form field is not UTF-8") from None
    except ValueError:
        raise BadSlackRequest(400, "too many form fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            log.debug("form field %r repeated: the first value is kept", name[:40])
            continue
        fields[name] = value
    return fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise BadSlackRequest(400, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadSlackRequest(400, f"{what} is not a JSON object")
    return value


def is_form(text: str, content_type: str | None) -> bool:
    """Form or JSON: by the declared type; when none (or another) is declared, by the first
    character, as Slack only ever sends these two."""
    kind = media_type(content_type)
    if kind == FORM_TYPE:
        return True
    if kind == JSON_TYPE or kind.endswith("+json"):
        return False
    return not text.lstrip().startswith("{")


def parse_slack_body(text: str, content_type: str | None) -> dict[str, Any]:
    """The body as bolt expects it: a command's fields, an interactive payload, or an event."""
    if not text.strip():
        raise BadSlackRequest(400, "empty body")
    if not is_form(text, content_type):
        return _json_object(text, "body")
    if text.lstrip().startswith("{"):
        # A JSON object labelled as a form (a proxy rewrote the type?): read as JSON, as bolt
        # would; a real form that happens to start with "{" is read as a form.
        with contextlib.suppress(BadSlackRequest):
            return _json_object(text, "body")
    fields = parse_form(text)
    if "payload" in fields:
        return _json_object(fields["payload"], "payload field")
    return fields


def _is_ssl_check(raw: bytes, content_type: str | None) -> bool:
    if b"ssl_check" not in raw:
        return False
    try:
        text = raw.decode("utf-8")
        return is_form(text, content_type) and parse_form(text).get("ssl_check") == "1"
    except (UnicodeDecodeError, BadSlackRequest):
        return False


def signature_ok(verifier: SignatureVerifier, text: str, headers: Mapping[str, str]) -> bool:
    """Slack's signature over the raw body, and a timestamp within five minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp")
    signature = headers.get("X-Slack-Signature")
    if not timestamp or not signature or not timestamp.strip().isdigit():
        return False
    return verifier.is_valid(body=text, timestamp=timestamp.strip(), signature=signature)


def read_slack_request(
    raw: bytes,
    *,
    headers: Mapping[str, str],
    query: str,
    verifier: SignatureVerifier | None,
) -> ParsedBoltRequest | SslCheck:
    """Check and parse one `POST /slack/events`; raise `BadSlackRequest` (401 for a bad or
    missing signature, 400 for a signed body we cannot read).

    `verifier` is None only when the app runs without a signing secret (Socket Mode, where
    this path is not served); bolt then decides, as it would have.
    """
    content_type = headers.get("Content-Type")
    if _is_ssl_check(raw, content_type):
        return SslCheck()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        # Slack signs UTF-8 text; these bytes cannot come from it, and slack_sdk's verifier
        # cannot even hash them.
        raise BadSlackRequest(401 if verifier else 400, "body is not UTF-8") from None
    if verifier is not None and not signature_ok(verifier, text, headers):
        raise BadSlackRequest(401, "invalid request")
    body = parse_slack_body(text, content_type)
    return ParsedBoltRequest(raw_body=text, body=body, query=query, headers=headers)
