"""Just-in-time safety messages through the real Application: planned, sent once, gated, shown."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services, build_services
from bot.models import PatientStatus
from bot.services.learn import OPEN
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 6101
DR = 9201
# Thursday 2026-11-26, 07:00 in New York.
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NINE_NY = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # 09:00 in New York


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


async def enrol(app: App, label: str = "P-100", user_id: int = ALICE, language: str = "en") -> int:
    """Invite, bind and consent a patient through the chat; return the patient id."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await app.process_update(
        text_update(app.bot, user_id, f"/start {issued.code}", language_code=language)
    )
    await app.process_update(callback_update(app.bot, user_id, "c:yes", language_code=language))
    patient = await s.enrollment.patient_for_user(user_id)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    return patient.id


async def dispatch(services: Services, api_app: App) -> None:
    """Run the planner and the dispatcher, as the scheduler's jobs do.

    A chat gets one message per tick (a dose reminder due at the same time goes first).
    """
    await services.reminders.plan()
    d = Dispatcher(bot=api_app.bot, reminders=services.reminders, clock=services.clock)
    for _ in range(3):
        await d.tick()
        await d.drain()


def safety_messages(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    """Return the safety messages sent to a chat."""
    return [p for p in api.sent(chat_id) if p["text"].startswith("🛡")]


async def jit_rows(app: App) -> list[Any]:
    """Return every safety-message delivery row."""
    return list(
        await svc(app).db.fetchall("SELECT * FROM deliveries WHERE kind = 'jit' ORDER BY due_at")
    )


async def test_methadone_day_1_message_is_sent_once_with_the_facts_and_article_buttons(
    clocked_app: App, api: LocalBotApi, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Day 1 of methadone: one message at the first dose time, never again on later ticks."""
    for name in ("bot", "scheduler"):
        caplog.set_level(logging.DEBUG, logger=name)
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="08:00")
    [row] = await jit_rows(clocked_app)
    assert (row["dedupe_key"], row["status"]) == ("jit:1:methadone_start:2026-11-26", "pending")
    assert row["due_at"] == "2026-11-26T14:00:00+00:00", "08:00 is before 09:00: sent at 09:00"
    clock.set(NINE_NY - timedelta(minutes=1))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == []
    clock.set(NINE_NY)
    await dispatch(s, clocked_app)
    [message] = safety_messages(api)
    assert "first days on methadone" in message["text"]
    assert "<b>911</b>" in message["text"], "the clinic's emergency number"
    assert "naloxone" in message["text"].casefold()
    assert "benzodiazepines" in message["text"]
    assert api.buttons(message) == [
        ("📖 Methadone: the first weeks", f"{OPEN}methadone"),
        ("📖 Naloxone and overdose steps", f"{OPEN}naloxone-overdose"),
    ]
    for _ in range(3):
        clock.advance(timedelta(minutes=30))
        await dispatch(s, clocked_app)
    await s.reminders.replan_patient(1)
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1
    ours = [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "scheduler"))]
    assert any("kind=jit" in line for line in ours)
    assert not any("methadone" in line.casefold() for line in ours), "no message text in logs"


async def test_a_restart_does_not_send_the_day_1_message_again(
    clocked_app: App, api: LocalBotApi, clock: ManualClock, settings: Settings
) -> None:
    """A second process on the same database plans the course again and sends nothing more."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Dolophine", dose="30 mg", times="10:00")
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1
    again = build_services(settings, clock)
    await again.db.connect()
    try:
        await again.db.migrate()
        d = Dispatcher(bot=clocked_app.bot, reminders=again.reminders, clock=clock)
        await d.recover()
        for _ in range(3):
            await again.reminders.plan()
            await d.tick()
            await d.drain()
            clock.advance(timedelta(hours=1))
    finally:
        await again.db.close()
    assert len(safety_messages(api)) == 1


async def test_the_article_button_opens_the_article_below_the_safety_message(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """The button sends the article as a new message: the safety message stays in the chat."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    [message] = safety_messages(api)
    edits = len(api.of("editMessageText"))
    await clocked_app.process_update(
        callback_update(clocked_app.bot, ALICE, api.buttons(message)[0][1])
    )
    assert len(api.of("editMessageText")) == edits
    article = api.sent(ALICE)[-1]
    assert article["text"].startswith("📖 <b>Methadone</b> (1/")


async def test_a_spanish_speaking_patient_reads_it_in_spanish(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """The message is rendered in the patient's language at the moment it is sent."""
    s = svc(clocked_app)
    await enrol(clocked_app, language="es-MX")
    await s.schedules.add_medication("P-100", name="Metadona", dose="30 mg", times="10:00")
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    [message] = safety_messages(api)
    assert "Sus primeros días con metadona" in message["text"]
    assert "(en inglés)" in api.buttons(message)[0][0]


async def test_a_paused_patient_gets_nothing_until_they_resume(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Paused at the due time: nothing; after /resume the first-days message still comes."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/pause"))
    clock.set(datetime(2026, 11, 26, 16, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == []
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/resume"))
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1


async def test_a_patient_who_left_the_program_gets_nothing(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Leaving the program in /settings cancels the planned message; none is planned again."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, "st:leave_yes"))
    patient = await s.enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.WITHDRAWN
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == []
    assert [r["status"] for r in await jit_rows(clocked_app)] == ["cancelled"]


async def test_an_erased_patient_gets_nothing(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """/delete removes the planned message with everything else."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/delete"))
    yes = api.buttons(api.sent(ALICE)[-1])[0][1]
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, yes))
    assert await s.enrollment.patient_for_user(ALICE) is None
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == []
    assert await jit_rows(clocked_app) == []


async def test_nothing_is_planned_before_consent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A course entered before the patient joined starts its messages after they agree."""
    s = svc(clocked_app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    issued = await s.enrollment.create_invite("P-100", clinician_telegram_id=DR, days=7)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    await s.reminders.plan()
    assert await jit_rows(clocked_app) == []
    clock.set(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))  # 12:00, after the 10:00 dose time
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, f"/start {issued.code}"))
    await s.reminders.plan()
    assert await jit_rows(clocked_app) == [], "enrolled, but not yet agreed"
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, "c:yes"))
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1


async def test_a_naltrexone_dose_skipped_as_stopped_brings_the_tolerance_message_at_once(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Skip, "I have stopped taking it": lost tolerance and the naloxone steps, once per course."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Naltrexone", dose="50 mg", times="08:00")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == [], "starting naltrexone sends nothing"
    dose = api.sent(ALICE)[-1]
    skip = next(data for label, data in api.buttons(dose) if label == "Skip")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, skip))
    reasons = api.buttons(api.of("editMessageText")[-1])
    stopped = next(data for label, data in reasons if label == "I have stopped taking it")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, stopped))
    recorded = api.of("editMessageText")[-1]["text"]
    assert "talk to your prescriber" in recorded
    assert "extra dose" not in recorded
    d = Dispatcher(bot=clocked_app.bot, reminders=s.reminders, clock=clock)
    await d.tick()
    await d.drain()
    [message] = safety_messages(api)
    assert "more sensitive to opioids than before" in message["text"]
    assert "one spray in one nostril" in message["text"], "the naloxone steps"
    assert [label for label, _ in api.buttons(message)] == [
        "📖 Tolerance after a break",
        "📖 Naloxone and overdose steps",
    ]
    # The next day's dose skipped the same way does not send it again.
    clock.set(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    skip = next(data for label, data in api.buttons(api.sent(ALICE)[-1]) if label == "Skip")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, skip + ":stopped"))
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1


