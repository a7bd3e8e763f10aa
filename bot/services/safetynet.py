"""The safety net after the first answer: the "are you safe?" check, its timeout, the follow-up.

A possible crisis asks "Are you safe right now?". The question's buttons point at a delivery row
due when the answer is late (``safety_check_timeout``): pressing "I'm safe" answers that row,
"I need help now" or "Someone else is in danger" answers it and alerts the care team, and a row
that comes due unanswered alerts the team. A crisis answer (and every alert raised here) plans a
follow-up, "are you safe now?", some minutes later (``crisis_followup``), with its own timeout
row (``crisis_followup_timeout``): "I'm not safe" or silence alerts the team again. Every step is
a delivery row, so a restart loses none of them.

An urgent alert, its deliveries to the team and its follow-up are written in one transaction
before the patient is answered. When the patient is being answered, the deliveries are held
back for up to ``REPLY_HOLD`` so that the answer goes first; the handler releases them as soon
as it has answered, and if the process dies before, the dispatcher sends them when the hold
ends, after a restart if need be.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import callbacks
from bot.clock import Clock
from bot.config import Settings
from bot.models import Delivery, Patient
from bot.services.careteam import ALERT_PRIORITY, AlertNotice, CareTeamService
from bot.services.reminder_core import (
    CRISIS_FOLLOWUP,
    CRISIS_FOLLOWUP_TIMEOUT,
    SAFETY_CHECK_TIMEOUT,
)
from bot.services.reminders import ReminderService
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import PlannedDelivery
from bot.storage.repositories import PatientRepository

log = logging.getLogger(__name__)

SAFE = "safe"
HELP = "help"
OTHER = "other"
UNSAFE = "unsafe"
_CHECK_ANSWERS = {
    callbacks.SAFETY_SAFE: SAFE,
    callbacks.SAFETY_HELP: HELP,
    callbacks.SAFETY_OTHER: OTHER,
}
_FOLLOWUP_ANSWERS = {callbacks.FOLLOWUP_SAFE: SAFE, callbacks.FOLLOWUP_UNSAFE: UNSAFE}
_ALERT_KIND = {HELP: "crisis_help", OTHER: "crisis_other", UNSAFE: "followup_unsafe"}
# How long an alert's deliveries wait for the patient's answer to go out first. Longer than a
# normal send (a few hundred milliseconds), short enough that a hanging one barely delays the
# team: past it, the dispatcher sends the alert anyway.
REPLY_HOLD = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class SafetyAnswer:
    """What a press on a safety button recorded: the answer, and an alert to send if any."""

    patient: Patient
    answer: str
    notice: AlertNotice | None = None


class SafetyNetService:
    """Plans and resolves the safety check, its timeout and the follow-up after a crisis."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        careteam: CareTeamService,
        reminders: ReminderService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._careteam = careteam
        self._reminders = reminders
        self._deliveries = reminders.deliveries
        self._patients = PatientRepository(db)

    @property
    def check_timeout(self) -> timedelta:
        """Return how long "Are you safe right now?" waits before the team is alerted."""
        return timedelta(minutes=self._settings.safety_check_timeout_minutes)

    @property
    def followup_delay(self) -> timedelta:
        """Return how long after a crisis answer the patient is asked again."""
        return timedelta(minutes=self._settings.crisis_followup_minutes)

    async def open_check(self, patient: Patient, category: str) -> int:
        """Plan the alert that fires if "Are you safe right now?" goes unanswered; its id."""
        now = self._clock.now()
        key = f"{SAFETY_CHECK_TIMEOUT}:{patient.id}:{now.isoformat(timespec='microseconds')}"
        row = self._row(key, SAFETY_CHECK_TIMEOUT, patient, now + self.check_timeout, category)
        async with self._db.transaction() as tx:
            await self._deliveries.plan(tx, [row], now)
            row_id = await self._deliveries.id_for_key(tx, key)
        assert row_id is not None
        log.info("safety check opened patient_id=%s delivery_id=%s", patient.id, row_id)
        return row_id

    async def raise_crisis(
        self,
        patient: Patient,
        category: str | None,
        *,
        kind: str = "crisis",
        followup: bool = True,
        hold: timedelta = timedelta(0),
    ) -> AlertNotice:
        """Record an urgent alert, its deliveries to the team and the follow-up, at once.

        ``hold`` keeps the deliveries back while the patient is answered (see the module
        docstring); ``CareTeamService.release`` sends them as soon as the answer is out.
        """
        async with self._db.transaction() as tx:
            notice = await self._careteam.raise_alert_in(
                tx, patient, kind=kind, severity="urgent", category=category, hold=hold
            )
            if followup:
                await self._plan_followup_in(tx, patient, category or "suicide")
        log.warning(
            "urgent alert kind=%s patient_id=%s alert_id=%s new=%s",
            kind,
            patient.id,
            notice.alert.id,
            notice.is_new,
        )
        return notice

    async def plan_followup(self, patient: Patient, category: str) -> None:
        """Plan "are you safe now?" after a crisis answer, and the alert if it goes unanswered."""
        async with self._db.transaction() as tx:
            await self._plan_followup_in(tx, patient, category)

    async def _plan_followup_in(self, tx: Transaction, patient: Patient, category: str) -> None:
        now = self._clock.now()
        stamp = now.isoformat(timespec="microseconds")
        due = now + self.followup_delay
        key = f"{CRISIS_FOLLOWUP}:{patient.id}:{stamp}"
        await self._deliveries.plan(
            tx, [self._row(key, CRISIS_FOLLOWUP, patient, due, category)], now
        )
        followup_id = await self._deliveries.id_for_key(tx, key)
        timeout = self._row(
            f"{CRISIS_FOLLOWUP_TIMEOUT}:{patient.id}:{stamp}",
            CRISIS_FOLLOWUP_TIMEOUT,
            patient,
            due + self.check_timeout,
            category,
            ref_id=followup_id,
        )
        await self._deliveries.plan(tx, [timeout], now)
        log.info("crisis follow-up planned patient_id=%s delivery_id=%s", patient.id, followup_id)

    async def answer_check(
        self, user_id: int, delivery_id: int, action: str, *, hold: timedelta = timedelta(0)
    ) -> SafetyAnswer | None:
        """Record an answer to "Are you safe right now?"; None for a stale or forged press.

        An alert it raises is held back for ``hold`` (the patient is answered first).
        """
        answer = _CHECK_ANSWERS.get(action)
        owned = await self._own(user_id, delivery_id, SAFETY_CHECK_TIMEOUT)
        if answer is None or owned is None:
            return None
        patient, row = owned
        now = self._clock.now()
        async with self._db.transaction() as tx:
            # "I'm safe" answers only a check still waiting; a later "I need help now" always
            # counts, so one "I'm safe" never closes the way to help.
            await self._deliveries.answer(tx, row.id, answer, None, now)
        if answer == SAFE:
            log.info("safety check answered safe patient_id=%s", patient.id)
            return SafetyAnswer(patient, answer)
        notice = await self.raise_crisis(patient, row.slot, kind=_ALERT_KIND[answer], hold=hold)
        return SafetyAnswer(patient, answer, notice)

    async def answer_followup(
        self, user_id: int, delivery_id: int, action: str, *, hold: timedelta = timedelta(0)
    ) -> SafetyAnswer | None:
        """Record an answer to the follow-up; "I'm not safe" alerts the team again."""
        answer = _FOLLOWUP_ANSWERS.get(action)
        owned = await self._own(user_id, delivery_id, CRISIS_FOLLOWUP)
        if answer is None or owned is None:
            return None
        patient, row = owned
        now = self._clock.now()
        async with self._db.transaction() as tx:
            await self._deliveries.answer(tx, row.id, answer, None, now)
        if answer == SAFE:
            log.info("crisis follow-up answered safe patient_id=%s", patient.id)
            return SafetyAnswer(patient, answer)
        notice = await self.raise_crisis(
            patient, row.slot, kind=_ALERT_KIND[answer], followup=False, hold=hold
        )
        return SafetyAnswer(patient, answer, notice)

    async def on_timeout(self, delivery: Delivery) -> AlertNotice | None:
        """A timeout row came due: alert the team unless the question was answered in time."""
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if patient is None:
            return None
        if delivery.kind == SAFETY_CHECK_TIMEOUT:
            # Claimed means still pending: an answered check is never claimed.
            return await self.raise_crisis(patient, delivery.slot, kind="crisis_silent")
        followup = await self._deliveries.by_id(delivery.ref_id or 0)
        if followup is not None and followup.response in {SAFE, UNSAFE}:
            return None  # answered: "safe" needs nothing, "not safe" has alerted already
        return await self.raise_crisis(
            patient, delivery.slot, kind="followup_silent", followup=False
        )

    async def _own(
        self, user_id: int, delivery_id: int, kind: str
    ) -> tuple[Patient, Delivery] | None:
        patient = await self._patients.by_telegram_user(user_id)
        row = await self._deliveries.by_id(delivery_id)
        if patient is None or row is None or row.patient_id != patient.id or row.kind != kind:
            return None
        return patient, row

    def _row(
        self,
        key: str,
        kind: str,
        patient: Patient,
        due_at: datetime,
        category: str,
        ref_id: int | None = None,
    ) -> PlannedDelivery:
        assert patient.chat_id is not None
        return PlannedDelivery(
            dedupe_key=key,
            kind=kind,
            chat_id=patient.chat_id,
            patient_id=patient.id,
            ref_id=ref_id,
            slot=category,  # for crisis rows, the slot column carries the crisis category
            due_at=due_at,
            expires_at=due_at + timedelta(minutes=self._settings.grace_minutes_alert),
            priority=ALERT_PRIORITY,
        )
