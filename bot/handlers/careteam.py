"""Clinician commands and alerts: ``/patients``, ``/invite``, alert messages and Acknowledge.

Every command and button checks the caller's role, and for a patient's data the assignment.
Messages to clinicians carry the pseudonymous label only, never message text.
"""

from __future__ import annotations

import logging

from telegram import Message, Update

from bot.handlers.common import (
    CB_ALERT_ACK,
    Context,
    clinician_or_refuse,
    edit_in_place,
    local_time_text,
    reply,
    services_of,
    user_locale,
)
from bot.services.careteam import AlertNotice, NotAllowedError
from bot.services.enrollment import EnrollmentError
from scheduler.dispatch import Dispatcher
from scheduler.jobs import DISPATCHER_KEY

log = logging.getLogger(__name__)


async def notify_care_team(context: Context, notice: AlertNotice) -> None:
    """Queue the alert for each clinician on the care team and send it now."""
    services = services_of(context)
    queued = await services.reminders.enqueue_alert(notice)
    if not queued:
        log.error("alert has no clinician to notify alert_id=%s", notice.alert.id)
        return
    dispatcher = context.bot_data.get(DISPATCHER_KEY)
    if isinstance(dispatcher, Dispatcher):
        # Do not wait for the next tick: an urgent alert goes out now, still through the
        # delivery rows, so a failure is retried like any other delivery.
        await dispatcher.tick()


async def acknowledge_alert(update: Update, context: Context) -> None:
    """Record that a clinician on the care team has seen an alert."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    texts = services.texts
    try:
        alert_id = int(query.data.removeprefix(CB_ALERT_ACK))
        alert, _, changed = await services.careteam.acknowledge(user.id, alert_id)
    except (ValueError, NotAllowedError):
        # A colleague from another team is told why; anyone else just that it is not for them.
        is_clinician = await services.careteam.clinician_for_user(user.id) is not None
        key = "error.not_on_team" if is_clinician else "error.not_allowed"
        await query.answer(texts.render(key, user_locale(update)))
        return
    await query.answer(None if changed else texts.render("alert.already_acknowledged"))
    by = await services.careteam.clinician_name(alert.acknowledged_by)
    at = local_time_text(
        alert.acknowledged_at or alert.created_at, services.settings.clinic_timezone
    )
    message = query.message
    original = message.text_html if isinstance(message, Message) else ""
    log.info(
        "alert acknowledged update_id=%s alert_id=%s changed=%s",
        update.update_id,
        alert.id,
        changed,
    )
    # Append who acknowledged to this copy of the alert once: the edit drops its button.
    if isinstance(message, Message) and message.reply_markup is not None:
        await edit_in_place(
            update, f"{original}\n\n{texts.render('alert.acknowledged', name=by, at=at)}"
        )


async def patients(update: Update, context: Context) -> None:
    """List the caller's patients with status and open alerts (an audited read)."""
    services = services_of(context)
    clinician = await clinician_or_refuse(update, services)
    if clinician is None:
        return
    overview = await services.careteam.my_patients(clinician)
    log.info("patients listed update_id=%s clinician_id=%s", update.update_id, clinician.id)
    if not overview:
        await reply(update, services.texts.render("careteam.patients_empty"))
        return
    rows = [
        {"label": o.patient.label, "status": o.patient.status.value, "open_alerts": o.open_alerts}
        for o in overview
    ]
    await reply(update, services.texts.render("careteam.patients", rows=rows))


async def invite(update: Update, context: Context) -> None:
    """Create a one-time enrollment link for a new patient label."""
    services = services_of(context)
    clinician = await clinician_or_refuse(update, services)
    if clinician is None:
        return
    if not context.args or len(context.args) != 1:
        await reply(update, services.texts.render("careteam.invite_usage"))
        return
    try:
        issued = await services.enrollment.create_invite(
            context.args[0],
            clinician_telegram_id=clinician.telegram_id,
            days=services.settings.invite_valid_days,
            actor_kind="clinician",
        )
    except EnrollmentError as exc:
        await reply(update, services.texts.render("careteam.invite_refused", reason=str(exc)))
        return
    log.info("invite created update_id=%s clinician_id=%s", update.update_id, clinician.id)
    await reply(
        update,
        services.texts.render(
            "careteam.invite_created",
            label=issued.label,
            expires=local_time_text(issued.expires_at, services.settings.clinic_timezone),
            link=f"https://t.me/{context.bot.username}?start={issued.code}",
            code=issued.code,
        ),
    )
