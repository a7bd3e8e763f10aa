"""The safety net: crisis language in any message, and ``/sos``, for everyone, always.

The scan runs in a handler group before every other group, so it sees every text and caption in
any state of any conversation. A clear crisis is answered with the resources for its kind
(overdose: the emergency number and naloxone first; suicide: 988 first; danger at home: the
domestic-violence line) and alerts the care team at once; a possible crisis asks "Are you safe
right now?" with buttons, and "I need help now", "Someone else is in danger" or silence alerts
the team. A question about a crisis topic gets the emergency steps and the library's answer,
and pages nobody. ``/sos`` offers to alert the team; "Not now" keeps the offer open. Voice
notes, photos and other media get an answer too.
"""

from __future__ import annotations

import asyncio
import logging
import re

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import callbacks
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
from bot.models import Patient
from bot.services.crisis_signal import CrisisSignal, Tier
from bot.services.safety import assess
from bot.services.safetynet import REPLY_HOLD

log = logging.getLogger(__name__)


# "/start <code>": the code is random letters and digits, and a code such as "...Tiy_Od" would
# read as "OD". Nobody types it; it is never crisis language.
_START_PAYLOAD = re.compile(r"^/start(@\w+)?\s+\S+", re.IGNORECASE)


def _readable_part(text: str) -> str:
    """Return the part of a message a person wrote (an enrollment code is not)."""
    return _START_PAYLOAD.sub("/start", text, count=1)


