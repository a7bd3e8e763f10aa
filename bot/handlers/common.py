"""Small helpers shared by the handlers: replies, keyboards, locale and callback data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackContext, ExtBot

from bot.callbacks import ALERT_ACK as CB_ALERT_ACK
from bot.callbacks import CONSENT_AGREE as CB_CONSENT_AGREE
from bot.callbacks import CONSENT_DECLINE as CB_CONSENT_DECLINE
from bot.callbacks import SOS_ALERT as CB_SOS_ALERT
from bot.callbacks import SOS_NOT_NOW as CB_SOS_NOT_NOW
from bot.container import Services, get_services
from bot.models import Clinician, Patient, Sender
from bot.texts import normalise_locale

BACKGROUND_KEY = "background_tasks"


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """An update's context: python-telegram-bot's, plus who sent the update, once read.

    python-telegram-bot makes one context per update and hands it to every handler the update
    reaches, so the sender read with the update's intake serves the consent gate and the
    feature handler after it.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self.sender: Sender | None = None


log = logging.getLogger(__name__)

__all__ = [
    "CB_ALERT_ACK",
    "CB_CONSENT_AGREE",
    "CB_CONSENT_DECLINE",
    "CB_SOS_ALERT",
    "CB_SOS_NOT_NOW",
    "Context",
]


def keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Build an inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def reply(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Answer in the chat the update came from, as Telegram HTML."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
    )


async def edit_in_place(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Turn the pressed button's message into ``text``; reply instead when the answer was typed.

    Without ``markup`` Telegram drops the old buttons. A second quick tap on the same button
    asks for the very same message, which Telegram refuses as "not modified": nothing to do.
    """
    query = update.callback_query
    if query is None:
        await reply(update, text, markup)
        return
    try:
        await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def sender_of(update: Update, context: Context) -> Sender | None:
    """Return who sent the update, read from the database once per update (None: nobody).

    A handler that changes the sender (their status, their consent) calls ``forget_sender``
    so that a handler after it reads them again.
    """
    user = update.effective_user
    if user is None:
        return None
    if context.sender is None or context.sender.user_id != user.id:
        context.sender = await services_of(context).enrollment.sender(user.id)
    return context.sender


def forget_sender(context: Context) -> None:
    """Drop the sender read for this update: it has just been changed."""
    context.sender = None


async def patient_of(update: Update, context: Context) -> Patient | None:
    """Return the patient who sent the update, if the sender is one."""
    sender = await sender_of(update, context)
    return sender.patient if sender is not None else None


async def clinician_or_refuse(update: Update, context: Context) -> Clinician | None:
    """Return the clinician behind this update, or tell anyone else it is not for them."""
    sender = await sender_of(update, context)
    if sender is None:
        return None
    if sender.clinician is None:
        services = services_of(context)
        await reply(update, services.texts.render("error.not_allowed", user_locale(update)))
    return sender.clinician


def user_locale(update: Update, patient: Patient | None = None) -> str:
    """Return the patient's chosen locale, else the one their Telegram app uses."""
    if patient is not None:
        return patient.locale
    user = update.effective_user
    return normalise_locale(user.language_code if user else None)


def local_time_text(moment: datetime, zone: str) -> str:
    """Format an instant in a zone for a message, e.g. "2026-11-26 14:02 America/New_York"."""
    return f"{moment.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M')} {zone}"


def services_of(context: Context) -> Services:
    """Return the application's services."""
    return get_services(context)


def run_in_background(context: Context, work: Coroutine[Any, Any, None], what: str) -> None:
    """Run slow follow-up work (a chart, edits of other copies) after the handler returns.

    The next update does not wait for it; a failure is logged by name, never raised.
    """
    tasks: set[asyncio.Task[None]] = context.bot_data.setdefault(BACKGROUND_KEY, set())
    task = asyncio.get_running_loop().create_task(work)
    tasks.add(task)

    def done(finished: asyncio.Task[None]) -> None:
        tasks.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            error = finished.exception()
            log.error("background work failed what=%s error=%s", what, type(error).__name__)

    task.add_done_callback(done)
