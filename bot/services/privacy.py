"""Patients' privacy rights: a copy of everything stored about them, and erasure on request.

The export is one JSON document: the profile, then every row of every table that belongs to
the patient, then an index of every table in the database saying what was taken from it, so
nothing is left out silently. A few columns are withheld and named as such: those that identify
a member of the care team, other chats' addresses, and credentials. Free-text notes are stored
encrypted; they are decrypted when a decryptor is given and otherwise exported as stored, marked
as encrypted.

Erasure removes the patient row and every row linked to it in one transaction. The audit log
keeps its rows without the link, because clinics must keep access records; the erasure itself
is audited first, and that row is de-linked with the rest.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.models import Patient
from bot.storage.db import Database, to_db_time
from bot.storage.privacy import (
    PATIENTS_TABLE,
    Link,
    PrivacyRepository,
    Row,
    TableShape,
)
from bot.storage.repositories import AuditRepository, ClinicianRepository, PatientRepository

log = logging.getLogger(__name__)

EXPORT_FORMAT = "recovery-companion/patient-export"
EXPORT_VERSION = 1

Decrypt = Callable[[str], str]
TOKEN_LENGTH = 12  # hex digits of the enrollment code's hash in an erasure confirmation


class Withheld(StrEnum):
    """Why a column's values are left out of an export (the column is still named)."""

    STAFF_IDENTITY = "staff_identity"  # which clinician acted; the clinic keeps access records
    CHAT_ADDRESS = "chat_address"  # another chat's address; the patient's own is in the profile
    CREDENTIAL = "credential"  # the hash of an enrollment code


class Contents(StrEnum):
    """What a table holds about the patient, as the export's table index says."""

    PROFILE = "profile"
    YOUR_ROWS = "your_rows"
    NOTHING_ABOUT_PATIENTS = "nothing_about_patients"


_WITHHELD_BY_NAME = {
    "chat_id": Withheld.CHAT_ADDRESS,
    "clinician_id": Withheld.STAFF_IDENTITY,
    "actor_id": Withheld.STAFF_IDENTITY,
    "code_hash": Withheld.CREDENTIAL,
    # The audit chain's actor reference is a clinician's id, and its hashes cover it (a small
    # number is found from a hash by trying them all), so all three go with actor_id.
    "actor_ref": Withheld.STAFF_IDENTITY,
    "prev_hash": Withheld.STAFF_IDENTITY,
    "row_hash": Withheld.STAFF_IDENTITY,
}
_CLINICIANS_TABLE = "clinicians"
_NOTE_WORDS = frozenset({"note", "notes"})


class UnknownPatientError(LookupError):
    """No patient has this label."""


class SubjectKind(StrEnum):
    """Who is asking about their data."""

    PATIENT = "patient"
    CLINICIAN = "clinician"
    NOBODY = "nobody"


@dataclass(frozen=True, slots=True)
class PrivacySubject:
    """The person behind a Telegram user, as far as their stored data goes."""

    kind: SubjectKind
    patient: Patient | None = None


@dataclass(frozen=True, slots=True)
class DataExport:
    """Everything stored about one patient, ready to be written out."""

    patient_id: int
    label: str
    locale: str
    filename: str
    document: Mapping[str, Any] = field(repr=False)

    def content(self) -> bytes:
        """Return the document as UTF-8 JSON."""
        text = json.dumps(self.document, ensure_ascii=False, indent=2)
        return (text + "\n").encode("utf-8")


PART2_NOTICE = (
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records. This record is "
    "protected by federal confidentiality rules (42 CFR part 2) and HIPAA; do not disclose it "
    "further except as those rules permit."
)


class EraseOutcome(StrEnum):
    """What a confirmed erasure request led to."""

    ERASED = "erased"
    STALE = "stale"  # nothing to erase, or the confirmation was for an earlier enrollment


@dataclass(frozen=True, slots=True)
class ErasureResult:
    """The outcome of an erasure and, when it ran, whose and how many rows."""

    outcome: EraseOutcome
    patient_id: int | None = None
    locale: str | None = None
    rows: int = 0


