"""``companion demo``: a synthetic clinic, and its weekly digest exactly as a clinician gets it.

Twelve patients with four weeks of check-ins, doses, skips and dTMS sessions are created through
the same services the bot uses (enrollment, consent, schedules, the planner, answers), in a
temporary database with a clock that walks through the four weeks. A few patients need
attention for different reasons. Then the digest of the last week is rendered and written to a
folder: message parts, charts, the HTML report and the CSV. No token and no network.

Everything is seeded, so two runs give the same clinic.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services, build_services
from bot.models import Patient
from bot.services.reports import ChartPool, DigestFiles, write_files
from bot.storage.checkins import CheckinRepository
from bot.storage.schedules import ScheduleRepository
from bot.storage.sqlite_engine import SqliteDatabase

WEEKS = 4
SEED = 14
LEAD_TELEGRAM_ID = 9_000_001
COLLEAGUE_TELEGRAM_ID = 9_000_002
FIRST_PATIENT_USER = 8_000_000
SUBOXONE = ("Buprenorphine-naloxone (Suboxone)", "8 mg/2 mg film", "08:00")
METHADONE = ("Methadone", "60 mg liquid", "07:30")
NALTREXONE = ("Naltrexone", "50 mg tablet", "09:00")


@dataclass(frozen=True, slots=True)
class Persona:
    """How one synthetic patient's four weeks go."""

    label: str
    medication: tuple[str, str, str] | None
    dtms: bool = False
    craving: tuple[int, int] = (1, 4)  # usual range
    mood: tuple[int, int] = (6, 8)
    adherence: float = 0.95
    answer_rate: float = 0.95  # share of days with a check-in
    # The last week, where a patient may change: (craving, mood) ranges, use days (0 = Monday).
    last_week: tuple[tuple[int, int], tuple[int, int]] | None = None
    use_days: tuple[int, ...] = ()
    skip_ran_out_days: tuple[int, ...] = ()
    silent_from: int | None = None  # days before the digest from which no check-in came
    crisis_day: int | None = None
    blocked_day: int | None = None
    misses_session_on: int | None = None  # weekday of the last week's missed dTMS session
    joins_days_before: int | None = None  # enrolled this many days before the digest
    # The last week's dTMS after-effects by weekday ("none" on other session days).
    after_effects: tuple[tuple[int, str], ...] = ()


PERSONAS = (
    Persona("P-101", SUBOXONE, dtms=True, last_week=((7, 10), (2, 4)), crisis_day=1),
    Persona("P-102", SUBOXONE, last_week=((5, 8), (4, 6)), use_days=(2, 5), answer_rate=1.0),
    Persona("P-103", SUBOXONE, adherence=0.8, skip_ran_out_days=(3, 4, 5)),
    Persona("P-104", METHADONE, silent_from=5),
    Persona("P-105", NALTREXONE, dtms=True, misses_session_on=2),
    Persona("P-106", METHADONE, blocked_day=3),
    Persona(
        "P-107",
        SUBOXONE,
        dtms=True,
        last_week=((2, 5), (2, 4)),
        after_effects=((0, "headache"), (1, "headache"), (3, "scalp")),
    ),
    Persona("P-108", SUBOXONE, dtms=True, after_effects=((0, "headache"),)),
    Persona("P-109", METHADONE),
    Persona("P-110", NALTREXONE),
    Persona("P-111", None, dtms=True, adherence=1.0),
    Persona("P-112", SUBOXONE, joins_days_before=3),
)


async def build_demo(out: Path, settings: Settings, *, locale: str = "en") -> DigestFiles:
    """Create the synthetic clinic in a temporary database and write its digest into ``out``."""
    with tempfile.TemporaryDirectory(prefix="companion-demo-") as folder:
        demo_settings = settings.model_copy(
            update={"database_path": Path(folder) / "demo.sqlite3", "telegram_bot_token": None}
        )
        zone = demo_settings.zone
        today = datetime.now(UTC).astimezone(zone).date()
        # The digest goes out on the most recent digest weekday (today if it is one).
        digest_day = today - timedelta(days=(today.weekday() - demo_settings.digest_weekday) % 7)
        first_day = digest_day - timedelta(days=WEEKS * 7)
        clock = ManualClock(_at(first_day, time(6, 0), zone))
        db = SqliteDatabase(demo_settings.database_path)
        charts = ChartPool(demo_settings.chart_workers)
        services = build_services(demo_settings, clock, db, charts=charts)
        await db.connect()
        try:
            await db.migrate()
            clinic = _Clinic(services, clock, zone, random.Random(SEED), digest_day)  # noqa: S311 - synthetic data, not secrets
            await clinic.populate()
            clock.set(_at(digest_day, demo_settings.digest_time, zone))
            lead = await services.careteam.clinician_for_user(LEAD_TELEGRAM_ID)
            assert lead is not None
            # The same build and rendering as the scheduled digest's delivery.
            digest = await services.digests.build_weekly_digest(
                lead, digest_day - timedelta(days=1), actor_kind="cli", action="digest.demo"
            )
            files = await services.renderer.render(digest, locale, charts)
            write_files(files, out)
            return files
        finally:
            charts.close()
            await db.close()


def _at(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock_time, zone).astimezone(UTC)


