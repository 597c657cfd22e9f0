"""Workspaces that installed the app through OAuth (issue 10), and OAuth states.

One row per workspace (or Enterprise Grid org): the latest installation as slack_sdk's JSON,
tokens included, so every replica finds a workspace's bot token. The JSON is opaque here;
`bot.workspaces` turns it into slack_sdk objects. OAuth `state` values are single-use and
expire, so a replica other than the one that started an install can finish it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.base import StoreBase, to_db_time
from bot.store.dialect import Migration

MIGRATIONS: list[Migration] = [
    (
        "workspaces-1",
        """
        CREATE TABLE installations (
            team_key TEXT PRIMARY KEY,
            enterprise_id TEXT,
            team_id TEXT,
            installer_user_id TEXT,
            data TEXT NOT NULL,
            installed_at TEXT NOT NULL
        );
        CREATE INDEX installations_team ON installations (team_id);
        CREATE TABLE oauth_states (
            state TEXT PRIMARY KEY,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX subscriptions_team ON subscriptions (team_id, channel_id);
        """,
    )
]


def team_key(enterprise_id: str | None, team_id: str | None, enterprise_install: bool) -> str:
    """The row of a workspace, or of a whole org for an org-wide install."""
    if enterprise_install:
        return f"E:{enterprise_id or ''}"
    return f"T:{enterprise_id or ''}:{team_id or ''}"


class WorkspaceStoreMixin(StoreBase):
    """Installations and OAuth states, for bolt's installation and state stores."""

    async def save_installation(
        self,
        key: str,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        installer_user_id: str | None,
        data: str,
    ) -> None:
        async with self.transaction(changes_content=False) as db:
            await db.execute(
                "INSERT INTO installations (team_key, enterprise_id, team_id, installer_user_id,"
                " data, installed_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (team_key) DO UPDATE SET data = excluded.data,"
                " installer_user_id = excluded.installer_user_id,"
                " installed_at = excluded.installed_at",
                (key, enterprise_id, team_id, installer_user_id, data,
                 to_db_time(self.clock())),
            )

    async def find_installation(self, key: str) -> str | None:
        async with self.db.execute(
            "SELECT data FROM installations WHERE team_key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def installer(self, team_id: str) -> str | None:
        """Who installed the app in this workspace: its first admin."""
        async with self.db.execute(
            "SELECT installer_user_id FROM installations WHERE team_id = ?"
            " ORDER BY installed_at DESC LIMIT 1",
            (team_id,),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row and row[0] else None

    async def delete_installation(self, key: str) -> bool:
        async with self.transaction(changes_content=False) as db:
            cursor = await db.execute("DELETE FROM installations WHERE team_key = ?", (key,))
            return cursor.rowcount > 0

    async def pause_team(self, team_id: str, reason: str) -> int:
        """Pause every digest of a workspace (the app was uninstalled, its token revoked)."""
        async with self.transaction(changes_content=False) as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET paused_reason = ?, paused_at = ?"
                " WHERE team_id = ? AND paused_reason IS NULL",
                (reason, to_db_time(self.clock()), team_id),
            )
            return cursor.rowcount

    async def issue_state(self, state: str, ttl: timedelta) -> None:
        now = self.clock()
        async with self.transaction(changes_content=False) as db:
            await db.execute("DELETE FROM oauth_states WHERE expires_at <= ?", (to_db_time(now),))
            await db.execute(
                "INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)",
                (state, to_db_time(now + ttl)),
            )

    async def consume_state(self, state: str, now: datetime | None = None) -> bool:
        """True once for a state issued and not expired; it is gone afterwards."""
        moment = to_db_time(now or self.clock())
        async with self.transaction(changes_content=False) as db:
            cursor = await db.execute(
                "DELETE FROM oauth_states WHERE state = ? AND expires_at > ?", (state, moment)
            )
            return cursor.rowcount > 0
