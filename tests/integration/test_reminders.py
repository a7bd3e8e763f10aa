"""The reminder engine end to end in process: planner, dispatcher, buttons, faults, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.error import TimedOut
from telegram.ext import Application

from bot.clock import ManualClock
from bot.models import DeliveryStatus, PatientStatus
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 6001
DR = 9101
# 2026-11-26 07:00 in New York is 12:00 UTC.
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


def dispatcher(app: App) -> Dispatcher:
    s = svc(app)
    return Dispatcher(
        bot=app.bot,
        reminders=s.reminders,
        clock=s.clock,
        repeats_allowed=s.settings.reminder_repeats,
    )


async def enrolled_patient(app: App, label: str = "P-100", user_id: int = ALICE) -> int:
    """Invite, bind and consent a patient; return the patient id."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, user_id, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, user_id, "c:yes"))
    patient = await s.enrollment.patient_for_user(user_id)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    return patient.id


async def run_dispatch(d: Dispatcher) -> None:
    await d.tick()
    await d.drain()


async def deliveries(app: App, kind: str = "dose") -> list[Any]:
    rows = await svc(app).db.fetchall(
        "SELECT * FROM deliveries WHERE kind = ? ORDER BY due_at, id", (kind,)
    )
    return list(rows)


def dose_messages(api: LocalBotApi, chat_id: int = ALICE) -> list[dict[str, Any]]:
    return [p for p in api.sent(chat_id) if "Buprenorphine" in p["text"]]


async def test_planner_materialises_each_slot_once_in_the_patients_zone(clocked_app: App) -> None:
    """Planning twice yields one row per local slot, due at the zone's UTC instant."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00,20:00"
    )
    await svc(clocked_app).reminders.plan()
    await svc(clocked_app).reminders.plan()
    rows = await deliveries(clocked_app)
    keys = [r["dedupe_key"] for r in rows]
    assert len(keys) == len(set(keys))
    first = rows[0]
    assert first["local_date"] == "2026-11-26"
    assert first["slot"] == "08:00"
    assert first["due_at"] == "2026-11-26T13:00:00+00:00"  # 08:00 EST


async def test_dose_added_two_minutes_before_fires_that_day(
    clocked_app: App, clock: ManualClock
) -> None:
    """A dose added at 08:58 for 09:00 is due at 09:00 the same day."""
    await enrolled_patient(clocked_app)
    clock.set(datetime(2026, 11, 26, 13, 58, tzinfo=UTC))  # 08:58 in New York
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="09:00"
    )
    rows = await deliveries(clocked_app)
    assert rows[0]["due_at"] == "2026-11-26T14:00:00+00:00"


async def test_due_dose_is_sent_with_three_buttons_and_taken_is_recorded(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A due reminder is sent with Taken/Snooze/Skip; Taken records and removes the buttons."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    assert dose_messages(api) == [], "nothing is sent before it is due"
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(d)
    [message] = dose_messages(api)
    labels = [label for label, _ in api.buttons(message)]
    assert labels == ["Taken", "Snooze", "Skip"]
    taken = next(data for label, data in api.buttons(message) if label == "Taken")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, taken))
    row = (await deliveries(clocked_app))[0]
    assert (row["status"], row["response"]) == ("answered", "taken")
    edit = api.of("editMessageText")[-1]
    assert "Taken" in edit["text"]
    assert api.buttons(edit) == []


async def test_snooze_brings_the_reminder_back_after_the_chosen_delay(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Snooze offers 10/30/60 minutes; the reminder comes back after the chosen delay."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    d = dispatcher(clocked_app)
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(d)
    [message] = dose_messages(api)
    snooze = next(data for label, data in api.buttons(message) if label == "Snooze")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, snooze))
    menu = api.of("editMessageText")[-1]
    assert [label for label, _ in api.buttons(menu)] == ["10 min", "30 min", "60 min", "Back"]
    ten = api.buttons(menu)[0][1]
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, ten))
    assert "Snoozed" in api.of("editMessageText")[-1]["text"]
    clock.advance(timedelta(minutes=9))
    await run_dispatch(d)
    assert len(dose_messages(api)) == 1
    clock.advance(timedelta(minutes=1))
    await run_dispatch(d)
    assert len(dose_messages(api)) == 2
    assert "Snoozed reminder" in dose_messages(api)[-1]["text"]


async def test_unanswered_dose_repeats_then_is_recorded_missed(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """No answer: the reminder repeats every 15 minutes three times, then the dose is missed."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    d = dispatcher(clocked_app)
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(d)
    for expected in (2, 3, 4):
        clock.advance(timedelta(minutes=15))
        await run_dispatch(d)
        assert len(dose_messages(api)) == expected
        assert f"Reminder {expected - 1} of 3" in dose_messages(api)[-1]["text"]
    clock.advance(timedelta(minutes=15))
    await run_dispatch(d)
    assert len(dose_messages(api)) == 4
    row = (await deliveries(clocked_app))[0]
    assert (row["status"], row["miss_reason"]) == ("missed", "no_answer")


