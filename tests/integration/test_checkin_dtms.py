"""dTMS after-effects in the check-in, in process: which days ask, each answer, alerts, data."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.models import Patient, PatientStatus
from bot.services.crypto import generate_key
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 7101
DR = 9301
# Thursday 26 November 2026, 09:00 in New York (EST, UTC-5); the session is at 08:00.
START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)
PROMPT_26 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 20:00 on the 26th in New York
EFFECT_ROWS = [
    ["None"],
    ["Headache", "Scalp discomfort"],
    ["Something else"],
    ["Fainted or seizure"],
]


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand, an hour after this morning's session."""
    return ManualClock(START)


@pytest.fixture
def dapp(clocked_app: App) -> App:
    """The Application without a note key: craving, mood, use and (on a dTMS day) after-effects."""
    return clocked_app


@pytest.fixture
async def keyed_app(settings: Settings, api: LocalBotApi, clock: ManualClock) -> AsyncIterator[App]:
    """The Application with notes enabled, on the manual clock."""
    keyed = settings.model_copy(update={"data_encryption_key": SecretStr(generate_key())})
    application = build_application(keyed, request=api, clock=clock, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


async def enrol(app: App, label: str = "P-400", *, language: str = "en") -> Patient:
    """Register the clinician, then invite, bind and consent a patient on the team."""
    s = svc(app)
    if await s.careteam.clinician_for_user(DR) is None:
        await s.careteam.add_clinician(DR, "Dr. Ortiz")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await send(app, f"/start {issued.code}", language=language)
    await press(app, "c:yes", language=language)
    patient = await s.enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    return patient


async def add_course(
    app: App, *, at: str = "08:00", start: date = TODAY, label: str = "P-400"
) -> None:
    """A dTMS course of daily sessions from ``start`` at ``at``, New York time."""
    await svc(app).schedules.add_tms_course(
        label, start=start, time_text=at, days="daily", sessions=5
    )


async def send(app: App, text: str, *, language: str = "en") -> None:
    await app.process_update(text_update(app.bot, ALICE, text, language_code=language))


async def press(app: App, data: str, *, language: str = "en", user_id: int = ALICE) -> None:
    await app.process_update(callback_update(app.bot, user_id, data, language_code=language))


def screens(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    return [
        c.params
        for c in api.calls
        if c.method in {"sendMessage", "editMessageText"} and int(c.params["chat_id"]) == chat_id
    ]


def last(api: LocalBotApi) -> dict[str, Any]:
    return screens(api)[-1]


def rows(params: dict[str, Any]) -> list[list[str]]:
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]


async def tap(app: App, api: LocalBotApi, label: str, *, on: dict[str, Any] | None = None) -> None:
    """Press the button with this label on a message (the chat's last screen by default)."""
    buttons = dict(api.buttons(on if on is not None else last(api)))
    assert label in buttons, f"no button {label!r} in {list(buttons)}"
    await press(app, buttons[label])


async def to_after_effects(app: App, api: LocalBotApi) -> None:
    """Answer craving, mood and use, ending at the after-effects question."""
    await send(app, "/checkin")
    for label in ("3", "6", "No"):
        await tap(app, api, label)
    assert "after your dTMS session" in last(api)["text"]


async def stored(app: App) -> list[Any]:
    return await svc(app).db.fetchall("SELECT * FROM checkins ORDER BY local_date")


async def alerts(app: App) -> list[Any]:
    return await svc(app).db.fetchall("SELECT * FROM alerts ORDER BY id")


async def dispatch(app: App) -> None:
    """Send what is due: a few ticks, since each chat gets one message a tick."""
    s = svc(app)
    dispatcher = Dispatcher(bot=app.bot, reminders=s.reminders, clock=s.clock, repeats_allowed=3)
    for _ in range(3):
        await dispatcher.tick()
        await dispatcher.drain()


# Which days ask -----------------------------------------------------------------------------


async def test_a_dtms_day_asks_about_after_effects_after_the_use_question(
    dapp: App, api: LocalBotApi
) -> None:
    """With this morning's session done, the check-in has four questions, after-effects last."""
    await enrol(dapp)
    await add_course(dapp)
    await send(dapp, "/checkin")
    assert "1 of 4" in last(api)["text"]
    for label in ("3", "6", "No"):
        await tap(dapp, api, label)
    question = last(api)
    assert "4 of 4" in question["text"]
    assert "Did you notice anything after your dTMS session today?" in question["text"]
    assert rows(question) == EFFECT_ROWS, "the emergency answer sits on a row of its own"
    sent = len(api.sent(ALICE))
    await tap(dapp, api, "None")
    summary = last(api)
    assert "Check-in saved" in summary["text"]
    assert "After dTMS: <b>nothing</b>" in summary["text"]
    assert len(api.sent(ALICE)) == sent, "None gets no extra message"
    [row] = await stored(dapp)
    assert (row["craving"], row["mood"], row["used"], row["dtms_effect"]) == (3, 6, 0, "none")
    assert await alerts(dapp) == []


async def test_a_day_without_a_session_asks_no_after_effects_question(
    dapp: App, api: LocalBotApi
) -> None:
    """Without a dTMS session that day the check-in stays at three questions."""
    await enrol(dapp)
    await add_course(dapp, start=TODAY + timedelta(days=1))
    await send(dapp, "/checkin")
    assert "1 of 3" in last(api)["text"]
    for label in ("3", "6", "No"):
        await tap(dapp, api, label)
    assert "Check-in saved" in last(api)["text"]
    assert "After dTMS" not in last(api)["text"]
    [row] = await stored(dapp)
    assert row["dtms_effect"] is None


@pytest.mark.parametrize(
    ("status", "attendance", "asks"),
    [
        ("scheduled", None, True),
        ("confirmed", None, True),
        ("cancelled", None, False),
        ("reschedule_requested", None, False),
        ("scheduled", "missed", False),
        ("cancelled", "attended", True),
        ("reschedule_requested", "attended", True),
    ],
)
async def test_a_session_asks_unless_it_was_called_off(
    dapp: App, status: str, attendance: str | None, *, asks: bool
) -> None:
    """A session counts unless cancelled, put off or marked missed; staff's "attended" wins."""
    patient = await enrol(dapp)
    await add_course(dapp)
    async with svc(dapp).db.transaction() as tx:
        await tx.execute(
            "UPDATE appointments SET status = ?, attendance = ? WHERE session_number = 1",
            (status, attendance),
        )
    assert await svc(dapp).checkins.dtms_day(patient, TODAY) is asks


async def test_a_session_later_today_asks_only_once_it_has_started(
    dapp: App, clock: ManualClock
) -> None:
    """A check-in before this evening's session has no after-effects question; one after has."""
    patient = await enrol(dapp)
    await add_course(dapp, at="18:30")
    assert await svc(dapp).checkins.dtms_day(patient, TODAY) is False
    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))  # 18:30 in New York
    assert await svc(dapp).checkins.dtms_day(patient, TODAY) is True
    assert await svc(dapp).checkins.dtms_day(patient, TODAY + timedelta(days=1)) is False


