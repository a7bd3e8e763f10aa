"""Reads for the care team's digest and trends: one query per table for a whole patient group.

A digest for 1,000 patients must not cost 1,000 round trips: every read takes the list of
patient ids as one JSON parameter (``json_each``) and a date or time range, and returns plain
rows that the digest service folds per patient.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.models import Alert, Patient
from bot.storage.alerts import alert_from_row
from bot.storage.audit import AuditEntry, append_audit
from bot.storage.db import Database, Row, Transaction, from_db_time, to_db_time
from bot.storage.repositories import _patient


@dataclass(frozen=True, slots=True)
class CheckinRow:
    """A day's check-in values (the note is never read here)."""

    patient_id: int
    local_date: date
    craving: int | None
    mood: int | None
    used: bool | None
    dtms_effect: str | None = None  # after-effects of a dTMS session (aftereffects.py)


@dataclass(frozen=True, slots=True)
class DoseRow:
    """One dose reminder and what became of it."""

    patient_id: int
    local_date: date
    due_at: datetime
    status: str
    response: str | None
    detail: str | None
    medication: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One dTMS session."""

    patient_id: int
    starts_at: datetime
    session_number: int | None
    status: str
    attendance: str | None


@dataclass(frozen=True, slots=True)
class GroupRecords:
    """Everything the digest reads about a group of patients over a range."""

    checkins: list[CheckinRow]
    doses: list[DoseRow]
    sessions: list[SessionRow]
    alerts: list[Alert]
    prompts: list[tuple[int, date, datetime]]  # check-in prompts: patient, local date, due
    # Safety messages sent (bot/services/jit.py): patient, message code, when it went out.
    safety: list[tuple[int, str, datetime]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RawRecords:
    """The rows as read, before ``parse_records`` turns them into values."""

    checkins: list[Row]
    doses: list[Row]
    prompts: list[Row]
    sessions: list[Row]
    alerts: list[Row]
    safety: list[Row] = field(default_factory=list)


def parse_records(raw: RawRecords) -> GroupRecords:
    """Turn read rows into values (pure: safe to run in a worker thread)."""
    return GroupRecords(
        checkins=[
            CheckinRow(
                r["patient_id"],
                date.fromisoformat(r["local_date"]),
                r["craving"],
                r["mood"],
                None if r["used"] is None else bool(r["used"]),
                r["dtms_effect"],
            )
            for r in raw.checkins
        ],
        doses=[
            DoseRow(
                r["patient_id"],
                date.fromisoformat(r["local_date"]),
                from_db_time(r["due_at"]),
                r["status"],
                r["response"],
                r["response_detail"],
                r["medication"],
            )
            for r in raw.doses
        ],
        sessions=[
            SessionRow(
                r["patient_id"],
                from_db_time(r["starts_at"]),
                r["session_number"],
                r["status"],
                r["attendance"],
            )
            for r in raw.sessions
        ],
        alerts=[alert_from_row(r) for r in raw.alerts],
        prompts=[
            (r["patient_id"], date.fromisoformat(r["local_date"]), from_db_time(r["due_at"]))
            for r in raw.prompts
        ],
        safety=[(r["patient_id"], r["slot"], from_db_time(r["sent_at"])) for r in raw.safety],
    )


class DigestRepository:
    """Bulk reads of check-ins, doses, sessions and alerts, and the audit of those reads."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def patients_of(self, clinician_id: int, *, every_patient: bool) -> list[Patient]:
        """Return a clinician's patients (an admin's: every patient), by label."""
        if every_patient:
            rows = await self._db.fetchall("SELECT * FROM patients ORDER BY label COLLATE NOCASE")
        else:
            rows = await self._db.fetchall(
                "SELECT p.* FROM patients p JOIN care_team t ON t.patient_id = p.id "
                "WHERE t.clinician_id = ? ORDER BY p.label COLLATE NOCASE",
                (clinician_id,),
            )
        return [_patient(row) for row in rows]

    async def records(
        self,
        patient_ids: Sequence[int],
        first_day: date,
        last_day: date,
        since: datetime,
        until: datetime,
    ) -> RawRecords:
        """Return the group's rows: dated rows by local date, timed rows by UTC instant.

        The rows come back as sqlite3 rows; ``parse_records`` turns them into values, which
        for a large clinic is worth doing off the event loop.
        """
        ids = json.dumps(list(patient_ids))
        days = (ids, first_day.isoformat(), last_day.isoformat())
        times = (ids, to_db_time(since), to_db_time(until))
        return RawRecords(
            checkins=await self._db.fetchall(
                "SELECT patient_id, local_date, craving, mood, used, dtms_effect FROM checkins "
                "WHERE patient_id IN (SELECT value FROM json_each(?)) "
                "AND local_date BETWEEN ? AND ?",
                days,
            ),
            doses=await self._db.fetchall(
                "SELECT d.patient_id, d.local_date, d.due_at, d.status, d.response, "
                "d.response_detail, COALESCE(m.name, '') AS medication "
                "FROM deliveries d LEFT JOIN medications m ON m.id = d.ref_id "
                "WHERE d.kind = 'dose' AND d.patient_id IN (SELECT value FROM json_each(?)) "
                "AND d.local_date BETWEEN ? AND ? AND d.status != 'cancelled'",
                days,
            ),
            prompts=await self._db.fetchall(
                "SELECT patient_id, local_date, due_at FROM deliveries "
                "WHERE kind = 'checkin' AND patient_id IN (SELECT value FROM json_each(?)) "
                "AND local_date BETWEEN ? AND ? AND status != 'cancelled'",
                days,
            ),
            sessions=await self._db.fetchall(
                "SELECT patient_id, starts_at, session_number, status, attendance "
                "FROM appointments WHERE kind = 'dtms' "
                "AND patient_id IN (SELECT value FROM json_each(?)) "
                "AND starts_at >= ? AND starts_at < ? AND status != 'cancelled'",
                times,
            ),
            alerts=await self._db.fetchall(
                "SELECT * FROM alerts WHERE patient_id IN (SELECT value FROM json_each(?)) "
                "AND ((created_at >= ? AND created_at < ?) OR acknowledged_at IS NULL)",
                times,
            ),
            safety=await self._db.fetchall(
                "SELECT patient_id, slot, sent_at FROM deliveries "
                "WHERE kind = 'jit' AND patient_id IN (SELECT value FROM json_each(?)) "
                "AND sent_at >= ? AND sent_at < ? ORDER BY sent_at, id",
                times,
            ),
        )

    async def audit_reads(
        self,
        tx: Transaction,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        patient_ids: Sequence[int],
        now: datetime,
    ) -> None:
        """Write one audit row per patient read, chained, in the caller's transaction."""
        await append_audit(
            tx, [AuditEntry(actor_kind, actor_id, action, pid, now) for pid in patient_ids]
        )

    async def mark_attendance(self, label: str, session_number: int, attendance: str) -> bool:
        """Record whether a patient came to a numbered dTMS session (the latest so numbered)."""
        async with self._db.transaction() as tx:
            changed = await tx.execute_rowcount(
                "UPDATE appointments SET attendance = ? WHERE id = ("
                "SELECT a.id FROM appointments a JOIN patients p ON p.id = a.patient_id "
                "WHERE p.label = ? AND a.kind = 'dtms' AND a.session_number = ? "
                "AND a.status != 'cancelled' ORDER BY a.starts_at DESC LIMIT 1)",
                (attendance, label, session_number),
            )
        return changed == 1
