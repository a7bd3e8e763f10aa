"""Repositories for medications, dTMS courses and appointments."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import date, datetime

from bot.models import Appointment, Medication, TmsCourse
from bot.storage.db import Database, Row, Transaction, from_db_time, to_db_time


def _opt_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _medication(row: Row) -> Medication:
    return Medication(
        id=row["id"],
        patient_id=row["patient_id"],
        name=row["name"],
        dose_text=row["dose_text"],
        times=tuple(row["times"].split(",")),
        weekdays=row["weekdays"],
        start_date=date.fromisoformat(row["start_date"]),
        end_date=_opt_date(row["end_date"]),
        active=bool(row["active"]),
        created_at=from_db_time(row["created_at"]),
    )


def _course(row: Row) -> TmsCourse:
    return TmsCourse(
        id=row["id"],
        patient_id=row["patient_id"],
        start_date=date.fromisoformat(row["start_date"]),
        weekdays=row["weekdays"],
        time=row["time"],
        sessions=row["sessions"],
        location=row["location"],
        active=bool(row["active"]),
        created_at=from_db_time(row["created_at"]),
    )


def _appointment(row: Row) -> Appointment:
    return Appointment(
        id=row["id"],
        patient_id=row["patient_id"],
        kind=row["kind"],
        starts_at=from_db_time(row["starts_at"]),
        local_start=datetime.fromisoformat(row["local_start"]),
        timezone=row["timezone"],
        location=row["location"],
        course_id=row["course_id"],
        session_number=row["session_number"],
        sessions_total=row["sessions_total"],
        status=row["status"],
        created_at=from_db_time(row["created_at"]),
    )


class ScheduleRepository:
    """Medications, dTMS courses and appointments of patients."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # Medications ---------------------------------------------------------------------------

    async def add_medication(
        self,
        tx: Transaction,
        patient_id: int,
        name: str,
        dose_text: str,
        times: tuple[str, ...],
        weekdays: str,
        start_date: date,
        end_date: date | None,
        now: datetime,
    ) -> int:
        """Insert a medication schedule."""
        row_id = await tx.execute(
            "INSERT INTO medications (patient_id, name, dose_text, times, weekdays, start_date, "
            "end_date, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            (
                patient_id,
                name,
                dose_text,
                ",".join(times),
                weekdays,
                start_date.isoformat(),
                end_date.isoformat() if end_date else None,
                to_db_time(now),
                to_db_time(now),
            ),
        )
        assert row_id is not None
        return row_id

    async def deactivate_medication(
        self, tx: Transaction, medication_id: int, now: datetime
    ) -> bool:
        """Stop a medication's reminders (the row stays for the record)."""
        changed = await tx.execute_rowcount(
            "UPDATE medications SET active = 0, updated_at = ? WHERE id = ? AND active = 1",
            (to_db_time(now), medication_id),
        )
        return changed == 1

    async def medication(self, medication_id: int) -> Medication | None:
        """Return one medication."""
        row = await self._db.fetchone("SELECT * FROM medications WHERE id = ?", (medication_id,))
        return _medication(row) if row else None

    async def dose_context(self, medication_id: int) -> tuple[str, str, str] | None:
        """Return (patient locale, medication name, dose text) of an active medication."""
        row = await self._db.fetchone(
            "SELECT p.locale, m.name, m.dose_text FROM medications m "
            "JOIN patients p ON p.id = m.patient_id WHERE m.id = ? AND m.active = 1",
            (medication_id,),
        )
        return (row["locale"], row["name"], row["dose_text"]) if row else None

    async def medications_of(
        self, patient_id: int, *, active_only: bool = True
    ) -> list[Medication]:
        """Return a patient's medications, by name."""
        rows = await self._db.fetchall(
            "SELECT * FROM medications WHERE patient_id = ? AND (active = 1 OR ? = 0) "
            "ORDER BY name COLLATE NOCASE, id",
            (patient_id, int(active_only)),
        )
        return [_medication(row) for row in rows]

    async def active_medications_of(self, patient_ids: Collection[int]) -> list[Medication]:
        """Return the active medications of these patients, in one query."""
        if not patient_ids:
            return []
        rows = await self._db.fetchall(
            "SELECT * FROM medications WHERE patient_id IN (SELECT value FROM json_each(?)) "
            "AND active = 1 ORDER BY patient_id, id",
            (json.dumps(sorted(patient_ids)),),
        )
        return [_medication(row) for row in rows]

    # dTMS courses and appointments ---------------------------------------------------------

    async def add_course(
        self,
        tx: Transaction,
        patient_id: int,
        start_date: date,
        weekdays: str,
        time: str,
        sessions: int,
        location: str | None,
        now: datetime,
    ) -> int:
        """Insert a dTMS course (its sessions are inserted as appointments by the caller)."""
        row_id = await tx.execute(
            "INSERT INTO tms_courses (patient_id, start_date, weekdays, time, sessions, location, "
            "active, created_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?)",
            (
                patient_id,
                start_date.isoformat(),
                weekdays,
                time,
                sessions,
                location,
                to_db_time(now),
            ),
        )
        assert row_id is not None
        return row_id

    async def deactivate_course(self, tx: Transaction, course_id: int) -> bool:
        """End a course and cancel its sessions that have not started."""
        changed = await tx.execute_rowcount(
            "UPDATE tms_courses SET active = 0 WHERE id = ? AND active = 1", (course_id,)
        )
        await tx.execute(
            "UPDATE appointments SET status = 'cancelled' WHERE course_id = ? "
            "AND status IN ('scheduled', 'confirmed')",
            (course_id,),
        )
        return changed == 1

    async def course(self, course_id: int) -> TmsCourse | None:
        """Return one course."""
        row = await self._db.fetchone("SELECT * FROM tms_courses WHERE id = ?", (course_id,))
        return _course(row) if row else None

    async def courses_of(self, patient_id: int) -> list[TmsCourse]:
        """Return a patient's active courses."""
        rows = await self._db.fetchall(
            "SELECT * FROM tms_courses WHERE patient_id = ? AND active = 1 ORDER BY start_date",
            (patient_id,),
        )
        return [_course(row) for row in rows]

    async def add_appointment(
        self,
        tx: Transaction,
        patient_id: int,
        kind: str,
        starts_at: datetime,
        local_start: datetime,
        timezone: str,
        location: str | None,
        now: datetime,
        *,
        course_id: int | None = None,
        session_number: int | None = None,
        sessions_total: int | None = None,
    ) -> int:
        """Insert an appointment."""
        row_id = await tx.execute(
            "INSERT INTO appointments (patient_id, kind, starts_at, local_start, timezone, "
            "location, course_id, session_number, sessions_total, status, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?)",
            (
                patient_id,
                kind,
                to_db_time(starts_at),
                local_start.isoformat(timespec="minutes"),
                timezone,
                location,
                course_id,
                session_number,
                sessions_total,
                to_db_time(now),
            ),
        )
        assert row_id is not None
        return row_id

    async def set_appointment_status(
        self, tx: Transaction, appointment_id: int, status: str
    ) -> bool:
        """Change an appointment's status."""
        changed = await tx.execute_rowcount(
            "UPDATE appointments SET status = ? WHERE id = ?", (status, appointment_id)
        )
        return changed == 1

    async def appointment(self, appointment_id: int) -> Appointment | None:
        """Return one appointment."""
        row = await self._db.fetchone("SELECT * FROM appointments WHERE id = ?", (appointment_id,))
        return _appointment(row) if row else None

    async def appointments_of(
        self, patient_id: int, *, since: datetime, until: datetime | None = None
    ) -> list[Appointment]:
        """Return a patient's appointments starting in a window, soonest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM appointments WHERE patient_id = ? AND starts_at >= ? "
            "AND (? IS NULL OR starts_at < ?) ORDER BY starts_at, id",
            (
                patient_id,
                to_db_time(since),
                to_db_time(until) if until else None,
                to_db_time(until) if until else None,
            ),
        )
        return [_appointment(row) for row in rows]

    async def live_appointments_of(
        self, patient_ids: Collection[int], since: datetime, until: datetime
    ) -> list[Appointment]:
        """Return the live appointments of these patients starting in a window, in one query."""
        if not patient_ids:
            return []
        rows = await self._db.fetchall(
            "SELECT * FROM appointments WHERE patient_id IN (SELECT value FROM json_each(?)) "
            "AND starts_at >= ? AND starts_at < ? AND status IN ('scheduled', 'confirmed') "
            "ORDER BY starts_at, id",
            (json.dumps(sorted(patient_ids)), to_db_time(since), to_db_time(until)),
        )
        return [_appointment(row) for row in rows]
