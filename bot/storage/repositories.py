"""Repositories: the SQL for people, enrollment, consent, senders and the audit log.

Methods that write take a ``Transaction`` so that a service can make several changes atomically;
methods that only read take the ``Database``'s own read helpers.
"""

from __future__ import annotations

import json
from datetime import datetime

from bot.models import (
    Clinician,
    ConsentDecision,
    Invite,
    Patient,
    PatientStatus,
    Sender,
)
from bot.storage.audit import AuditEntry, append_audit
from bot.storage.db import Database, Row, Statement, Transaction, from_db_time, to_db_time


def _opt_time(value: str | None) -> datetime | None:
    return from_db_time(value) if value else None


def _clinician(row: Row) -> Clinician:
    return Clinician(
        id=row["id"],
        telegram_id=row["telegram_id"],
        name=row["name"],
        role=row["role"],
        active=bool(row["active"]),
        created_at=from_db_time(row["created_at"]),
        locale=row["locale"],
    )


def _patient(row: Row) -> Patient:
    return Patient(
        id=row["id"],
        label=row["label"],
        telegram_user_id=row["telegram_user_id"],
        chat_id=row["chat_id"],
        status=PatientStatus(row["status"]),
        timezone=row["timezone"],
        locale=row["locale"],
        checkin_time=row["checkin_time"],
        reminders_paused=bool(row["reminders_paused"]),
        created_at=from_db_time(row["created_at"]),
        enrolled_at=_opt_time(row["enrolled_at"]),
        consented_at=_opt_time(row["consented_at"]),
    )


def _invite(row: Row) -> Invite:
    return Invite(
        id=row["id"],
        patient_id=row["patient_id"],
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        expires_at=from_db_time(row["expires_at"]),
        used_at=_opt_time(row["used_at"]),
        revoked_at=_opt_time(row["revoked_at"]),
    )


_ACTIVE_CLINICIANS = "SELECT * FROM clinicians WHERE active = 1 ORDER BY name COLLATE NOCASE"
_CARE_TEAM = (
    "SELECT c.* FROM clinicians c JOIN care_team t ON t.clinician_id = c.id "
    "WHERE t.patient_id = ? AND c.active = 1 ORDER BY c.name COLLATE NOCASE"
)


_ACTIVE_CLINICIAN = "SELECT * FROM clinicians WHERE telegram_id = ? AND active = 1"
_AGREED_VERSION = (
    "SELECT version FROM consents WHERE patient_id = ? AND decision = 'agreed' "
    "ORDER BY decided_at DESC, id DESC LIMIT 1"
)
# The patient with the version ``_AGREED_VERSION`` would give, in one statement.
_PATIENT_AND_CONSENT = (
    "SELECT p.*, (SELECT c.version FROM consents c WHERE c.patient_id = p.id "
    "AND c.decision = 'agreed' ORDER BY c.decided_at DESC, c.id DESC LIMIT 1) AS agreed_version "
    "FROM patients p WHERE p.telegram_user_id = ?"
)


