"""Patients' ``/settings``: time zone, daily check-in time, language, pause or resume reminders.

The settings screen always shows the current values; every button edits it in place. A value
that is not on a button (another zone, another time) is typed: that opens a small flow whose
answer ``bot.handlers.flows.take_message`` hands to ``take_typed`` here. Every change is stored
at once, and a change that moves reminders (the zone) re-plans them.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Update

from bot import callbacks
from bot.container import Services
from bot.handlers.careteam import notify_care_team
from bot.handlers.common import Context, edit_in_place, keyboard, reply, services_of, user_locale
from bot.models import Patient
from bot.services.flows import FlowState
from bot.services.inputs import shorten
from bot.services.schedules import ScheduleError
from bot.texts import LOCALES

log = logging.getLogger(__name__)

SETTINGS_FLOW = "settings"
ZONE = "zone"  # flow steps: waiting for a typed zone or check-in time
CHECKIN = "checkin"

# Common zones of a US clinic's patients; the clinic's own zone is always offered first, and
# any other IANA name can be typed.
COMMON_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)
CHECKIN_TIMES = ("08:00", "12:00", "18:00", "20:00", "21:00")

# Callback actions (st:<action>[:<value>])
SHOW = "show"
PICK_ZONE = "tz"
TYPE_ZONE = "tzx"
PICK_CHECKIN = "ci"
TYPE_CHECKIN = "cix"
PICK_LANGUAGE = "lang"
PAUSE = "pause"
RESUME = "resume"
LEAVE = "leave"  # asks to confirm
LEAVE_CONFIRMED = "leave_yes"


async def show_settings(update: Update, context: Context) -> None:
    """Show the patient's settings with a button for each."""
    services = services_of(context)
    patient = await _patient(update, services)
    if patient is None:
        await reply(update, services.texts.render("not_enrolled", user_locale(update)))
        return
    await reply(update, *_screen(services, patient, changed=False))


