"""Schedules: adding, listing and removing medications, dTMS courses and appointments.

Used by the admin CLI and by the clinicians' guided flows alike, so both validate the same way.
Every change re-plans the patient at once, so a dose added at 08:58 for 09:00 fires at 09:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock
from bot.models import Appointment, Medication, Patient, TmsCourse
from bot.services.inputs import shorten
from bot.services.occurrences import (
    NonexistentLocalDateError,
    ScheduleInputError,
    format_weekdays,
    parse_hhmm,
    parse_weekdays,
    resolve_local,
)
from bot.services.reminder_planner import PlannedView
from bot.services.reminders import ReminderService
from bot.storage.db import Database
from bot.storage.repositories import AuditRepository, PatientRepository
from bot.storage.schedules import ScheduleRepository

APPOINTMENT_KINDS = ("dtms", "therapy", "prescriber", "group", "other")
MAX_TIMES_PER_DAY = 8
MAX_TMS_SESSIONS = 200
TEXT_LIMITS = {"medication name": 80, "dose": 120, "location": 120}


class ScheduleError(ValueError):
    """Input that cannot become a schedule; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class PatientSchedule:
    """Everything on a patient's schedule."""

    patient: Patient
    medications: list[Medication]
    courses: list[TmsCourse]
    appointments: list[Appointment]