async def test_pressing_an_old_reminder_records_against_that_reminder(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Taken on yesterday's message updates yesterday's dose, not today's."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    d = dispatcher(clocked_app)
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(d)
    yesterday = dose_messages(api)[0]
    clock.set(datetime(2026, 11, 27, 13, 0, tzinfo=UTC))
    await svc(clocked_app).reminders.plan()
    await run_dispatch(d)
    taken = next(data for label, data in api.buttons(yesterday) if label == "Taken")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, taken))
    rows = {r["local_date"]: r for r in await deliveries(clocked_app)}
    assert rows["2026-11-26"]["response"] == "taken", "a late answer still counts"
    assert rows["2026-11-27"]["response"] is None


async def test_skip_asks_for_an_optional_reason_and_records_it(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Skip offers reasons; the chosen reason is stored as a code."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(dispatcher(clocked_app))
    skip = next(data for label, data in api.buttons(dose_messages(api)[0]) if label == "Skip")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, skip))
    reasons = api.buttons(api.of("editMessageText")[-1])
    ran_out = next(data for label, data in reasons if label == "Ran out")
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, ran_out))
    row = (await deliveries(clocked_app))[0]
    assert (row["response"], row["response_detail"]) == ("skipped", "ran_out")
    assert "extra dose" in api.of("editMessageText")[-1]["text"]


