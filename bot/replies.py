"""Who asked, and what we answer: shared by the Slack listeners and `python -m bot ask`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.cards.common import Message
from bot.files import FileUpload


@dataclass(frozen=True)
class CommandContext:
    """The caller of a command. All None on the terminal (`python -m bot ask`)."""

    user_id: str | None = None
    channel_id: str | None = None
    team_id: str | None = None

    @classmethod
    def terminal(cls) -> CommandContext:
        return cls()

    @property
    def in_slack(self) -> bool:
        return self.channel_id is not None


@dataclass(frozen=True)
class Reply:
    """A message and where it goes: `public` to the channel, else only to the caller."""

    message: Message
    public: bool = False
    # A file to share in the caller's channel (matrix, export); `message` is then what the
    # caller alone is told if sharing fails, or on the terminal.
    upload: FileUpload | None = None
