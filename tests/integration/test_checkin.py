"""The daily check-in end to end in process: /checkin, the daily prompt, buttons and the note."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services
from bot.models import PatientStatus
from bot.services.crypto import NoteCipher, generate_key
from scheduler.dispatch import Dispatcher
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 7001
BOB = 7002
DR = 9201
# Thursday 26 November 2026, 09:00 in New York (EST, UTC-5); the check-in time is 20:00.
START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
PROMPT_26 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 20:00 on the 26th in New York
KEY = generate_key()
NOTE = "Argued with my brother, then walked it off by the river."
SCALE = [str(n) for n in range(11)]


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    """The test settings with a note encryption key."""
    return settings.model_copy(update={"data_encryption_key": SecretStr(KEY)})


async def _running(settings: Settings, api: LocalBotApi, clock: ManualClock) -> App:
    application = build_application(settings, request=api, clock=clock, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    return application


async def _stopped(application: App) -> None:
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


@pytest.fixture
async def capp(keyed: Settings, api: LocalBotApi, clock: ManualClock) -> AsyncIterator[App]:
    """The Application with notes enabled (a key is set), on a manual clock."""
    application = await _running(keyed, api, clock)
    yield application
    await _stopped(application)


@pytest.fixture
async def plain_app(settings: Settings, api: LocalBotApi, clock: ManualClock) -> AsyncIterator[App]:
    """The Application without an encryption key, on a manual clock."""
    application = await _running(settings, api, clock)
    yield application
    await _stopped(application)


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def enrol(app: App, label: str = "P-300", user_id: int = ALICE, language: str = "en") -> int:
    """Invite, bind and consent a patient; return the patient id."""
    s = svc(app)
    if await s.careteam.clinician_for_user(DR) is None:
        await s.careteam.add_clinician(DR, "Dr. Lee")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await send(app, user_id, f"/start {issued.code}", language=language)
    await press(app, user_id, "c:yes", language=language)
    patient = await s.enrollment.patient_for_user(user_id)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    return patient.id


async def send(app: App, user_id: int, text: str, *, language: str = "en") -> None:
    await app.process_update(text_update(app.bot, user_id, text, language_code=language))


async def press(app: App, user_id: int, data: str, *, language: str = "en") -> None:
    await app.process_update(callback_update(app.bot, user_id, data, language_code=language))


def screens(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    """Every message sent to or edited in a chat, in order."""
    return [
        c.params
        for c in api.calls
        if c.method in {"sendMessage", "editMessageText"} and int(c.params["chat_id"]) == chat_id
    ]


def last(api: LocalBotApi, chat_id: int = ALICE) -> dict[str, Any]:
    return screens(api, chat_id)[-1]


def rows(params: dict[str, Any]) -> list[list[str]]:
    """The button labels of a message, row by row."""
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [[b["text"] for b in row] for row in markup.get("inline_keyboard", [])]


async def tap(app: App, api: LocalBotApi, label: str, *, user_id: int = ALICE) -> None:
    """Press the button with this label on the chat's last screen."""
    buttons = dict(api.buttons(last(api, user_id)))
    assert label in buttons, f"no button {label!r} in {list(buttons)}"
    await press(app, user_id, buttons[label])


async def checkins(app: App) -> list[Any]:
    return await svc(app).db.fetchall("SELECT * FROM checkins ORDER BY local_date")


async def prompts(app: App) -> list[Any]:
    return await svc(app).db.fetchall(
        "SELECT * FROM deliveries WHERE kind = 'checkin' ORDER BY due_at"
    )


def dispatcher(app: App) -> Dispatcher:
    s = svc(app)
    return Dispatcher(bot=app.bot, reminders=s.reminders, clock=s.clock, repeats_allowed=3)


async def dispatch(app: App) -> None:
    d = dispatcher(app)
    await d.tick()
    await d.drain()