class _Clinic:
    def __init__(
        self,
        services: Services,
        clock: ManualClock,
        zone: ZoneInfo,
        rng: random.Random,
        digest_day: date,
    ) -> None:
        self.s = services
        self.clock = clock
        self.zone = zone
        self.rng = rng
        self.digest_day = digest_day
        self.checkins = CheckinRepository(services.db)
        self.schedules = ScheduleRepository(services.db)
        self.patients: dict[str, Patient] = {}

    async def populate(self) -> None:
        s = self.s
        await s.careteam.add_clinician(LEAD_TELEGRAM_ID, "Dr. Rivera (demo)", role="admin")
        await s.careteam.add_clinician(COLLEAGUE_TELEGRAM_ID, "Nurse Kim (demo)")
        for day_index in range(WEEKS * 7):
            day = self.digest_day - timedelta(days=WEEKS * 7 - day_index)
            self.clock.set(_at(day, time(0, 5), self.zone))
            for number, persona in enumerate(PERSONAS):
                joins = WEEKS * 7 - (persona.joins_days_before or WEEKS * 7)
                if day_index == joins:
                    await self._enrol(number, persona, day)
            await s.reminders.plan()
            for persona in PERSONAS:
                if persona.label in self.patients:
                    await self._live(persona, day)
            # Past their grace, unanswered reminders are recorded missed, as the dispatcher does.
            self.clock.set(_at(day, time(23, 59), self.zone))
            await s.reminders.deliveries.expire_overdue(self.clock.now())

    async def _enrol(self, number: int, persona: Persona, day: date) -> None:
        s = self.s
        colleague = COLLEAGUE_TELEGRAM_ID if number % 3 == 0 else LEAD_TELEGRAM_ID
        issued = await s.enrollment.create_invite(
            persona.label, clinician_telegram_id=colleague, days=30
        )
        user = FIRST_PATIENT_USER + number
        await s.enrollment.start(user, user, issued.code, "en")
        patient = await s.enrollment.decide_consent(user, agreed=True)
        assert patient is not None
        self.patients[persona.label] = patient
        if persona.medication:
            name, dose, at = persona.medication
            await s.schedules.add_medication(
                persona.label, name=name, dose=dose, times=at, start=day
            )
        if persona.dtms:
            await s.schedules.add_tms_course(
                persona.label, start=day, time_text="10:00", days="mon-fri", sessions=30
            )

    async def _live(self, persona: Persona, day: date) -> None:
        """Answer one day as the persona would."""
        patient = self.patients[persona.label]
        days_before = (self.digest_day - day).days
        last_week = days_before <= 7
        weekday = day.weekday()
        if persona.blocked_day is not None and last_week and weekday >= persona.blocked_day:
            if weekday == persona.blocked_day:
                self.clock.set(_at(day, time(9, 30), self.zone))
                await self.s.reminders.mark_unreachable(patient.id)
            return
        silent = persona.silent_from is not None and days_before <= persona.silent_from
        await self._doses(persona, patient, day, last_week=last_week, silent=silent)
        await self._sessions(persona, patient, day, last_week=last_week)
        await self._checkin(persona, patient, day, days_before, last_week=last_week)
        if persona.crisis_day == weekday and last_week:
            self.clock.set(_at(day, time(22, 40), self.zone))
            await self.s.careteam.raise_alert(
                patient, kind="crisis", severity="urgent", category="suicide"
            )

    async def _doses(
        self, persona: Persona, patient: Patient, day: date, *, last_week: bool, silent: bool
    ) -> None:
        deliveries = self.s.reminders.deliveries
        for dose in await deliveries.of_patient_day(patient.id, "dose", day.isoformat()):
            self.clock.set(dose.due_at + timedelta(minutes=self.rng.randint(1, 40)))
            now = self.clock.now()
            answer: tuple[str, str | None] | None = None
            if silent:  # a patient who went quiet answers nothing
                answer = None
            elif last_week and day.weekday() in persona.skip_ran_out_days:
                answer = ("skipped", "ran_out")
            elif self.rng.random() < persona.adherence:
                answer = ("taken", None)
            elif self.rng.random() < 0.3:
                answer = ("skipped", "forgot")
            if answer is None:
                continue  # never answered: recorded as missed when the day is over
            async with self.s.db.transaction() as tx:
                await deliveries.answer(tx, dose.id, answer[0], answer[1], now)

    async def _sessions(
        self, persona: Persona, patient: Patient, day: date, *, last_week: bool
    ) -> None:
        if not persona.dtms:
            return
        start = _at(day, time(0, 0), self.zone)
        for appt in await self.schedules.appointments_of(
            patient.id, since=start, until=start + timedelta(days=1)
        ):
            missed = last_week and day.weekday() == persona.misses_session_on
            if not missed:
                async with self.s.db.transaction() as tx:
                    await self.schedules.set_appointment_status(tx, appt.id, "confirmed")
            await self.s.digests.mark_attendance(
                patient.label, appt.session_number or 0, attended=not missed
            )

    async def _checkin(
        self,
        persona: Persona,
        patient: Patient,
        day: date,
        days_before: int,
        *,
        last_week: bool,
    ) -> None:
        if persona.silent_from is not None and days_before <= persona.silent_from:
            return
        if self.rng.random() > persona.answer_rate:
            return
        craving_range, mood_range = (
            persona.last_week
            if last_week and persona.last_week
            else (persona.craving, persona.mood)
        )
        used = last_week and day.weekday() in persona.use_days
        self.clock.set(_at(day, time(20, self.rng.randint(2, 50)), self.zone))
        effect = None
        if persona.dtms and await self.s.checkins.dtms_day(patient, day):
            effects = dict(persona.after_effects) if last_week else {}
            effect = effects.get(day.weekday(), "none")
        async with self.s.db.transaction() as tx:
            await self.checkins.record(
                tx,
                patient.id,
                day,
                self.clock.now(),
                craving=self.rng.randint(*craving_range),
                mood=self.rng.randint(*mood_range),
                used=used,
                dtms_effect=effect,
            )