class ClinicianRepository:
    """Clinicians and their roles."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        tx: Transaction,
        telegram_id: int,
        name: str,
        role: str,
        now: datetime,
        locale: str = "en",
    ) -> int:
        """Insert a clinician, or re-activate and rename one already known by Telegram id."""
        await tx.execute(
            "INSERT INTO clinicians (telegram_id, name, role, active, created_at, locale) "
            "VALUES (?, ?, ?, 1, ?, ?) "
            "ON CONFLICT (telegram_id) DO UPDATE SET name = excluded.name, "
            "role = excluded.role, locale = excluded.locale, active = 1",
            (telegram_id, name, role, to_db_time(now), locale),
        )
        row = await tx.fetchone("SELECT id FROM clinicians WHERE telegram_id = ?", (telegram_id,))
        assert row is not None
        return int(row["id"])

    async def deactivate(self, tx: Transaction, telegram_id: int) -> bool:
        """Mark a clinician inactive (their history and assignments stay for the audit)."""
        changed = await tx.execute_rowcount(
            "UPDATE clinicians SET active = 0 WHERE telegram_id = ? AND active = 1",
            (telegram_id,),
        )
        return changed > 0

    async def by_telegram_id(self, telegram_id: int) -> Clinician | None:
        """Return the active clinician with this Telegram id."""
        row = await self._db.fetchone(_ACTIVE_CLINICIAN, (telegram_id,))
        return _clinician(row) if row else None

    async def by_id(self, clinician_id: int) -> Clinician | None:
        """Return a clinician by internal id, active or not."""
        row = await self._db.fetchone("SELECT * FROM clinicians WHERE id = ?", (clinician_id,))
        return _clinician(row) if row else None

    async def list_active(self) -> list[Clinician]:
        """Return every active clinician, by name."""
        return [_clinician(row) for row in await self._db.fetchall(_ACTIVE_CLINICIANS)]

    async def list_active_tx(self, tx: Transaction) -> list[Clinician]:
        """Return every active clinician, by name, inside a transaction."""
        return [_clinician(row) for row in await tx.fetchall(_ACTIVE_CLINICIANS)]


class PatientRepository:
    """Patients, their Telegram binding and their care team."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, tx: Transaction, label: str, timezone: str, checkin_time: str, now: datetime
    ) -> int:
        """Insert a new invited patient and return its id."""
        row_id = await tx.execute(
            "INSERT INTO patients (label, status, timezone, checkin_time, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (label, PatientStatus.INVITED.value, timezone, checkin_time, to_db_time(now)),
        )
        assert row_id is not None
        return row_id

    async def by_label_tx(self, tx: Transaction, label: str) -> Patient | None:
        """Return a patient by label, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM patients WHERE label = ?", (label,))
        return _patient(row) if row else None

    async def by_id_tx(self, tx: Transaction, patient_id: int) -> Patient | None:
        """Return a patient by id, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM patients WHERE id = ?", (patient_id,))
        return _patient(row) if row else None

    async def by_telegram_user_tx(self, tx: Transaction, user_id: int) -> Patient | None:
        """Return the patient bound to a Telegram user, inside a transaction."""
        row = await tx.fetchone("SELECT * FROM patients WHERE telegram_user_id = ?", (user_id,))
        return _patient(row) if row else None

    async def by_label(self, label: str) -> Patient | None:
        """Return a patient by label."""
        row = await self._db.fetchone("SELECT * FROM patients WHERE label = ?", (label,))
        return _patient(row) if row else None

    async def by_id(self, patient_id: int) -> Patient | None:
        """Return a patient by id."""
        row = await self._db.fetchone("SELECT * FROM patients WHERE id = ?", (patient_id,))
        return _patient(row) if row else None

    async def by_telegram_user(self, user_id: int) -> Patient | None:
        """Return the patient bound to a Telegram user."""
        row = await self._db.fetchone(
            "SELECT * FROM patients WHERE telegram_user_id = ?", (user_id,)
        )
        return _patient(row) if row else None

    async def bind(
        self,
        tx: Transaction,
        patient_id: int,
        user_id: int,
        chat_id: int,
        locale: str,
        now: datetime,
    ) -> None:
        """Bind a Telegram user to a patient and ask for consent next."""
        await tx.execute(
            "UPDATE patients SET telegram_user_id = ?, chat_id = ?, locale = ?, status = ?, "
            "enrolled_at = ? WHERE id = ?",
            (
                user_id,
                chat_id,
                locale,
                PatientStatus.AWAITING_CONSENT.value,
                to_db_time(now),
                patient_id,
            ),
        )

    async def set_status(
        self,
        tx: Transaction,
        patient_id: int,
        status: PatientStatus,
        consented_at: datetime | None = None,
    ) -> None:
        """Change a patient's status (and the consent time when they agree)."""
        if consented_at is None:
            await tx.execute(
                "UPDATE patients SET status = ? WHERE id = ?", (status.value, patient_id)
            )
        else:
            await tx.execute(
                "UPDATE patients SET status = ?, consented_at = ? WHERE id = ?",
                (status.value, to_db_time(consented_at), patient_id),
            )

    async def set_paused(self, tx: Transaction, patient_id: int, *, paused: bool) -> None:
        """Pause or resume a patient's reminders."""
        await tx.execute(
            "UPDATE patients SET reminders_paused = ? WHERE id = ?", (int(paused), patient_id)
        )

    async def set_preferences(
        self,
        tx: Transaction,
        patient_id: int,
        *,
        timezone: str | None = None,
        locale: str | None = None,
        checkin_time: str | None = None,
    ) -> None:
        """Change a patient's zone, language or check-in time (None leaves a value alone)."""
        await tx.execute(
            "UPDATE patients SET timezone = COALESCE(?, timezone), locale = COALESCE(?, locale), "
            "checkin_time = COALESCE(?, checkin_time) WHERE id = ?",
            (timezone, locale, checkin_time, patient_id),
        )

    async def plannable_ids_tx(self, tx: Transaction, patient_ids: set[int]) -> set[int]:
        """Return which of these patients are plannable now, inside a write transaction."""
        rows = await tx.fetchall(
            "SELECT id FROM patients WHERE id IN (SELECT value FROM json_each(?)) "
            "AND status = 'active' AND reminders_paused = 0 AND chat_id IS NOT NULL",
            (json.dumps(sorted(patient_ids)),),
        )
        return {int(row["id"]) for row in rows}

    async def assign(self, tx: Transaction, patient_id: int, clinician_id: int) -> None:
        """Put a clinician on a patient's care team."""
        await tx.execute(
            "INSERT OR IGNORE INTO care_team (patient_id, clinician_id) VALUES (?, ?)",
            (patient_id, clinician_id),
        )

    async def care_team(self, patient_id: int) -> list[Clinician]:
        """Return the active clinicians assigned to a patient."""
        rows = await self._db.fetchall(_CARE_TEAM, (patient_id,))
        return [_clinician(row) for row in rows]

    async def care_team_tx(self, tx: Transaction, patient_id: int) -> list[Clinician]:
        """Return the active clinicians assigned to a patient, inside a transaction."""
        return [_clinician(row) for row in await tx.fetchall(_CARE_TEAM, (patient_id,))]

    async def is_assigned(self, patient_id: int, clinician_id: int) -> bool:
        """Return whether a clinician is on the patient's care team."""
        row = await self._db.fetchone(
            "SELECT 1 FROM care_team WHERE patient_id = ? AND clinician_id = ?",
            (patient_id, clinician_id),
        )
        return row is not None

    async def is_assigned_tx(self, tx: Transaction, patient_id: int, clinician_id: int) -> bool:
        """Return whether a clinician is on the patient's care team, inside a transaction."""
        row = await tx.fetchone(
            "SELECT 1 FROM care_team WHERE patient_id = ? AND clinician_id = ?",
            (patient_id, clinician_id),
        )
        return row is not None

    async def for_clinician(self, clinician_id: int) -> list[Patient]:
        """Return the patients a clinician cares for, by label."""
        rows = await self._db.fetchall(
            "SELECT p.* FROM patients p JOIN care_team t ON t.patient_id = p.id "
            "WHERE t.clinician_id = ? ORDER BY p.label COLLATE NOCASE",
            (clinician_id,),
        )
        return [_patient(row) for row in rows]

    async def every_patient(self) -> list[Patient]:
        """Return every patient, by label (what an admin clinician may see)."""
        rows = await self._db.fetchall("SELECT * FROM patients ORDER BY label COLLATE NOCASE")
        return [_patient(row) for row in rows]


