"""Patients' side of reminders: the reminder buttons, ``/schedule``, ``/pause`` and ``/resume``."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import Update

from bot import callbacks
from bot.handlers.careteam import notify_care_team
from bot.handlers.common import (
    Context,
    edit_in_place,
    keyboard,
    reply,
    services_of,
    user_locale,
)

log = logging.getLogger(__name__)


async def answer_reminder(update: Update, context: Context) -> None:
    """Record a press on a dose or appointment reminder and show the choice in place."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    parsed = callbacks.parse(query.data)
    if parsed is None:
        await query.answer(services.texts.render("error.stale_button", user_locale(update)))
        return
    prefix, action, delivery_id, choice = parsed
    if prefix == callbacks.DOSE:
        result = await services.reminders.answer_dose(user.id, delivery_id, action, choice)
    else:
        result = await services.reminders.answer_appointment(user.id, delivery_id, action)
    await query.answer(result.toast)
    if result.text:
        await edit_in_place(
            update, result.text, keyboard(result.buttons) if result.buttons else None
        )
    if result.alert is not None and result.alert.is_new:
        await notify_care_team(context, result.alert)


async def schedule(update: Update, context: Context) -> None:
    """Show the patient their medications, dose times and upcoming sessions."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None:
        # Only a clinician gets here (the consent gate answers everyone else): not silence.
        await reply(update, services.texts.render("not_enrolled", user_locale(update)))
        return
    plan = await services.schedules.schedule_of(patient)
    zone = ZoneInfo(patient.timezone)
    await reply(
        update,
        services.texts.render(
            "schedule.patient",
            patient.locale,
            medications=[
                {
                    "name": m.name,
                    "dose": m.dose_text,
                    "times": ", ".join(m.times),
                    "days": m.weekdays,
                }
                for m in plan.medications
            ],
            appointments=[
                {
                    "kind": a.kind,
                    "when": f"{a.starts_at.astimezone(zone):%a %Y-%m-%d %H:%M}",
                    "location": a.location or "",
                    "session": a.session_number or 0,
                    "sessions": a.sessions_total or 0,
                }
                for a in plan.appointments
            ],
            timezone=patient.timezone,
            paused=patient.reminders_paused,
        ),
    )


async def pause(update: Update, context: Context) -> None:
    """Stop the patient's reminders until /resume."""
    await _set_paused(update, context, paused=True)


async def resume(update: Update, context: Context) -> None:
    """Restart the patient's reminders."""
    await _set_paused(update, context, paused=False)


async def _set_paused(update: Update, context: Context, *, paused: bool) -> None:
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None:
        await reply(update, services.texts.render("not_enrolled", user_locale(update)))
        return
    await services.reminders.set_paused(patient, paused=paused)
    log.info("reminders paused=%s update_id=%s patient_id=%s", paused, update.update_id, patient.id)
    await reply(
        update,
        services.texts.render("schedule.paused" if paused else "schedule.resumed", patient.locale),
    )
