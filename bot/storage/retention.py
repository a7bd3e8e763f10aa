"""Retention: deleting reminders (with their answers) and check-ins past the kept period.

Deletion runs in small batches, each its own short write transaction, so the dispatcher and
incoming answers never wait long behind it. Rows still being sent are never touched, and the
audit log is not touched at all.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.storage.db import Database, to_db_time

BATCH = 500
# Rows still due or in flight stay whatever their age; the dispatcher owns them.
_OLD_DELIVERIES = (
    "DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries "
    "WHERE due_at < ? AND status NOT IN ('pending', 'sending') LIMIT ?)"
)
_OLD_CHECKINS = (
    "DELETE FROM checkins WHERE id IN (SELECT id FROM checkins WHERE local_date < ? LIMIT ?)"
)


class RetentionRepository:
    """Deletes rows older than a cut-off, batch by batch."""

    def __init__(self, db: Database, *, batch: int = BATCH) -> None:
        self._db = db
        self._batch = batch

    async def delete_deliveries_before(self, cutoff: datetime) -> int:
        """Delete finished deliveries due before ``cutoff``; return how many."""
        return await self._in_batches(_OLD_DELIVERIES, to_db_time(cutoff))

    async def delete_checkins_before(self, cutoff: date) -> int:
        """Delete check-ins of local days before ``cutoff``; return how many."""
        return await self._in_batches(_OLD_CHECKINS, cutoff.isoformat())

    async def _in_batches(self, sql: str, cutoff: str) -> int:
        total = 0
        while True:
            async with self._db.transaction() as tx:
                deleted = await tx.execute_rowcount(sql, (cutoff, self._batch))
            total += deleted
            if deleted < self._batch:
                return total
