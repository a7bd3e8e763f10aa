"""Clinicians' guided flows ``/addmed`` and ``/addtms``, ``/cancel``, and typed flow answers.

A flow asks one question at a time; its answers live in the database (``FlowService``), so a
restart in the middle loses nothing. Every answer, typed or tapped, re-checks that the sender
is an active clinician on the chosen patient's care team. A button press edits its message into
the next question; a typed answer gets the next question as a reply. A bad answer is explained
and the same question asked again, with everything entered so far kept.

``take_message`` runs in its own handler group before the features: it takes the text of a user
who has an open flow (and stops the update there), and ends a flow politely when the user sends
another command instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot import callbacks
from bot.container import Services
from bot.handlers import settings as settings_handlers
from bot.handlers.common import (
    Context,
    clinician_or_refuse,
    edit_in_place,
    keyboard,
    reply,
    services_of,
    user_locale,
)
from bot.models import Clinician, Patient, PatientStatus
from bot.services.flows import RUN_KEY, FlowState, FlowValue, check_text, parse_one_time
from bot.services.inputs import read_number, shorten
from bot.services.occurrences import format_weekdays
from bot.services.schedules import (
    MAX_TMS_SESSIONS,
    ScheduleError,
    parse_date,
    parse_times,
    parse_weekdays_or_error,
)

log = logging.getLogger(__name__)

ADDMED = "addmed"
ADDTMS = "addtms"

# Step names are stored with open flows: renaming one strands the flows open at the time.
PATIENT = "patient"
NAME = "name"
DOSE = "dose"
TIMES = "times"
DAYS = "days"
DAYS_CUSTOM = "days_custom"
START = "start"
TIME = "time"
SESSIONS = "sessions"
LOCATION = "location"
CONFIRM = "confirm"

STEPS: Mapping[str, tuple[str, ...]] = {
    ADDMED: (PATIENT, NAME, DOSE, TIMES, DAYS, START, CONFIRM),
    ADDTMS: (PATIENT, START, TIME, DAYS, SESSIONS, LOCATION, CONFIRM),
}
KNOWN_FLOWS = frozenset({*STEPS, settings_handlers.SETTINGS_FLOW})
PATIENT_ID = "patient_id"  # the data key of the chosen patient (steps name the other answers)

# Button choices: short codes in the callback data, never the labels shown.
DAY_CHOICES: Mapping[str, tuple[tuple[str, str], ...]] = {
    ADDMED: (("daily", "flow_every_day"), ("weekdays", "flow_weekdays")),
    ADDTMS: (("mon-fri", "flow_mon_fri"),),
}
CUSTOM = "custom"
TODAY = "today"
TOMORROW = "tomorrow"
SESSION_CHOICES = ("20", "30", "36")
SKIP = "skip"
YES = "yes"
NO = "no"

PATIENT_BUTTONS_PER_ROW = 3
MAX_PATIENT_BUTTONS = 30  # more than this and the clinician types the label
# Commands that leave an open flow alone: /cancel ends it itself, and the crisis path never
# waits behind a message about a form.
COMMANDS_KEEPING_FLOW = frozenset({"cancel", "sos"})


@dataclass(frozen=True, slots=True)
class _Turn:
    """One answer in a clinician flow: who gave it, where they stood, for which patient."""

    update: Update
    services: Services
    clinician: Clinician
    flow: FlowState
    patient: Patient | None


# Commands ---------------------------------------------------------------------------------------


async def addmed(update: Update, context: Context) -> None:
    """Start adding a medication: ask which patient it is for."""
    await _begin(update, context, ADDMED)


async def addtms(update: Update, context: Context) -> None:
    """Start adding a dTMS course: ask which patient it is for."""
    await _begin(update, context, ADDTMS)


async def cancel(update: Update, context: Context) -> None:
    """End the user's open flow, whatever it is; nothing half-entered is saved."""
    services = services_of(context)
    user = update.effective_user
    if user is None:
        return
    flow = await services.flows.finish(user.id)
    locale = await _locale(update, services)
    if flow is None or flow.name not in KNOWN_FLOWS:
        await reply(update, services.texts.render("flow.nothing_to_cancel", locale))
        return
    log.info("flow cancelled update_id=%s flow=%s step=%s", update.update_id, flow.name, flow.step)
    await reply(update, services.texts.render(f"{flow.name}.cancelled", locale))


async def _begin(update: Update, context: Context, name: str) -> None:
    services = services_of(context)
    clinician = await clinician_or_refuse(update, context)
    if clinician is None:
        return
    if not await services.flows.own_patients(clinician):
        await reply(update, services.texts.render("flow.no_patients"))
        return
    flow = await services.flows.start(clinician.telegram_id, name, PATIENT)
    log.info(
        "flow begun update_id=%s clinician_id=%s flow=%s", update.update_id, clinician.id, name
    )
    await _ask(_Turn(update, services, clinician, flow, None))


