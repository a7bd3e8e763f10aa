"""Clinicians' /addmed and /addtms flows, through the real Application and the local Bot API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services
from tests.support.botapi import LocalBotApi
from tests.support.sql import run_sql
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
DR = 9001
DR_OTHER = 9002
ALICE = 5001
# Monday 2 March 2026, 09:00 in New York (EST, UTC-5); the clinic's zone is New York.
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test says so."""
    return ManualClock(NOW)


async def _started(settings: Settings, api: LocalBotApi, clock: ManualClock) -> App:
    application = build_application(settings, clock=clock, request=api, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    return application


async def _stopped(application: App) -> None:
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


@pytest.fixture
async def app(settings: Settings, api: LocalBotApi, clock: ManualClock) -> AsyncIterator[App]:
    """The real Application with two clinicians, each with one patient (P-001 has joined)."""
    application = await _started(settings, api, clock)
    await _populate(application, api)
    yield application
    await _stopped(application)


async def _populate(application: App, api: LocalBotApi) -> None:
    services = svc(application)
    await services.careteam.add_clinician(DR, "Dr. Rivera")
    await services.careteam.add_clinician(DR_OTHER, "Dr. Okafor")
    issued = await services.enrollment.create_invite("P-001", clinician_telegram_id=DR, days=7)
    await services.enrollment.create_invite("P-002", clinician_telegram_id=DR_OTHER, days=7)
    await send(application, ALICE, f"/start {issued.code}")
    await press(application, ALICE, "c:yes")
    api.clear()


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def send(app: App, user_id: int, text: str) -> None:
    await app.process_update(text_update(app.bot, user_id, text))


async def press(app: App, user_id: int, data: str) -> None:
    await app.process_update(callback_update(app.bot, user_id, data))


def screens(api: LocalBotApi, chat_id: int) -> list[dict[str, Any]]:
    """Every message sent to or edited in a chat, in order."""
    return [
        c.params
        for c in api.calls
        if c.method in {"sendMessage", "editMessageText"} and int(c.params["chat_id"]) == chat_id
    ]


def screen(api: LocalBotApi, chat_id: int = DR) -> str:
    """The text the chat shows last."""
    return str(screens(api, chat_id)[-1]["text"])


def data_of(api: LocalBotApi, label: str, chat_id: int = DR) -> str:
    """The callback data of the button with this label on the last screen that has buttons."""
    for params in reversed(screens(api, chat_id)):
        buttons = dict(api.buttons(params))
        if buttons:
            assert label in buttons, f"no button {label!r} in {list(buttons)}"
            return buttons[label]
    raise AssertionError("no screen with buttons")


def toast(api: LocalBotApi) -> str | None:
    answer = api.of("answerCallbackQuery")[-1]
    return answer.get("text")


async def tap(app: App, api: LocalBotApi, label: str, user_id: int = DR) -> None:
    await press(app, user_id, data_of(api, label, user_id))


async def fill_medication_up_to_times(app: App, api: LocalBotApi) -> None:
    await send(app, DR, "/addmed")
    await tap(app, api, "P-001")
    await send(app, DR, "Buprenorphine")
    await send(app, DR, "8 mg film under the tongue")


async def step_of(app: App, user_id: int = DR) -> str | None:
    flow = await svc(app).flows.get(user_id)
    return flow.step if flow else None


async def test_full_addmed_flow_creates_the_medication_and_a_pending_dose(
    app: App, api: LocalBotApi
) -> None:
    """Every step of /addmed leads to a saved medication with its next dose already planned."""
    await fill_medication_up_to_times(app, api)
    assert "step 4 of 7" in screen(api)
    await send(app, DR, "08:00, 20:00")
    await tap(app, api, "Every day")
    await tap(app, api, "Today")
    summary = screen(api)
    for expected in ("P-001", "Buprenorphine", "8 mg film under the tongue", "08:00, 20:00"):
        assert expected in summary
    assert "Mon 2026-03-02" in summary
    assert [label for label, _ in api.buttons(screens(api, DR)[-1])] == ["Confirm", "Cancel"]
    await tap(app, api, "Confirm")
    assert "Medication added" in screen(api)
    med = await svc(app).db.fetchone("SELECT * FROM medications")
    assert (med["name"], med["dose_text"], med["times"], med["weekdays"], med["start_date"]) == (
        "Buprenorphine",
        "8 mg film under the tongue",
        "08:00,20:00",
        "daily",
        "2026-03-02",
    )
    tonight = await svc(app).db.fetchone(
        "SELECT status, due_at FROM deliveries WHERE dedupe_key = ?",
        (f"dose:{med['id']}:2026-03-02:20:00",),
    )
    assert tonight is not None
    assert (tonight["status"], tonight["due_at"]) == ("pending", "2026-03-03T01:00:00+00:00")
    audit = await svc(app).db.fetchone(
        "SELECT actor_kind, actor_id FROM audit_log WHERE action = 'medication.add'"
    )
    rivera = await svc(app).careteam.clinician_for_user(DR)
    assert rivera is not None
    assert (audit["actor_kind"], audit["actor_id"]) == ("clinician", rivera.id)
    picked = await svc(app).db.fetchall(
        "SELECT actor_id FROM audit_log WHERE action = 'patients.pick'"
    )
    assert picked, "showing the patient labels to pick from is an audited read"
    assert {row["actor_id"] for row in picked} == {rivera.id}
    assert await step_of(app) is None


async def test_bad_time_keeps_the_step_and_says_what_is_wrong(app: App, api: LocalBotApi) -> None:
    """An unreadable time is explained and asked again, with the earlier answers kept."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "08:00, 25:00")
    shown = screen(api)
    assert "Hours go from 0 to 23" in shown
    assert "At what times of day?" in shown
    assert "Buprenorphine" in shown
    assert "8 mg film under the tongue" in shown
    assert await step_of(app) == "times"
    await send(app, DR, "8 am, 8 pm")
    assert await step_of(app) == "days"
    assert "08:00, 20:00" in screen(api)


async def test_typed_answers_never_reach_the_free_text_features(app: App, api: LocalBotApi) -> None:
    """An answer typed into a flow gets exactly one reply: the next question."""
    await send(app, DR, "/addmed")
    await tap(app, api, "P-001")
    before = len(screens(api, DR))
    await send(app, DR, "Naltrexone")
    assert len(screens(api, DR)) == before + 1
    assert "What is the dose" in screen(api)


async def test_cancel_ends_the_flow_and_saves_nothing(app: App, api: LocalBotApi) -> None:
    """/cancel in the middle of /addmed ends it; nothing is saved and a second /cancel says so."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "/cancel")
    assert "not saved" in screen(api)
    assert await step_of(app) is None
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n FROM medications")
    assert row["n"] == 0
    await send(app, DR, "/cancel")
    assert screen(api) == "There is nothing to cancel."


async def test_cancel_button_on_the_summary_saves_nothing(app: App, api: LocalBotApi) -> None:
    """Cancel on the confirmation screen ends the flow without saving."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "20:00")
    await tap(app, api, "Weekdays")
    await send(app, DR, "2026-03-09")
    assert "Mon 2026-03-09" in screen(api)
    assert "mon-fri" in screen(api)
    await tap(app, api, "Cancel")
    assert "not saved" in screen(api)
    assert await step_of(app) is None
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n FROM medications")
    assert row["n"] == 0


async def test_another_command_ends_the_flow_politely(app: App, api: LocalBotApi) -> None:
    """A new command in the middle of a flow ends it, says so, and then runs."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "/patients")
    texts = [str(p["text"]) for p in screens(api, DR)[-2:]]
    assert "stopped adding the medication" in texts[0]
    assert "Your patients" in texts[1]
    assert await step_of(app) is None


async def test_non_clinician_gets_not_allowed(app: App, api: LocalBotApi) -> None:
    """A patient who sends /addmed or /addtms is told it is for clinicians and no flow starts."""
    for command in ("/addmed", "/addtms"):
        await send(app, ALICE, command)
        assert "for clinicians" in screen(api, ALICE)
    assert await step_of(app, ALICE) is None


async def test_clinician_cannot_pick_another_clinicians_patient(app: App, api: LocalBotApi) -> None:
    """Only the clinician's own patients are offered; a forged button or typed label is refused."""
    await send(app, DR, "/addmed")
    offered = [label for label, _ in api.buttons(screens(api, DR)[-1])]
    assert offered == ["P-001"]
    own = data_of(api, "P-001")
    other = await svc(app).schedules.patient("P-002")
    forged = own.rsplit(":", 1)[0] + f":{other.id}"
    await press(app, DR, forged)
    assert toast(api) == "This patient is not on your care team."
    assert await step_of(app) == "patient"
    await send(app, DR, "P-002")
    assert "None of your patients has the label <b>P-002</b>" in screen(api)
    assert await step_of(app) == "patient"
    await send(app, DR, "P-001")
    assert await step_of(app) == "name"


async def test_assignment_is_checked_again_at_every_step(app: App, api: LocalBotApi) -> None:
    """A clinician taken off the patient's care team mid-flow cannot go on."""
    await fill_medication_up_to_times(app, api)
    await run_sql(svc(app).db, "DELETE FROM care_team")
    await send(app, DR, "08:00")
    assert "for clinicians" in screen(api)
    assert await step_of(app) is None
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n FROM medications")
    assert row["n"] == 0


async def test_button_from_an_earlier_run_is_refused(app: App, api: LocalBotApi) -> None:
    """A button of a flow that was cancelled does not answer the flow started after it."""
    await send(app, DR, "/addmed")
    old = data_of(api, "P-001")
    await send(app, DR, "/cancel")
    await send(app, DR, "/addmed")
    await press(app, DR, old)
    assert toast(api) == "This form is closed. Send /addmed or /addtms to start again."
    assert await step_of(app) == "patient"


async def test_double_confirm_saves_once(app: App, api: LocalBotApi) -> None:
    """A second tap on Confirm finds the form closed and adds nothing."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "09:00")
    await tap(app, api, "Every day")
    await send(app, DR, "Tomorrow")
    confirm = data_of(api, "Confirm")
    await press(app, DR, confirm)
    await press(app, DR, confirm)
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n, MIN(start_date) AS d FROM medications")
    assert (row["n"], row["d"]) == (1, "2026-03-03")


async def test_flow_left_silent_for_thirty_minutes_expires(
    app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """After 30 minutes of silence the next answer is told the form closed; its buttons too."""
    await send(app, DR, "/addmed")
    button = data_of(api, "P-001")
    clock.advance(timedelta(minutes=31))
    await press(app, DR, button)
    assert toast(api) == "This form is closed. Send /addmed or /addtms to start again."
    await send(app, DR, "P-001")
    assert "closed after 30 minutes" in screen(api)
    assert await svc(app).flows.take_expired(DR) is None


async def test_crisis_language_mid_flow_is_answered_first_and_the_flow_waits(
    app: App, api: LocalBotApi
) -> None:
    """The safety net answers crisis language even inside a flow; the flow keeps its step."""
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "I want to kill myself")
    assert any("988" in str(p["text"]) for p in screens(api, DR)[-2:])
    assert await step_of(app) == "times"


async def test_flow_state_survives_a_restart(
    api: LocalBotApi, settings: Settings, clock: ManualClock
) -> None:
    """A flow half done when the bot stops goes on in a new Application on the same database."""
    first = await _started(settings, api, clock)
    try:
        await _populate(first, api)
        await fill_medication_up_to_times(first, api)
    finally:
        await _stopped(first)
    restarted = await _started(settings, api, clock)
    try:
        await send(restarted, DR, "08:00")
        assert "step 5 of 7" in screen(api)
        assert "Buprenorphine" in screen(api)
        await tap(restarted, api, "Every day")
        await tap(restarted, api, "Today")
        await tap(restarted, api, "Confirm")
        assert "Medication added" in screen(api)
        row = await svc(restarted).db.fetchone("SELECT name, times FROM medications")
        assert (row["name"], row["times"]) == ("Buprenorphine", "08:00")
    finally:
        await _stopped(restarted)


async def test_addtms_creates_numbered_sessions_and_names_first_and_last(
    app: App, api: LocalBotApi
) -> None:
    """/addtms creates the chosen number of numbered dTMS sessions and reports the date range."""
    await send(app, DR, "/addtms")
    await tap(app, api, "P-001")
    await send(app, DR, "2026-03-09")
    await send(app, DR, "9:30")
    await tap(app, api, "Mon\N{EN DASH}Fri")
    await tap(app, api, "20")
    await send(app, DR, "Room 2")
    summary = screen(api)
    for expected in ("P-001", "Mon 2026-03-09", "09:30", "mon-fri", "20", "Room 2"):
        assert expected in summary
    await tap(app, api, "Confirm")
    done = screen(api)
    assert "20 sessions created" in done
    assert "First: <b>Mon 2026-03-09</b>" in done
    assert "Last: <b>Fri 2026-04-03</b>" in done
    rows = await svc(app).db.fetchall(
        "SELECT session_number, sessions_total, kind, location, starts_at FROM appointments "
        "ORDER BY starts_at"
    )
    assert [r["session_number"] for r in rows] == list(range(1, 21))
    assert {(r["sessions_total"], r["kind"], r["location"]) for r in rows} == {
        (20, "dtms", "Room 2")
    }
    assert rows[0]["starts_at"] == "2026-03-09T13:30:00+00:00"  # 09:30 EDT


async def test_addtms_typed_session_count_and_skipped_location(app: App, api: LocalBotApi) -> None:
    """A typed session count is checked, and Skip leaves the location empty."""
    await send(app, DR, "/addtms")
    await tap(app, api, "P-001")
    await tap(app, api, "Tomorrow")
    await send(app, DR, "08:00, 09:00")
    assert "one time of day" in screen(api)
    await send(app, DR, "08:00")
    await tap(app, api, "Custom")
    await send(app, DR, "mon,wed,fri")
    await send(app, DR, "0")
    assert "from 1 to 200" in screen(api)
    assert await step_of(app) == "sessions"
    await send(app, DR, "3")
    await tap(app, api, "Skip")
    assert "Location: not given" in screen(api)
    await tap(app, api, "Confirm")
    assert "3 sessions created" in screen(api)
    assert "First: <b>Wed 2026-03-04</b>" in screen(api)
    assert "Last: <b>Mon 2026-03-09</b>" in screen(api)
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n, MAX(location) AS loc FROM appointments")
    assert (row["n"], row["loc"]) == (3, None)


async def test_clinician_with_no_patients_is_told_to_invite_first(
    app: App, api: LocalBotApi
) -> None:
    """/addmed by a clinician without patients explains how to get one and opens no flow."""
    await svc(app).careteam.add_clinician(9003, "Dr. New")
    await send(app, 9003, "/addmed")
    assert "/invite" in screen(api, 9003)
    assert await step_of(app, 9003) is None


async def test_clinician_menu_lists_the_flow_commands(app: App, api: LocalBotApi) -> None:
    """The clinicians' command menu offers /addmed, /addtms and /cancel."""
    from bot.app import set_command_menus  # noqa: PLC0415 - only this test publishes again

    await set_command_menus(app, svc(app))
    chats = [c for c in api.of("setMyCommands") if "chat" in str(c.get("scope", ""))]
    commands = {c["command"] for c in chats[-1]["commands"]}
    assert {"addmed", "addtms", "cancel"} <= commands


TELEGRAM_TEXT_LIMIT = 4096


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages logged at ERROR or above while the test ran."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_overlong_typed_answers_are_asked_again_with_a_short_echo(
    app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A very long answer at a days or start step is re-asked, echoed short; the flow goes on."""
    long_text = "x" * 5000
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "08:00")
    await send(app, DR, long_text)
    shown = screen(api)
    assert len(shown) < TELEGRAM_TEXT_LIMIT
    assert "x" * 40 not in shown
    assert "\N{HORIZONTAL ELLIPSIS}" in shown
    assert "On which days?" in shown
    assert await step_of(app) == "days"
    await send(app, DR, "daily")
    await send(app, DR, "2026-03-09" + "9" * 5000)
    assert len(screen(api)) < TELEGRAM_TEXT_LIMIT
    assert await step_of(app) == "start"
    await send(app, DR, "2026-03-09")
    assert await step_of(app) == "confirm"
    await send(app, DR, "/cancel")
    await send(app, DR, "/addtms")
    await tap(app, api, "P-001")
    await send(app, DR, long_text)
    assert len(screen(api)) < TELEGRAM_TEXT_LIMIT
    assert await step_of(app) == "start"
    await send(app, DR, "2026-03-09")
    await send(app, DR, "9:30")
    await tap(app, api, "Custom")
    await send(app, DR, long_text)
    assert len(screen(api)) < TELEGRAM_TEXT_LIMIT
    assert await step_of(app) == "days_custom"
    assert errors_logged(caplog) == []


async def test_session_count_in_other_digits_is_asked_again(
    app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """'²', Arabic-Indic digits or 5,000 nines at the sessions step get the polite re-ask."""
    await send(app, DR, "/addtms")
    await tap(app, api, "P-001")
    await send(app, DR, "2026-03-09")
    await send(app, DR, "9:30")
    await tap(app, api, "Mon\N{EN DASH}Fri")
    for answer in ("\N{SUPERSCRIPT TWO}", "\u0661\u0662", "9" * 5000):
        await send(app, DR, answer)
        assert "from 1 to 200" in screen(api)
        assert len(screen(api)) < TELEGRAM_TEXT_LIMIT
        assert await step_of(app) == "sessions"
    await send(app, DR, "12")
    assert await step_of(app) == "location"
    assert errors_logged(caplog) == []


async def test_forged_buttons_with_odd_digits_are_refused_quietly(
    app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Button data with superscript or over-long digits is refused; the flow stays usable."""
    await send(app, DR, "/addmed")
    own = data_of(api, "P-001")
    stem = own.rsplit(":", 1)[0]
    for choice in ("\N{SUPERSCRIPT TWO}", "9" * 30, "9" * 5000):
        await press(app, DR, f"{stem}:{choice}")
        assert toast(api) == "This patient is not on your care team."
        assert await step_of(app) == "patient"
    for data in (
        "d:t:\N{SUPERSCRIPT TWO}",
        "d:t:" + "9" * 30,
        "a:y:" + "9" * 30,
        "al:ack:" + "9" * 30,
        "al:ack:\N{SUPERSCRIPT TWO}",
        "l:p:some-article:\N{SUPERSCRIPT TWO}",
        "pv:erase:" + "9" * 30 + ":abc",
    ):
        await press(app, ALICE, data)
        assert toast(api)
    await press(app, DR, own)
    assert await step_of(app) == "name"
    assert errors_logged(caplog) == []


async def test_a_far_off_start_date_is_asked_again(
    app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Year 9999 at /addtms's start step is re-asked (it overflowed the session dates)."""
    await send(app, DR, "/addtms")
    await tap(app, api, "P-001")
    await send(app, DR, "9999-12-31")
    assert await step_of(app) == "start"
    assert "9999-12-31" in screen(api)
    await send(app, DR, "2026-03-09")
    assert await step_of(app) != "start"
    assert errors_logged(caplog) == []


async def test_addmed_tells_the_clinician_which_safety_messages_a_methadone_course_brings(
    app: App, api: LocalBotApi
) -> None:
    """For methadone the start question asks for the real start date, and the summary says
    which safety messages the patient will get; other medicines say nothing of the kind."""
    await send(app, DR, "/addmed")
    await tap(app, api, "P-001")
    await send(app, DR, "Methadose")
    await send(app, DR, "60 mg liquid")
    await send(app, DR, "08:00")
    await tap(app, api, "Every day")
    assert "If they already take methadone, type the date they started it" in screen(api)
    await tap(app, api, "Today")
    await tap(app, api, "Confirm")
    assert "go to P-001 on days 1, 4 and 10, once each" in screen(api)
    await fill_medication_up_to_times(app, api)
    await send(app, DR, "08:00")
    await tap(app, api, "Every day")
    assert "safety messages" not in screen(api)
