"""The weekly digest: built from the database for a clinician's patients, every read audited.

Everything is computed from the database, never from memory (``digest_figures``), in a worker
thread so that a large clinic's digest does not hold the event loop; what it holds is in
``digest_model``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.models import Clinician, Patient
from bot.services.digest_figures import summarise_all
from bot.services.digest_model import ENROLLED, TREND_DAYS, WEEK, PatientWeek, Rules, WeeklyDigest
from bot.storage.db import Database
from bot.storage.digest import DigestRepository


class DigestService:
    """Builds weekly digests and one patient's trend from the database; every read is audited."""

    def __init__(self, db: Database, clock: Clock, rules: Rules) -> None:
        self._db = db
        self._clock = clock
        self._rules = rules
        self._repo = DigestRepository(db)

    async def build_weekly_digest(
        self,
        clinician: Clinician,
        week_end: date,
        *,
        actor_kind: str = "clinician",
        action: str = "digest.read",
    ) -> WeeklyDigest:
        """Compute a clinician's digest of the seven local days ending on ``week_end``."""
        now = self._clock.now()
        patients = [
            p
            for p in await self._repo.patients_of(clinician.id, every_patient=clinician.is_admin)
            if p.status in ENROLLED
        ]
        weeks = await self._weeks(patients, week_end, now)
        async with self._db.transaction() as tx:
            await self._repo.audit_reads(
                tx,
                actor_kind,
                clinician.id if actor_kind == "clinician" else None,
                action,
                [p.id for p in patients],
                now,
            )
        ranked = sorted(weeks, key=lambda w: (-w.score, w.patient.label.casefold()))
        return WeeklyDigest(
            clinician=clinician,
            week_start=week_end - timedelta(days=WEEK - 1),
            week_end=week_end,
            generated_at=now,
            patients=tuple(ranked),
        )

    async def patient_week(
        self, clinician: Clinician, patient: Patient, week_end: date
    ) -> PatientWeek:
        """Compute one patient's week and trend for ``/patient`` (an audited read)."""
        now = self._clock.now()
        (week,) = await self._weeks([patient], week_end, now, with_events=True)
        async with self._db.transaction() as tx:
            await self._repo.audit_reads(
                tx, "clinician", clinician.id, "patient.trend", [patient.id], now
            )
        return week

    async def mark_attendance(self, label: str, session_number: int, *, attended: bool) -> bool:
        """Record whether a patient came to a numbered dTMS session."""
        return await self._repo.mark_attendance(
            label, session_number, "attended" if attended else "missed"
        )

    async def _weeks(
        self,
        patients: Sequence[Patient],
        week_end: date,
        now: datetime,
        *,
        with_events: bool = False,
    ) -> list[PatientWeek]:
        if not patients:
            return []
        first_day = week_end - timedelta(days=TREND_DAYS - 1)
        # Timed rows (sessions, alerts) are fetched a day wider than any zone's offset and
        # placed on local days per patient below.
        since = datetime.combine(first_day - timedelta(days=1), time(), UTC)
        until = datetime.combine(week_end + timedelta(days=2), time(), UTC)
        raw = await self._repo.records([p.id for p in patients], first_day, week_end, since, until)
        # Parsing and arithmetic grow with the clinic: a worker thread keeps the event loop,
        # which answers every patient, free while a large digest is computed.
        return await asyncio.to_thread(
            summarise_all, patients, raw, week_end, now, self._rules, with_events
        )


def week_ending_for(moment: datetime, zone: ZoneInfo, *, include_today: bool) -> date:
    """Return the last day of the digest's week: today (on demand) or yesterday (scheduled)."""
    today = moment.astimezone(zone).date()
    return today if include_today else today - timedelta(days=1)