# Typed answers (handler group before the features) ---------------------------------------------


async def take_message(update: Update, context: Context) -> None:
    """Take a typed answer to an open flow and stop there; end a flow another command cuts off."""
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None or not message.text:
        return
    services = services_of(context)
    text = message.text
    if text.startswith("/"):
        command = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if text[1:] else ""
        if command in COMMANDS_KEEPING_FLOW:
            return
        flow = await services.flows.get(user.id)
        if flow is not None and flow.name in KNOWN_FLOWS:
            await services.flows.finish(user.id)
            log.info("flow ended by a command update_id=%s flow=%s", update.update_id, flow.name)
            locale = await _locale(update, services)
            await reply(update, services.texts.render(f"{flow.name}.interrupted", locale))
        return  # the command itself runs in the features group
    expired = await services.flows.take_expired(user.id)
    if expired is not None and expired.name in KNOWN_FLOWS:
        log.info("flow answer after expiry update_id=%s flow=%s", update.update_id, expired.name)
        locale = await _locale(update, services)
        await reply(
            update,
            services.texts.render(
                f"{expired.name}.expired", locale, minutes=services.flows.idle_minutes
            ),
        )
        raise ApplicationHandlerStop
    flow = await services.flows.get(user.id)
    if flow is None:
        return
    if flow.name == settings_handlers.SETTINGS_FLOW:
        await settings_handlers.take_typed(update, context, flow, text)
    elif flow.name in STEPS:
        turn = await _turn(update, services, flow)
        if turn is not None:
            await _take_text(turn, text.strip())
    else:
        await services.flows.finish(user.id)  # left by another version: not ours to answer
        return
    raise ApplicationHandlerStop


async def _take_text(turn: _Turn, text: str) -> None:
    services = turn.services
    step = turn.flow.step
    try:
        if step == PATIENT:
            patient = await services.flows.own_patient_by_label(turn.clinician, text)
            if patient is None:
                problem = services.texts.render("flow.problem.unknown_patient", label=shorten(text))
                await _ask(turn, problem=problem)
                return
            await _advance(turn, {PATIENT_ID: patient.id}, patient=patient)
        elif step == START:
            await _advance(turn, {START: _start_date(turn, text).isoformat()})
        elif step in TYPED_ANSWERS:
            key, read = TYPED_ANSWERS[step]
            await _advance(turn, {key: read(text)})
        else:
            await _ask(turn, problem=services.texts.render("flow.problem.use_buttons"))
    except ScheduleError as exc:
        await _ask(turn, problem=services.texts.render("flow.problem", detail=str(exc)))


def _start_date(turn: _Turn, text: str) -> date:
    """Read a typed start date: "today", "tomorrow" or an ISO date."""
    word = text.casefold()
    return _relative_day(turn, word) if word in {TODAY, TOMORROW} else parse_date(text)


def _relative_day(turn: _Turn, choice: str) -> date:
    """Return today or tomorrow on the patient's calendar."""
    assert turn.patient is not None
    today = turn.services.schedules.local_today(turn.patient)
    return today if choice == TODAY else today + timedelta(days=1)


def _sessions(text: str) -> int:
    count = read_number(text, max_digits=len(str(MAX_TMS_SESSIONS)))
    if count is None or not 1 <= count <= MAX_TMS_SESSIONS:
        msg = f"give the number of sessions as a number from 1 to {MAX_TMS_SESSIONS}"
        raise ScheduleError(msg)
    return count


def _days(text: str) -> str:
    return format_weekdays(parse_weekdays_or_error(text))


# Typed answers read the same way at any step that asks for them: (data key, reader).
TYPED_ANSWERS: Mapping[str, tuple[str, Callable[[str], FlowValue]]] = {
    NAME: (NAME, lambda text: check_text(text, "medication name")),
    DOSE: (DOSE, lambda text: check_text(text, "dose")),
    TIMES: (TIMES, lambda text: ",".join(parse_times(text))),
    DAYS: (DAYS, _days),
    DAYS_CUSTOM: (DAYS, _days),
    TIME: (TIME, parse_one_time),
    SESSIONS: (SESSIONS, _sessions),
    LOCATION: (LOCATION, lambda text: check_text(text, "location")),
}


# Buttons --------------------------------------------------------------------------------------