class InviteRepository:
    """One-time enrollment codes, stored only as hashes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        tx: Transaction,
        code_hash: str,
        patient_id: int,
        created_by: int | None,
        now: datetime,
        expires_at: datetime,
    ) -> int:
        """Store a new invite."""
        row_id = await tx.execute(
            "INSERT INTO invites (code_hash, patient_id, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (code_hash, patient_id, created_by, to_db_time(now), to_db_time(expires_at)),
        )
        assert row_id is not None
        return row_id

    async def revoke_open(self, tx: Transaction, patient_id: int, now: datetime) -> None:
        """Revoke a patient's unused invites, so only the newest code works."""
        await tx.execute(
            "UPDATE invites SET revoked_at = ? "
            "WHERE patient_id = ? AND used_at IS NULL AND revoked_at IS NULL",
            (to_db_time(now), patient_id),
        )

    async def by_hash(self, tx: Transaction, code_hash: str) -> Invite | None:
        """Return the invite with this code hash."""
        row = await tx.fetchone("SELECT * FROM invites WHERE code_hash = ?", (code_hash,))
        return _invite(row) if row else None

    async def mark_used(self, tx: Transaction, invite_id: int, now: datetime) -> bool:
        """Mark an invite used; False if someone else used it first."""
        changed = await tx.execute_rowcount(
            "UPDATE invites SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (to_db_time(now), invite_id),
        )
        return changed == 1


