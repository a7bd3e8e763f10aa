"""Gates that run before the features: de-duplicate updates, and nothing before consent."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.handlers.common import (
    Context,
    forget_sender,
    reply,
    sender_of,
    services_of,
    user_locale,
)
from bot.handlers.onboarding import send_consent_screen
from bot.models import PatientStatus

log = logging.getLogger(__name__)

# What anyone may use before (or without) consenting: enrollment itself, help, the crisis path,
# and the right to see or erase what is stored (a declined patient still has a row).
OPEN_COMMANDS = frozenset({"start", "help", "sos", "mydata", "delete"})
OPEN_CALLBACK_PREFIXES = ("c:", "sos:", "pv:")


async def drop_repeated_update(update: Update, context: Context) -> None:
    """Stop an update that was already taken in (after a restart Telegram may resend it)."""
    services = services_of(context)
    user = update.effective_user
    # Who sent it is read in the same round trip: the consent gate and the features need it.
    first, sender = await services.update_log.take_in(
        update.update_id, services.clock.now(), user.id if user is not None else None
    )
    if not first:
        log.info("update ignored as repeated update_id=%s", update.update_id)
        raise ApplicationHandlerStop
    context.sender = sender


async def private_chats_only(update: Update, context: Context) -> None:
    """Stop anything from a group or channel: health talk belongs in a private chat only."""
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        log.info("update from a non-private chat ignored update_id=%s", update.update_id)
        raise ApplicationHandlerStop


async def require_consent(update: Update, context: Context) -> None:
    """Let only clinicians and consented patients past, except for the open commands."""
    user = update.effective_user
    if user is None or _is_open(update):
        return
    if update.effective_message is None and update.callback_query is None:
        return  # e.g. the user blocked or unblocked the bot: nothing to answer
    services = services_of(context)
    sender = await sender_of(update, context)
    if sender is None or sender.clinician is not None:
        return
    patient = sender.patient
    if patient is not None and services.enrollment.consent_outdated(sender):
        # The consent text changed since they agreed: nothing more is collected until they
        # answer the new one (their answer to its buttons passes this gate).
        log.info("consent asked again update_id=%s patient_id=%s", update.update_id, patient.id)
        if update.callback_query is not None:
            await update.callback_query.answer()
        await send_consent_screen(update, context, patient)
        raise ApplicationHandlerStop
    if patient is not None and patient.has_consented:
        if patient.status == PatientStatus.UNREACHABLE:
            # They had blocked the bot and now write again: their reminders start again.
            await services.reminders.mark_reachable(patient)
            forget_sender(context)  # their status changed: a handler after this reads it anew
            log.info(
                "patient reachable again update_id=%s patient_id=%s", update.update_id, patient.id
            )
        return
    locale = user_locale(update, patient)
    if patient is None:
        template = "not_enrolled"
    elif patient.status == PatientStatus.WITHDRAWN:
        template = "start.withdrawn"
    else:
        template = "consent.required"
    if update.callback_query is not None:
        await update.callback_query.answer(services.texts.render("error.stale_button", locale))
    else:
        await reply(update, services.texts.render(template, locale))
    raise ApplicationHandlerStop


def _is_open(update: Update) -> bool:
    query = update.callback_query
    if query is not None:
        return bool(query.data and query.data.startswith(OPEN_CALLBACK_PREFIXES))
    message = update.effective_message
    text = message.text if message is not None else None
    if text and text.startswith("/"):
        command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower()
        return command in OPEN_COMMANDS
    return False