async def answer_button(update: Update, context: Context) -> None:
    """Take a button press in a clinician flow, once its run, step and sender check out."""
    query = update.callback_query
    user = update.effective_user
    if query is None or user is None or query.data is None:
        return
    services = services_of(context)
    texts = services.texts
    parsed = callbacks.parse_flow(query.data)
    flow = await services.flows.get(user.id)
    if parsed is None or flow is None or flow.name not in STEPS or parsed[0] != flow.text(RUN_KEY):
        await query.answer(texts.render("flow.closed", user_locale(update)))
        return
    _, step, choice = parsed
    if step != flow.step:
        await query.answer(texts.render("error.stale_button", user_locale(update)))
        return
    turn = await _turn(update, services, flow)
    if turn is not None:
        await _take_choice(turn, step, choice)


async def _take_choice(turn: _Turn, step: str, choice: str) -> None:
    query = turn.update.callback_query
    assert query is not None
    services = turn.services
    name = turn.flow.name
    if step == PATIENT:
        patient_id = read_number(choice)
        patient = (
            await services.flows.own_patient(turn.clinician, patient_id)
            if patient_id is not None
            else None
        )
        if patient is None:
            log.warning(
                "flow patient refused update_id=%s clinician_id=%s",
                turn.update.update_id,
                turn.clinician.id,
            )
            await query.answer(services.texts.render("flow.problem.not_your_patient"))
            return
        await query.answer()
        await _advance(turn, {PATIENT_ID: patient.id}, patient=patient)
        return
    if step == DAYS and choice == CUSTOM:
        await query.answer()
        await _advance(turn, {}, step=DAYS_CUSTOM)
        return
    if step == DAYS and choice in {code for code, _ in DAY_CHOICES[name]}:
        await query.answer()
        await _advance(turn, {DAYS: _days(choice)})
        return
    if step == START and choice in {TODAY, TOMORROW} and turn.patient is not None:
        await query.answer()
        await _advance(turn, {START: _relative_day(turn, choice).isoformat()})
        return
    if step == SESSIONS and choice in SESSION_CHOICES:
        await query.answer()
        await _advance(turn, {SESSIONS: int(choice)})
        return
    if step == LOCATION and choice == SKIP:
        await query.answer()
        await _advance(turn, {LOCATION: ""})
        return
    if step == CONFIRM and choice == YES:
        await _save(turn)
        return
    if step == CONFIRM and choice == NO:
        await services.flows.finish(turn.flow.user_id)
        await query.answer()
        await edit_in_place(turn.update, services.texts.render(f"{name}.cancelled"), None)
        return
    await query.answer(services.texts.render("error.stale_button"))


# Saving ---------------------------------------------------------------------------------------


async def _save(turn: _Turn) -> None:
    query = turn.update.callback_query
    assert query is not None
    services = turn.services
    flow, patient, clinician = turn.flow, turn.patient, turn.clinician
    assert patient is not None
    actor = ("clinician", clinician.id)
    context = _context(turn)
    context.update(reaches=patient.status == PatientStatus.ACTIVE, paused=patient.reminders_paused)
    try:
        if flow.name == ADDMED:
            medication = await services.schedules.add_medication(
                patient.label,
                name=flow.text(NAME),
                dose=flow.text(DOSE),
                times=flow.text(TIMES),
                days=flow.text(DAYS),
                start=parse_date(flow.text(START)),
                actor=actor,
            )
            log.info(
                "medication added update_id=%s clinician_id=%s patient_id=%s medication_id=%s",
                turn.update.update_id,
                clinician.id,
                patient.id,
                medication.id,
            )
        else:
            course, appointments = await services.schedules.add_tms_course(
                patient.label,
                start=parse_date(flow.text(START)),
                time_text=flow.text(TIME),
                days=flow.text(DAYS),
                sessions=flow.number(SESSIONS) or 0,
                location=flow.text(LOCATION) or None,
                actor=actor,
            )
            dates = sorted(a.local_start.date() for a in appointments)
            context.update(
                count=len(dates),
                first=_date_text(dates[0]) if dates else "",
                last=_date_text(dates[-1]) if dates else "",
            )
            log.info(
                "dTMS course added update_id=%s clinician_id=%s patient_id=%s course_id=%s",
                turn.update.update_id,
                clinician.id,
                patient.id,
                course.id,
            )
    except ScheduleError as exc:
        await query.answer()
        await _ask(turn, problem=services.texts.render("flow.problem", detail=str(exc)))
        return
    await services.flows.finish(flow.user_id)
    await query.answer()
    await edit_in_place(turn.update, services.texts.render(f"{flow.name}.saved", **context), None)


# Moving on and asking -------------------------------------------------------------------------


