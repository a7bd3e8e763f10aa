"""Reminder kinds, their grace windows, and queuing alerts and crisis replies as deliveries.

The database is the only source of truth for what is due. A reminder, a prompt, an alert or a
crisis reply is a delivery row; the dispatcher (in ``scheduler/``) sends what is due and
reports back to the reminder service. ``ReminderCore`` holds what planning
(``reminder_planner``), composing (``reminder_messages``) and answering (``reminders``) share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.config import Settings
from bot.models import Delivery, Patient
from bot.services.careteam import (
    ALERT,
    ALERT_PRIORITY,
    AlertNotice,
    CareTeamService,
    alert_deliveries,
)
from bot.services.jit import JIT, SafetyMessages
from bot.storage.db import Database
from bot.storage.deliveries import DeliveryRepository, PlannedDelivery
from bot.storage.repositories import PatientRepository
from bot.storage.schedules import ScheduleRepository
from bot.texts import Texts

DOSE = "dose"
APPT_EVENING = "appt_evening"
APPT_HOUR = "appt_hour"
CRISIS_REPLY = "crisis_reply"
# The safety net's rows (see bot/services/safetynet.py). A timeout row sends nothing to the
# patient: when it comes due unanswered, the care team is alerted.
SAFETY_CHECK_TIMEOUT = "safety_check_timeout"  # "Are you safe right now?" left unanswered
CRISIS_FOLLOWUP = "crisis_followup"  # "are you safe now?", some minutes after a crisis answer
CRISIS_FOLLOWUP_TIMEOUT = "crisis_followup_timeout"  # that question left unanswered
SAFETY_TIMEOUT_KINDS = (SAFETY_CHECK_TIMEOUT, CRISIS_FOLLOWUP_TIMEOUT)
SAFETY_KINDS = (CRISIS_FOLLOWUP, *SAFETY_TIMEOUT_KINDS)
CHECKIN = "checkin"  # the daily check-in prompt: once a day, never repeated
# What a pause, a block or leaving the program cancels (a re-plan brings back what still applies).
PATIENT_KINDS = (DOSE, APPT_EVENING, APPT_HOUR, CHECKIN, JIT)

Buttons = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A composed message: Telegram HTML and rows of (label, callback data)."""

    chat_id: int
    text: str
    buttons: Buttons = ()
    message_id: int | None = None  # the message to edit, for an edit rather than a send


class ReminderCore:
    """What the reminder services share: their collaborators, grace windows and the queue."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        settings: Settings,
        careteam: CareTeamService,
        safety: SafetyMessages | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._texts = texts
        self._settings = settings
        self._careteam = careteam
        self._safety = safety
        self.deliveries = DeliveryRepository(db)
        self._schedules = ScheduleRepository(db)
        self._patients = PatientRepository(db)

    # Timing ---------------------------------------------------------------------------------

    @property
    def repeat_interval(self) -> timedelta:
        """Return the wait between repeats of an unanswered reminder."""
        return timedelta(minutes=self._settings.reminder_repeat_minutes)

    def _grace(self, kind: str) -> timedelta:
        return grace(self._settings, kind)

    def next_repeat_after(self, delivery: Delivery, sent_at: datetime) -> datetime | None:
        """Return when to repeat (or, after the last repeat, to record a miss); None if never."""
        if delivery.kind != DOSE:
            return None
        return sent_at + self.repeat_interval

    # Alerts ---------------------------------------------------------------------------------

    async def enqueue_alert(self, notice: AlertNotice, *, escalated: bool = False) -> int:
        """Queue an alert for each recipient as a delivery, so it survives faults and restarts.

        A new alert's deliveries are written with it (see ``CareTeamService.raise_alert``);
        this adds an escalated copy, or deliveries to a changed team, and repeats nothing:
        the deliveries' keys are unique.
        """
        now = self._clock.now()
        rows = alert_deliveries(notice, now, grace=self._grace(ALERT), escalated=escalated)
        if rows:
            async with self._db.transaction() as tx:
                await self.deliveries.plan(tx, rows, now)
        return len(rows)

    async def enqueue_crisis_reply(self, patient: Patient, category: str = "suicide") -> None:
        """Queue the crisis resources for a patient whose immediate reply Telegram refused."""
        if patient.chat_id is None:
            return
        now = self._clock.now()
        row = PlannedDelivery(
            dedupe_key=f"crisis_reply:{patient.id}:{now.isoformat(timespec='seconds')}",
            kind=CRISIS_REPLY,
            chat_id=patient.chat_id,
            patient_id=patient.id,
            slot=category,  # for crisis rows, the slot column carries the crisis category
            due_at=now,
            expires_at=now + self._grace(ALERT),
            priority=ALERT_PRIORITY,
        )
        async with self._db.transaction() as tx:
            await self.deliveries.plan(tx, [row], now)


def grace(settings: Settings, kind: str) -> timedelta:
    """Return how long after its due time a delivery of this kind may still be sent."""
    minutes = {
        DOSE: settings.grace_minutes_dose,
        ALERT: settings.grace_minutes_alert,
        CRISIS_REPLY: settings.grace_minutes_alert,
        SAFETY_CHECK_TIMEOUT: settings.grace_minutes_alert,
        CRISIS_FOLLOWUP: settings.grace_minutes_alert,
        CRISIS_FOLLOWUP_TIMEOUT: settings.grace_minutes_alert,
        CHECKIN: settings.grace_minutes_checkin,
    }.get(kind, settings.grace_minutes_appointment)
    return timedelta(minutes=minutes)