def prompt_messages(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    return [p for p in api.sent(chat_id) if "Daily check-in" in p["text"]]


# The whole check-in -----------------------------------------------------------------------------


async def test_full_checkin_stores_one_row_with_the_values_and_an_encrypted_note(
    capp: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """/checkin asks four questions in place; one row holds the values and the sealed note."""
    caplog.set_level(logging.DEBUG)
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    first = last(api)
    assert "Daily check-in" in first["text"]
    assert "today, Thu 2026-11-26" in first["text"]
    assert rows(first) == [SCALE[:6], SCALE[6:]], "0 to 10, in two rows"
    await tap(capp, api, "7")
    assert "mood" in last(api)["text"]
    assert rows(last(api)) == [SCALE[:6], SCALE[6:]]
    await tap(capp, api, "4")
    assert "Since your last check-in" in last(api)["text"]
    assert rows(last(api)) == [["No", "Yes"]]
    await tap(capp, api, "No")
    assert "Anything you would like to add" in last(api)["text"]
    assert rows(last(api)) == [["Skip"]]
    edits = len(api.of("editMessageText"))
    await send(capp, ALICE, NOTE)
    summary = api.sent(ALICE)[-1]
    assert "Check-in saved" in summary["text"]
    assert "saved, encrypted" in summary["text"]
    assert NOTE not in summary["text"]
    assert rows(summary) == [["Change answers"]]
    assert api.of("editMessageReplyMarkup"), "the Skip button is taken off the question"
    assert len(api.of("editMessageText")) == edits
    [row] = await checkins(capp)
    assert (row["local_date"], row["craving"], row["mood"], row["used"]) == (
        "2026-11-26",
        7,
        4,
        0,
    )
    stored = row["note_cipher"]
    assert stored != NOTE
    assert "brother" not in stored
    assert NoteCipher(KEY).decrypt(stored) == NOTE
    assert "brother" not in caplog.text, "the note never reaches the logs"
    assert all("brother" not in t for t in api.texts(DR)), "nor the care team's messages"
    assert await svc(capp).flows.get(ALICE) is None, "the note question is closed"


async def test_each_answer_edits_the_message_in_place(capp: App, api: LocalBotApi) -> None:
    """After the first question, every answer edits the pressed message instead of sending."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    sent = len(api.sent(ALICE))
    for label in ("3", "6", "No", "Skip"):
        await tap(capp, api, label)
    assert len(api.sent(ALICE)) == sent
    assert len(api.of("editMessageText")) == 4
    assert "Check-in saved" in last(api)["text"]


async def test_a_half_answered_checkin_keeps_what_was_answered(capp: App, api: LocalBotApi) -> None:
    """Values are stored as each is given; unanswered questions stay empty, never filled in."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    await tap(capp, api, "8")
    [row] = await checkins(capp)
    assert (row["craving"], row["mood"], row["used"], row["note_cipher"]) == (8, None, None, None)


async def test_a_second_checkin_the_same_day_replaces_the_values(
    capp: App, api: LocalBotApi
) -> None:
    """Answering again on the same day changes that day's row; it never adds a second one."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("7", "4", "No"):
        await tap(capp, api, label)
    await send(capp, ALICE, "first note")
    await send(capp, ALICE, "/checkin")
    assert "So far: craving <b>7</b>" in last(api)["text"]
    for label in ("2", "8", "Yes"):
        await tap(capp, api, label)
    question = api.of("editMessageText")[-1]
    assert "already saved" in question["text"], "the note question says a note exists"
    await press(capp, ALICE, dict(api.buttons(question))["Skip"])
    [row] = await checkins(capp)
    assert (row["craving"], row["mood"], row["used"]) == (2, 8, 1)
    assert NoteCipher(KEY).decrypt(row["note_cipher"]) == "first note", "Skip keeps the note"


async def test_change_answers_button_asks_again_for_the_same_day(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """The summary's button starts the questions again for the day it summarises."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("5", "5", "No", "Skip"):
        await tap(capp, api, label)
    clock.advance(timedelta(days=1))
    await tap(capp, api, "Change answers")
    assert "Thu 2026-11-26" in last(api)["text"]
    assert "that day" in last(api)["text"]
    await tap(capp, api, "1")
    [row] = await checkins(capp)
    assert (row["local_date"], row["craving"], row["mood"]) == ("2026-11-26", 1, 5)


# The daily prompt -------------------------------------------------------------------------------


async def test_daily_prompt_is_planned_at_the_checkin_time_in_the_patients_zone(
    capp: App, api: LocalBotApi
) -> None:
    """Each local day gets one prompt at the check-in time, due at that zone's UTC instant."""
    patient_id = await enrol(capp)
    await svc(capp).reminders.plan()
    await svc(capp).reminders.plan()
    planned = await prompts(capp)
    keys = [p["dedupe_key"] for p in planned]
    assert keys == [f"checkin:{patient_id}:2026-11-26", f"checkin:{patient_id}:2026-11-27"]
    assert planned[0]["due_at"] == "2026-11-27T01:00:00+00:00"  # 20:00 EST
    assert planned[0]["local_date"] == "2026-11-26"
    assert planned[0]["slot"] == "20:00"


async def test_daily_prompt_follows_a_settings_change_of_time_and_zone(
    capp: App, api: LocalBotApi
) -> None:
    """A new check-in time or zone in /settings moves the pending prompts to the new wall clock."""
    patient_id = await enrol(capp)
    await svc(capp).reminders.plan()
    key = f"checkin:{patient_id}:2026-11-26"
    await send(capp, ALICE, "/settings")
    await tap(capp, api, "Check-in time")
    await tap(capp, api, "21:00")
    due = {p["dedupe_key"]: (p["status"], p["due_at"]) for p in await prompts(capp)}
    assert due[key] == ("pending", "2026-11-27T02:00:00+00:00")  # 21:00 EST
    await tap(capp, api, "Time zone")
    await tap(capp, api, "America/Los_Angeles")
    due = {p["dedupe_key"]: (p["status"], p["due_at"]) for p in await prompts(capp)}
    assert due[key] == ("pending", "2026-11-27T05:00:00+00:00")  # 21:00 PST


async def test_daily_prompt_is_the_first_question_and_is_never_repeated(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """At the check-in time the prompt arrives with the 0-10 buttons, once, without repeats."""
    await enrol(capp)
    await svc(capp).reminders.plan()
    await dispatch(capp)
    assert prompt_messages(api) == [], "nothing before it is due"
    clock.set(PROMPT_26)
    await dispatch(capp)
    [prompt] = prompt_messages(api)
    assert "craving" in prompt["text"]
    assert rows(prompt) == [SCALE[:6], SCALE[6:]]
    for _ in range(4):
        clock.advance(timedelta(minutes=30))
        await dispatch(capp)
    assert len(prompt_messages(api)) == 1
    seven = dict(api.buttons(prompt))["7"]
    await press(capp, ALICE, seven)
    [row] = await checkins(capp)
    assert (row["local_date"], row["craving"]) == ("2026-11-26", 7)
    assert (await prompts(capp))[0]["status"] == "answered"


async def test_a_press_on_yesterdays_prompt_records_for_yesterday(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A late answer counts for the day it was asked, not for the day it was given."""
    await enrol(capp)
    await svc(capp).reminders.plan()
    clock.set(PROMPT_26)
    await dispatch(capp)
    yesterdays = prompt_messages(api)[0]
    clock.set(PROMPT_26 + timedelta(days=1, minutes=5))
    await svc(capp).reminders.plan()
    await dispatch(capp)
    assert len(prompt_messages(api)) == 2, "today's prompt came too"
    await press(capp, ALICE, dict(api.buttons(yesterdays))["3"])
    assert "that day" in last(api)["text"]
    await tap(capp, api, "6")
    [row] = await checkins(capp)
    assert (row["local_date"], row["craving"], row["mood"]) == ("2026-11-26", 3, 6)
    status = {p["local_date"]: p["status"] for p in await prompts(capp)}
    assert status["2026-11-26"] == "answered"
    assert status["2026-11-27"] == "sent", "today's check-in is still open"


async def test_checking_in_before_the_prompt_time_means_no_prompt_that_day(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A check-in done by /checkin in the morning answers the day: the evening prompt stays away."""
    await enrol(capp)
    await svc(capp).reminders.plan()
    await send(capp, ALICE, "/checkin")
    await tap(capp, api, "2")
    clock.set(PROMPT_26)
    await dispatch(capp)
    assert len(prompt_messages(api)) == 1, "only the /checkin question itself"
    assert (await prompts(capp))[0]["status"] == "answered"


async def test_a_prompt_past_its_grace_window_is_missed_and_never_filled_in(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """After long downtime the prompt is recorded missed, and no check-in values appear."""
    await enrol(capp)
    await svc(capp).reminders.plan()
    clock.set(PROMPT_26 + timedelta(hours=3))
    await dispatch(capp)
    first = (await prompts(capp))[0]
    assert (first["status"], first["miss_reason"]) == ("missed", "not_sent")
    assert prompt_messages(api) == []
    assert await checkins(capp) == []


# Refusals and gates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "ci:2026-11-26:c:11",
        "ci:2026-11-26:c:-1",
        "ci:2026-11-26:m:7.5",
        "ci:2026-11-26:m:abc",
        "ci:2026-11-26:u:maybe",
        "ci:2026-11-26:x:5",
        "ci:2026-11-26:n:now",
        "ci:26/11/2026:c:5",
        "ci:20261126:c:5",
        "ci:2026-11-27:c:5",
        "ci:2026-11-01:c:5",
        "ci:2026-11-26:c",
        "ci:2026-11-26:c:5:5",
    ],
)
async def test_values_off_the_scale_or_forged_data_are_refused_politely(
    capp: App, api: LocalBotApi, data: str
) -> None:
    """Out-of-range values, unknown steps, bad, future or too-old dates store nothing."""
    await enrol(capp)
    edits = len(api.of("editMessageText"))
    await press(capp, ALICE, data)
    assert await checkins(capp) == []
    assert len(api.of("editMessageText")) == edits
    toast = api.of("answerCallbackQuery")[-1].get("text", "")
    assert toast.startswith("Sorry, I can't take that answer")


async def test_a_skip_on_a_day_without_a_checkin_is_refused(capp: App, api: LocalBotApi) -> None:
    """A Skip press for a day with nothing recorded creates nothing."""
    await enrol(capp)
    await press(capp, ALICE, "ci:2026-11-26:n:skip")
    assert await checkins(capp) == []
    assert "Sorry" in api.of("answerCallbackQuery")[-1]["text"]


async def test_only_consented_patients_can_check_in(capp: App, api: LocalBotApi) -> None:
    """Before consent /checkin and its buttons are stopped by the consent gate."""
    s = svc(capp)
    issued = await s.enrollment.create_invite("P-301", clinician_telegram_id=None, days=7)
    await send(capp, BOB, f"/start {issued.code}")
    await send(capp, BOB, "/checkin")
    assert "consent question" in api.last_text(BOB)
    await press(capp, BOB, "ci:2026-11-26:c:5")
    assert await checkins(capp) == []


async def test_someone_elses_button_answers_only_their_own_checkin(
    capp: App, api: LocalBotApi
) -> None:
    """A press carries no patient id: it is recorded for the person pressing, never another."""
    alice = await enrol(capp)
    bob = await enrol(capp, "P-302", user_id=BOB)
    await send(capp, ALICE, "/checkin")
    five = dict(api.buttons(last(api)))["5"]
    await press(capp, BOB, five)
    [row] = await checkins(capp)
    assert row["patient_id"] == bob != alice


# The note -------------------------------------------------------------------------------------


async def test_without_a_key_no_note_step_is_offered(plain_app: App, api: LocalBotApi) -> None:
    """With no encryption key the check-in ends after the use question; typed text is no note."""
    await enrol(plain_app)
    await send(plain_app, ALICE, "/checkin")
    assert "1 of 3" in last(api)["text"]
    for label in ("4", "5", "No"):
        await tap(plain_app, api, label)
    summary = last(api)
    assert "Check-in saved" in summary["text"]
    assert "Note" not in summary["text"]
    assert rows(summary) == [["Change answers"]]
    await send(plain_app, ALICE, "some private words")
    [row] = await checkins(plain_app)
    assert row["note_cipher"] is None
    assert await svc(plain_app).flows.get(ALICE) is None


async def test_a_too_long_note_is_explained_and_asked_again(capp: App, api: LocalBotApi) -> None:
    """A note over the limit is not stored; the note question is asked again with the reason."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("1", "9", "No"):
        await tap(capp, api, label)
    await send(capp, ALICE, "x" * 1001)
    assert "too long" in api.last_text(ALICE)
    assert rows(api.sent(ALICE)[-1]) == [["Skip"]]
    [row] = await checkins(capp)
    assert row["note_cipher"] is None
    await send(capp, ALICE, "short one")
    [row] = await checkins(capp)
    assert NoteCipher(KEY).decrypt(row["note_cipher"]) == "short one"


async def test_cancel_at_the_note_question_keeps_the_other_answers(
    capp: App, api: LocalBotApi
) -> None:
    """/cancel at the note question means no note; later text is not taken as a note."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("1", "9", "No"):
        await tap(capp, api, label)
    await send(capp, ALICE, "/cancel")
    assert "no note" in api.last_text(ALICE)
    await send(capp, ALICE, "what is naltrexone")
    [row] = await checkins(capp)
    assert (row["craving"], row["mood"], row["used"], row["note_cipher"]) == (1, 9, 0, None)


async def test_another_command_at_the_note_question_runs_and_ends_it(
    capp: App, api: LocalBotApi
) -> None:
    """A command sent instead of a note runs as usual, and the note question closes."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("1", "9", "No"):
        await tap(capp, api, label)
    await send(capp, ALICE, "/schedule")
    assert "Your schedule" in api.last_text(ALICE)
    await send(capp, ALICE, "later words")
    [row] = await checkins(capp)
    assert row["note_cipher"] is None


async def test_crisis_language_in_a_note_reaches_the_safety_net(
    capp: App, api: LocalBotApi
) -> None:
    """A note with crisis language gets crisis resources and alerts the team, as any text does."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("1", "9", "Yes"):
        await tap(capp, api, label)
    await send(capp, ALICE, "i want to kill myself")
    assert any("988" in t for t in api.texts(ALICE))
    alerts = await svc(capp).db.fetchall("SELECT kind FROM alerts")
    assert [a["kind"] for a in alerts] == ["crisis"]
    [row] = await checkins(capp)
    assert row["note_cipher"] is None


# Use: Yes ------------------------------------------------------------------------------------


async def test_use_yes_is_answered_kindly_with_the_lapse_article_and_no_alert(
    capp: App, api: LocalBotApi
) -> None:
    """Yes to use gets a kind message, the after-a-lapse article and /sos; the team is not paged."""
    await enrol(capp)
    await send(capp, ALICE, "/checkin")
    for label in ("6", "3", "Yes"):
        await tap(capp, api, label)
    kind = api.sent(ALICE)[-1]
    assert "Thank you for telling me" in kind["text"]
    assert "/sos" in kind["text"]
    for word in ("clean", "dirty", "addict", "relapse"):
        assert word not in kind["text"].lower()
    assert api.buttons(kind) == [("Read: after a lapse", "l:p:after-a-lapse:0")]
    assert "Anything you would like to add" in api.of("editMessageText")[-1]["text"]
    await press(capp, ALICE, "l:p:after-a-lapse:0")
    assert "After a lapse" in api.of("editMessageText")[-1]["text"]
    assert await svc(capp).db.fetchall("SELECT id FROM alerts") == []
    assert await svc(capp).db.fetchall("SELECT id FROM deliveries WHERE kind = 'alert'") == []
    assert api.sent(DR) == []
    [row] = await checkins(capp)
    assert row["used"] == 1


# Language and menu ----------------------------------------------------------------------------


async def test_a_spanish_patient_gets_the_checkin_in_spanish(
    capp: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Questions, buttons, the summary and the daily prompt follow the patient's language."""
    await enrol(capp, language="es")
    await send(capp, ALICE, "/checkin", language="es")
    assert "Registro diario" in last(api)["text"]
    assert "ansias" in last(api)["text"]
    await tap(capp, api, "5")
    assert "ánimo" in last(api)["text"]
    await tap(capp, api, "5")
    assert rows(last(api)) == [["No", "Sí"]]
    await tap(capp, api, "Sí")
    assert "Gracias por contármelo" in api.sent(ALICE)[-1]["text"]
    assert api.buttons(api.sent(ALICE)[-1])[0][0] == "Leer: después de un desliz"
    question = api.of("editMessageText")[-1]
    assert rows(question) == [["Omitir"]]
    await press(capp, ALICE, dict(api.buttons(question))["Omitir"], language="es")
    assert "Registro guardado" in last(api)["text"]
    await svc(capp).reminders.plan()
    clock.set(PROMPT_26 + timedelta(days=1))
    await svc(capp).reminders.plan()
    await dispatch(capp)
    assert "Registro diario" in api.sent(ALICE)[-1]["text"]


async def test_checkin_is_in_the_patient_menu_in_both_languages(
    capp: App, api: LocalBotApi
) -> None:
    """The published patient command menu offers /checkin in English and Spanish."""
    menus = {m.get("language_code"): m["commands"] for m in api.of("setMyCommands")}
    for language in (None, "es"):
        commands = menus[language]
        if isinstance(commands, str):
            commands = json.loads(commands)
        assert "checkin" in {c["command"] for c in commands}