async def _turn(update: Update, services: Services, flow: FlowState) -> _Turn | None:
    """Re-check the sender's role and the patient's assignment; end the flow if either fails."""
    clinician = await services.careteam.clinician_for_user(flow.user_id)
    patient: Patient | None = None
    patient_id = flow.number(PATIENT_ID)
    if clinician is not None and patient_id is not None:
        patient = await services.flows.own_patient(clinician, patient_id)
    if clinician is None or (patient_id is not None and patient is None):
        await services.flows.finish(flow.user_id)
        log.warning(
            "flow ended: not allowed update_id=%s clinician_id=%s flow=%s",
            update.update_id,
            clinician.id if clinician else None,
            flow.name,
        )
        text = services.texts.render("error.not_allowed", user_locale(update))
        if update.callback_query is not None:
            await update.callback_query.answer(text)
        else:
            await reply(update, text)
        return None
    return _Turn(update, services, clinician, flow, patient)


async def _advance(
    turn: _Turn,
    changes: Mapping[str, FlowValue],
    *,
    patient: Patient | None = None,
    step: str | None = None,
) -> None:
    """Store an answer, move to the next question (or ``step``) and ask it."""
    current = DAYS if turn.flow.step == DAYS_CUSTOM else turn.flow.step
    steps = STEPS[turn.flow.name]
    target = step or steps[min(steps.index(current) + 1, len(steps) - 1)]
    flow = await turn.services.flows.advance(turn.flow.user_id, target, changes)
    if flow is None:
        return  # ended meanwhile (it went silent too long); the next answer says so
    await _ask(_Turn(turn.update, turn.services, turn.clinician, flow, patient or turn.patient))


async def _ask(turn: _Turn, *, problem: str | None = None) -> None:
    """Show the flow's current question with what was entered so far and its buttons."""
    texts = turn.services.texts
    text = texts.render(f"{turn.flow.name}.ask.{turn.flow.step}", **_context(turn))
    if problem:
        text = f"{problem}\n\n{text}"
    rows = await _buttons(turn)
    await edit_in_place(turn.update, text, keyboard(rows) if rows else None)


def _context(turn: _Turn) -> dict[str, Any]:
    flow = turn.flow
    steps = STEPS[flow.name]
    current = DAYS if flow.step == DAYS_CUSTOM else flow.step
    start = flow.text(START)
    return {
        "number": steps.index(current) + 1 if current in steps else len(steps),
        "total": len(steps),
        "patient": turn.patient.label if turn.patient else "",
        "name": flow.text(NAME),
        "dose": flow.text(DOSE),
        "times": flow.text(TIMES).replace(",", ", "),
        "days": flow.text(DAYS),
        "start": _date_text(date.fromisoformat(start)) if start else "",
        "time": flow.text(TIME),
        "sessions": flow.number(SESSIONS) or 0,
        "location": flow.text(LOCATION),
        "max_sessions": MAX_TMS_SESSIONS,
        # The just-in-time safety messages this medication brings, so the clinician knows.
        "safety": turn.services.safety_messages.kind_for(flow.text(NAME)) or "",
    }


async def _buttons(turn: _Turn) -> list[list[tuple[str, str]]]:
    flow = turn.flow
    button = turn.services.texts.button
    run = flow.text(RUN_KEY)

    def data(choice: str) -> str:
        return callbacks.flow(run, flow.step, choice)

    if flow.step == PATIENT:
        patients = (await turn.services.flows.own_patients(turn.clinician, shown=True))[
            :MAX_PATIENT_BUTTONS
        ]
        labels = [(p.label, data(str(p.id))) for p in patients]
        return _rows(labels, PATIENT_BUTTONS_PER_ROW)
    if flow.step == DAYS:
        choices = [(button(key), data(code)) for code, key in DAY_CHOICES[flow.name]]
        return [[*choices, (button("flow_custom"), data(CUSTOM))]]
    if flow.step == START:
        return [[(button("flow_today"), data(TODAY)), (button("flow_tomorrow"), data(TOMORROW))]]
    if flow.step == SESSIONS:
        return [[(count, data(count)) for count in SESSION_CHOICES]]
    if flow.step == LOCATION:
        return [[(button("flow_skip"), data(SKIP))]]
    if flow.step == CONFIRM:
        return [[(button("flow_confirm"), data(YES)), (button("flow_cancel"), data(NO))]]
    return []


def _rows(items: Sequence[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    return [list(items[i : i + width]) for i in range(0, len(items), width)]


def _date_text(day: date) -> str:
    return f"{day:%a %Y-%m-%d}"


async def _locale(update: Update, services: Services) -> str:
    user = update.effective_user
    patient = await services.enrollment.patient_for_user(user.id) if user else None
    return user_locale(update, patient)