async def test_someone_else_cannot_answer_my_reminder(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A forged button press from another patient changes nothing."""
    await enrolled_patient(clocked_app)
    await enrolled_patient(clocked_app, "P-200", user_id=6002)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await run_dispatch(dispatcher(clocked_app))
    taken = next(data for label, data in api.buttons(dose_messages(api)[0]) if label == "Taken")
    await clocked_app.process_update(callback_update(clocked_app.bot, 6002, taken))
    assert (await deliveries(clocked_app))[0]["response"] is None
    assert api.of("answerCallbackQuery")[-1]["text"] == "This button is no longer active."


async def test_blocked_patient_gets_one_attempt_and_the_care_team_is_told(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Forbidden: no retry, the patient is unreachable, and the care team gets an alert."""
    patient_id = await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00,09:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    api.fail_with["sendMessage"] = (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    await run_dispatch(d)  # the alert delivery goes out on the next tick
    assert len(dose_messages(api)) == 1
    patient = await svc(clocked_app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.UNREACHABLE
    alert = api.sent(DR)[-1]
    assert "P-100" in alert["text"]
    assert "blocked" in alert["text"]
    clock.advance(timedelta(hours=1))
    await svc(clocked_app).reminders.plan()
    await run_dispatch(d)
    assert len(dose_messages(api)) == 1
    counts = await svc(clocked_app).reminders.deliveries.count_by_status()
    assert counts.get("pending", 0) == 0, f"no reminders queued for {patient_id}"


async def test_timeout_is_retried_once_and_then_taken_as_sent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A send whose outcome is unknown is repeated once at most."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    api.raise_on["sendMessage"] = [TimedOut(), TimedOut()]
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    await run_dispatch(d)
    await run_dispatch(d)
    row = (await deliveries(clocked_app))[0]
    assert row["status"] == "sent"
    assert row["unknown_sends"] == 1
    assert len(dose_messages(api)) == 2, "one retry, never a third copy"


async def test_server_errors_and_flood_control_keep_the_row_until_sent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """5xx and 429 put the row back with a wait; it is sent once Telegram is back."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    api.fail_with["sendMessage"] = (
        502,
        {"ok": False, "error_code": 502, "description": "Bad Gateway"},
    )
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    row = (await deliveries(clocked_app))[0]
    assert row["status"] == "pending"
    assert row["last_error"] == "NetworkError"
    clock.advance(timedelta(minutes=1))
    await run_dispatch(d)
    assert len(dose_messages(api)) == 2, "one refused attempt, then the send"
    assert (await deliveries(clocked_app))[0]["status"] == "sent"


async def test_crash_between_claim_and_record_resends_once(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A row left 'sending' by a crash is sent again once after restart, then never again."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    claimed = await svc(clocked_app).reminders.deliveries.claim_due(clock.now(), 10)
    assert len(claimed) == 1  # ...and the process dies here
    d = dispatcher(clocked_app)
    await d.recover()
    await run_dispatch(d)
    row = (await deliveries(clocked_app))[0]
    assert (row["status"], row["unknown_sends"]) == ("sent", 1)
    assert len(dose_messages(api)) == 1


async def test_reminder_past_its_grace_window_is_recorded_missed_not_sent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """After downtime longer than the grace window the reminder is recorded, not sent late."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC) + timedelta(hours=3))
    await run_dispatch(dispatcher(clocked_app))
    row = (await deliveries(clocked_app))[0]
    assert (row["status"], row["miss_reason"]) == ("missed", "not_sent")
    assert dose_messages(api) == []


async def test_late_but_within_grace_is_still_sent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """After a short outage the due reminder is sent late instead of dropped."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC) + timedelta(minutes=50))
    await run_dispatch(dispatcher(clocked_app))
    assert len(dose_messages(api)) == 1


async def test_pause_stops_reminders_and_resume_brings_only_future_ones(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """/pause cancels what is pending; /resume plans again from now on."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/pause"))
    assert "paused" in api.last_text(ALICE)
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    await svc(clocked_app).reminders.plan()
    await run_dispatch(dispatcher(clocked_app))
    assert dose_messages(api) == []
    clock.advance(timedelta(minutes=30))
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/resume"))
    await svc(clocked_app).reminders.plan()
    await run_dispatch(dispatcher(clocked_app))
    assert dose_messages(api) == [], "a dose due while paused is not sent after resume"
    pending = [r for r in await deliveries(clocked_app) if r["status"] == "pending"]
    assert pending, "tomorrow's dose is planned again"


@pytest.mark.parametrize("stop", ["paused", "blocked"])
async def test_back_after_days_away_nothing_due_while_away_is_sent(
    clocked_app: App, api: LocalBotApi, clock: ManualClock, stop: str
) -> None:
    """A pause (or a block) longer than the plan's reach: resuming sends no dose of the gap."""
    patient_id = await enrolled_patient(clocked_app)
    s = svc(clocked_app)
    await s.schedules.add_medication("P-100", name="Buprenorphine", dose="8 mg", times="08:00")
    await s.reminders.plan()
    if stop == "paused":
        await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/pause"))
    else:
        await s.reminders.mark_unreachable(patient_id)
    clock.set(datetime(2026, 11, 30, 14, 0, tzinfo=UTC))  # Monday 09:00: the 08:00 dose is past
    await s.reminders.plan()
    if stop == "paused":
        await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/resume"))
    else:
        await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/schedule"))
    await s.reminders.plan()
    await run_dispatch(dispatcher(clocked_app))
    sent = [r for r in await deliveries(clocked_app) if r["sent_at"] is not None]
    assert sent == [], "Monday's 08:00 dose was due while away"
    pending = [r for r in await deliveries(clocked_app) if r["status"] == "pending"]
    assert pending, "Tuesday's dose is planned"
    assert min(r["due_at"] for r in pending) == "2026-12-01T13:00:00+00:00"


async def test_appointment_reminders_and_reschedule_alert_the_care_team(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A dTMS session is reminded the evening before with its number; reschedule alerts the team."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_tms_course(
        "P-100",
        start=datetime(2026, 11, 30, tzinfo=UTC).date(),
        time_text="09:30",
        days="mon-fri",
        sessions=30,
        location="Room 2",
    )
    clock.set(datetime(2026, 11, 30, 0, 0, tzinfo=UTC))  # 19:00 on Sunday in New York
    await svc(clocked_app).reminders.plan()
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    message = api.sent(ALICE)[-1]
    assert "dTMS session 1 of 30" in message["text"]
    assert "tomorrow" in message["text"]
    assert "metal" in message["text"]
    labels = [label for label, _ in api.buttons(message)]
    assert labels == ["I'll be there", "Need to reschedule"]
    reschedule = api.buttons(message)[1][1]
    await clocked_app.process_update(callback_update(clocked_app.bot, ALICE, reschedule))
    await run_dispatch(d)
    assert "Reschedule request" in api.sent(DR)[-1]["text"]
    appt = await svc(clocked_app).db.fetchone(
        "SELECT status FROM appointments WHERE session_number = 1"
    )
    assert appt["status"] == "reschedule_requested"
    hour = await svc(clocked_app).db.fetchone(
        "SELECT status FROM deliveries WHERE dedupe_key LIKE 'appt_hour:%' ORDER BY due_at LIMIT 1"
    )
    assert hour["status"] == "cancelled"


async def test_crisis_alert_is_a_delivery_that_survives_a_failed_send(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A refused crisis reply still raises the alert, and both are delivered on a later tick."""
    await enrolled_patient(clocked_app)
    api.fail_with["sendMessage"] = (
        502,
        {"ok": False, "error_code": 502, "description": "Bad Gateway"},
    )
    # The crisis reply to the patient takes the 502 here; the error handler answers instead.
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "i want to kill myself"))
    rows = await deliveries(clocked_app, "alert")
    assert rows, "the alert is queued before anything is sent"
    d = dispatcher(clocked_app)
    clock.advance(timedelta(minutes=5))
    await run_dispatch(d)
    assert any("possible crisis" in t for t in api.texts(DR))
    assert any("988" in t for t in api.texts(ALICE)), "the refused crisis reply is retried"
    status = (await deliveries(clocked_app, "alert"))[0]["status"]
    assert status == DeliveryStatus.SENT.value


def membership_update(app: App, user_id: int, old: str, new: str, update_id: int) -> Any:
    """Build the my_chat_member update Telegram sends when a user blocks or unblocks the bot."""
    from telegram import Update  # noqa: PLC0415

    bot_user = {"id": 1, "is_bot": True, "first_name": "Bot"}
    payload = {
        "update_id": update_id,
        "my_chat_member": {
            "chat": {"id": user_id, "type": "private"},
            "from": {"id": user_id, "is_bot": False, "first_name": "P"},
            "date": 1_780_000_000,
            "old_chat_member": {"user": bot_user, "status": old, "until_date": 0},
            "new_chat_member": {"user": bot_user, "status": new, "until_date": 0},
        },
    }
    return Update.de_json(payload, app.bot)


async def test_blocking_the_bot_stops_reminders_and_tells_the_team_at_once(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """A block is acted on when Telegram reports it, not at the next reminder; unblock resumes."""
    await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    await clocked_app.process_update(
        membership_update(clocked_app, ALICE, "member", "kicked", 880_001)
    )
    patient = await svc(clocked_app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.UNREACHABLE
    assert [r["status"] for r in await deliveries(clocked_app)] == ["cancelled"] * len(
        await deliveries(clocked_app)
    )
    queued = await svc(clocked_app).db.fetchall(
        "SELECT chat_id FROM deliveries WHERE kind = 'alert'"
    )
    assert [q["chat_id"] for q in queued] == [DR]
    assert dose_messages(api) == []
    await clocked_app.process_update(
        membership_update(clocked_app, ALICE, "kicked", "member", 880_002)
    )
    patient = await svc(clocked_app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    assert any(r["status"] == "pending" for r in await deliveries(clocked_app))


async def test_a_patient_who_writes_again_after_blocking_gets_reminders_again(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Any message from an unreachable patient makes them reachable and re-plans reminders."""
    patient_id = await enrolled_patient(clocked_app)
    await svc(clocked_app).schedules.add_medication(
        "P-100", name="Buprenorphine", dose="8 mg", times="08:00"
    )
    await svc(clocked_app).reminders.mark_unreachable(patient_id)
    assert not any(r["status"] == "pending" for r in await deliveries(clocked_app))
    await clocked_app.process_update(text_update(clocked_app.bot, ALICE, "/schedule"))
    patient = await svc(clocked_app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    assert any(r["status"] == "pending" for r in await deliveries(clocked_app))
    assert "Buprenorphine" in api.last_text(ALICE)


@pytest.mark.parametrize("change", ["blocked", "paused", "withdrawn"])
async def test_a_planner_tick_straddling_a_change_does_not_bring_reminders_back(
    clocked_app: App, clock: ManualClock, change: str
) -> None:
    """Rows computed before a block, pause or withdrawal are not written after it."""
    patient_id = await enrolled_patient(clocked_app)
    s = svc(clocked_app)
    await s.schedules.add_medication("P-100", name="Naltrexone", dose="50 mg", times="20:00")
    rows = await s.reminders.planned_rows(clock.now())  # read while the patient is active
    assert any(r.patient_id == patient_id for r in rows)
    patient = await s.enrollment.patient_for_user(ALICE)
    assert patient is not None
    if change == "blocked":
        await s.reminders.mark_unreachable(patient_id)
    elif change == "paused":
        await s.reminders.set_paused(patient, paused=True)
    else:
        await s.enrollment.withdraw(ALICE)
        await s.reminders.stop_all(patient_id)
    await s.reminders.write_planned(rows, clock.now())
    pending = await s.db.fetchall(
        "SELECT kind FROM deliveries WHERE patient_id = ? AND status = 'pending' "
        "AND kind != 'alert'",
        (patient_id,),
    )
    assert pending == []
