"""A patient's check-in day, stored or read in one round trip to the database.

A tap on a check-in button is one transaction: the answer, the day's prompt marked answered,
whether the day had a dTMS session, and whatever the check-in service adds before (closing a
note question left open) or after (opening the note question). The service
(``bot/services/checkins.py``) decides what to add; this module only puts the statements in
order and reads the outcomes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.models import Patient
from bot.services import aftereffects
from bot.services.checkin_screens import prompt_key
from bot.storage.checkins import Checkin, CheckinRepository, checkin_of
from bot.storage.db import Database, Outcome, Statement


class CheckinDays:
    """Stores and reads a patient's check-in for one local date, each in one round trip."""

    def __init__(self, db: Database, clock: Clock, checkins: CheckinRepository) -> None:
        self._db = db
        self._clock = clock
        self._checkins = checkins

    async def record(
        self,
        patient: Patient,
        day: date,
        *,
        before: Sequence[Statement] = (),
        craving: int | None = None,
        mood: int | None = None,
        used: bool | None = None,
        note_cipher: str | None = None,
        dtms_effect: str | None = None,
        then: Statement | None = None,
    ) -> tuple[Checkin, bool, bool]:
        """Store answers after ``before``, in one round trip.

        The day's prompt is marked answered (a late answer counts; a prompt still waiting to
        be sent is then never sent: the day is already answered); ``then`` runs last. Return
        the day's row as it now stands, whether the day had a dTMS session, and whether
        ``then`` ran.
        """
        now = self._clock.now()
        recording = self._checkins.recording(
            patient.id,
            day,
            now,
            craving=craving,
            mood=mood,
            used=used,
            note_cipher=note_cipher,
            dtms_effect=dtms_effect,
        )
        outcomes = await self._db.write(
            *before,
            recording,
            self._checkins.answering_prompt(prompt_key(patient.id, day), now),
            self._dtms_session(patient, day, now),  # just before ``then``: no_session_found
            *([then] if then is not None else []),
        )
        recorded, _, session = outcomes[len(before) : len(before) + 3]
        assert recorded.first is not None
        opened = then is not None and outcomes[-1].ran
        return checkin_of(recorded.first), bool(session.rows), opened

    async def read(
        self, patient: Patient, day: date, *, before: Sequence[Statement] = ()
    ) -> tuple[Checkin | None, bool]:
        """Return a day's check-in and whether it had a dTMS session, in one round trip.

        ``before`` runs first, in the same transaction (then the trip is a write).
        """
        reads = (
            self._checkins.reading_day(patient.id, day),
            self._dtms_session(patient, day, self._clock.now()),
        )
        if before:
            *_, day_rows, session = await self._db.write(*before, *reads)
            rows, sessions = day_rows.rows, session.rows
        else:
            rows, sessions = await self._db.read(*reads)
        return (checkin_of(rows[0]) if rows else None), bool(sessions)

    def _dtms_session(self, patient: Patient, day: date, now: datetime) -> Statement:
        """Return the read that finds a session asking about after-effects (``aftereffects``)."""
        start, end = aftereffects.day_window(day, ZoneInfo(patient.timezone))
        return self._checkins.finding_dtms_session(patient.id, start, end, now)


def no_session_found(done: Sequence[Outcome]) -> bool:
    """Return whether the dTMS read just before found no session (on the database's thread).

    For a ``then`` of ``CheckinDays.record``, which runs right after that read.
    """
    return not done[-1].rows
