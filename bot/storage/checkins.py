"""The checkins table: all the SQL for daily check-ins, one row per patient and local date.

Each answer is written as soon as it is given (an upsert that sets only the values given), so
a check-in answered half-way keeps what was answered and an edit replaces only what changed.
The note is stored as the ciphertext the service hands over; this module never sees its text.
It also answers whether a day had a dTMS session, which decides the after-effects question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.storage.db import Database, Row, Statement, Transaction, from_db_time, to_db_time

# One statement for every answer: a value given replaces the stored one, a value not given
# (NULL) leaves the stored one alone.
_RECORD = (
    "INSERT INTO checkins (patient_id, local_date, craving, mood, used, note_cipher, dtms_effect, "
    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (patient_id, local_date) DO UPDATE "
    "SET craving = COALESCE(excluded.craving, checkins.craving), "
    "mood = COALESCE(excluded.mood, checkins.mood), "
    "used = COALESCE(excluded.used, checkins.used), "
    "note_cipher = COALESCE(excluded.note_cipher, checkins.note_cipher), "
    "dtms_effect = COALESCE(excluded.dtms_effect, checkins.dtms_effect), "
    "updated_at = excluded.updated_at"
)
_BY_DATE = "SELECT * FROM checkins WHERE patient_id = ? AND local_date = ?"
# The day's prompt, answered by the check-in (a late answer counts; one still waiting to be
# sent is then never sent). The same change as DeliveryRepository.answer, found by its key.
_ANSWER_PROMPT = (
    "UPDATE deliveries SET status = 'answered', response = 'checkin', response_detail = NULL, "
    "answered_at = ?, next_repeat_at = NULL, miss_reason = NULL "
    "WHERE dedupe_key = ? AND status IN ('sent', 'missed', 'pending', 'sending')"
)

# A session counts for the after-effects question when it has started and was not called off:
# staff marked it attended, or it is still on (scheduled or confirmed) and not marked missed.
_DTMS_SESSION = (
    "SELECT 1 FROM appointments WHERE patient_id = ? AND kind = 'dtms' "
    "AND starts_at >= ? AND starts_at < ? AND starts_at <= ? "
    "AND (attendance = 'attended' OR (attendance IS NULL "
    "AND status IN ('scheduled', 'confirmed'))) LIMIT 1"
)


@dataclass(frozen=True, slots=True)
class Checkin:
    """One day's check-in as stored: None marks a question not answered."""

    id: int
    patient_id: int
    local_date: date
    craving: int | None
    mood: int | None
    used: bool | None
    note_cipher: str | None
    created_at: datetime
    updated_at: datetime
    dtms_effect: str | None = None  # after a dTMS session: none, headache, scalp, ...

    @property
    def has_note(self) -> bool:
        """Return whether a note is stored for the day."""
        return self.note_cipher is not None


def checkin_of(row: Row) -> Checkin:
    """Read a stored check-in row."""
    used = row["used"]
    return Checkin(
        id=row["id"],
        patient_id=row["patient_id"],
        local_date=date.fromisoformat(row["local_date"]),
        craving=row["craving"],
        mood=row["mood"],
        used=None if used is None else bool(used),
        note_cipher=row["note_cipher"],
        created_at=from_db_time(row["created_at"]),
        updated_at=from_db_time(row["updated_at"]),
        dtms_effect=row["dtms_effect"],
    )


class CheckinRepository:
    """The ``checkins`` table, and the check-in prompt's row among the deliveries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        tx: Transaction,
        patient_id: int,
        day: date,
        now: datetime,
        *,
        craving: int | None = None,
        mood: int | None = None,
        used: bool | None = None,
        note_cipher: str | None = None,
        dtms_effect: str | None = None,
    ) -> None:
        """Store the answers given (each replaces that day's value); leave the others alone."""
        statement = self.recording(
            patient_id,
            day,
            now,
            craving=craving,
            mood=mood,
            used=used,
            note_cipher=note_cipher,
            dtms_effect=dtms_effect,
        )
        await tx.execute(statement.sql, statement.params)

    def recording(
        self,
        patient_id: int,
        day: date,
        now: datetime,
        *,
        craving: int | None = None,
        mood: int | None = None,
        used: bool | None = None,
        note_cipher: str | None = None,
        dtms_effect: str | None = None,
    ) -> Statement:
        """Return the statement ``record`` runs, giving back the day's row as it then stands."""
        stamp = to_db_time(now)
        return Statement(
            f"{_RECORD} RETURNING *",
            (
                patient_id,
                day.isoformat(),
                craving,
                mood,
                None if used is None else int(used),
                note_cipher,
                dtms_effect,
                stamp,
                stamp,
            ),
        )

    def reading_day(self, patient_id: int, day: date) -> Statement:
        """Return the statement that reads a patient's check-in for one local date."""
        return Statement(_BY_DATE, (patient_id, day.isoformat()))

    def answering_prompt(self, dedupe_key: str, now: datetime) -> Statement:
        """Return the statement that marks the day's prompt answered, if one was planned."""
        return Statement(_ANSWER_PROMPT, (to_db_time(now), dedupe_key))

    def finding_dtms_session(
        self, patient_id: int, since: datetime, until: datetime, now: datetime
    ) -> Statement:
        """Return the statement whose row says a live dTMS session was in ``[since, until)``."""
        return Statement(
            _DTMS_SESSION, (patient_id, to_db_time(since), to_db_time(until), to_db_time(now))
        )

    async def by_date(self, patient_id: int, day: date) -> Checkin | None:
        """Return a patient's check-in for one local date."""
        row = await self._db.fetchone(_BY_DATE, (patient_id, day.isoformat()))
        return checkin_of(row) if row else None

    async def had_dtms_session(
        self, patient_id: int, since: datetime, until: datetime, now: datetime
    ) -> bool:
        """Return whether a live dTMS session started in ``[since, until)`` and by ``now``."""
        statement = self.finding_dtms_session(patient_id, since, until, now)
        return await self._db.fetchone(statement.sql, statement.params) is not None
