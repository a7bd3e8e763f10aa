"""Enrollment: ``/start`` with an invite code, the consent screen and its buttons, ``/help``."""

from __future__ import annotations

import html
import logging

from telegram import Update

from bot.handlers.common import (
    CB_CONSENT_AGREE,
    CB_CONSENT_DECLINE,
    Context,
    keyboard,
    reply,
    services_of,
    user_locale,
)
from bot.models import Patient
from bot.services.enrollment import StartOutcome
from bot.texts import normalise_locale

log = logging.getLogger(__name__)

_OUTCOME_TEMPLATES = {
    StartOutcome.NO_CODE: "start.no_code",
    StartOutcome.INVALID_CODE: "start.invalid_code",
    StartOutcome.EXPIRED_CODE: "start.expired_code",
    StartOutcome.USED_CODE: "start.used_code",
    StartOutcome.ALREADY_ENROLLED: "start.already_enrolled",
    StartOutcome.WITHDRAWN: "start.withdrawn",
}


async def start(update: Update, context: Context) -> None:
    """Enroll with an invite code, or explain how to join."""
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    code = context.args[0] if context.args else None
    locale = normalise_locale(user.language_code)
    result = await services.enrollment.start(user.id, chat.id, code, locale)
    log.info(
        "start update_id=%s outcome=%s patient_id=%s",
        update.update_id,
        result.outcome,
        result.patient.id if result.patient else None,
    )
    if result.outcome == StartOutcome.CLINICIAN:
        clinician = await services.careteam.clinician_for_user(user.id)
        name = clinician.name if clinician else ""
        await reply(update, services.texts.render("start.clinician", locale, name=name))
        return
    if result.outcome == StartOutcome.ASK_CONSENT and result.patient is not None:
        await send_consent_screen(update, context, result.patient)
        return
    locale = user_locale(update, result.patient)
    await reply(update, services.texts.render(_OUTCOME_TEMPLATES[result.outcome], locale))


async def send_consent_screen(update: Update, context: Context, patient: Patient) -> None:
    """Show what is collected and who sees it, with I agree / No thanks."""
    texts = services_of(context).texts
    locale = patient.locale
    markup = keyboard(
        [
            [
                (texts.button("agree", locale), CB_CONSENT_AGREE),
                (texts.button("decline", locale), CB_CONSENT_DECLINE),
            ]
        ]
    )
    await reply(update, texts.render("consent.screen", locale), markup)


async def answer_consent(update: Update, context: Context) -> None:
    """Record I agree / No thanks and replace the buttons with the choice."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None:
        return
    services = services_of(context)
    agreed = query.data == CB_CONSENT_AGREE
    patient = await services.enrollment.decide_consent(user.id, agreed=agreed)
    if patient is None:
        await query.answer(services.texts.render("consent.stale", user_locale(update)))
        return
    log.info("consent update_id=%s patient_id=%s agreed=%s", update.update_id, patient.id, agreed)
    await query.answer()
    choice = services.texts.button("agree" if agreed else "decline", patient.locale)
    if query.message is not None:
        await query.edit_message_reply_markup(reply_markup=None)
    template = "consent.agreed" if agreed else "consent.declined"
    await reply(
        update, f"✔ {html.escape(choice)}\n\n" + services.texts.render(template, patient.locale)
    )


async def help_command(update: Update, context: Context) -> None:
    """Explain what the bot does, its limits and the crisis resources, for anyone."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    clinician = await services.careteam.clinician_for_user(user.id)
    if clinician is not None:
        await reply(update, services.texts.render("help.clinician", user_locale(update)))
        return
    patient = await services.enrollment.patient_for_user(user.id)
    locale = user_locale(update, patient)
    template = "help.patient" if patient is not None and patient.has_consented else "help.visitor"
    await reply(update, services.texts.render(template, locale))


async def stale_button(update: Update, context: Context) -> None:
    """Answer a button that no feature recognises (old, or forged callback data)."""
    query = update.callback_query
    if query is None:
        return
    log.info("stale button update_id=%s", update.update_id)
    texts = services_of(context).texts
    await query.answer(texts.render("error.stale_button", user_locale(update)))