async def test_a_naltrexone_course_removed_by_the_team_gets_the_message_next_morning(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Removed on Thursday after a dose went out: the tolerance message Friday at 09:00."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    med = await s.schedules.add_medication("P-100", name="Vivitrol", dose="380 mg", times="08:00")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    clock.set(datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    await s.schedules.remove_medication(med.id)
    [row] = await jit_rows(clocked_app)
    assert row["due_at"] == "2026-11-27T14:00:00+00:00"
    clock.set(datetime(2026, 11, 27, 14, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert len(safety_messages(api)) == 1


async def test_a_naltrexone_dose_change_is_not_an_end(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Removed and entered again the same day (a new dose): the course goes on, no message."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    med = await s.schedules.add_medication("P-100", name="Naltrexone", dose="25 mg", times="08:00")
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    clock.set(datetime(2026, 11, 26, 18, 0, tzinfo=UTC))
    await s.schedules.remove_medication(med.id)
    await s.schedules.add_medication("P-100", name="Naltrexone", dose="50 mg", times="08:00")
    assert [r["status"] for r in await jit_rows(clocked_app)] == ["cancelled"]
    clock.set(datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    assert safety_messages(api) == []


async def test_disulfiram_brings_the_hidden_alcohol_message(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Antabuse added: mouthwash, sauces and hand sanitiser at the first dose time."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Antabuse", dose="250 mg", times="12:00")
    clock.set(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    [message] = safety_messages(api)
    for words in ("mouthwash", "sauces", "hand sanitiser", "two weeks"):
        assert words in message["text"]


async def test_a_kind_switched_off_is_neither_planned_nor_sent(
    settings: Settings, api: LocalBotApi, clock: ManualClock
) -> None:
    """JUST_IN_TIME_METHADONE=false: a message already planned is not sent, no new one planned."""
    from bot.app import build_application  # noqa: PLC0415 - a second app with other settings

    off = settings.model_copy(update={"just_in_time_methadone": False})
    app = build_application(off, request=api, clock=clock, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    try:
        s = svc(app)
        await enrol(app)
        await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
        assert await jit_rows(app) == []
        # A row planned while it was on (before a restart with the new setting) is not sent.
        on = build_services(settings, clock, db=s.db)
        await on.reminders.replan_patient(1)
        assert len(await jit_rows(app)) == 1
        clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
        await dispatch(s, app)
        assert safety_messages(api) == []
        assert [r["status"] for r in await jit_rows(app)] == ["failed"]
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


async def test_the_digest_lists_the_safety_messages_sent_in_the_week(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """The clinician's message, report and spreadsheet say which safety message went out, when."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))
    await dispatch(s, clocked_app)
    clinician = await s.careteam.clinician_for_user(DR)
    assert clinician is not None
    digest = await s.digests.build_weekly_digest(clinician, date(2026, 11, 29))
    [week] = digest.patients
    assert week.safety_messages == (("methadone_start", 3),)
    files = await s.renderer.render(digest, "en", s.charts)
    assert "methadone, first days Thu" in "\n".join(files.messages)
    assert "methadone, first days Thu" in files.report.decode()
    assert "safety messages sent" in files.csv.decode()
    assert "methadone, first days Thu" in files.csv.decode()
    trend = await s.digests.patient_week(clinician, week.patient, date(2026, 11, 29))
    assert ("safety_message", "methadone_start") in {(e.code, e.detail) for e in trend.events}


async def test_the_schedule_preview_shows_planned_safety_messages(
    clocked_app: App, clock: ManualClock
) -> None:
    """``companion schedule`` lists the safety messages ahead with the reminders."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await s.schedules.add_medication("P-100", name="Methadone", dose="30 mg", times="10:00")
    views = await s.schedules.planned("P-100", start=date(2026, 11, 26), days=14)
    assert [(v.what, f"{v.local_time:%m-%d %H:%M}") for v in views if v.kind == "jit"] == [
        ("methadone_start", "11-26 10:00"),
        ("methadone_day4", "11-29 10:00"),
        ("methadone_day10", "12-05 10:00"),
    ]