class ConsentRepository:
    """Versioned consent decisions: the record of what a patient agreed to and when."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        tx: Transaction,
        patient_id: int,
        version: str,
        decision: ConsentDecision,
        now: datetime,
    ) -> None:
        """Append a consent decision."""
        await tx.execute(
            "INSERT INTO consents (patient_id, version, decision, decided_at) VALUES (?, ?, ?, ?)",
            (patient_id, version, decision.value, to_db_time(now)),
        )

    async def agreed_version(self, patient_id: int, tx: Transaction | None = None) -> str | None:
        """Return the version of the consent text the patient last agreed to, if any."""
        reader = tx if tx is not None else self._db
        row = await reader.fetchone(_AGREED_VERSION, (patient_id,))
        return str(row["version"]) if row else None


def _sender_reads(user_id: int) -> tuple[Statement, Statement]:
    """Return the reads that say who a Telegram user is: clinician, then patient and consent."""
    return Statement(_ACTIVE_CLINICIAN, (user_id,)), Statement(_PATIENT_AND_CONSENT, (user_id,))


def _sender(user_id: int, clinicians: list[Row], patients: list[Row]) -> Sender:
    patient = patients[0] if patients else None
    return Sender(
        user_id=user_id,
        clinician=_clinician(clinicians[0]) if clinicians else None,
        patient=_patient(patient) if patient is not None else None,
        agreed_version=patient["agreed_version"] if patient is not None else None,
    )


class SenderRepository:
    """Who a Telegram user is: the active clinician and the patient bound to it, in one read."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def by_telegram_user(self, user_id: int) -> Sender:
        """Return the clinician, the patient and the consent version agreed, in one round trip."""
        clinicians, patients = await self._db.read(*_sender_reads(user_id))
        return _sender(user_id, clinicians, patients)


class UpdateLog:
    """Update ids already taken in, so a redelivered update is processed at most once."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take_in(
        self, update_id: int, now: datetime, user_id: int | None
    ) -> tuple[bool, Sender | None]:
        """Record an update id and read who sent it, in one round trip.

        Return whether the id was new (False: seen before) and the sender (None without a user).
        """
        insert = Statement(
            "INSERT OR IGNORE INTO processed_updates (update_id, seen_at) VALUES (?, ?)",
            (update_id, to_db_time(now)),
        )
        if user_id is None:
            (recorded,) = await self._db.write(insert)
            return recorded.rowcount == 1, None
        recorded, clinicians, patients = await self._db.write(insert, *_sender_reads(user_id))
        return recorded.rowcount == 1, _sender(user_id, clinicians.rows, patients.rows)

    async def forget_before(self, cutoff: datetime) -> int:
        """Drop ids older than the cutoff (Telegram may reuse ids after a quiet week)."""
        async with self._db.transaction() as tx:
            return await tx.execute_rowcount(
                "DELETE FROM processed_updates WHERE seen_at < ?", (to_db_time(cutoff),)
            )


class AuditRepository:
    """The append-only audit log of who read or changed what."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        tx: Transaction,
        actor_kind: str,
        actor_id: int | None,
        action: str,
        patient_id: int | None,
        now: datetime,
    ) -> None:
        """Append an audit row, chained onto the one before it."""
        await append_audit(tx, [AuditEntry(actor_kind, actor_id, action, patient_id, now)])

    async def for_patient(self, patient_id: int) -> list[tuple[str, str, int | None, datetime]]:
        """Return (action, actor kind, actor id, time) rows about a patient, oldest first."""
        rows = await self._db.fetchall(
            "SELECT action, actor_kind, actor_id, at FROM audit_log WHERE patient_id = ? "
            "ORDER BY at, id",
            (patient_id,),
        )
        return [
            (row["action"], row["actor_kind"], row["actor_id"], from_db_time(row["at"]))
            for row in rows
        ]
