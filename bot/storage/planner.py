"""The planner's bookkeeping: how far ahead each patient is planned, and whether that is current.

``plan_state`` (migration 0010) has one row per patient: ``planned_through``, the instant up to
which their reminders are planned (NULL once something changed that can alter the plan), and a
``version`` that the database's triggers raise with every such change, in the changing
transaction. The planner reads the version before it computes and records how far it planned
only if the version is unchanged when it writes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Patient
from bot.storage.db import Database, Transaction, from_db_time, to_db_time
from bot.storage.repositories import _patient


@dataclass(frozen=True, slots=True)
class PlanSubject:
    """A patient as the planner reads them: with their plan's version and how far it reaches."""

    patient: Patient
    version: int  # 0 when the patient has no plan_state row yet
    planned_through: datetime | None  # None: never planned, or changed since


@dataclass(frozen=True, slots=True)
class PlanMark:
    """How far one patient's reminders were planned, from the state of version ``version``."""

    patient_id: int
    version: int
    through: datetime


def _ids(patient_ids: Collection[int]) -> str:
    return json.dumps(sorted(patient_ids))


class PlanStateRepository:
    """SQL for choosing whom a planner tick plans, and for recording what it planned."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def plannable_ids(self) -> list[int]:
        """Return every plannable patient, by id (a full planning pass after a start)."""
        # Plannable: consented, reachable, not paused, with a chat to send to.
        rows = await self._db.fetchall(
            "SELECT id FROM patients WHERE status = 'active' AND reminders_paused = 0 "
            "AND chat_id IS NOT NULL ORDER BY id"
        )
        return [int(row["id"]) for row in rows]

    async def due(self, need: datetime) -> list[int]:
        """Return the plannable patients whose plan changed or ends before ``need``.

        Changed ones first, then by how far their plan reaches; the index on planned_through
        means only those patients are read, not the whole clinic.
        """
        rows = await self._db.fetchall(
            "SELECT s.patient_id FROM plan_state s JOIN patients p ON p.id = s.patient_id "
            "WHERE (s.planned_through IS NULL OR s.planned_through < ?) AND p.status = 'active' "
            "AND p.reminders_paused = 0 AND p.chat_id IS NOT NULL "
            "ORDER BY s.planned_through IS NOT NULL, s.planned_through, s.patient_id",
            (to_db_time(need),),
        )
        return [int(row["patient_id"]) for row in rows]

    async def subjects(self, patient_ids: Collection[int]) -> list[PlanSubject]:
        """Return these patients (whatever their status) with their plan's state, by id."""
        if not patient_ids:
            return []
        rows = await self._db.fetchall(
            "SELECT p.*, COALESCE(s.version, 0) AS plan_version, "
            "s.planned_through AS plan_through FROM patients p "
            "LEFT JOIN plan_state s ON s.patient_id = p.id "
            "WHERE p.id IN (SELECT value FROM json_each(?)) ORDER BY p.id",
            (_ids(patient_ids),),
        )
        return [
            PlanSubject(
                patient=_patient(row),
                version=int(row["plan_version"]),
                planned_through=from_db_time(row["plan_through"]) if row["plan_through"] else None,
            )
            for row in rows
        ]

    async def plannable_versions_tx(
        self, tx: Transaction, patient_ids: Collection[int]
    ) -> dict[int, int]:
        """Return which of these patients are plannable now, with their plan's version."""
        if not patient_ids:
            return {}
        rows = await tx.fetchall(
            "SELECT p.id, COALESCE(s.version, 0) AS version FROM patients p "
            "LEFT JOIN plan_state s ON s.patient_id = p.id "
            "WHERE p.id IN (SELECT value FROM json_each(?)) AND p.status = 'active' "
            "AND p.reminders_paused = 0 AND p.chat_id IS NOT NULL",
            (_ids(patient_ids),),
        )
        return {int(row["id"]): int(row["version"]) for row in rows}

    async def record(self, tx: Transaction, marks: Sequence[PlanMark]) -> None:
        """Record how far each patient is planned, unless their plan changed since it was read."""
        await tx.executemany(
            "INSERT INTO plan_state (patient_id, version, planned_through) VALUES (?, ?, ?) "
            "ON CONFLICT (patient_id) DO UPDATE SET planned_through = excluded.planned_through "
            "WHERE plan_state.version = excluded.version",
            [(m.patient_id, m.version, to_db_time(m.through)) for m in marks],
        )