class ScheduleService:
    """Validated changes to schedules, each followed by a re-plan."""

    def __init__(self, db: Database, clock: Clock, reminders: ReminderService) -> None:
        self._db = db
        self._clock = clock
        self._reminders = reminders
        self._repo = ScheduleRepository(db)
        self._patients = PatientRepository(db)
        self._audit = AuditRepository(db)

    async def patient(self, label: str) -> Patient:
        """Return a patient by label or raise ScheduleError."""
        patient = await self._patients.by_label(label)
        if patient is None:
            msg = f"no patient with label {shorten(label)!r}"
            raise ScheduleError(msg)
        return patient

    def local_today(self, patient: Patient) -> date:
        """Return today's date in the patient's zone."""
        return self._clock.now().astimezone(ZoneInfo(patient.timezone)).date()

    async def add_medication(
        self,
        label: str,
        *,
        name: str,
        dose: str,
        times: str,
        days: str = "daily",
        start: date | None = None,
        end: date | None = None,
        actor: tuple[str, int | None] = ("cli", None),
    ) -> Medication:
        """Add a medication with its reminder times."""
        patient = await self.patient(label)
        clean_name = clean_text(name, "medication name")
        clean_dose = clean_text(dose, "dose")
        slots = parse_times(times)
        weekdays = _weekdays(days)
        start = start or self.local_today(patient)
        if end is not None and end < start:
            msg = "the end date is before the start date"
            raise ScheduleError(msg)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            med_id = await self._repo.add_medication(
                tx, patient.id, clean_name, clean_dose, slots, weekdays, start, end, now
            )
            await self._audit.add(tx, actor[0], actor[1], "medication.add", patient.id, now)
        await self._reminders.replan_patient(patient.id)
        med = await self._repo.medication(med_id)
        assert med is not None
        return med

    async def remove_medication(
        self, medication_id: int, *, actor: tuple[str, int | None] = ("cli", None)
    ) -> Medication:
        """Stop a medication's reminders."""
        med = await self._repo.medication(medication_id)
        if med is None or not med.active:
            msg = f"no active medication with id {medication_id}"
            raise ScheduleError(msg)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._repo.deactivate_medication(tx, medication_id, now)
            await self._audit.add(tx, actor[0], actor[1], "medication.remove", med.patient_id, now)
        await self._reminders.replan_patient(med.patient_id)
        return med

    async def add_tms_course(
        self,
        label: str,
        *,
        start: date,
        time_text: str,
        days: str,
        sessions: int,
        location: str | None = None,
        actor: tuple[str, int | None] = ("cli", None),
    ) -> tuple[TmsCourse, list[Appointment]]:
        """Add a dTMS course and its numbered sessions."""
        patient = await self.patient(label)
        slot = _time(time_text)
        weekdays_set = parse_weekdays_or_error(days)
        if not 1 <= sessions <= MAX_TMS_SESSIONS:
            msg = f"a course has 1 to {MAX_TMS_SESSIONS} sessions"
            raise ScheduleError(msg)
        place = clean_text(location, "location") if location else None
        zone = ZoneInfo(patient.timezone)
        dates: list[date] = []
        day = start
        while len(dates) < sessions:
            if day.weekday() in weekdays_set:
                dates.append(day)
            day += timedelta(days=1)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            course_id = await self._repo.add_course(
                tx,
                patient.id,
                start,
                format_weekdays(weekdays_set),
                f"{slot:%H:%M}",
                sessions,
                place,
                now,
            )
            for number, session_date in enumerate(dates, start=1):
                try:
                    starts_at = resolve_local(session_date, slot, zone)
                except NonexistentLocalDateError:
                    continue
                await self._repo.add_appointment(
                    tx,
                    patient.id,
                    "dtms",
                    starts_at,
                    datetime.combine(session_date, slot),
                    patient.timezone,
                    place,
                    now,
                    course_id=course_id,
                    session_number=number,
                    sessions_total=sessions,
                )
            await self._audit.add(tx, actor[0], actor[1], "tms_course.add", patient.id, now)
        await self._reminders.replan_patient(patient.id)
        course = await self._repo.course(course_id)
        assert course is not None
        appointments = [
            a
            for a in await self._repo.appointments_of(
                patient.id, since=datetime.combine(start, time.min, zone) - timedelta(days=1)
            )
            if a.course_id == course_id
        ]
        return course, appointments

    async def remove_tms_course(
        self, course_id: int, *, actor: tuple[str, int | None] = ("cli", None)
    ) -> TmsCourse:
        """End a course and cancel its remaining sessions."""
        course = await self._repo.course(course_id)
        if course is None or not course.active:
            msg = f"no active dTMS course with id {course_id}"
            raise ScheduleError(msg)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._repo.deactivate_course(tx, course_id)
            await self._audit.add(
                tx, actor[0], actor[1], "tms_course.remove", course.patient_id, now
            )
        await self._reminders.replan_patient(course.patient_id)
        return course

    async def add_appointment(
        self,
        label: str,
        *,
        kind: str,
        at: str,
        location: str | None = None,
        actor: tuple[str, int | None] = ("cli", None),
    ) -> Appointment:
        """Add a single appointment at a local date and time ("2026-12-03 15:00")."""
        patient = await self.patient(label)
        if kind not in APPOINTMENT_KINDS:
            msg = f"kind must be one of {', '.join(APPOINTMENT_KINDS)}"
            raise ScheduleError(msg)
        local = parse_local_datetime(at)
        zone = ZoneInfo(patient.timezone)
        try:
            starts_at = resolve_local(local.date(), local.time(), zone)
        except NonexistentLocalDateError as exc:
            raise ScheduleError(str(exc)) from exc
        if starts_at <= self._clock.now():
            msg = "the appointment is in the past"
            raise ScheduleError(msg)
        place = clean_text(location, "location") if location else None
        now = self._clock.now()
        async with self._db.transaction() as tx:
            appt_id = await self._repo.add_appointment(
                tx, patient.id, kind, starts_at, local, patient.timezone, place, now
            )
            await self._audit.add(tx, actor[0], actor[1], "appointment.add", patient.id, now)
        await self._reminders.replan_patient(patient.id)
        appt = await self._repo.appointment(appt_id)
        assert appt is not None
        return appt

    async def cancel_appointment(
        self, appointment_id: int, *, actor: tuple[str, int | None] = ("cli", None)
    ) -> Appointment:
        """Cancel one appointment and its reminders."""
        appt = await self._repo.appointment(appointment_id)
        if appt is None or appt.status == "cancelled":
            msg = f"no live appointment with id {appointment_id}"
            raise ScheduleError(msg)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._repo.set_appointment_status(tx, appointment_id, "cancelled")
            await self._audit.add(
                tx, actor[0], actor[1], "appointment.cancel", appt.patient_id, now
            )
        await self._reminders.replan_patient(appt.patient_id)
        return appt

    async def schedule_of(self, patient: Patient, *, days_ahead: int = 14) -> PatientSchedule:
        """Return a patient's medications, courses and upcoming appointments."""
        now = self._clock.now()
        return PatientSchedule(
            patient=patient,
            medications=await self._repo.medications_of(patient.id),
            courses=await self._repo.courses_of(patient.id),
            appointments=[
                a
                for a in await self._repo.appointments_of(
                    patient.id, since=now, until=now + timedelta(days=days_ahead)
                )
                if a.status != "cancelled"
            ],
        )

    async def planned(self, label: str, *, start: date, days: int) -> list[PlannedView]:
        """Return every reminder planned for a patient over local days from ``start``."""
        if not 1 <= days <= 366:
            msg = "days must be between 1 and 366"
            raise ScheduleError(msg)
        patient = await self.patient(label)
        zone = ZoneInfo(patient.timezone)
        begin = datetime.combine(start, time.min, zone)
        finish = datetime.combine(start + timedelta(days=days), time.min, zone)
        return await self._reminders.preview(patient, begin, finish)


