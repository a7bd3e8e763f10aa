"""Patients' /settings: zone, check-in time, language, pause and resume, in process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services
from bot.models import Patient
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 5001
DR = 9001
# Monday 2 March 2026, 09:00 in New York (EST, UTC-5).
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
async def app(settings: Settings, api: LocalBotApi) -> AsyncIterator[App]:
    """The real Application with one consented patient who takes a medication at 08:00, 20:00."""
    application = build_application(
        settings, clock=ManualClock(NOW), request=api, start_scheduler=False
    )
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    services = svc(application)
    issued = await services.enrollment.create_invite("P-001", clinician_telegram_id=None, days=7)
    await send(application, ALICE, f"/start {issued.code}")
    await press(application, ALICE, "c:yes")
    await services.schedules.add_medication(
        "P-001", name="Naltrexone", dose="50 mg", times="08:00,20:00"
    )
    api.clear()
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def send(app: App, user_id: int, text: str) -> None:
    await app.process_update(text_update(app.bot, user_id, text))


async def press(app: App, user_id: int, data: str) -> None:
    await app.process_update(callback_update(app.bot, user_id, data))


def screens(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    """Every message sent to or edited in a chat, in order."""
    return [
        c.params
        for c in api.calls
        if c.method in {"sendMessage", "editMessageText"} and int(c.params["chat_id"]) == chat_id
    ]


def screen(api: LocalBotApi) -> str:
    """The text the patient's chat shows last."""
    return str(screens(api)[-1]["text"])


def labels(api: LocalBotApi) -> list[str]:
    """The button labels of the last screen."""
    return [label for label, _ in api.buttons(screens(api)[-1])]


async def tap(app: App, api: LocalBotApi, label: str) -> None:
    buttons = dict(api.buttons(screens(api)[-1]))
    assert label in buttons, f"no button {label!r} in {list(buttons)}"
    await press(app, ALICE, buttons[label])


async def patient(app: App) -> Patient:
    found = await svc(app).enrollment.patient_for_user(ALICE)
    assert found is not None
    return found


async def pending_doses(app: App) -> list[Any]:
    return await svc(app).db.fetchall(
        "SELECT dedupe_key, local_date, slot, due_at FROM deliveries "
        "WHERE kind = 'dose' AND status = 'pending' ORDER BY due_at"
    )


async def test_settings_screen_shows_the_current_values_with_a_button_each(
    app: App, api: LocalBotApi
) -> None:
    """/settings shows zone, check-in time, language and reminder state, and one button each."""
    await send(app, ALICE, "/settings")
    shown = screen(api)
    for expected in ("America/New_York", "09:00", "20:00", "English", "Reminders: <b>on"):
        assert expected in shown
    assert labels(api) == [
        "Time zone",
        "Check-in time",
        "Language",
        "Pause reminders",
        "Leave the program",
    ]


async def test_new_zone_replans_doses_to_its_utc_times(app: App, api: LocalBotApi) -> None:
    """Picking another zone stores it and moves every pending dose to that zone's wall clock."""
    before = {row["dedupe_key"]: row["due_at"] for row in await pending_doses(app)}
    assert before["dose:1:2026-03-02:20:00"] == "2026-03-03T01:00:00+00:00"
    await send(app, ALICE, "/settings")
    await tap(app, api, "Time zone")
    assert "America/Phoenix" in labels(api)
    await tap(app, api, "America/Los_Angeles")
    assert "Saved" in screen(api)
    assert "America/Los_Angeles" in screen(api)
    assert (await patient(app)).timezone == "America/Los_Angeles"
    rows = await pending_doses(app)
    assert rows
    zone = ZoneInfo("America/Los_Angeles")
    for row in rows:
        local = datetime.combine(
            date.fromisoformat(row["local_date"]), time.fromisoformat(row["slot"]), zone
        )
        assert datetime.fromisoformat(row["due_at"]) == local
    moved = {row["dedupe_key"]: row["due_at"] for row in rows}
    assert moved["dose:1:2026-03-02:20:00"] == "2026-03-03T04:00:00+00:00"


async def test_typed_zone_is_checked_and_any_iana_name_is_accepted(
    app: App, api: LocalBotApi
) -> None:
    """Another zone is typed; a wrong name is explained and asked again, a right one stored."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Time zone")
    await tap(app, api, "Other zone")
    await send(app, ALICE, "Mars/Olympus_Mons")
    assert "I do not know the time zone" in screen(api)
    assert "Please type the name of your time zone" in screen(api)
    await send(app, ALICE, "europe/madrid")
    assert "Europe/Madrid" in screen(api)
    assert (await patient(app)).timezone == "Europe/Madrid"
    assert await svc(app).flows.get(ALICE) is None


async def test_checkin_time_by_button_and_by_typing(app: App, api: LocalBotApi) -> None:
    """The check-in time is picked from buttons or typed; a wrong time keeps the question."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Check-in time")
    assert labels(api)[:5] == ["08:00", "12:00", "18:00", "20:00", "21:00"]
    await tap(app, api, "21:00")
    assert (await patient(app)).checkin_time == "21:00"
    assert "Daily check-in: <b>21:00" in screen(api)
    await tap(app, api, "Check-in time")
    await tap(app, api, "Other time")
    await send(app, ALICE, "25:99")
    assert "as one time of day" in screen(api)
    await send(app, ALICE, "7:30 pm")
    assert (await patient(app)).checkin_time == "19:30"
    assert "Daily check-in: <b>19:30" in screen(api)