async def scan_for_crisis(update: Update, context: Context) -> None:
    """Answer crisis language at once, by kind and tier, and alert the care team."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    text = _readable_part(message.text or message.caption or "")
    if not text:
        return
    services = services_of(context)
    # In a worker thread: when the rules stay quiet the semantic layer embeds the message, C
    # code that releases the GIL, so other patients' updates go on meanwhile.
    assessment = await asyncio.to_thread(assess, text, services.crisis_semantic)
    signal = assessment.signal
    if signal is None:
        if assessment.question:
            await _answer_question(update, context, text)
        return
    patient = await services.enrollment.patient_for_user(user.id)
    locale = user_locale(update, patient)
    texts = services.texts
    category = signal.category.value
    # A person's patient side is a patient in every respect, even if they are a clinician too.
    is_patient = patient is not None and patient.chat_id is not None
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        await _answer_in_group(update, context, patient if is_patient else None, signal)
        raise ApplicationHandlerStop
    if is_patient and signal.tier is Tier.POSSIBLE:
        assert patient is not None
        await _ask_if_safe(update, context, patient, signal)
        raise ApplicationHandlerStop
    notice = None
    if is_patient:
        assert patient is not None
        # Written first, in one transaction with its deliveries and the follow-up, so that
        # nothing after this line can lose it; its sends wait until the patient is answered.
        notice = await services.safety_net.raise_crisis(patient, category, hold=REPLY_HOLD)
    # Resources go out before anything reaches the team; if Telegram refuses them now, they
    # are queued to be retried like any delivery.
    replied = await _reply_safely(update, texts.render("crisis.reply", locale, category=category))
    if not replied and patient is not None:
        await services.reminders.enqueue_crisis_reply(patient, category)
    if notice is not None:
        log.warning(
            "crisis signal update_id=%s patient_id=%s alert_id=%s new=%s category=%s tier=%s"
            " layer=%s score=%s",
            update.update_id,
            notice.patient.id,
            notice.alert.id,
            notice.is_new,
            category,
            signal.tier,
            signal.layer,
            signal.score,
        )
        if notice.is_new:
            await notify_care_team(context, notice)
        await _reply_safely(update, texts.render("crisis.team_told", locale))
    else:
        log.warning("crisis signal update_id=%s patient_id=None", update.update_id)
        await _reply_safely(update, texts.render("crisis.visitor", locale))
    raise ApplicationHandlerStop


async def _answer_in_group(
    update: Update, context: Context, patient: Patient | None, signal: CrisisSignal
) -> None:
    """Answer a crisis in a group with resources that name no clinic, team or program.

    The group must not learn that the writer is in a treatment program: the care team is
    alerted without a word in the group, and an "are you safe?" goes to the private chat.
    """
    services = services_of(context)
    category = signal.category.value
    locale = patient.locale if patient is not None else user_locale(update)
    notice = None
    if patient is not None and patient.chat_id is not None and signal.tier is not Tier.POSSIBLE:
        # As in a private chat: written first, sent to the team once the group is answered.
        notice = await services.safety_net.raise_crisis(patient, category, hold=REPLY_HOLD)
    await _reply_safely(update, services.texts.render("crisis.group", locale, category=category))
    if patient is None or patient.chat_id is None:
        log.warning("crisis signal in a group update_id=%s patient_id=None", update.update_id)
        return
    if notice is None:
        check_id = await services.safety_net.open_check(patient, category)
        minutes = round(services.settings.safety_check_timeout_minutes)
        try:
            await context.bot.send_message(
                patient.chat_id,
                services.texts.render("crisis.check", locale, minutes=max(minutes, 1)),
                parse_mode=ParseMode.HTML,
                reply_markup=_check_keyboard(context, locale, check_id),
            )
        except TelegramError as exc:
            # Unanswered, the check still alerts the team when its time is up.
            log.error("private check not sent patient_id=%s error=%s", patient.id, type(exc))
        log.warning(
            "possible crisis in a group update_id=%s patient_id=%s", update.update_id, patient.id
        )
        return
    log.warning(
        "crisis signal in a group update_id=%s patient_id=%s alert_id=%s new=%s",
        update.update_id,
        patient.id,
        notice.alert.id,
        notice.is_new,
    )
    if notice.is_new:
        await notify_care_team(context, notice)


async def _ask_if_safe(
    update: Update, context: Context, patient: Patient, signal: CrisisSignal
) -> None:
    """Ask "Are you safe right now?" with resources and buttons; silence alerts the team."""
    services = services_of(context)
    texts = services.texts
    locale = patient.locale
    category = signal.category.value
    check_id = await services.safety_net.open_check(patient, category)
    minutes = round(services.settings.safety_check_timeout_minutes)
    log.warning(
        "possible crisis update_id=%s patient_id=%s delivery_id=%s category=%s layer=%s score=%s",
        update.update_id,
        patient.id,
        check_id,
        category,
        signal.layer,
        signal.score,
    )
    await _reply_safely(
        update,
        texts.render("crisis.check", locale, minutes=max(minutes, 1)),
        _check_keyboard(context, locale, check_id),
    )


def _check_keyboard(context: Context, locale: str, check_id: int) -> InlineKeyboardMarkup:
    texts = services_of(context).texts
    return keyboard(
        [
            [
                (
                    texts.button("check_safe", locale),
                    callbacks.safety(callbacks.SAFETY_SAFE, check_id),
                )
            ],
            [
                (
                    texts.button("check_help", locale),
                    callbacks.safety(callbacks.SAFETY_HELP, check_id),
                )
            ],
            [
                (
                    texts.button("check_other", locale),
                    callbacks.safety(callbacks.SAFETY_OTHER, check_id),
                )
            ],
        ]
    )


async def _answer_question(update: Update, context: Context, text: str) -> None:
    """Answer a question about a crisis topic with the emergency steps, then the library."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return
    services = services_of(context)
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None or not patient.has_consented:
        return  # visitors and patients before consent get their usual answer
    locale = patient.locale
    # The emergency steps come first, in case the question is asked while it is happening;
    # nobody is paged for a question.
    await _reply_safely(update, services.texts.render("crisis.question_steps", locale))
    view = services.learn.answer_question(text, locale)
    await reply(update, view.text, keyboard(view.buttons) if view.buttons else None)
    log.info(
        "crisis-topic question answered update_id=%s patient_id=%s", update.update_id, patient.id
    )
    raise ApplicationHandlerStop