class PrivacyService:
    """Builds data exports and carries out erasure requests, both audited."""

    def __init__(self, db: Database, clock: Clock, *, decrypt: Decrypt | None = None) -> None:
        self._db = db
        self._clock = clock
        self._decrypt = decrypt
        self._repo = PrivacyRepository()
        self._patients = PatientRepository(db)
        self._clinicians = ClinicianRepository(db)
        self._audit = AuditRepository(db)

    async def subject_for_user(self, user_id: int) -> PrivacySubject:
        """Return whether a Telegram user is a patient (with the row), a clinician, or neither."""
        patient = await self._patients.by_telegram_user(user_id)
        if patient is not None:
            return PrivacySubject(SubjectKind.PATIENT, patient)
        if await self._clinicians.by_telegram_id(user_id) is not None:
            return PrivacySubject(SubjectKind.CLINICIAN)
        return PrivacySubject(SubjectKind.NOBODY)

    async def export_for_user(self, user_id: int) -> DataExport | None:
        """Export the data of the patient bound to a Telegram user; None if there is none."""
        patient = await self._patients.by_telegram_user(user_id)
        if patient is None:
            return None
        return await self._export(patient.id, actor_kind="patient", actor_id=patient.id)

    async def export_for_label(self, label: str, *, actor_kind: str = "cli") -> DataExport:
        """Export a patient's data by label, for clinic IT; raise UnknownPatientError."""
        patient = await self._patients.by_label(label)
        if patient is None:
            msg = f"no patient with label {label}"
            raise UnknownPatientError(msg)
        return await self._export(patient.id, actor_kind=actor_kind, actor_id=None)

    async def erasure_token(self, patient: Patient) -> str:
        """Return the token that ties an erasure confirmation to this one enrollment."""
        return _token(patient, await self._repo.enrollment_code_hash(self._db, patient.id))

    async def erase_for_user(self, user_id: int, patient_id: int, token: str) -> ErasureResult:
        """Erase everything about the patient a confirmation was for, if it is still this user."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            patient = await self._patients.by_telegram_user_tx(tx, user_id)
            if patient is None or patient.id != patient_id:
                return ErasureResult(EraseOutcome.STALE)
            code_hash = await self._repo.enrollment_code_hash(tx, patient.id)
            if not hmac.compare_digest(_token(patient, code_hash), token):
                return ErasureResult(EraseOutcome.STALE)
            # Recorded first, then de-linked with every other audit row of the patient.
            await self._audit.add(tx, "patient", patient.id, "patient.erase", patient.id, now)
            shapes = await self._repo.shapes(tx)
            erased = await self._repo.erase(tx, shapes, patient.id, patient.telegram_user_id)
        # The WAL still holds the erased rows' old pages; secure_delete zeroes them in the
        # file, and the checkpoint moves those zeroed pages in and empties the WAL.
        if not await self._db.checkpoint():
            log.warning("erasure checkpoint incomplete patient_id=%s", patient.id)
        total = sum(erased.values())
        log.info("patient data erased patient_id=%s rows=%s", patient.id, total)
        return ErasureResult(EraseOutcome.ERASED, patient.id, patient.locale, total)

    async def _export(
        self, patient_id: int, *, actor_kind: str, actor_id: int | None
    ) -> DataExport:
        now = self._clock.now()
        # One write transaction: a consistent snapshot, and the audit row only if it is taken.
        async with self._db.transaction() as tx:
            patient = await self._patients.by_id_tx(tx, patient_id)
            if patient is None:
                msg = f"no patient with id {patient_id}"
                raise UnknownPatientError(msg)
            shapes = await self._repo.shapes(tx)
            found = {
                shape.name: await self._repo.rows(tx, shape, patient.id, patient.telegram_user_id)
                for shape in shapes
            }
            await self._audit.add(tx, actor_kind, actor_id, "patient.export", patient.id, now)
        log.info("patient data exported patient_id=%s actor=%s", patient.id, actor_kind)
        document = self._document(patient, shapes, found, now)
        local_date = now.astimezone(ZoneInfo(patient.timezone)).date()
        return DataExport(
            patient_id=patient.id,
            label=patient.label,
            locale=patient.locale,
            filename=f"my-data-{local_date.isoformat()}.json",
            document=document,
        )

    def _document(
        self,
        patient: Patient,
        shapes: list[TableShape],
        found: Mapping[str, list[Row]],
        now: datetime,
    ) -> dict[str, Any]:
        data: dict[str, list[Row]] = {}
        index: dict[str, dict[str, Any]] = {}
        profile: Row = {}
        for shape in shapes:
            withheld = _withheld_columns(shape)
            notes = [c for c in shape.columns if _is_note(c) and c not in withheld]
            rows = [self._clean_row(row, withheld, notes) for row in found[shape.name]]
            entry: dict[str, Any] = {"linked_by": _linked_by(shape)}
            if shape.link == Link.PROFILE:
                entry["contents"] = Contents.PROFILE.value
                profile = rows[0] if rows else {}
            elif shape.link == Link.NONE:
                entry["contents"] = Contents.NOTHING_ABOUT_PATIENTS.value
            else:
                entry["contents"] = Contents.YOUR_ROWS.value
                entry["rows"] = len(rows)
                data[shape.name] = rows
            if shape.link != Link.NONE:
                if withheld:
                    entry["withheld_columns"] = {c: reason.value for c, reason in withheld.items()}
                if notes:
                    state = "decrypted" if self._decrypt else "as_stored"
                    entry["encrypted_columns"] = dict.fromkeys(notes, state)
            index[shape.name] = entry
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "generated_at": to_db_time(now),
            # The file leaves the bot (to the patient, or to clinic IT for a request): it carries
            # the notice that prohibits redisclosure, as every disclosure does.
            "notice": PART2_NOTICE,
            "patient": profile or {"label": patient.label},
            "data": data,
            "tables": index,
        }

    def _clean_row(self, row: Row, withheld: Mapping[str, Withheld], notes: list[str]) -> Row:
        clean: Row = {}
        for column, value in row.items():
            if column in withheld:
                continue
            if column in notes and value is not None:
                clean[column] = self._note_value(value)
            else:
                clean[column] = _plain(value)
        return clean

    def _note_value(self, value: Any) -> Any:
        if self._decrypt is not None and isinstance(value, str):
            try:
                return self._decrypt(value)
            except Exception:  # any failure of the decryptor exports the value as stored
                log.warning("note could not be decrypted for export")
        return {"encrypted": True, "value": _plain(value)}


def _token(patient: Patient, code_hash: str | None) -> str:
    # SQLite may give a new patient the id of an erased one, so a Yes from before an erasure
    # must not match a later enrollment: the random code they enrolled with tells them apart.
    if code_hash:
        return code_hash[:TOKEN_LENGTH]
    return f"t{int(patient.created_at.timestamp())}"


def _withheld_columns(shape: TableShape) -> dict[str, Withheld]:
    if shape.name == PATIENTS_TABLE:
        return {}
    withheld = {c: _WITHHELD_BY_NAME[c] for c in shape.columns if c in _WITHHELD_BY_NAME}
    for fk in shape.foreign_keys:
        if fk.table == _CLINICIANS_TABLE:
            withheld[fk.column] = Withheld.STAFF_IDENTITY
    return withheld


def _is_note(column: str) -> bool:
    return bool(_NOTE_WORDS.intersection(column.lower().split("_")))


def _linked_by(shape: TableShape) -> str | None:
    if shape.link == Link.FOREIGN_KEY and shape.via is not None:
        return f"{shape.via.column} -> {shape.via.table}.{shape.via.to}"
    if shape.link == Link.NONE:
        return None
    return {
        Link.PROFILE: "id",
        Link.PATIENT_ID: "patient_id",
        Link.TELEGRAM_USER: "user_id",
    }[shape.link]


def _plain(value: Any) -> Any:
    """Return a stored value as JSON can hold it (binary as base64)."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return value