async def answer_button(update: Update, context: Context) -> None:  # noqa: PLR0912 - a branch a button
    """Show a setting's choices, or store the one picked and show the settings again."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    patient = await _patient(update, services)
    parsed = callbacks.parse_settings(query.data)
    if patient is None or parsed is None:
        await query.answer(services.texts.render("error.stale_button", user_locale(update)))
        return
    action, value = parsed
    texts = services.texts
    if action not in {TYPE_ZONE, TYPE_CHECKIN}:
        await _drop_typing(services, user.id)
    locale = patient.locale
    if action in {LEAVE, LEAVE_CONFIRMED}:
        await _leave(update, context, services, user.id, confirmed=action == LEAVE_CONFIRMED)
        return
    if action == SHOW:
        await query.answer()
        await edit_in_place(update, *_screen(services, patient, changed=False))
    elif action == PICK_ZONE and value is None:
        await query.answer()
        await edit_in_place(update, *_zone_question(services, patient))
    elif action == PICK_CHECKIN and value is None:
        await query.answer()
        await edit_in_place(update, *_checkin_question(services, patient))
    elif action == PICK_LANGUAGE and value is None:
        await query.answer()
        rows = [
            [(texts.button(f"language_{code}"), callbacks.settings(action, code))]
            for code in LOCALES
        ]
        rows.append([(texts.button("settings_back", locale), callbacks.settings(SHOW))])
        await edit_in_place(update, texts.render("settings.ask_language", locale), keyboard(rows))
    elif action in {TYPE_ZONE, TYPE_CHECKIN}:
        step = ZONE if action == TYPE_ZONE else CHECKIN
        await services.flows.start(user.id, SETTINGS_FLOW, step)
        await query.answer()
        await edit_in_place(update, texts.render(f"settings.type_{step}", locale), None)
    elif action in {PAUSE, RESUME}:
        await services.reminders.set_paused(patient, paused=action == PAUSE)
        log.info(
            "reminders paused=%s update_id=%s patient_id=%s",
            action == PAUSE,
            update.update_id,
            patient.id,
        )
        await _changed(update, services, patient)
    elif value is not None and action in {PICK_ZONE, PICK_CHECKIN, PICK_LANGUAGE}:
        try:
            updated = await services.flows.change_preferences(
                patient,
                timezone=value if action == PICK_ZONE else None,
                checkin_time=value if action == PICK_CHECKIN else None,
                locale=value if action == PICK_LANGUAGE else None,
            )
        except ScheduleError:
            await query.answer(texts.render("error.stale_button", locale))
            return
        log.info(
            "setting changed update_id=%s patient_id=%s setting=%s",
            update.update_id,
            patient.id,
            action,
        )
        await _changed(update, services, updated)
    else:
        await query.answer(texts.render("error.stale_button", locale))


async def _leave(
    update: Update, context: Context, services: Services, user_id: int, *, confirmed: bool
) -> None:
    """Ask to confirm; then withdraw consent, stop what is planned, tell the team."""
    query = update.callback_query
    assert query is not None
    texts = services.texts
    if not confirmed:
        locale = user_locale(update, await services.enrollment.patient_for_user(user_id))
        await query.answer()
        rows = [
            [(texts.button("settings_leave_yes", locale), callbacks.settings(LEAVE_CONFIRMED))],
            [(texts.button("settings_back", locale), callbacks.settings(SHOW))],
        ]
        await edit_in_place(update, texts.render("settings.leave_confirm", locale), keyboard(rows))
        return
    patient = await services.enrollment.withdraw(user_id)
    if patient is None:
        await query.answer(services.texts.render("error.stale_button", user_locale(update)))
        return
    await query.answer()
    await services.reminders.stop_all(patient.id)
    await services.flows.finish(user_id)
    notice = await services.careteam.raise_alert(
        patient, kind="withdrawn", severity="routine", category=None
    )
    await notify_care_team(context, notice)
    log.info("consent withdrawn update_id=%s patient_id=%s", update.update_id, patient.id)
    await edit_in_place(update, services.texts.render("settings.left", patient.locale))


async def take_typed(update: Update, context: Context, flow: FlowState, text: str) -> None:
    """Store a typed zone or check-in time, or explain what is wrong and ask again."""
    services = services_of(context)
    patient = await _patient(update, services)
    if patient is None:
        await services.flows.finish(flow.user_id)
        return
    texts = services.texts
    locale = patient.locale
    try:
        if flow.step == ZONE:
            updated = await services.flows.change_preferences(patient, timezone=text)
        else:
            updated = await services.flows.change_preferences(patient, checkin_time=text)
    except ScheduleError:
        problem = texts.render(f"settings.bad_{flow.step}", locale, name=shorten(text))
        await reply(update, f"{problem}\n\n{texts.render(f'settings.type_{flow.step}', locale)}")
        return
    await services.flows.finish(flow.user_id)
    log.info(
        "setting typed update_id=%s patient_id=%s setting=%s",
        update.update_id,
        patient.id,
        flow.step,
    )
    await reply(update, *_screen(services, updated, changed=True))


def _screen(
    services: Services, patient: Patient, *, changed: bool
) -> tuple[str, InlineKeyboardMarkup]:
    """Render the settings screen with the current values and a button for each setting."""
    texts = services.texts
    locale = patient.locale
    now = services.clock.now().astimezone(ZoneInfo(patient.timezone))
    text = texts.render(
        "settings.screen",
        locale,
        changed=changed,
        timezone=patient.timezone,
        local_time=f"{now:%H:%M}",
        checkin_time=patient.checkin_time,
        language=patient.locale,
        paused=patient.reminders_paused,
    )
    pause = RESUME if patient.reminders_paused else PAUSE
    rows = [
        [
            (texts.button("settings_zone", locale), callbacks.settings(PICK_ZONE)),
            (texts.button("settings_checkin", locale), callbacks.settings(PICK_CHECKIN)),
        ],
        [(texts.button("settings_language", locale), callbacks.settings(PICK_LANGUAGE))],
        [(texts.button(f"settings_{pause}", locale), callbacks.settings(pause))],
        [(texts.button("settings_leave", locale), callbacks.settings(LEAVE))],
    ]
    return text, keyboard(rows)


def _zone_question(services: Services, patient: Patient) -> tuple[str, InlineKeyboardMarkup]:
    texts = services.texts
    locale = patient.locale
    zones = list(dict.fromkeys((services.settings.clinic_timezone, *COMMON_ZONES)))
    buttons = [(zone, callbacks.settings(PICK_ZONE, zone)) for zone in zones]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([(texts.button("settings_other_zone", locale), callbacks.settings(TYPE_ZONE))])
    rows.append([(texts.button("settings_back", locale), callbacks.settings(SHOW))])
    text = texts.render("settings.ask_zone", locale, timezone=patient.timezone)
    return text, keyboard(rows)


def _checkin_question(services: Services, patient: Patient) -> tuple[str, InlineKeyboardMarkup]:
    texts = services.texts
    locale = patient.locale
    rows = [[(slot, callbacks.settings(PICK_CHECKIN, slot)) for slot in CHECKIN_TIMES]]
    rows.append([(texts.button("settings_other_time", locale), callbacks.settings(TYPE_CHECKIN))])
    rows.append([(texts.button("settings_back", locale), callbacks.settings(SHOW))])
    text = texts.render("settings.ask_checkin", locale, checkin_time=patient.checkin_time)
    return text, keyboard(rows)


async def _changed(update: Update, services: Services, patient: Patient) -> None:
    """Confirm a change with a short toast and show the settings with the new values."""
    refreshed = await services.enrollment.patient_for_user(patient.telegram_user_id or 0)
    current = refreshed or patient
    query = update.callback_query
    assert query is not None
    await query.answer(services.texts.render("settings.saved", current.locale))
    await edit_in_place(update, *_screen(services, current, changed=True))


async def _drop_typing(services: Services, user_id: int) -> None:
    """End a wait for a typed setting once the patient has moved on to another button."""
    flow = await services.flows.get(user_id)
    if flow is not None and flow.name == SETTINGS_FLOW:
        await services.flows.finish(user_id)


async def _patient(update: Update, services: Services) -> Patient | None:
    user = update.effective_user
    if user is None:
        return None
    patient = await services.enrollment.patient_for_user(user.id)
    return patient if patient is not None and patient.has_consented else None
