"""Clinician commands and alerts: ``/patients``, ``/invite``, alert messages and Acknowledge.

Every command and button checks the caller's role, and for a patient's data the assignment.
Messages to clinicians carry the pseudonymous label only, never message text.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import InputFile, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.handlers.common import (
    CB_ALERT_ACK,
    Context,
    clinician_or_refuse,
    edit_in_place,
    local_time_text,
    reply,
    run_in_background,
    services_of,
    user_locale,
)
from bot.services.careteam import AlertNotice, NotAllowedError
from bot.services.digest import week_ending_for
from bot.services.digest_model import PatientWeek
from bot.services.enrollment import EnrollmentError, EnrollmentProblem
from bot.services.inputs import read_number
from scheduler.dispatch import Dispatcher
from scheduler.jobs import DISPATCHER_KEY

log = logging.getLogger(__name__)


async def notify_care_team(context: Context, notice: AlertNotice) -> None:
    """Send a recorded alert to the care team now, without waiting for the sends.

    The alert's deliveries were written with it; a hold kept for the patient's answer ends
    here, and the dispatcher is woken rather than left for its next tick. The sends go
    through the delivery rows, so a failure is retried like any other delivery.
    """
    if not notice.recipients:
        log.error("alert has no clinician to notify alert_id=%s", notice.alert.id)
        return
    await services_of(context).careteam.release(notice)
    _dispatch_now(context)


def _dispatch_now(context: Context) -> None:
    dispatcher = context.bot_data.get(DISPATCHER_KEY)
    if isinstance(dispatcher, Dispatcher):
        dispatcher.wake()


async def acknowledge_alert(update: Update, context: Context) -> None:
    """Record that a clinician on the care team has seen an alert."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    texts = services.texts
    alert_id = read_number(query.data.removeprefix(CB_ALERT_ACK))
    try:
        if alert_id is None:
            msg = "malformed alert button"
            raise NotAllowedError(msg)  # answered like any button that is not theirs
        alert, _, changed = await services.careteam.acknowledge(user.id, alert_id)
    except NotAllowedError:
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
    acknowledged = texts.render("alert.acknowledged", name=by, at=at)
    # Append who acknowledged to this copy of the alert once: the edit drops its button.
    if isinstance(message, Message) and message.reply_markup is not None:
        await edit_in_place(update, f"{original}\n\n{acknowledged}")
    if changed:
        # Every colleague's copy says so too, so nobody starts the same call twice.
        run_in_background(
            context,
            _mark_copies(context, alert.id, acknowledged, except_chat=user.id),
            "alert copies",
        )


async def _mark_copies(
    context: Context, alert_id: int, acknowledged: str, *, except_chat: int
) -> None:
    services = services_of(context)
    for copy in await services.reminders.acknowledged_copies(
        alert_id, acknowledged, except_chat=except_chat
    ):
        try:
            await context.bot.edit_message_text(
                copy.text,
                chat_id=copy.chat_id,
                message_id=copy.message_id,
                parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
            )
        except TelegramError as exc:
            # Deleted by the clinician, or too old to edit: their copy stays as it was.
            log.info("alert copy not marked alert_id=%s error=%s", alert_id, type(exc).__name__)


async def patients(update: Update, context: Context) -> None:
    """List the caller's patients with status and open alerts (an audited read)."""
    services = services_of(context)
    clinician = await clinician_or_refuse(update, context)
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
    clinician = await clinician_or_refuse(update, context)
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
        log.info(
            "invite refused update_id=%s clinician_id=%s problem=%s",
            update.update_id,
            clinician.id,
            exc.problem,
        )
        if exc.problem == EnrollmentProblem.LABEL_UNAVAILABLE:
            text = services.texts.render("careteam.invite_label_unavailable", clinician.locale)
        else:
            text = services.texts.render("careteam.invite_refused", reason=str(exc))
        await reply(update, text)
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


async def digest(update: Update, context: Context) -> None:
    """Queue the digest of the last seven days for the caller; the dispatcher sends it."""
    services = services_of(context)
    clinician = await clinician_or_refuse(update, context)
    if clinician is None:
        return
    await services.weekly.request_now(clinician, update.update_id)
    log.info("digest requested update_id=%s clinician_id=%s", update.update_id, clinician.id)
    await reply(update, services.texts.render("digest.building", clinician.locale))
    _dispatch_now(context)


async def patient(update: Update, context: Context) -> None:
    """Show one patient's week, last events and 28-day chart to a clinician who may see them."""
    services = services_of(context)
    clinician = await clinician_or_refuse(update, context)
    if clinician is None:
        return
    texts = services.texts
    locale = clinician.locale
    if not context.args or len(context.args) != 1:
        await reply(update, texts.render("careteam.patient_usage", locale))
        return
    label = context.args[0]
    target = await services.careteam.patient_for_clinician(clinician, label)
    if target is None:
        log.info(
            "patient read refused update_id=%s clinician_id=%s", update.update_id, clinician.id
        )
        await reply(update, texts.render("careteam.patient_unknown", locale, label=label[:40]))
        return
    week_end = week_ending_for(services.clock.now(), services.settings.zone, include_today=True)
    week = await services.digests.patient_week(clinician, target, week_end)
    log.info(
        "patient read update_id=%s clinician_id=%s patient_id=%s",
        update.update_id,
        clinician.id,
        target.id,
    )
    renderer = services.renderer
    start = week_end - timedelta(days=6)
    events = [
        {
            "when": f"{e.at:%a %b %d}" if e.code == "use" else f"{e.at:%a %b %d %H:%M}",
            "text": renderer.event_text(e, locale),
        }
        for e in week.events[:12]
    ]
    await reply(
        update,
        texts.render(
            "careteam.patient",
            locale,
            p=renderer.patient_view(week, locale, week_start=start),
            start=f"{start:%b %d}",
            end=f"{week_end:%b %d}",
            events=events,
        ),
    )
    chat = update.effective_chat
    if chat is not None:
        # The chart is drawn in a worker process; the next update need not wait for it.
        run_in_background(context, _send_trend_chart(context, chat.id, week, locale), "trend chart")


async def _send_trend_chart(context: Context, chat_id: int, week: PatientWeek, locale: str) -> None:
    services = services_of(context)
    renderer = services.renderer
    (png,) = await services.charts.render([renderer.patient_chart_job(week, locale)])
    reasons = "; ".join(renderer.reason_text(r, locale) for r in week.reasons)
    try:
        await context.bot.send_photo(
            chat_id,
            InputFile(png, filename=f"{week.patient.label}.png"),
            caption=services.texts.render(
                "digest.patient_caption", locale, label=week.patient.label, reasons=reasons
            )[:1024],
            parse_mode=ParseMode.HTML,
            protect_content=True,
        )
    except TelegramError as exc:
        log.warning("trend chart not sent chat_id=%s error=%s", chat_id, type(exc).__name__)
