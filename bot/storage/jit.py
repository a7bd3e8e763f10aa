"""Reads and writes for just-in-time safety messages (see bot/services/jit.py).

The planner needs more than the active medications: a course that ended (by its end date or
because the care team removed it) still matters for a while, and so does a patient's answer
"stopped" to a dose reminder. Every read covers the whole clinic (or one patient) in one query.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Medication
from bot.storage.db import Database, Transaction, from_db_time, to_db_time
from bot.storage.deliveries import PlannedDelivery
from bot.storage.schedules import _medication


@dataclass(frozen=True, slots=True)
class MedicationSpan:
    """A medication schedule and, once the care team removed it, when that happened."""

    medication: Medication
    removed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StopReport:
    """A dose reminder the patient answered with Skip, "I have stopped taking it"."""

    patient_id: int
    medication_id: int
    at: datetime


class JustInTimeRepository:
    """SQL for planning safety messages."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def medications(
        self, removed_since: datetime, patient_ids: Collection[int] | None = None
    ) -> list[MedicationSpan]:
        """Return the active medications and those removed since ``removed_since``.

        ``patient_ids`` narrows the read to those patients (None: every patient). A medication
        is only ever changed by its removal, so ``updated_at`` of an inactive one is when it
        was removed.
        """
        if patient_ids is None:
            rows = await self._db.fetchall(
                "SELECT * FROM medications WHERE active = 1 OR updated_at >= ? "
                "ORDER BY patient_id, start_date, id",
                (to_db_time(removed_since),),
            )
        else:
            # Written so the look-up goes by patient (an OR across columns would scan them all).
            rows = await self._db.fetchall(
                "SELECT * FROM medications WHERE patient_id IN (SELECT value FROM json_each(?)) "
                "AND (active = 1 OR updated_at >= ?) ORDER BY patient_id, start_date, id",
                (json.dumps(sorted(patient_ids)), to_db_time(removed_since)),
            )
        return [
            MedicationSpan(
                medication=_medication(row),
                removed_at=None if row["active"] else from_db_time(row["updated_at"]),
            )
            for row in rows
        ]

    async def stop_reports(
        self, since: datetime, patient_ids: Collection[int] | None = None
    ) -> list[StopReport]:
        """Return the doses skipped as "stopped" since ``since``, oldest first."""
        only = None if patient_ids is None else json.dumps(sorted(patient_ids))
        # Named: left to itself, SQLite would walk every dose row by the index on kind.
        rows = await self._db.fetchall(
            "SELECT patient_id, ref_id, answered_at FROM deliveries INDEXED BY deliveries_stopped "
            "WHERE response_detail = 'stopped' AND answered_at >= ? AND kind = 'dose' "
            "AND response = 'skipped' "
            "AND (? IS NULL OR patient_id IN (SELECT value FROM json_each(?))) "
            "ORDER BY answered_at, id",
            (to_db_time(since), only, only),
        )
        return [
            StopReport(row["patient_id"], row["ref_id"], from_db_time(row["answered_at"]))
            for row in rows
            if row["patient_id"] is not None and row["ref_id"] is not None
        ]

    async def reminded(self, medication_ids: Collection[int]) -> set[int]:
        """Return which of these medications ever had a dose reminder go out."""
        if not medication_ids:
            return set()
        # Named: left to itself, SQLite would walk every dose row by the index on kind.
        rows = await self._db.fetchall(
            "SELECT DISTINCT ref_id FROM deliveries INDEXED BY deliveries_dose_sent "
            "WHERE kind = 'dose' AND ref_id IN (SELECT value FROM json_each(?)) "
            "AND sent_at IS NOT NULL",
            (json.dumps(sorted(medication_ids)),),
        )
        return {int(row["ref_id"]) for row in rows}

    async def plan(self, tx: Transaction, rows: Sequence[PlannedDelivery], now: datetime) -> None:
        """Insert safety messages that do not exist yet, keeping each key's row once sent.

        Like a reminder, a cancelled row (the patient paused, say) comes back only for a time
        still ahead, and a sent, failed or missed row is never touched, so a message goes out
        once however often it is planned. Unlike a reminder, a pending message may move
        earlier (the patient's own "stopped" brings forward a message planned for the end of
        the course), but never once a send was attempted: a retry keeps its back-off.
        """
        await tx.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, ref_id, local_date, "
            "slot, priority, due_at, expires_at, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?) "
            "ON CONFLICT (dedupe_key) DO UPDATE SET due_at = excluded.due_at, "
            "expires_at = excluded.expires_at, chat_id = excluded.chat_id, status = 'pending' "
            "WHERE (deliveries.status = 'cancelled' AND excluded.due_at >= ?) "
            "OR (deliveries.status = 'pending' AND deliveries.attempts = 0 "
            "AND excluded.due_at < deliveries.due_at)",
            [
                (
                    r.dedupe_key,
                    r.kind,
                    r.patient_id,
                    r.chat_id,
                    r.ref_id,
                    r.local_date,
                    r.slot,
                    r.priority,
                    to_db_time(r.due_at),
                    to_db_time(r.expires_at),
                    to_db_time(now),
                    to_db_time(now),
                )
                for r in rows
            ],
        )
