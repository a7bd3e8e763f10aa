"""Patients' privacy rights: ``/mydata`` sends everything stored, ``/delete`` erases it on a Yes.

Clinicians and people who are not patients are told that nothing is stored about them as a
patient. Logs carry update and patient ids only.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, InputFile, Update
from telegram.error import BadRequest

from bot import callbacks
from bot.container import Services
from bot.handlers.common import Context, keyboard, reply, services_of, user_locale
from bot.services.privacy import EraseOutcome, SubjectKind

log = logging.getLogger(__name__)


async def my_data(update: Update, context: Context) -> None:
    """Send everything stored about the patient as JSON and as a page; say what they hold."""
    services = services_of(context)
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    export = await services.privacy.export_for_user(user.id)
    if export is None:
        subject = await services.privacy.subject_for_user(user.id)
        await _nothing_stored(update, services, subject.kind)
        return
    page = services.export_page
    html_filename = page.filename(export)
    await chat.send_document(InputFile(export.content(), filename=export.filename))
    await chat.send_document(InputFile(page.render(export), filename=html_filename))
    log.info("data export sent update_id=%s patient_id=%s", update.update_id, export.patient_id)
    await reply(
        update,
        services.texts.render(
            "privacy.export_sent",
            export.locale,
            filename=export.filename,
            html_filename=html_filename,
            label=export.label,
        ),
    )


async def delete_data(update: Update, context: Context) -> None:
    """Explain what erasure removes and what it keeps, and ask Yes or No."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    subject = await services.privacy.subject_for_user(user.id)
    patient = subject.patient
    if patient is None:
        await _nothing_stored(update, services, subject.kind)
        return
    texts, locale = services.texts, patient.locale
    token = await services.privacy.erasure_token(patient)
    markup = keyboard(
        [
            [(texts.button("erase_yes", locale), callbacks.privacy_erase(patient.id, token))],
            [(texts.button("erase_no", locale), callbacks.privacy_keep())],
        ]
    )
    log.info("erasure offered update_id=%s patient_id=%s", update.update_id, patient.id)
    await reply(update, texts.render("privacy.delete_confirm", locale), markup)


async def answer_delete(update: Update, context: Context) -> None:
    """Erase everything on Yes, keep everything on No; answer an out-of-date Yes politely."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    texts = services.texts
    parsed = callbacks.parse_privacy(query.data)
    if parsed is None:
        await query.answer(texts.render("error.stale_button", user_locale(update)))
        return
    action, patient_id, token = parsed
    if action == callbacks.PRIVACY_KEEP:
        subject = await services.privacy.subject_for_user(user.id)
        await query.answer()
        await _remove_buttons(update, query)
        await reply(update, texts.render("privacy.kept", user_locale(update, subject.patient)))
        return
    result = await services.privacy.erase_for_user(user.id, patient_id, token)
    if result.outcome == EraseOutcome.STALE:
        log.info("stale erasure confirmation update_id=%s", update.update_id)
        await query.answer(texts.render("privacy.erase_stale", user_locale(update)))
        return
    log.info(
        "patient erased their data update_id=%s patient_id=%s rows=%s",
        update.update_id,
        result.patient_id,
        result.rows,
    )
    await query.answer()
    await _remove_buttons(update, query)
    await reply(update, texts.render("privacy.erased", result.locale or user_locale(update)))


async def _nothing_stored(update: Update, services: Services, kind: SubjectKind) -> None:
    template = "privacy.clinician" if kind == SubjectKind.CLINICIAN else "privacy.nothing_stored"
    await reply(update, services.texts.render(template, user_locale(update)))


async def _remove_buttons(update: Update, query: CallbackQuery) -> None:
    if query.message is None:
        return
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest as exc:
        # Pressed twice, or the message is gone: the answer below still tells them the outcome.
        log.info("buttons not removed update_id=%s error=%s", update.update_id, type(exc).__name__)