def parse_times(text: str) -> tuple[str, ...]:
    """Parse "08:00,20:00" into sorted, distinct HH:MM strings."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    if not parts:
        msg = "give at least one time of day, like 08:00 or 08:00,20:00"
        raise ScheduleError(msg)
    slots = sorted({f"{_time(p):%H:%M}" for p in parts})
    if len(slots) > MAX_TIMES_PER_DAY:
        msg = f"at most {MAX_TIMES_PER_DAY} times a day"
        raise ScheduleError(msg)
    return tuple(slots)


def parse_weekdays_or_error(text: str) -> frozenset[int]:
    """Parse weekdays ("mon-fri", "daily", "mon,wed,fri") or raise ScheduleError."""
    try:
        return parse_weekdays(text)
    except ScheduleInputError as exc:
        raise ScheduleError(str(exc)) from exc


def parse_local_datetime(text: str) -> datetime:
    """Parse "2026-12-03 15:00" (or with a T) as a naive local wall-clock time."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError as exc:
        msg = f"{shorten(text)!r} is not a date and time like 2026-12-03 15:00"
        raise ScheduleError(msg) from exc
    if moment.tzinfo is not None:
        msg = "give the local time without a zone; the patient's zone is used"
        raise ScheduleError(msg)
    return moment.replace(second=0, microsecond=0)


# Dates a clinic can mean: far-off years overflow the date arithmetic of courses and digests.
FIRST_DATE = date(2000, 1, 1)
LAST_DATE = date(2199, 12, 31)


def parse_date(text: str) -> date:
    """Parse an ISO date (2026-12-03) between 2000 and 2199, or raise ScheduleError."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"{shorten(text)!r} is not a date like 2026-12-03"
        raise ScheduleError(msg) from exc
    if not FIRST_DATE <= day <= LAST_DATE:
        msg = f"{shorten(text)!r} is outside {FIRST_DATE} to {LAST_DATE}"
        raise ScheduleError(msg)
    return day


def check_zone(name: str) -> str:
    """Return an IANA zone name if it exists, else raise ScheduleError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: a name longer than a file name may be (the zone is looked up as a file).
        msg = f"{shorten(name)!r} is not a time zone name like America/New_York"
        raise ScheduleError(msg) from exc
    return name


def _time(text: str) -> time:
    try:
        return parse_hhmm(text)
    except ScheduleInputError as exc:
        raise ScheduleError(str(exc)) from exc


def _weekdays(text: str) -> str:
    return format_weekdays(parse_weekdays_or_error(text))


def clean_text(value: str | None, what: str) -> str:
    """Collapse white space and check a free-text field against its length limit."""
    limit = TEXT_LIMITS[what]
    clean = " ".join((value or "").split())
    if not clean:
        msg = f"the {what} is empty"
        raise ScheduleError(msg)
    if len(clean) > limit:
        msg = f"the {what} is longer than {limit} characters"
        raise ScheduleError(msg)
    return clean
