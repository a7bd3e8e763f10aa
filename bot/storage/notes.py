"""Encrypted check-in notes, read and replaced as tokens, for re-encryption under a new key.

This module only ever sees the ciphertext. A replacement names the token it replaces, so a
note the patient changed meanwhile is left for the next run instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.storage.db import Database, Transaction


class NoteRepository:
    """Pages through the stored note tokens and swaps them for new ones."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def tokens_after(self, after_id: int, limit: int) -> list[tuple[int, str]]:
        """Return up to ``limit`` (check-in id, token) pairs with an id above ``after_id``."""
        rows = await self._db.fetchall(
            "SELECT id, note_cipher FROM checkins WHERE id > ? AND note_cipher IS NOT NULL "
            "ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [(int(row["id"]), str(row["note_cipher"])) for row in rows]

    async def replace(self, tx: Transaction, swaps: Sequence[tuple[int, str, str]]) -> int:
        """Replace each (id, old token, new token) whose token is still the old one."""
        changed = 0
        for checkin_id, old, new in swaps:
            changed += await tx.execute_rowcount(
                "UPDATE checkins SET note_cipher = ? WHERE id = ? AND note_cipher = ?",
                (new, checkin_id, old),
            )
        return changed
