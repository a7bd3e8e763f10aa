"""The audit log's hash chain: the one way audit rows are written, and the reads that check it.

Each row's ``row_hash`` is the SHA-256 of a canonical JSON array of ``prev_hash`` (the previous
row's ``row_hash``; 64 zeros for the first chained row), ``at``, ``actor_kind``, ``actor_ref``,
``action`` and ``subject_ref``. The references are pseudonymous so that erasure can remove the
patient link without breaking the chain: ``subject_ref`` is the patient's random key in
``audit_subjects`` (empty when no patient is concerned), ``actor_ref`` the same key when a
patient acted, else ``actor_kind``'s own id as text (empty for none). Erasure deletes the key
with the patient, so the kept rows can no longer be tied to the patient's id.

The chain is computed inside the caller's write transaction (``BEGIN IMMEDIATE``), so two
writers, even in two processes, never chain onto the same row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.storage.db import Database, Row, Transaction, from_db_time, to_db_time

GENESIS = "0" * 64
PATIENT_ACTOR = "patient"
VERIFY_BATCH = 5000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit row to append: who did what to which patient's data, when."""

    actor_kind: str
    actor_id: int | None
    action: str
    patient_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredAuditRow:
    """An audit row as stored, hashes and references included."""

    id: int
    at: str
    actor_kind: str
    actor_id: int | None
    action: str
    patient_id: int | None
    actor_ref: str | None
    subject_ref: str | None
    prev_hash: str | None
    row_hash: str | None


@dataclass(frozen=True, slots=True)
class AuditReadRow:
    """One audit row about a patient, with the clinician's name when a clinician acted."""

    at: datetime
    actor_kind: str
    actor_id: int | None
    clinician_name: str | None
    action: str


def chain_hash(
    prev_hash: str, at: str, actor_kind: str, actor_ref: str, action: str, subject_ref: str
) -> str:
    """Return the SHA-256 (hex) of a row's canonical content chained onto ``prev_hash``."""
    content = json.dumps(
        [prev_hash, at, actor_kind, actor_ref, action, subject_ref],
        ensure_ascii=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(content.encode("ascii")).hexdigest()


def actor_ref_of(actor_kind: str, actor_id: int | None, refs: dict[int, str]) -> str:
    """Return the hashed reference to an actor: a patient's key, else the id as text."""
    if actor_id is None:
        return ""
    return refs[actor_id] if actor_kind == PATIENT_ACTOR else str(actor_id)


async def append_audit(tx: Transaction, entries: Sequence[AuditEntry]) -> None:
    """Append audit rows, each chained onto the one before, in the caller's transaction."""
    if not entries:
        return
    patient_ids = {e.patient_id for e in entries if e.patient_id is not None}
    patient_ids |= {
        e.actor_id for e in entries if e.actor_kind == PATIENT_ACTOR and e.actor_id is not None
    }
    refs = await _subject_refs(tx, sorted(patient_ids))
    last = await tx.fetchone("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
    prev = last["row_hash"] if last is not None and last["row_hash"] else GENESIS
    rows: list[tuple[object, ...]] = []
    for entry in entries:
        at = to_db_time(entry.at)
        actor_ref = actor_ref_of(entry.actor_kind, entry.actor_id, refs)
        subject_ref = refs[entry.patient_id] if entry.patient_id is not None else ""
        digest = chain_hash(prev, at, entry.actor_kind, actor_ref, entry.action, subject_ref)
        rows.append(
            (
                at,
                entry.actor_kind,
                entry.actor_id,
                entry.action,
                entry.patient_id,
                actor_ref,
                subject_ref,
                prev,
                digest,
            )
        )
        prev = digest
    await tx.executemany(
        "INSERT INTO audit_log (at, actor_kind, actor_id, action, patient_id, actor_ref, "
        "subject_ref, prev_hash, row_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


async def _subject_refs(tx: Transaction, patient_ids: Sequence[int]) -> dict[int, str]:
    """Return each patient's random audit key, creating the keys not made yet."""
    if not patient_ids:
        return {}
    ids = json.dumps(list(patient_ids))
    await tx.execute(
        "INSERT OR IGNORE INTO audit_subjects (patient_id, ref) "
        "SELECT value, lower(hex(randomblob(16))) FROM json_each(?)",
        (ids,),
    )
    rows = await tx.fetchall(
        "SELECT patient_id, ref FROM audit_subjects "
        "WHERE patient_id IN (SELECT value FROM json_each(?))",
        (ids,),
    )
    return {int(row["patient_id"]): str(row["ref"]) for row in rows}


class AuditTrailRepository:
    """Reads of the audit log for checking its chain and for listing who read a patient."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def rows_after(self, after_id: int, limit: int = VERIFY_BATCH) -> list[StoredAuditRow]:
        """Return up to ``limit`` rows with an id above ``after_id``, in id order."""
        rows = await self._db.fetchall(
            "SELECT id, at, actor_kind, actor_id, action, patient_id, actor_ref, subject_ref, "
            "prev_hash, row_hash FROM audit_log WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [_stored(row) for row in rows]

    async def subject_refs(self) -> dict[int, str]:
        """Return every living patient's audit key."""
        rows = await self._db.fetchall("SELECT patient_id, ref FROM audit_subjects")
        return {int(row["patient_id"]): str(row["ref"]) for row in rows}

    async def about_patient(self, patient_id: int) -> list[AuditReadRow]:
        """Return every audit row about a patient, oldest first, with clinicians' names."""
        rows = await self._db.fetchall(
            "SELECT a.at, a.actor_kind, a.actor_id, a.action, c.name AS clinician_name "
            "FROM audit_log a LEFT JOIN clinicians c "
            "ON a.actor_kind = 'clinician' AND c.id = a.actor_id "
            "WHERE a.patient_id = ? ORDER BY a.id",
            (patient_id,),
        )
        return [
            AuditReadRow(
                at=from_db_time(row["at"]),
                actor_kind=row["actor_kind"],
                actor_id=row["actor_id"],
                clinician_name=row["clinician_name"],
                action=row["action"],
            )
            for row in rows
        ]


def _stored(row: Row) -> StoredAuditRow:
    return StoredAuditRow(
        id=row["id"],
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_id=row["actor_id"],
        action=row["action"],
        patient_id=row["patient_id"],
        actor_ref=row["actor_ref"],
        subject_ref=row["subject_ref"],
        prev_hash=row["prev_hash"],
        row_hash=row["row_hash"],
    )
