"""Files to Slack with the current upload flow (`files.upload` is retired).

1. `files.getUploadURLExternal(filename, length)` gives an `upload_url` and a `file_id`;
2. the bytes are POSTed to `upload_url`;
3. `files.completeUploadExternal(files=[{id, title}], channel_id, initial_comment)` shares the
   file in the channel. Needs the `files:write` scope, and the bot in a private channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=120)
# Slack's answers that mean "not here": tell the person, do not retry.
NOT_HERE = {
    "not_in_channel": "I am not in this channel: invite me with `/invite @guarantees` first.",
    "channel_not_found": "I cannot post files here: invite me to the channel first.",
    "missing_scope": "The app lacks the `files:write` scope: reinstall it from the manifest.",
    "is_archived": "This channel is archived.",
}


@dataclass(frozen=True)
class FileUpload:
    """A file a command answers with, shared in the caller's channel."""

    filename: str
    data: bytes
    title: str
    comment: str  # the message that comes with the file (mrkdwn, already escaped)


class UploadError(Exception):
    """The file could not be shared; the message says why, for the person who asked."""


async def share_file(
    client: AsyncWebClient, http: aiohttp.ClientSession, channel_id: str, upload: FileUpload
) -> str:
    """Upload and share a file in a channel; returns its file id. Raises `UploadError`."""
    try:
        got = await client.files_getUploadURLExternal(
            filename=upload.filename, length=len(upload.data)
        )
        url, file_id = str(got["upload_url"]), str(got["file_id"])
        async with http.post(
            url,
            data=upload.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=UPLOAD_TIMEOUT,
        ) as response:
            await response.read()
            if response.status != 200:
                log.error("file upload answered HTTP %d", response.status)
                raise UploadError("Slack did not take the file; try again in a minute.")
        await client.files_completeUploadExternal(
            files=[{"id": file_id, "title": upload.title}],
            channel_id=channel_id,
            initial_comment=upload.comment,
        )
    except SlackApiError as exc:
        code = str(exc.response.get("error", "")) if exc.response is not None else ""
        log.warning("sharing a file failed: %s", code or "unknown error")
        raise UploadError(NOT_HERE.get(code, f"Slack refused the file ({code}).")) from None
    except aiohttp.ClientError as exc:
        log.warning("file upload failed: %s", type(exc).__name__)
        raise UploadError("Slack did not take the file; try again in a minute.") from None
    log.info("shared %s (%d bytes) as %s", upload.filename, len(upload.data), file_id)
    return file_id
