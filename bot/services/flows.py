"""Guided flows: their state in SQLite, and the few rules they need that no other service owns.

A flow is one open conversation per Telegram user (a clinician's ``/addmed`` or ``/addtms``,
a patient typing a setting). Its state lives in the database so that a restart loses nothing,
and it ends by itself after ``IDLE_TIMEOUT`` of silence. Each run gets a short random token
that its buttons carry, so a button from an earlier run can never answer the current one.

The flows also need to know which patients a clinician may pick (only those on their care team)
and to change a patient's preferences (zone, language, check-in time), re-planning where the
change moves a reminder.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import available_timezones

from bot.clock import Clock
from bot.models import Clinician, Patient
from bot.services.reminders import ReminderService
from bot.services.schedules import ScheduleError, check_zone, clean_text, parse_times
from bot.storage.db import Database, Statement
from bot.storage.flows import FlowRepository, FlowState, FlowValue
from bot.storage.repositories import AuditRepository, PatientRepository
from bot.texts import LOCALES

__all__ = [
    "IDLE_TIMEOUT",
    "RUN_KEY",
    "FlowService",
    "FlowState",
    "FlowValue",
    "check_text",
    "match_zone",
    "parse_one_time",
]

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(minutes=30)
RUN_KEY = "run"  # the data key holding the run token; the flows' own answers use other keys
RUN_TOKEN_BYTES = 4
# What ScheduleService.add_medication and add_tms_course accept for these typed answers.


class FlowService:
    """Start, read, advance and end users' guided flows; check whose patient is whose."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        reminders: ReminderService,
        *,
        idle_timeout: timedelta = IDLE_TIMEOUT,
    ) -> None:
        self._db = db
        self._clock = clock
        self._reminders = reminders
        self._idle_timeout = idle_timeout
        self._flows = FlowRepository(db)
        self._patients = PatientRepository(db)
        self._audit = AuditRepository(db)

    @property
    def idle_minutes(self) -> int:
        """Return how many minutes of silence end a flow."""
        return int(self._idle_timeout.total_seconds() // 60)

    # State ----------------------------------------------------------------------------------

    async def start(
        self, user_id: int, name: str, step: str, data: Mapping[str, FlowValue] | None = None
    ) -> FlowState:
        """Start a flow for a user, replacing any flow they had open."""
        statement, flow = self.starting(user_id, name, step, data)
        await self._db.write(statement)
        return flow

    def starting(
        self, user_id: int, name: str, step: str, data: Mapping[str, FlowValue] | None = None
    ) -> tuple[Statement, FlowState]:
        """Return the statement that starts a flow as ``start`` does, and the flow it starts.

        For a service that starts a flow in the same round trip as its own writes.
        """
        now = self._clock.now()
        answers: dict[str, FlowValue] = {
            **(data or {}),
            RUN_KEY: secrets.token_hex(RUN_TOKEN_BYTES),
        }
        flow = FlowState(user_id=user_id, name=name, step=step, updated_at=now, data=answers)
        return self._flows.putting(user_id, name, step, answers, now), flow

    def ending(self, user_id: int, name: str) -> Statement:
        """Return the statement that ends the user's flow of this name, if it is still open.

        For a service that ends a flow in the same round trip as its own writes.
        """
        return self._flows.ending_open(user_id, name, self._cutoff())

    async def get(self, user_id: int) -> FlowState | None:
        """Return the user's open flow; None if there is none or it went silent too long."""
        flow = await self._flows.by_user(user_id)
        if flow is None or self._is_idle(flow, self._clock.now()):
            return None
        return flow

    async def take_expired(self, user_id: int) -> FlowState | None:
        """End the user's flow if it went silent too long, and return it (else None)."""
        flow = await self._flows.by_user(user_id)
        if flow is None or not self._is_idle(flow, self._clock.now()):
            return None
        async with self._db.transaction() as tx:
            removed = await self._flows.delete_if_idle(tx, user_id, self._cutoff())
        return flow if removed else None

    async def advance(
        self, user_id: int, step: str, changes: Mapping[str, FlowValue] | None = None
    ) -> FlowState | None:
        """Move the user's open flow to a step, merging new answers into the old ones."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            flow = await self._flows.by_user_tx(tx, user_id)
            if flow is None or self._is_idle(flow, now):
                return None
            answers = {**flow.data, **(changes or {}), RUN_KEY: flow.text(RUN_KEY)}
            await self._flows.put(tx, user_id, flow.name, step, answers, now)
        return FlowState(user_id=user_id, name=flow.name, step=step, updated_at=now, data=answers)

    async def finish(self, user_id: int) -> FlowState | None:
        """End the user's flow; return the flow that was open (None if there was none)."""
        async with self._db.transaction() as tx:
            flow = await self._flows.by_user_tx(tx, user_id)
            if flow is None:
                return None
            await self._flows.delete(tx, user_id)
        return flow

    async def expire_idle(self) -> int:
        """End every flow that went silent too long; return how many (for a sweep job)."""
        async with self._db.transaction() as tx:
            removed = await self._flows.delete_idle(tx, self._cutoff())
        if removed:
            log.info("idle flows ended count=%s", removed)
        return removed

    def _cutoff(self) -> datetime:
        return self._clock.now() - self._idle_timeout

    def _is_idle(self, flow: FlowState, now: datetime) -> bool:
        return flow.updated_at < now - self._idle_timeout

    # Whose patient --------------------------------------------------------------------------

    async def own_patients(self, clinician: Clinician, *, shown: bool = False) -> list[Patient]:
        """Return the patients on a clinician's care team (enrolled or not), by label.

        ``shown``: the labels are put in front of the clinician, which is a read of patient
        data (being in an addiction program is itself protected), so each is audited.
        """
        patients = await self._patients.for_clinician(clinician.id)
        if shown and patients:
            now = self._clock.now()
            async with self._db.transaction() as tx:
                for patient in patients:
                    await self._audit.add(
                        tx, "clinician", clinician.id, "patients.pick", patient.id, now
                    )
        return patients

    async def own_patient(self, clinician: Clinician, patient_id: int) -> Patient | None:
        """Return a patient by id if the clinician is on their care team, else None."""
        patient = await self._patients.by_id(patient_id)
        if patient is None or not await self._patients.is_assigned(patient.id, clinician.id):
            return None
        return patient

    async def own_patient_by_label(self, clinician: Clinician, label: str) -> Patient | None:
        """Return a patient by label if the clinician is on their care team, else None."""
        patient = await self._patients.by_label(label.strip())
        if patient is None or not await self._patients.is_assigned(patient.id, clinician.id):
            return None
        return patient

    # Patient preferences --------------------------------------------------------------------

    async def change_preferences(
        self,
        patient: Patient,
        *,
        timezone: str | None = None,
        locale: str | None = None,
        checkin_time: str | None = None,
    ) -> Patient:
        """Change a patient's zone, language or check-in time and re-plan their reminders."""
        if timezone is not None:
            timezone = match_zone(timezone)
        if locale is not None and locale not in LOCALES:
            msg = f"the language must be one of {', '.join(LOCALES)}"
            raise ScheduleError(msg)
        if checkin_time is not None:
            checkin_time = parse_one_time(checkin_time)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._patients.set_preferences(
                tx, patient.id, timezone=timezone, locale=locale, checkin_time=checkin_time
            )
            await self._audit.add(tx, "patient", patient.id, "settings.change", patient.id, now)
        if timezone is not None or checkin_time is not None:
            # Reminders are stored as UTC instants of local times: a new zone moves them all.
            await self._reminders.replan_patient(patient.id)
        log.info(
            "preferences changed patient_id=%s zone=%s locale=%s checkin=%s",
            patient.id,
            timezone is not None,
            locale is not None,
            checkin_time is not None,
        )
        updated = await self._patients.by_id(patient.id)
        assert updated is not None
        return updated


def parse_one_time(text: str) -> str:
    """Parse exactly one time of day ("20:00", "8 pm") into HH:MM, or raise ScheduleError."""
    slots = parse_times(text)
    if len(slots) != 1:
        msg = "give one time of day, like 20:00"
        raise ScheduleError(msg)
    return slots[0]


def check_text(value: str, what: str) -> str:
    """Tidy a typed name, dose or location, or raise ScheduleError saying what is wrong."""
    # The very check (and limit) ScheduleService applies when saving, run at the step that
    # asked, so the clinician retypes just that answer instead of starting again.
    return clean_text(value, what)


def match_zone(text: str) -> str:
    """Return the IANA zone a person meant ("america/new york" -> America/New_York)."""
    name = text.strip()
    try:
        return check_zone(name)
    except ScheduleError:
        wanted = name.replace(" ", "_").casefold()
        for zone in available_timezones():
            if zone.casefold() == wanted:
                return zone
        raise
