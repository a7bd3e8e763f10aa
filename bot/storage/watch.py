"""Reads behind the data alerts and the escalation of urgent alerts (all SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.models import Patient
from bot.storage.db import Database, to_db_time
from bot.storage.repositories import _patient


@dataclass(frozen=True, slots=True)
class RecentCheckin:
    """A check-in answered or changed recently (values only, never the note)."""

    patient_id: int
    day: str
    craving: int | None
    used: bool


class WatchRepository:
    """What the alert sweep reads, and the claim of alerts to escalate."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent_checkins(self, since: datetime) -> list[RecentCheckin]:
        """Return check-ins of watched patients answered or changed since a moment."""
        rows = await self._db.fetchall(
            "SELECT c.patient_id, c.local_date, c.craving, c.used FROM checkins c "
            "JOIN patients p ON p.id = c.patient_id WHERE p.status = 'active' "
            "AND c.updated_at >= ? AND (c.used = 1 OR c.craving IS NOT NULL)",
            (to_db_time(since),),
        )
        return [
            RecentCheckin(r["patient_id"], r["local_date"], r["craving"], bool(r["used"]))
            for r in rows
        ]

    async def ran_out_since(self, since: datetime) -> list[tuple[int, int, str]]:
        """Return (patient, delivery, medication) for doses skipped as "ran out" since then."""
        rows = await self._db.fetchall(
            "SELECT d.patient_id, d.id, COALESCE(m.name, '') AS medication FROM deliveries d "
            "JOIN patients p ON p.id = d.patient_id LEFT JOIN medications m ON m.id = d.ref_id "
            "WHERE p.status = 'active' AND d.kind = 'dose' AND d.response = 'skipped' "
            "AND d.response_detail = 'ran_out' AND d.answered_at >= ?",
            (to_db_time(since),),
        )
        return [(r["patient_id"], r["id"], r["medication"]) for r in rows]

    async def latest_doses(self, since: datetime, limit: int) -> dict[int, list[tuple[int, str]]]:
        """Return, for each watched patient with a miss since then, their latest resolved doses.

        Resolved: answered or missed (a dose still being repeated is not counted yet). Newest
        first, at most ``limit`` per patient.
        """
        rows = await self._db.fetchall(
            "SELECT patient_id, id, status FROM (SELECT d.patient_id, d.id, d.status, "
            "ROW_NUMBER() OVER (PARTITION BY d.patient_id ORDER BY d.due_at DESC, d.id DESC) AS rn "
            "FROM deliveries d WHERE d.kind = 'dose' AND d.status IN ('answered', 'missed') "
            "AND d.patient_id IN (SELECT d2.patient_id FROM deliveries d2 "
            "JOIN patients p ON p.id = d2.patient_id "
            "WHERE p.status = 'active' AND d2.kind = 'dose' "
            "AND d2.status = 'missed' AND d2.due_at >= ?)) WHERE rn <= ? "
            "ORDER BY patient_id, rn",
            (to_db_time(since), limit),
        )
        found: dict[int, list[tuple[int, str]]] = {}
        for r in rows:
            found.setdefault(r["patient_id"], []).append((r["id"], r["status"]))
        return found

    async def last_checkins(self) -> list[tuple[Patient, date | None]]:
        """Return every watched patient with reminders on, and their last answered check-in."""
        rows = await self._db.fetchall(
            "SELECT p.*, (SELECT MAX(c.local_date) FROM checkins c WHERE c.patient_id = p.id "
            "AND (c.craving IS NOT NULL OR c.mood IS NOT NULL OR c.used IS NOT NULL)) AS last_day "
            "FROM patients p WHERE p.status = 'active' AND p.reminders_paused = 0"
        )
        return [
            (_patient(r), date.fromisoformat(r["last_day"]) if r["last_day"] else None)
            for r in rows
        ]

    async def due_for_escalation(self, cutoff: datetime) -> list[int]:
        """Return urgent alerts open since before ``cutoff`` and not escalated yet."""
        rows = await self._db.fetchall(
            "SELECT id FROM alerts WHERE severity = 'urgent' AND acknowledged_at IS NULL "
            "AND escalation = 0 AND created_at <= ? ORDER BY id",
            (to_db_time(cutoff),),
        )
        return [int(r["id"]) for r in rows]

    async def mark_escalated(self, alert_id: int, now: datetime) -> None:
        """Record that an alert went to every clinician (after its deliveries were queued)."""
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE alerts SET escalation = 1, escalated_at = ? WHERE id = ?",
                (to_db_time(now), alert_id),
            )