async def answer_safety(update: Update, context: Context) -> None:
    """Record an answer to "Are you safe?" or to the follow-up; help and "not safe" alert."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    texts = services.texts
    parsed = callbacks.parse(query.data)
    if parsed is None:
        await query.answer(texts.render("error.stale_button", user_locale(update)))
        return
    _, action, delivery_id, _ = parsed
    # An alert this raises is stored at once and sent to the team once the patient is answered.
    if action in {callbacks.FOLLOWUP_SAFE, callbacks.FOLLOWUP_UNSAFE}:
        answer = await services.safety_net.answer_followup(
            user.id, delivery_id, action, hold=REPLY_HOLD
        )
    else:
        answer = await services.safety_net.answer_check(
            user.id, delivery_id, action, hold=REPLY_HOLD
        )
    if answer is None:
        await query.answer(texts.render("error.stale_button", user_locale(update)))
        return
    try:
        await _answer_safety_press(update, context, action, answer.patient.locale, delivery_id)
    finally:
        # Even if the patient's screen could not be changed, the team is told now.
        if answer.notice is not None and answer.notice.is_new:
            await notify_care_team(context, answer.notice)
    log.info(
        "safety answer update_id=%s patient_id=%s answer=%s",
        update.update_id,
        answer.patient.id,
        answer.answer,
    )


async def _answer_safety_press(
    update: Update, context: Context, action: str, locale: str, delivery_id: int
) -> None:
    """Answer the press and change the question's message to say what happens now."""
    query = update.callback_query
    assert query is not None
    texts = services_of(context).texts
    await query.answer()
    if action == callbacks.SAFETY_SAFE:
        # One "I'm safe" never closes the way to help: that button stays.
        markup = keyboard(
            [
                [
                    (
                        texts.button("check_help", locale),
                        callbacks.safety(callbacks.SAFETY_HELP, delivery_id),
                    )
                ]
            ]
        )
        await edit_in_place(update, texts.render("crisis.check_safe", locale), markup)
    elif action == callbacks.FOLLOWUP_SAFE:
        markup = keyboard(
            [
                [
                    (
                        texts.button("followup_unsafe", locale),
                        callbacks.safety(callbacks.FOLLOWUP_UNSAFE, delivery_id),
                    )
                ]
            ]
        )
        await edit_in_place(update, texts.render("crisis.followup_safe", locale), markup)
    else:
        template = {
            callbacks.SAFETY_HELP: "crisis.check_help",
            callbacks.SAFETY_OTHER: "crisis.check_other",
            callbacks.FOLLOWUP_UNSAFE: "crisis.followup_unsafe",
        }[action]
        await edit_in_place(update, texts.render(template, locale))


async def answer_media(update: Update, context: Context) -> None:
    """Answer a voice note, photo, sticker, file or location: what the bot reads, and /sos."""
    services = services_of(context)
    user = update.effective_user
    patient = await services.enrollment.patient_for_user(user.id) if user else None
    await reply(update, services.texts.render("media.unreadable", user_locale(update, patient)))
    log.info("media answered update_id=%s", update.update_id)


async def _reply_safely(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> bool:
    """Reply, reporting failure instead of raising, so the safety net never stops half-way."""
    try:
        await reply(update, text, markup)
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
    if patient is not None and patient.chat_id is not None:
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
    notice = await services.safety_net.raise_crisis(
        patient, None, kind="sos", followup=False, hold=REPLY_HOLD
    )
    log.warning(
        "sos alert update_id=%s patient_id=%s alert_id=%s new=%s",
        update.update_id,
        patient.id,
        notice.alert.id,
        notice.is_new,
    )
    template = "sos.alert_sent" if notice.is_new else "sos.alert_already"
    try:
        await edit_in_place(update, texts.render(template, locale))
    finally:
        # Even if the patient's screen could not be changed, the team is told now.
        if notice.is_new:
            await notify_care_team(context, notice)
