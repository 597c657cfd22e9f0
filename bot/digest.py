"""Daily digests (issue 4). Placeholder until that work lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.services import Services


async def run_due_digests(services: Services, *, dry_run: bool = False) -> int:
    """Send (or with dry_run print) the digests due now; returns a process exit code."""
    raise NotImplementedError("digests are not built yet")


async def run_scheduler(services: Services) -> None:
    """Send due digests every minute until cancelled."""
    raise NotImplementedError("digests are not built yet")
