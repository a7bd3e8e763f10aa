"""The daily check-in: ``/checkin``, its buttons (also on the daily prompt), and a typed note.

Each button press edits its message into the next question (or the summary). A reported
fainting spell or seizure after dTMS is answered first, in a message of its own, and the care
team's alert goes out at once, before anything else is shown. A typed note is
taken by ``take_note``, which runs in its own handler group before the guided flows and the
features, and only while the patient is at the note question; at any other time the text goes
on to the rest of the bot untouched. The rules live in ``CheckinService``.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ApplicationHandlerStop

from bot.handlers.careteam import notify_care_team
from bot.handlers.common import (
    Context,
    edit_in_place,
    keyboard,
    patient_of,
    reply,
    services_of,
    user_locale,
)
from bot.services.checkin_screens import Screen
from bot.services.checkins import CheckinReply

log = logging.getLogger(__name__)

# Commands that leave the note question open: the crisis path never waits behind a form.
COMMANDS_KEEPING_NOTE = frozenset({"sos"})
CANCEL = "cancel"


async def checkin(update: Update, context: Context) -> None:
    """Start today's check-in with its first question."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    patient = await patient_of(update, context)
    if patient is None or not patient.has_consented:
        await reply(update, services.texts.render("not_enrolled", user_locale(update, patient)))
        return
    screen = await services.checkins.start(patient)
    log.info("checkin started update_id=%s patient_id=%s", update.update_id, patient.id)
    await _send(update, screen)


async def answer_button(update: Update, context: Context) -> None:
    """Record a check-in answer against the day in the button and show what comes next."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    patient = await patient_of(update, context)
    if patient is None or not patient.has_consented:
        await query.answer(services.texts.render("error.stale_button", user_locale(update)))
        return
    message_id = query.message.message_id if query.message is not None else None
    result = await services.checkins.answer(patient, query.data, message_id=message_id)
    await query.answer(result.toast)
    if result.urgent is not None:
        await _send(update, result.urgent)
    if result.alert is not None:
        log.info(
            "checkin alert update_id=%s patient_id=%s alert_id=%s",
            update.update_id,
            patient.id,
            result.alert.alert.id,
        )
        await notify_care_team(context, result.alert)
    if result.screen is not None:
        await edit_in_place(
            update,
            result.screen.text,
            keyboard(result.screen.buttons) if result.screen.buttons else None,
        )
    if result.follow_up is not None:
        await _send(update, result.follow_up)


async def take_note(update: Update, context: Context) -> None:
    """Take typed text as the note of the check-in waiting for one, and stop there."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or not message.text:
        return
    services = services_of(context)
    text = message.text
    if text.startswith("/"):
        command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
        if command in COMMANDS_KEEPING_NOTE or not await services.checkins.end_note_step(user.id):
            return
        log.info("checkin note question left update_id=%s", update.update_id)
        if command == CANCEL:
            # /cancel here means "no note"; the flows' /cancel would say there is nothing open.
            patient = await patient_of(update, context)
            locale = user_locale(update, patient)
            await reply(update, services.texts.render("checkin.note_cancelled", locale))
            raise ApplicationHandlerStop
        return  # any other command runs as usual
    result = await services.checkins.take_note(user.id, text, await patient_of(update, context))
    if result is None:
        return  # not at the note question: the text is for the rest of the bot
    log.info("checkin note taken update_id=%s", update.update_id)
    await _retire(update, context, result)
    if result.screen is not None:
        await _send(update, result.screen)
    raise ApplicationHandlerStop


async def _retire(update: Update, context: Context, result: CheckinReply) -> None:
    """Take the Skip button off the question a typed note has just answered."""
    chat = update.effective_chat
    if chat is None or result.retired_message_id is None:
        return
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=chat.id, message_id=result.retired_message_id, reply_markup=None
        )
    except BadRequest as exc:
        # The question may be gone or already without buttons; the note is saved either way.
        log.info(
            "checkin question not retired update_id=%s error=%s",
            update.update_id,
            type(exc).__name__,
        )


async def _send(update: Update, screen: Screen) -> None:
    await reply(update, screen.text, keyboard(screen.buttons) if screen.buttons else None)
