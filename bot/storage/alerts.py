"""The SQL of alerts for the care team: raised, acknowledged, escalated, listed."""

from __future__ import annotations

from datetime import datetime

from bot.models import Alert
from bot.storage.db import Database, Row, Transaction, from_db_time, to_db_time
from bot.storage.repositories import _opt_time


def alert_from_row(row: Row) -> Alert:
    return Alert(
        id=row["id"],
        patient_id=row["patient_id"],
        kind=row["kind"],
        severity=row["severity"],
        category=row["category"],
        created_at=from_db_time(row["created_at"]),
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=_opt_time(row["acknowledged_at"]),
        escalation=row["escalation"],
    )


class AlertRepository:
    """Alerts for the care team."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        tx: Transaction,
        patient_id: int,
        kind: str,
        severity: str,
        category: str | None,
        now: datetime,
    ) -> int:
        """Insert an alert and return its id."""
        row_id = await tx.execute(
            "INSERT INTO alerts (patient_id, kind, severity, category, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (patient_id, kind, severity, category, to_db_time(now)),
        )
        assert row_id is not None
        return row_id

    async def add_keyed(
        self,
        tx: Transaction,
        patient_id: int,
        kind: str,
        key: str,
        detail: str,
        now: datetime,
    ) -> int | None:
        """Insert a routine alert named by a key; None if that key was raised before."""
        row = await tx.fetchone(
            "INSERT INTO alerts (patient_id, kind, severity, category, created_at, dedupe_key) "
            "VALUES (?, ?, 'routine', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (patient_id, kind, detail, to_db_time(now), key),
        )
        return int(row["id"]) if row else None

    async def recent_open(
        self, tx: Transaction, patient_id: int, kind: str, *, since: datetime
    ) -> int | None:
        """Return the id of an open alert of this kind raised since a moment, if any."""
        row = await tx.fetchone(
            "SELECT id FROM alerts WHERE patient_id = ? AND kind = ? "
            "AND acknowledged_at IS NULL AND created_at >= ? ORDER BY id DESC LIMIT 1",
            (patient_id, kind, to_db_time(since)),
        )
        return int(row["id"]) if row else None

    async def category_of(self, tx: Transaction, alert_id: int) -> str | None:
        """Return an alert's crisis category (None when it has none)."""
        row = await tx.fetchone("SELECT category FROM alerts WHERE id = ?", (alert_id,))
        return row["category"] if row else None

    async def acknowledge(
        self, tx: Transaction, alert_id: int, clinician_id: int, now: datetime
    ) -> bool:
        """Acknowledge an open alert; False if it was already acknowledged."""
        changed = await tx.execute_rowcount(
            "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? "
            "WHERE id = ? AND acknowledged_at IS NULL",
            (clinician_id, to_db_time(now), alert_id),
        )
        return changed == 1

    async def by_id(self, alert_id: int) -> Alert | None:
        """Return an alert."""
        row = await self._db.fetchone("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return alert_from_row(row) if row else None

    async def by_id_tx(self, tx: Transaction, alert_id: int) -> Alert | None:
        """Return an alert, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return alert_from_row(row) if row else None

    async def open_for(self, patient_id: int) -> list[Alert]:
        """Return a patient's unacknowledged alerts, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM alerts WHERE patient_id = ? AND acknowledged_at IS NULL "
            "ORDER BY created_at DESC, id DESC",
            (patient_id,),
        )
        return [alert_from_row(row) for row in rows]
