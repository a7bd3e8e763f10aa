"""Reminders: the service that plans, composes and records them, and the answers to them.

``ReminderService`` is what the handlers, the jobs and the other services use. Planning lives
in ``reminder_planner`` (with the rows themselves in ``reminder_rows``), composing in
``reminder_messages`` and what they share in ``reminder_core``; this module records the
patient's answers (Taken, Snooze, Skip; I'll be there, Need to reschedule) and stops or resumes
a patient's reminders when they block the bot, come back, pause or leave.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.models import Delivery, DeliveryStatus, Patient, PatientStatus
from bot.services.careteam import ALERT, AlertNotice
from bot.services.reminder_core import APPT_EVENING, APPT_HOUR, DOSE, PATIENT_KINDS, Buttons
from bot.services.reminder_messages import ReminderMessages
from bot.services.reminder_planner import ReminderPlanner

log = logging.getLogger(__name__)

SNOOZE_CHOICES = (10, 30, 60)
SKIP_REASONS = ("side_effects", "forgot", "ran_out", "stopped", "other")
STOPPED = "stopped"  # "I have stopped taking it": for naltrexone, the loss-of-tolerance message


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What a button press changed, for the handler to show."""

    ok: bool
    text: str
    buttons: Buttons = ()
    toast: str | None = None
    alert: AlertNotice | None = None