async def test_the_day_is_the_patients_own_calendar_day(dapp: App, clock: ManualClock) -> None:
    """A 23:30 session in New York is that day's, although it is the next day in UTC."""
    patient = await enrol(dapp)
    await add_course(dapp, at="23:30")
    clock.set(datetime(2026, 11, 27, 5, 0, tzinfo=UTC))  # 00:00 on the 27th in New York
    assert await svc(dapp).checkins.dtms_day(patient, TODAY) is True
    assert await svc(dapp).checkins.dtms_day(patient, TODAY + timedelta(days=1)) is False


async def test_the_daily_prompt_counts_the_after_effects_question(
    dapp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """The evening prompt of a dTMS day says "1 of 4"; its answers lead to the question."""
    await enrol(dapp)
    await add_course(dapp)
    await svc(dapp).reminders.plan()
    clock.set(PROMPT_26)
    await dispatch(dapp)
    [prompt] = [p for p in api.sent(ALICE) if "Daily check-in" in p["text"]]
    assert "1 of 4" in prompt["text"]
    await tap(dapp, api, "2", on=prompt)
    for label in ("4", "No"):
        await tap(dapp, api, label)
    assert rows(last(api)) == EFFECT_ROWS


async def test_with_notes_on_the_note_comes_after_the_after_effects(
    keyed_app: App, api: LocalBotApi
) -> None:
    """Craving, mood, use, after-effects, then the note: five questions, in that order."""
    await enrol(keyed_app)
    await add_course(keyed_app)
    await to_after_effects(keyed_app, api)
    assert "4 of 5" in last(api)["text"]
    await tap(keyed_app, api, "Scalp discomfort")
    note_question = api.of("editMessageText")[-1]
    assert "5 of 5" in note_question["text"]
    assert "Anything you would like to add" in note_question["text"]
    await press(keyed_app, dict(api.buttons(note_question))["Skip"])
    assert "After dTMS: <b>scalp discomfort</b>" in last(api)["text"]


# Headache, scalp, something else -------------------------------------------------------------


async def test_a_headache_is_answered_with_the_article_and_an_offer_to_tell_the_team(
    dapp: App, api: LocalBotApi
) -> None:
    """A headache gets a short, calm answer, the side-effects article and "Tell my care team"."""
    await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Headache")
    answer = api.sent(ALICE)[-1]
    assert "A headache" in answer["text"]
    assert "common side effects of dTMS" in answer["text"]
    assert "first week" in answer["text"]
    assert "call <b>911</b>" in answer["text"], "the warning signs of a headache that is not"
    assert rows(answer) == [["Tell my care team"], ["Read: dTMS side effects"]]
    assert "After dTMS: <b>headache</b>" in api.of("editMessageText")[-1]["text"]
    await press(dapp, dict(api.buttons(answer))["Read: dTMS side effects"])
    assert "Side effects of dTMS" in api.of("editMessageText")[-1]["text"]
    assert await alerts(dapp) == [], "nobody is paged for a headache"
    [row] = await stored(dapp)
    assert row["dtms_effect"] == "headache"


async def test_tell_my_care_team_alerts_them_once_for_the_day(dapp: App, api: LocalBotApi) -> None:
    """The offer raises one routine alert with the day; a second press says it is done."""
    patient = await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Something else")
    answer = api.sent(ALICE)[-1]
    assert '"something else"' in answer["text"]
    tell = dict(api.buttons(answer))["Tell my care team"]
    await press(dapp, tell)
    await dispatch(dapp)
    told = api.of("editMessageText")[-1]
    assert "I have told your care team at Harbor Clinic" in told["text"]
    assert rows(told) == [["Read: dTMS side effects"]], "the offer is gone"
    [alert] = await alerts(dapp)
    assert (alert["kind"], alert["severity"], alert["patient_id"]) == (
        "dtms_effect",
        "routine",
        patient.id,
    )
    [message] = [t for t in api.texts(DR) if "Side effect after dTMS" in t]
    assert "P-400" in message
    assert "2026-11-26" in message
    await press(dapp, tell)
    await dispatch(dapp)
    assert "already been told" in api.of("editMessageText")[-1]["text"]
    assert len(await alerts(dapp)) == 1
    assert len([t for t in api.texts(DR) if "Side effect after dTMS" in t]) == 1


async def test_tell_my_care_team_is_refused_without_a_reported_after_effect(
    dapp: App, api: LocalBotApi
) -> None:
    """A tell button for a day with no after-effect (or with "none") alerts nobody."""
    await enrol(dapp)
    await add_course(dapp)
    await press(dapp, "ci:2026-11-26:t:tell")
    await to_after_effects(dapp, api)
    await tap(dapp, api, "None")
    await press(dapp, "ci:2026-11-26:t:tell")
    assert await alerts(dapp) == []
    toast = api.of("answerCallbackQuery")[-1].get("text", "")
    assert toast.startswith("Sorry, I can't take that answer")


@pytest.mark.parametrize(
    "data",
    [
        "ci:2026-11-26:t:seizure",
        "ci:2026-11-26:t:",
        "ci:2026-11-26:t:none:none",
        "ci:2026-11-27:t:headache",
        "ci:2026-11-01:t:headache",
    ],
)
async def test_forged_or_stale_after_effect_data_is_refused(
    dapp: App, api: LocalBotApi, data: str
) -> None:
    """Unknown answers, malformed data, future or too-old days store nothing."""
    await enrol(dapp)
    await add_course(dapp)
    await press(dapp, data)
    assert await stored(dapp) == []
    assert await alerts(dapp) == []


# Fainting or a seizure ----------------------------------------------------------------------------


async def test_fainting_or_a_seizure_is_answered_as_an_emergency_and_pages_the_team(
    dapp: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """First aid and the emergency number at once, then an urgent alert to the care team."""
    caplog.set_level(logging.DEBUG)
    patient = await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    calls = len(api.calls)
    await tap(dapp, api, "Fainted or seizure")
    await dispatch(dapp)
    after = [c for c in api.calls[calls:] if c.method in {"sendMessage", "editMessageText"}]
    first = after[0]
    assert (first.method, int(first.params["chat_id"])) == ("sendMessage", ALICE)
    emergency = first.params["text"]
    for words in (
        "call 911 now",
        "onto their side",
        "Do not put anything in their mouth",
        "do not hold them down",
        "Stay with them",
        "I have alerted your care team at Harbor Clinic",
        "555-0100",
    ):
        assert words in emergency, words
    [alert] = await alerts(dapp)
    assert (alert["kind"], alert["severity"], alert["category"], alert["patient_id"]) == (
        "dtms_emergency",
        "urgent",
        "medical_emergency",
        patient.id,
    )
    [page] = [c.params for c in api.calls[calls:] if int(c.params.get("chat_id", 0)) == DR]
    assert "Urgent: fainting or seizure after dTMS" in page["text"]
    assert "P-400" in page["text"]
    assert [label for label, _ in api.buttons(page)] == ["Acknowledge"]
    assert "After dTMS: <b>fainting or a seizure</b>" in last(api)["text"]
    [row] = await stored(dapp)
    assert row["dtms_effect"] == "fainting_or_seizure"
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bot.", "scheduler."))]
    assert ours, "the answer and the alert are logged, by id"
    assert not [line for line in ours if "fainting" in line or "seizure" in line], (
        "our logs carry ids, never the answer"
    )


async def test_answering_the_emergency_again_shows_first_aid_but_pages_nobody_twice(
    dapp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Changing the answers and pressing it again the next day keeps one alert for the day."""
    await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Fainted or seizure")
    await dispatch(dapp)
    clock.advance(timedelta(hours=3))
    await tap(dapp, api, "Change answers")
    for label in ("3", "6", "No", "Fainted or seizure"):
        await tap(dapp, api, label)
    await dispatch(dapp)
    assert "call 911 now" in api.sent(ALICE)[-1]["text"]
    assert len(await alerts(dapp)) == 1
    assert len([t for t in api.texts(DR) if "fainting or seizure" in t]) == 1


async def test_a_changed_answer_replaces_the_days_value_in_its_one_row(
    dapp: App, api: LocalBotApi
) -> None:
    """A re-answer updates the day's row; the alert already raised stays for the team."""
    await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Fainted or seizure")
    await tap(dapp, api, "Change answers")
    for label in ("3", "6", "No", "None"):
        await tap(dapp, api, label)
    [row] = await stored(dapp)
    assert row["dtms_effect"] == "none"
    assert len(await alerts(dapp)) == 1


async def test_an_unacknowledged_emergency_alert_escalates_like_a_crisis(
    dapp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Nobody acknowledged it: after the escalation wait it goes to every active clinician."""
    await enrol(dapp)
    await svc(dapp).careteam.add_clinician(9302, "Dr. Shah")
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Fainted or seizure")
    clock.advance(timedelta(minutes=16))
    escalated = await svc(dapp).watch.escalate()
    assert len(escalated) == 1
    await dispatch(dapp)
    assert any("fainting or seizure after dTMS" in t for t in api.texts(9302))


async def test_a_spanish_patient_gets_the_question_and_the_emergency_in_spanish(
    dapp: App, api: LocalBotApi
) -> None:
    """Buttons, the question and the first aid follow the patient's language."""
    await enrol(dapp, language="es")
    await add_course(dapp)
    await send(dapp, "/checkin", language="es")
    for label in ("3", "6", "No"):
        buttons = dict(api.buttons(last(api)))
        await press(dapp, buttons[label], language="es")
    question = last(api)
    assert "¿Notó algo después de su sesión de dTMS de hoy?" in question["text"]
    assert rows(question) == [
        ["Nada"],
        ["Dolor de cabeza", "Molestia en el cuero cabelludo"],
        ["Otra cosa"],
        ["Desmayo o convulsión"],
    ]
    await press(dapp, dict(api.buttons(question))["Desmayo o convulsión"], language="es")
    emergency = api.sent(ALICE)[-1]["text"]
    assert "llame al 911 ahora" in emergency
    assert "No le ponga nada en la boca" in emergency


# The patient's data -------------------------------------------------------------------------------


async def test_mydata_holds_the_after_effects_and_erasure_removes_them(
    dapp: App, api: LocalBotApi
) -> None:
    """The export lists each day's after-effect; /delete erases it with the alert it raised."""
    patient = await enrol(dapp)
    await add_course(dapp)
    await to_after_effects(dapp, api)
    await tap(dapp, api, "Fainted or seizure")
    s = svc(dapp)
    export = await s.privacy.export_for_user(ALICE)
    assert export is not None
    [checkin] = export.document["data"]["checkins"]
    assert checkin["dtms_effect"] == "fainting_or_seizure"
    page = s.export_page.render(export).decode()
    assert "dtms_effect" in page
    assert "fainting_or_seizure" in page
    token = await s.privacy.erasure_token(patient)
    await s.privacy.erase_for_user(ALICE, patient.id, token)
    assert await stored(dapp) == []
    assert await alerts(dapp) == []