async def test_spanish_is_used_from_the_next_reply_on(app: App, api: LocalBotApi) -> None:
    """Choosing Español shows the settings in Spanish and every later reply is Spanish."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Language")
    await tap(app, api, "Español")
    assert "Sus ajustes" in screen(api)
    assert (await patient(app)).locale == "es"
    assert labels(api) == [
        "Zona horaria",
        "Hora del registro",
        "Idioma",
        "Pausar recordatorios",
        "Salir del programa",
    ]
    await send(app, ALICE, "/help")
    assert "Nadie lee este chat" in screen(api)


async def test_pause_cancels_pending_doses_and_resume_plans_them_again(
    app: App, api: LocalBotApi
) -> None:
    """Pause cancels every pending dose and the button turns into Resume, which re-plans them."""
    planned = {row["dedupe_key"] for row in await pending_doses(app)}
    assert planned
    await send(app, ALICE, "/settings")
    await tap(app, api, "Pause reminders")
    assert (await patient(app)).reminders_paused
    assert await pending_doses(app) == []
    assert "Reminders: <b>paused" in screen(api)
    assert labels(api)[-2] == "Resume reminders"
    await tap(app, api, "Resume reminders")
    assert not (await patient(app)).reminders_paused
    assert {row["dedupe_key"] for row in await pending_doses(app)} == planned
    assert labels(api)[-2] == "Pause reminders"


async def test_cancel_while_typing_a_setting_changes_nothing(app: App, api: LocalBotApi) -> None:
    """/cancel while a typed setting is awaited ends the wait in the patient's language."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Time zone")
    await tap(app, api, "Other zone")
    await send(app, ALICE, "/cancel")
    assert screen(api) == "Okay, nothing was changed."
    assert await svc(app).flows.get(ALICE) is None
    assert (await patient(app)).timezone == "America/New_York"


async def test_another_button_ends_the_wait_for_a_typed_setting(app: App, api: LocalBotApi) -> None:
    """Tapping another settings button instead of typing ends the wait for the typed value."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Check-in time")
    await tap(app, api, "Other time")
    assert await svc(app).flows.get(ALICE) is not None
    await press(app, ALICE, "st:show")  # Back, on the list of times shown before
    assert await svc(app).flows.get(ALICE) is None
    assert screen(api).startswith("<b>Your settings</b>")


async def test_a_command_instead_of_the_typed_setting_ends_the_wait(
    app: App, api: LocalBotApi
) -> None:
    """Another command while a typed setting is awaited ends the wait, says so, and runs."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Time zone")
    await tap(app, api, "Other zone")
    await send(app, ALICE, "/schedule")
    assert "stopped waiting for your setting" in str(screens(api)[-2]["text"])
    assert "Naltrexone" in screen(api)
    assert await svc(app).flows.get(ALICE) is None


async def test_forged_settings_values_are_refused(app: App, api: LocalBotApi) -> None:
    """A settings button with an unknown zone or language changes nothing."""
    for data in ("st:tz:Mars/Base", "st:lang:xx", "st:ci:99:99", "st:nope"):
        await press(app, ALICE, data)
        assert api.of("answerCallbackQuery")[-1].get("text") == "This button is no longer active."
    current = await patient(app)
    assert (current.timezone, current.locale, current.checkin_time) == (
        "America/New_York",
        "en",
        "20:00",
    )


async def test_settings_are_for_patients_only(app: App, api: LocalBotApi) -> None:
    """A clinician who sends /settings is told it is for enrolled patients."""
    await svc(app).careteam.add_clinician(DR, "Dr. Rivera")
    await send(app, DR, "/settings")
    assert "for patients of" in str(screens(api, DR)[-1]["text"])


async def test_patient_menu_offers_settings_in_both_languages(app: App, api: LocalBotApi) -> None:
    """The patients' command menu lists /settings in English and in Spanish."""
    from bot.app import set_command_menus  # noqa: PLC0415 - only this test publishes again

    await set_command_menus(app, svc(app))
    menus = {m.get("language_code"): m["commands"] for m in api.of("setMyCommands")}
    for language in (None, "es"):
        assert "settings" in {c["command"] for c in menus[language]}
    spanish = {c["command"]: c["description"] for c in menus["es"]}
    assert spanish["settings"].startswith("Zona horaria")


async def test_overlong_zone_name_is_asked_again_without_an_error(
    app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A zone name longer than a file name may be is explained and asked again, echoed short."""
    await send(app, ALICE, "/settings")
    await tap(app, api, "Time zone")
    await tap(app, api, "Other zone")
    for name in ("A" * 300, "America/" + "x" * 300, "\N{LATIN SMALL LETTER E WITH ACUTE}" * 200):
        await send(app, ALICE, name)
        assert "I do not know the time zone" in screen(api)
        assert "\N{HORIZONTAL ELLIPSIS}" in screen(api)
        assert len(screen(api)) < 500
        assert (await svc(app).flows.get(ALICE)) is not None
    await press(app, ALICE, "st:tz:" + "A" * 300)
    assert api.of("answerCallbackQuery")[-1].get("text") == "This button is no longer active."
    assert (await patient(app)).timezone == "America/New_York"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
