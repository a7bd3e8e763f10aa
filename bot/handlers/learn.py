"""``/learn``: browse topics, articles and pages; free-text questions; "tell my care team"."""

from __future__ import annotations

import logging

from telegram import Update

from bot.handlers.careteam import notify_care_team
from bot.handlers.common import (
    Context,
    edit_in_place,
    keyboard,
    reply,
    services_of,
    user_locale,
)
from bot.services.inputs import read_number
from bot.services.learn import ASK_TEAM, FOR_YOU, OPEN, PAGE, SOURCES, TOPIC, TOPICS, View

log = logging.getLogger(__name__)

MAX_PAGE_DIGITS = 3  # no article has a thousand pages


async def learn(update: Update, context: Context) -> None:
    """Show the library menu, with the patient's own treatment first."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None:
        # Only a clinician gets here (the consent gate answers everyone else): not silence.
        await reply(update, services.texts.render("not_enrolled", user_locale(update)))
        return
    view = await services.learn.topics_view(patient)
    await reply(update, view.text, keyboard(view.buttons))


async def browse(update: Update, context: Context) -> None:
    """Move through topics and pages in place; a stale or forged button gets a polite answer."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    patient = await services.enrollment.patient_for_user(user.id)
    locale = user_locale(update, patient)
    data = query.data
    view: View | None = None
    if patient is not None and data == TOPICS:
        view = await services.learn.topics_view(patient)
    elif patient is not None and data == FOR_YOU:
        view = await services.learn.for_you_view(patient)
    elif data.startswith(TOPIC):
        view = services.learn.topic_view(data.removeprefix(TOPIC), locale)
    elif data.startswith(OPEN):
        view = services.learn.page_view(data.removeprefix(OPEN), 0, locale)
        if view is not None:
            await query.answer()
            await reply(update, view.text, keyboard(view.buttons) if view.buttons else None)
            return
    elif data.startswith(PAGE):
        article_id, _, page = data.removeprefix(PAGE).rpartition(":")
        number = read_number(page, max_digits=MAX_PAGE_DIGITS)
        if number is not None:
            view = services.learn.page_view(article_id, number, locale)
    elif data.startswith(SOURCES):
        view = services.learn.sources_view(data.removeprefix(SOURCES), locale)
    elif patient is not None and data == ASK_TEAM:
        view, notice = await services.learn.tell_team(patient)
        await query.answer()
        await reply(update, view.text)
        if notice.is_new:
            await notify_care_team(context, notice)
        log.info("question for care team update_id=%s patient_id=%s", update.update_id, patient.id)
        return
    if view is None:
        await query.answer(services.texts.render("error.stale_button", locale))
        return
    await query.answer()
    await edit_in_place(update, view.text, keyboard(view.buttons) if view.buttons else None)


async def question(update: Update, context: Context) -> None:
    """Answer a free-text message with the guardrail, the best articles, or a way on."""
    services = services_of(context)
    user = update.effective_user
    message = update.effective_message
    if user is None or message is None or not message.text:
        return
    patient = await services.enrollment.patient_for_user(user.id)
    if patient is None:
        await reply(update, services.texts.render("help.clinician", user_locale(update)))
        return
    view = services.learn.answer_question(message.text, patient.locale)
    log.info("question answered update_id=%s patient_id=%s", update.update_id, patient.id)
    await reply(update, view.text, keyboard(view.buttons) if view.buttons else None)


async def unknown_command(update: Update, context: Context) -> None:
    """Answer a command the bot does not have."""
    services = services_of(context)
    await reply(update, services.texts.render("unknown_command", user_locale(update)))
