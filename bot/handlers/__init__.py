"""Handler registration: the single place that decides what runs, and in which order."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import callbacks
from bot.handlers import careteam, errors, guard, learn, membership, onboarding, reminders, safety
from bot.handlers import checkin as checkin_handlers
from bot.handlers import flows as flow_handlers
from bot.handlers import privacy as privacy_handlers
from bot.handlers import settings as settings_handlers
from bot.handlers.common import (
    CB_ALERT_ACK,
    CB_CONSENT_AGREE,
    CB_CONSENT_DECLINE,
    CB_SOS_ALERT,
    CB_SOS_NOT_NOW,
)

# Handler groups run in ascending order; a handler that raises ApplicationHandlerStop ends the
# update there. Note: order matters!
GROUP_DEDUPE = -300
GROUP_SAFETY = -200  # crisis language is answered before anything else may swallow the message
GROUP_PRIVATE_ONLY = -150  # after the safety net: crisis text is answered wherever it is written
GROUP_CONSENT = -100
# A typed note for the check-in, taken only while the patient is at the note question. Before
# the flows group: that group ends any flow it does not know, and the note question is one.
GROUP_CHECKIN_NOTE = -75
# Typed answers to an open guided flow (/addmed, /addtms, a typed setting) are taken here,
# before any free-text feature can read them as something else.
GROUP_FLOWS = -50
GROUP_FEATURES = 0


MEDIA = (
    filters.VOICE
    | filters.AUDIO
    | filters.PHOTO
    | filters.Sticker.ALL
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.Document.ALL
    | filters.LOCATION
    | filters.CONTACT
    | filters.ANIMATION
)


def _command(name: str, callback: Any) -> CommandHandler[Any, Any]:
    """Answer a command in a new message only: editing an old /start must not enrol again."""
    return CommandHandler(name, callback, filters=filters.UpdateType.MESSAGE)


def register_handlers(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Register every handler and the error handler, in order."""
    application.add_handler(TypeHandler(Update, guard.drop_repeated_update), GROUP_DEDUPE)
    application.add_handler(TypeHandler(Update, guard.private_chats_only), GROUP_PRIVATE_ONLY)
    application.add_handler(
        MessageHandler(filters.TEXT | filters.CAPTION, safety.scan_for_crisis), GROUP_SAFETY
    )
    application.add_handler(TypeHandler(Update, guard.require_consent), GROUP_CONSENT)
    # New messages only (in both groups): an edited earlier answer must not be read as the
    # answer to the question open now.
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, checkin_handlers.take_note),
        GROUP_CHECKIN_NOTE,
    )
    application.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, flow_handlers.take_message),
        GROUP_FLOWS,
    )

    features = [
        _command("start", onboarding.start),
        _command("help", onboarding.help_command),
        _command("sos", safety.sos),
        CallbackQueryHandler(
            onboarding.answer_consent, pattern=f"^({CB_CONSENT_AGREE}|{CB_CONSENT_DECLINE})$"
        ),
        CallbackQueryHandler(safety.answer_sos, pattern=f"^({CB_SOS_ALERT}|{CB_SOS_NOT_NOW})$"),
        CallbackQueryHandler(safety.answer_safety, pattern=f"^{callbacks.SAFETY}:"),
        _command("patients", careteam.patients),
        _command("invite", careteam.invite),
        _command("digest", careteam.digest),
        _command("patient", careteam.patient),
        CallbackQueryHandler(careteam.acknowledge_alert, pattern=f"^{CB_ALERT_ACK}\\d+$"),
        _command("checkin", checkin_handlers.checkin),
        CallbackQueryHandler(checkin_handlers.answer_button, pattern=f"^{callbacks.CHECKIN}:"),
        _command("schedule", reminders.schedule),
        _command("pause", reminders.pause),
        _command("resume", reminders.resume),
        CallbackQueryHandler(reminders.answer_reminder, pattern=r"^(d|a):"),
        _command("learn", learn.learn),
        CallbackQueryHandler(learn.browse, pattern=r"^l:"),
        _command("addmed", flow_handlers.addmed),
        _command("addtms", flow_handlers.addtms),
        _command("cancel", flow_handlers.cancel),
        CallbackQueryHandler(flow_handlers.answer_button, pattern=f"^{callbacks.FLOW}:"),
        _command("settings", settings_handlers.show_settings),
        CallbackQueryHandler(settings_handlers.answer_button, pattern=f"^{callbacks.SETTINGS}:"),
        _command("mydata", privacy_handlers.my_data),
        _command("delete", privacy_handlers.delete_data),
        CallbackQueryHandler(privacy_handlers.answer_delete, pattern=f"^{callbacks.PRIVACY}:"),
        # Free text outside any flow is a question for the library (crisis language never gets
        # here: the safety net ran first and stopped the update).
        # (New messages only: editing an old message is not a new question.)
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, learn.question
        ),
        MessageHandler(filters.UpdateType.MESSAGE & filters.COMMAND, learn.unknown_command),
        # A voice note, photo or file is never met with silence (a caption was already scanned
        # by the safety net).
        MessageHandler(filters.UpdateType.MESSAGE & MEDIA, safety.answer_media),
        ChatMemberHandler(membership.membership_changed, ChatMemberHandler.MY_CHAT_MEMBER),
        # Last: a button from an old message or forged data gets a polite answer, not silence.
        CallbackQueryHandler(onboarding.stale_button),
    ]
    application.add_handlers(features, GROUP_FEATURES)
    application.add_error_handler(errors.handle_error)
