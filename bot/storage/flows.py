"""Flow state: all the SQL for the one open guided flow of each Telegram user.

A flow's answers are a flat JSON object of text, numbers and nulls; anything else found in a
row (a hand-edited database, an older format) is dropped rather than trusted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.storage.db import Database, Row, Statement, Transaction, from_db_time, to_db_time

FlowValue = str | int | None


@dataclass(frozen=True, slots=True)
class FlowState:
    """Where a user stands in a guided flow, and what they answered so far."""

    user_id: int
    name: str
    step: str
    updated_at: datetime
    data: Mapping[str, FlowValue] = field(default_factory=dict)

    def text(self, key: str) -> str:
        """Return a text answer, or "" when there is none."""
        value = self.data.get(key)
        return value if isinstance(value, str) else ""

    def number(self, key: str) -> int | None:
        """Return a number answer, or None when there is none."""
        value = self.data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None


def encode_data(data: Mapping[str, FlowValue]) -> str:
    """Return flow answers as the JSON text stored in the database."""
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def decode_data(text: str) -> dict[str, FlowValue]:
    """Parse stored flow answers, keeping only text, numbers and nulls."""
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {
        str(key): value
        for key, value in loaded.items()
        if value is None or (isinstance(value, str | int) and not isinstance(value, bool))
    }


def _flow(row: Row) -> FlowState:
    return FlowState(
        user_id=row["user_id"],
        name=row["name"],
        step=row["step"],
        updated_at=from_db_time(row["updated_at"]),
        data=decode_data(row["data"]),
    )


class FlowRepository:
    """The ``flows`` table: at most one open flow per user."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_user(self, user_id: int) -> FlowState | None:
        """Return a user's flow, however old."""
        row = await self._db.fetchone("SELECT * FROM flows WHERE user_id = ?", (user_id,))
        return _flow(row) if row else None

    async def by_user_tx(self, tx: Transaction, user_id: int) -> FlowState | None:
        """Return a user's flow, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM flows WHERE user_id = ?", (user_id,))
        return _flow(row) if row else None

    async def put(
        self,
        tx: Transaction,
        user_id: int,
        name: str,
        step: str,
        data: Mapping[str, FlowValue],
        now: datetime,
    ) -> None:
        """Store a user's flow, replacing any flow they had."""
        statement = self.putting(user_id, name, step, data, now)
        await tx.execute(statement.sql, statement.params)

    def putting(
        self, user_id: int, name: str, step: str, data: Mapping[str, FlowValue], now: datetime
    ) -> Statement:
        """Return the statement ``put`` runs."""
        return Statement(
            "INSERT INTO flows (user_id, name, step, data, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, step = excluded.step, "
            "data = excluded.data, updated_at = excluded.updated_at",
            (user_id, name, step, encode_data(data), to_db_time(now)),
        )

    async def delete(self, tx: Transaction, user_id: int) -> bool:
        """Remove a user's flow; False if they had none."""
        changed = await tx.execute_rowcount("DELETE FROM flows WHERE user_id = ?", (user_id,))
        return changed > 0

    def ending_open(self, user_id: int, name: str, cutoff: datetime) -> Statement:
        """Return the statement that removes a user's flow of this name unless it went idle.

        (A flow whose last answer is older than the cutoff is no longer open: it is left for
        the flow's own expiry to answer.)
        """
        # Stored times have whole seconds: the first one not older than the cutoff.
        if cutoff.microsecond:
            cutoff = cutoff.replace(microsecond=0) + timedelta(seconds=1)
        return Statement(
            "DELETE FROM flows WHERE user_id = ? AND name = ? AND updated_at >= ?",
            (user_id, name, to_db_time(cutoff)),
        )

    async def delete_if_idle(self, tx: Transaction, user_id: int, cutoff: datetime) -> bool:
        """Remove a user's flow if its last answer is older than the cutoff."""
        changed = await tx.execute_rowcount(
            "DELETE FROM flows WHERE user_id = ? AND updated_at < ?",
            (user_id, to_db_time(cutoff)),
        )
        return changed > 0

    async def delete_idle(self, tx: Transaction, cutoff: datetime) -> int:
        """Remove every flow whose last answer is older than the cutoff; return how many."""
        return await tx.execute_rowcount(
            "DELETE FROM flows WHERE updated_at < ?", (to_db_time(cutoff),)
        )
