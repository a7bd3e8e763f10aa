"""Composing reminder messages: what each delivery row says, and its buttons.

The dispatcher asks for a delivery's message just before it sends it, so what it says is
always current (a medication renamed, a session moved, a clinician removed from the team).
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.clock import Clock
from bot.config import Settings
from bot.models import Appointment, Delivery, Patient, PatientStatus
from bot.services.aftereffects import had_session
from bot.services.careteam import ALERT, ESCALATED, CareTeamService
from bot.services.checkin_screens import prompt_screen
from bot.services.jit import JIT, SafetyMessages
from bot.services.reminder_core import (
    APPT_EVENING,
    CHECKIN,
    CRISIS_FOLLOWUP,
    CRISIS_REPLY,
    DOSE,
    Buttons,
    Outgoing,
    ReminderCore,
)
from bot.storage.alerts import AlertRepository
from bot.storage.checkins import CheckinRepository
from bot.storage.db import Database
from bot.storage.repositories import ClinicianRepository
from bot.texts import Texts

log = logging.getLogger(__name__)


class ReminderMessages(ReminderCore):
    """Renders each kind of delivery as a Telegram message with its buttons."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        texts: Texts,
        settings: Settings,
        careteam: CareTeamService,
        safety: SafetyMessages | None = None,
    ) -> None:
        super().__init__(db, clock, texts, settings, careteam, safety)
        self._checkins = CheckinRepository(db)
        self._alerts = AlertRepository(db)
        self._clinicians = ClinicianRepository(db)
        self._dose_labels: dict[str, tuple[str, ...]] = {}

    # Composing ------------------------------------------------------------------------------

    async def compose(self, delivery: Delivery, *, repeat: bool = False) -> Outgoing | None:
        """Render a delivery's message; None when what it reminds of no longer exists."""
        if delivery.kind == ALERT:
            return await self._compose_alert(delivery)
        if delivery.kind == DOSE:
            return await self._compose_dose(delivery, repeat=repeat)
        if delivery.kind == CHECKIN:
            return await self._compose_checkin(delivery)
        if delivery.kind == JIT:
            return await self._compose_safety(delivery)
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if patient is not None and delivery.kind == CRISIS_REPLY:
            category = delivery.slot or "suicide"
            text = self._texts.render("crisis.reply", patient.locale, category=category)
            return Outgoing(delivery.chat_id, text)
        if patient is not None and delivery.kind == CRISIS_FOLLOWUP:
            b = self._texts.button
            buttons: Buttons = (
                (
                    (
                        b("followup_safe", patient.locale),
                        callbacks.safety(callbacks.FOLLOWUP_SAFE, delivery.id),
                    ),
                ),
                (
                    (
                        b("followup_unsafe", patient.locale),
                        callbacks.safety(callbacks.FOLLOWUP_UNSAFE, delivery.id),
                    ),
                ),
            )
            return Outgoing(
                delivery.chat_id, self._texts.render("crisis.followup", patient.locale), buttons
            )
        if patient is None or delivery.ref_id is None:
            return None
        appt = await self._schedules.appointment(delivery.ref_id)
        if appt is None or appt.status not in {"scheduled", "confirmed"}:
            return None
        return Outgoing(
            delivery.chat_id,
            self._appointment_text(appt, patient, delivery.kind),
            self._appointment_buttons(delivery.id, patient.locale),
        )

    async def _compose_dose(self, delivery: Delivery, *, repeat: bool) -> Outgoing | None:
        # One query for what the message needs: this runs for every dose the dispatcher sends.
        context = await self._schedules.dose_context(delivery.ref_id or 0)
        if context is None:
            return None
        locale, name, dose = context
        text = self._texts.render(
            "reminder.dose",
            locale,
            name=name,
            dose=dose,
            slot=delivery.slot or "",
            repeat=delivery.repeats_sent + 1 if repeat else 0,
            repeats=self._settings.reminder_repeats,
            snoozed=delivery.response == "snoozed" and not repeat,
        )
        return Outgoing(delivery.chat_id, text, self._dose_buttons(delivery.id, locale))

    async def _compose_safety(self, delivery: Delivery) -> Outgoing | None:
        """Render a safety message in the patient's language of the moment."""
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if self._safety is None or patient is None or patient.status != PatientStatus.ACTIVE:
            return None
        composed = self._safety.compose(delivery.slot, patient.locale)
        if composed is None:
            return None
        text, buttons = composed
        return Outgoing(delivery.chat_id, text, buttons)

    async def _compose_checkin(self, delivery: Delivery) -> Outgoing | None:
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if patient is None or delivery.local_date is None:
            return None
        now = self._clock.now()
        today = now.astimezone(ZoneInfo(patient.timezone)).date()
        day = date.fromisoformat(delivery.local_date)
        screen = prompt_screen(
            self._texts,
            patient.locale,
            day,
            today=today,
            # The note question is asked only when notes can be encrypted (see checkins).
            notes=self._settings.data_encryption_key is not None,
            # The count of questions includes dTMS after-effects on a day with a session.
            dtms=await had_session(self._checkins, patient, day, now),
        )
        return Outgoing(delivery.chat_id, screen.text, screen.buttons)

    def _appointment_text(self, appt: Appointment, patient: Patient, kind: str) -> str:
        local = appt.starts_at.astimezone(ZoneInfo(patient.timezone))
        return self._texts.render(
            "reminder.appointment",
            patient.locale,
            kind=appt.kind,
            when="evening" if kind == APPT_EVENING else "soon",
            time=f"{local:%H:%M}",
            date=f"{local:%Y-%m-%d}",
            location=appt.location or "",
            session=appt.session_number or 0,
            sessions=appt.sessions_total or 0,
        )

    async def _compose_alert(self, delivery: Delivery) -> Outgoing | None:
        alert = await self._alerts.by_id(delivery.ref_id or 0)
        patient = await self._patients.by_id(delivery.patient_id or 0)
        if alert is None or patient is None:
            return None
        zone = ZoneInfo(self._settings.clinic_timezone)
        at = f"{alert.created_at.astimezone(zone):%Y-%m-%d %H:%M} {self._settings.clinic_timezone}"
        clinician = await self._clinicians.by_id(delivery.clinician_id or 0)
        if clinician is None or not clinician.active:
            # Removed after the alert was queued: it goes to whoever is on the team now (or,
            # with nobody left, every active clinician) instead of to nobody.
            notice = await self._careteam.notice_for(alert, patient)
            queued = await self.enqueue_alert(notice, escalated=delivery.slot == ESCALATED)
            log.warning(
                "alert rerouted from an inactive clinician delivery_id=%s alert_id=%s queued=%s",
                delivery.id,
                alert.id,
                queued,
            )
            return None
        locale = clinician.locale
        text = self._texts.render(
            f"alert.{alert.kind}",
            locale,
            label=patient.label,
            at=at,
            category=alert.category or "suicide",
            detail=alert.category or "",
            threshold=self._settings.alert_craving_at,
            team_told=True,
        )
        if delivery.slot == ESCALATED:
            minutes = _number(self._settings.alert_escalate_minutes)
            text = f"{self._texts.render('alert.escalated', locale, minutes=minutes)}\n{text}"
        button = ((self._texts.button("acknowledge", locale), f"{callbacks.ALERT_ACK}{alert.id}"),)
        return Outgoing(delivery.chat_id, text, (button,))

    def _dose_buttons(self, delivery_id: int, locale: str) -> Buttons:
        labels = self._dose_labels.get(locale)
        if labels is None:
            labels = tuple(self._texts.button(key, locale) for key in ("taken", "snooze", "skip"))
            self._dose_labels[locale] = labels
        actions = (callbacks.DOSE_TAKEN, callbacks.DOSE_SNOOZE, callbacks.DOSE_SKIP)
        return (
            tuple(
                (label, callbacks.dose(action, delivery_id))
                for label, action in zip(labels, actions, strict=True)
            ),
        )

    def _appointment_buttons(self, delivery_id: int, locale: str) -> Buttons:
        b = self._texts.button
        return (
            ((b("attend", locale), callbacks.appointment(callbacks.APPT_ATTEND, delivery_id)),),
            (
                (
                    b("reschedule", locale),
                    callbacks.appointment(callbacks.APPT_RESCHEDULE, delivery_id),
                ),
            ),
        )

    async def acknowledged_copies(
        self, alert_id: int, acknowledged: str, *, except_chat: int
    ) -> list[Outgoing]:
        """Return every other delivered copy of an alert, rewritten to say who acknowledged it.

        Each carries the message id to edit; no buttons, so the edit drops Acknowledge.
        """
        copies = []
        for delivery in await self.deliveries.sent_copies(ALERT, alert_id):
            if delivery.chat_id == except_chat or delivery.message_id is None:
                continue
            outgoing = await self._compose_alert(delivery)
            if outgoing is not None:
                copies.append(
                    Outgoing(
                        delivery.chat_id,
                        f"{outgoing.text}\n\n{acknowledged}",
                        (),
                        delivery.message_id,
                    )
                )
        return copies


def _number(value: float) -> str:
    return f"{value:g}"