class ReminderService(ReminderPlanner, ReminderMessages):
    """Plans, composes and records reminders and alert deliveries.

    Planning and composing come from its bases; what is defined here records answers and
    follows the patient's reachability and pause.
    """

    # Answers --------------------------------------------------------------------------------

    async def answer_dose(
        self, user_id: int, delivery_id: int, action: str, choice: str | None
    ) -> AnswerResult:
        """Record Taken, Snooze or Skip on the reminder the button belongs to."""
        patient, delivery = await self._own_delivery(user_id, delivery_id, DOSE)
        if patient is None or delivery is None:
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        locale = patient.locale
        med = await self._schedules.medication(delivery.ref_id or 0)
        med_line = f"{med.name} {med.dose_text}" if med else ""
        if delivery.status == DeliveryStatus.ANSWERED and delivery.response in {"taken", "skipped"}:
            return AnswerResult(
                ok=True,
                text=self._recorded_text(delivery, med_line, patient),
                toast=self._texts.render("reminder.already_recorded", locale),
            )
        b = self._texts.button
        if action == callbacks.DOSE_SNOOZE and choice is None:
            rows = tuple(
                (
                    b("snooze_minutes", locale, minutes=m),
                    callbacks.dose(action, delivery_id, str(m)),
                )
                for m in SNOOZE_CHOICES
            )
            back = ((b("back", locale), callbacks.dose(callbacks.DOSE_BACK, delivery_id)),)
            return AnswerResult(
                ok=True,
                text=self._texts.render("reminder.snooze_question", locale, what=med_line),
                buttons=(rows, back),
            )
        if action == callbacks.DOSE_SKIP and choice is None:
            reasons: Buttons = tuple(
                ((b(f"skip_{reason}", locale), callbacks.dose(action, delivery_id, reason)),)
                for reason in SKIP_REASONS
            )
            back = ((b("back", locale), callbacks.dose(callbacks.DOSE_BACK, delivery_id)),)
            return AnswerResult(
                ok=True,
                text=self._texts.render("reminder.skip_question", locale, what=med_line),
                buttons=(*reasons, back),
            )
        if action == callbacks.DOSE_BACK:
            outgoing = await self.compose(delivery)
            if outgoing is None:
                return AnswerResult(
                    ok=False, text="", toast=self._texts.render("error.stale_button")
                )
            return AnswerResult(ok=True, text=outgoing.text, buttons=outgoing.buttons)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            if action == callbacks.DOSE_TAKEN:
                changed = await self.deliveries.answer(tx, delivery.id, "taken", None, now)
            elif action == callbacks.DOSE_SNOOZE and choice in {str(m) for m in SNOOZE_CHOICES}:
                minutes = int(choice or 0)
                until = now + timedelta(minutes=minutes)
                changed = await self.deliveries.snooze(
                    tx, delivery.id, until, until + self._grace(DOSE), minutes
                )
            elif action == callbacks.DOSE_SKIP and choice in SKIP_REASONS:
                changed = await self.deliveries.answer(tx, delivery.id, "skipped", choice, now)
            else:
                return AnswerResult(
                    ok=False, text="", toast=self._texts.render("error.stale_button")
                )
            updated = await self.deliveries.by_id_tx(tx, delivery.id)
        assert updated is not None
        log.info(
            "dose answer delivery_id=%s patient_id=%s action=%s changed=%s",
            delivery.id,
            patient.id,
            action,
            changed,
        )
        if changed and action == callbacks.DOSE_SKIP and choice == STOPPED:
            await self.plan_safety(patient)
        return AnswerResult(ok=changed, text=self._recorded_text(updated, med_line, patient))

    def _recorded_text(self, delivery: Delivery, what: str, patient: Patient) -> str:
        zone = ZoneInfo(patient.timezone)
        at = delivery.answered_at or self._clock.now()
        return self._texts.render(
            "reminder.recorded",
            patient.locale,
            what=what,
            slot=delivery.slot or "",
            response=delivery.response or "",
            detail=delivery.response_detail or "",
            at=f"{at.astimezone(zone):%H:%M}",
        )

    async def answer_appointment(self, user_id: int, delivery_id: int, action: str) -> AnswerResult:
        """Record I'll be there, or ask the care team to reschedule (which alerts them)."""
        patient, delivery = await self._own_delivery(user_id, delivery_id, None)
        if (
            patient is None
            or delivery is None
            or delivery.kind not in {APPT_EVENING, APPT_HOUR}
            or action not in {callbacks.APPT_ATTEND, callbacks.APPT_RESCHEDULE}
        ):
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        appt = await self._schedules.appointment(delivery.ref_id or 0)
        if appt is None:
            return AnswerResult(ok=False, text="", toast=self._texts.render("error.stale_button"))
        now = self._clock.now()
        attending = action == callbacks.APPT_ATTEND
        async with self._db.transaction() as tx:
            await self.deliveries.answer(
                tx, delivery.id, "attending" if attending else "reschedule", None, now
            )
            await self._schedules.set_appointment_status(
                tx, appt.id, "confirmed" if attending else "reschedule_requested"
            )
        notice = None
        if not attending:
            notice = await self._careteam.raise_alert(
                patient, kind="reschedule", severity="routine", category=None
            )
            if notice.is_new:
                await self.enqueue_alert(notice)
            # Its other reminders are void until the team sets a new time.
            async with self._db.transaction() as tx:
                await self.deliveries.cancel_pending(
                    tx, patient_id=patient.id, kinds=(APPT_EVENING, APPT_HOUR), ref_id=appt.id
                )
        log.info(
            "appointment answer delivery_id=%s patient_id=%s attending=%s",
            delivery.id,
            patient.id,
            attending,
        )
        text = self._appointment_text(appt, patient, delivery.kind)
        reply = "reminder.attending" if attending else "reminder.reschedule_sent"
        return AnswerResult(
            ok=True,
            text=f"{text}\n\n{self._texts.render(reply, patient.locale)}",
            alert=notice,
        )

    async def _own_delivery(
        self, user_id: int, delivery_id: int, kind: str | None
    ) -> tuple[Patient | None, Delivery | None]:
        patient = await self._patients.by_telegram_user(user_id)
        delivery = await self.deliveries.by_id(delivery_id)
        if (
            patient is None
            or delivery is None
            or delivery.patient_id != patient.id
            or delivery.kind == ALERT
            or (kind is not None and delivery.kind != kind)
        ):
            return None, None
        return patient, delivery

    # Reachability and pause -----------------------------------------------------------------

    async def mark_unreachable(self, patient_id: int) -> AlertNotice | None:
        """The patient blocked the bot: stop their reminders and tell the care team once."""
        async with self._db.transaction() as tx:
            patient = await self._patients.by_id_tx(tx, patient_id)
            if patient is None or patient.status == PatientStatus.UNREACHABLE:
                return None
            await self._patients.set_status(tx, patient_id, PatientStatus.UNREACHABLE)
            await self.deliveries.cancel_pending(tx, patient_id=patient_id, kinds=PATIENT_KINDS)
            await self.deliveries.stop_repeats(tx, patient_id=patient_id)
        notice = await self._careteam.raise_alert(
            patient, kind="unreachable", severity="routine", category=None
        )
        if notice.is_new:
            await self.enqueue_alert(notice)
        log.warning("patient unreachable patient_id=%s alert_id=%s", patient_id, notice.alert.id)
        return notice

    async def mark_reachable(self, patient: Patient) -> None:
        """A patient who had blocked the bot wrote again: resume their reminders."""
        if patient.status != PatientStatus.UNREACHABLE:
            return
        async with self._db.transaction() as tx:
            await self._patients.set_status(tx, patient.id, PatientStatus.ACTIVE)
        await self.replan_patient(patient.id, resumed=True)

    async def stop_all(self, patient_id: int) -> None:
        """Cancel every planned reminder and prompt of a patient who left, and their repeats."""
        async with self._db.transaction() as tx:
            await self.deliveries.cancel_pending(tx, patient_id=patient_id, kinds=PATIENT_KINDS)
            await self.deliveries.stop_repeats(tx, patient_id=patient_id)

    async def set_paused(self, patient: Patient, *, paused: bool) -> None:
        """Pause or resume a patient's reminders."""
        async with self._db.transaction() as tx:
            await self._patients.set_paused(tx, patient.id, paused=paused)
            if paused:
                await self.deliveries.stop_repeats(tx, patient_id=patient.id)
        await self.replan_patient(patient.id, resumed=not paused)
