"""Key rotation: re-encrypting every check-in note under a new ``DATA_ENCRYPTION_KEY``.

Notes are taken in batches, each re-encrypted and written in one short transaction, so the bot
can keep running and an interruption loses nothing. A run is resumable: each note is first
tried with the new key, and one that opens with it is already done, so running again finishes
the job. Only when a run reports nothing left under the old key may the old key be dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.services.crypto import CryptoError, NoteCipher
from bot.storage.db import Database
from bot.storage.notes import NoteRepository

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True, slots=True)
class RotationCounts:
    """What one run found: notes re-encrypted, already under the new key, opened by neither."""

    rotated: int = 0
    already: int = 0
    unreadable: int = 0
    changed_meanwhile: int = 0  # edited by the patient during the run: run again


class KeyRotation:
    """Re-encrypts every stored note from the old key to the new one."""

    def __init__(
        self, db: Database, old: NoteCipher, new: NoteCipher, *, batch: int = BATCH
    ) -> None:
        self._db = db
        self._old = old
        self._new = new
        self._batch = batch
        self._notes = NoteRepository(db)

    async def run(self, progress: Callable[[RotationCounts], None] | None = None) -> RotationCounts:
        """Re-encrypt batch by batch; report the running counts after each batch."""
        counts = RotationCounts()
        after = 0
        while batch := await self._notes.tokens_after(after, self._batch):
            swaps: list[tuple[int, str, str]] = []
            already = unreadable = 0
            for checkin_id, token in batch:
                if self._opens(self._new, token):
                    already += 1
                    continue
                try:
                    text = self._old.decrypt(token)
                except CryptoError:
                    unreadable += 1
                    continue
                swaps.append((checkin_id, token, self._new.encrypt(text)))
            async with self._db.transaction() as tx:
                rotated = await self._notes.replace(tx, swaps)
            counts = RotationCounts(
                rotated=counts.rotated + rotated,
                already=counts.already + already,
                unreadable=counts.unreadable + unreadable,
                changed_meanwhile=counts.changed_meanwhile + len(swaps) - rotated,
            )
            after = batch[-1][0]
            if progress is not None:
                progress(counts)
        log.info(
            "notes re-encrypted rotated=%s already=%s unreadable=%s changed=%s",
            counts.rotated,
            counts.already,
            counts.unreadable,
            counts.changed_meanwhile,
        )
        return counts

    @staticmethod
    def _opens(cipher: NoteCipher, token: str) -> bool:
        try:
            cipher.decrypt(token)
        except CryptoError:
            return False
        return True
