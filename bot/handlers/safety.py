"""The safety net: crisis language in any message, and ``/sos``, for everyone, always.

The scan runs in a handler group before every other group, so it sees every text and caption in
any state of any conversation; a match answers with crisis resources first and then alerts the
care team. ``/sos`` offers to alert the team; "Not now" keeps the offer open.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.handlers.careteam import notify_care_team
from bot.handlers.common import (
    CB_SOS_ALERT,
    CB_SOS_NOT_NOW,
    Context,
    edit_in_place,
    keyboard,
    reply,
    services_of,
    user_locale,
)
from bot.services.safety import detect_crisis

log = logging.getLogger(__name__)


async def scan_for_crisis(update: Update, context: Context) -> None:
    """Answer crisis language with resources at once and alert the care team."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    text = message.text or message.caption
    if not text:
        return
    signal = detect_crisis(text)
    if signal is None:
        return
    services = services_of(context)
    patient = await services.enrollment.patient_for_user(user.id)
    clinician = await services.careteam.clinician_for_user(user.id)
    locale = user_locale(update, patient)
    texts = services.texts
    # Resources go out before anything else; if Telegram refuses them now, the alert below must
    # still be raised, and the resources are queued to be retried like any delivery.
    replied = await _reply_safely(update, texts.render("crisis.reply", locale))
    if not replied and patient is not None:
        await services.reminders.enqueue_crisis_reply(patient)
    if patient is not None and clinician is None:
        notice = await services.careteam.raise_alert(
            patient, kind="crisis", severity="urgent", category=signal.category.value
        )
        log.warning(
            "crisis signal update_id=%s patient_id=%s alert_id=%s new=%s",
            update.update_id,
            patient.id,
            notice.alert.id,
            notice.is_new,
        )
        if notice.is_new:
            await notify_care_team(context, notice)
        await _reply_safely(update, texts.render("crisis.team_told", locale))
    else:
        log.warning("crisis signal update_id=%s patient_id=None", update.update_id)
        await _reply_safely(update, texts.render("crisis.visitor", locale))
    raise ApplicationHandlerStop


async def _reply_safely(update: Update, text: str) -> bool:
    """Reply, reporting failure instead of raising, so the safety net never stops half-way."""
    try:
        await reply(update, text)
    except TelegramError as exc:
        log.error(
            "crisis reply not sent update_id=%s error=%s", update.update_id, type(exc).__name__
        )
        return False
    return True


async def sos(update: Update, context: Context) -> None:
    """Show crisis resources now and offer to alert the care team."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    patient = await services.enrollment.patient_for_user(user.id)
    locale = user_locale(update, patient)
    texts = services.texts
    await reply(update, texts.render("sos.resources", locale))
    if patient is not None and await services.careteam.clinician_for_user(user.id) is None:
        await reply(update, texts.render("sos.offer", locale), _offer_keyboard(context, locale))
    log.info("sos update_id=%s patient_id=%s", update.update_id, patient.id if patient else None)


def _offer_keyboard(context: Context, locale: str) -> InlineKeyboardMarkup:
    texts = services_of(context).texts
    return keyboard(
        [
            [(texts.button("sos_alert", locale), CB_SOS_ALERT)],
            [(texts.button("sos_not_now", locale), CB_SOS_NOT_NOW)],
        ]
    )


async def answer_sos(update: Update, context: Context) -> None:
    """Alert the care team, or keep the offer open after "Not now"."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    services = services_of(context)
    texts = services.texts
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None:
        await query.answer(texts.render("error.stale_button", user_locale(update)))
        return
    await query.answer()
    locale = patient.locale
    if query.data == CB_SOS_NOT_NOW:
        # One "no" never closes the path: the alert button stays under the message.
        await edit_in_place(
            update,
            texts.render("sos.not_now", locale),
            keyboard([[(texts.button("sos_alert", locale), CB_SOS_ALERT)]]),
        )
        return
    notice = await services.careteam.raise_alert(
        patient, kind="sos", severity="urgent", category=None
    )
    log.warning(
        "sos alert update_id=%s patient_id=%s alert_id=%s new=%s",
        update.update_id,
        patient.id,
        notice.alert.id,
        notice.is_new,
    )
    # The team is told before anything else can fail on the patient's side.
    if notice.is_new:
        await notify_care_team(context, notice)
    template = "sos.alert_sent" if notice.is_new else "sos.alert_already"
    await edit_in_place(update, texts.render(template, locale))
