"""The incremental planner: a tick plans only what is new, and misses no change."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.clock import ManualClock
from bot.services.occurrences import resolve_local
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
DR = 9301
FIRST_USER = 6301
NEW_YORK = ZoneInfo("America/New_York")
HORIZON = timedelta(hours=48)  # the default PLAN_HORIZON_HOURS
TICK = timedelta(seconds=30)  # the default PLANNER_INTERVAL_SECONDS


def label_of(n: int) -> str:
    """Return the label of the n-th patient a test enrols."""
    return f"P-{300 + n}"


async def invite(app: App, label: str) -> str:
    """Create a patient and their invite code."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Osei")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    return issued.code


async def enrol(app: App, n: int) -> int:
    """Invite, bind and consent the n-th patient through the chat; return the patient id."""
    code = await invite(app, label_of(n))
    await app.process_update(text_update(app.bot, FIRST_USER + n, f"/start {code}"))
    await app.process_update(callback_update(app.bot, FIRST_USER + n, "c:yes"))
    patient = await svc(app).enrollment.patient_for_user(FIRST_USER + n)
    assert patient is not None
    return patient.id


async def enrol_with_doses(app: App, count: int, times: str = "08:00,20:00") -> list[int]:
    """Enrol ``count`` patients, each with a medication at ``times``."""
    ids = []
    for n in range(count):
        ids.append(await enrol(app, n))
        await svc(app).schedules.add_medication(
            label_of(n), name="Buprenorphine", dose="8 mg", times=times
        )
    return ids


async def reaches(app: App) -> dict[int, str | None]:
    """Return how far each patient's plan reaches (None: due for planning), by patient id."""
    rows = await svc(app).db.fetchall("SELECT patient_id, planned_through FROM plan_state")
    return {r["patient_id"]: r["planned_through"] for r in rows}


async def versions(app: App) -> dict[int, int]:
    """Return each patient's plan version, by patient id."""
    rows = await svc(app).db.fetchall("SELECT patient_id, version FROM plan_state")
    return {r["patient_id"]: r["version"] for r in rows}


async def deliveries(app: App, patient_id: int | None = None, kind: str | None = None) -> list[Any]:
    """Return the patients' delivery rows (alerts left out), by due time."""
    rows = await svc(app).db.fetchall(
        "SELECT * FROM deliveries WHERE kind != 'alert' AND (? IS NULL OR patient_id = ?) "
        "AND (? IS NULL OR kind = ?) ORDER BY due_at, id",
        (patient_id, patient_id, kind, kind),
    )
    return list(rows)


def due(row: Any) -> datetime:
    """Return a delivery row's due instant."""
    return datetime.fromisoformat(row["due_at"])


async def test_a_steady_tick_plans_nobody_whose_plan_still_reaches_the_horizon(
    clocked_app: App, clock: ManualClock
) -> None:
    """After the first tick, a tick 30 s later writes nothing and touches nobody's plan."""
    s = svc(clocked_app)
    ids = await enrol_with_doses(clocked_app, 3)
    first = await s.reminders.plan()
    assert (first.full, first.patients) == (True, 3)
    rows_before = [tuple(r) for r in await deliveries(clocked_app)]
    reach_before = await reaches(clocked_app)
    assert set(reach_before) == set(ids)
    clock.advance(TICK)
    steady = await s.reminders.plan()
    assert (steady.full, steady.patients, steady.rows) == (False, 0, 0)
    assert [tuple(r) for r in await deliveries(clocked_app)] == rows_before
    assert await reaches(clocked_app) == reach_before


async def test_as_time_moves_on_each_patient_gets_the_new_slice_as_a_full_plan_would(
    clocked_app: App, clock: ManualClock
) -> None:
    """A day of ticks keeps the horizon covered, plans each patient a few times (not 2,880),
    and leaves exactly the rows a plan from scratch gives."""
    s = svc(clocked_app)
    ids = await enrol_with_doses(clocked_app, 3, times="07:15,13:40,21:05")
    start = clock.now()  # 07:00 in New York
    await s.reminders.plan()
    planned = 0
    for _ in range(int(timedelta(days=1) / TICK)):
        clock.advance(TICK)
        planned += (await s.reminders.plan()).patients
        need = clock.now() + HORIZON
        assert all(
            r is not None and datetime.fromisoformat(r) >= need
            for r in (await reaches(clocked_app)).values()
        )
    # A plan reaches up to a quarter of the horizon (12 hours) past it: twice a day or so.
    assert 3 <= planned <= 9, planned
    end = clock.now() + HORIZON
    for n, patient_id in enumerate(ids):
        patient = await s.schedules.patient(label_of(n))
        expected = {(v.kind, v.utc_time) for v in await s.reminders.preview(patient, start, end)}
        found = {
            (r["kind"], due(r))
            for r in await deliveries(clocked_app, patient_id)
            if start <= due(r) < end
        }
        assert found == expected
        # 26 to 28 November: three doses and the 20:00 check-in prompt each day.
        assert len(found) == 12


@pytest.mark.parametrize(
    ("first_day", "change_day"),
    [(date(2027, 3, 11), date(2027, 3, 14)), (date(2026, 10, 29), date(2026, 11, 1))],
    ids=["spring-forward", "fall-back"],
)
async def test_a_dst_week_of_ticks_plans_every_local_slot_once_at_its_instant(
    clocked_app: App, clock: ManualClock, first_day: date, change_day: date
) -> None:
    """Slots in the skipped and the repeated hour, planned slice by slice over a DST change,
    come once per local day: a skipped time at the change, a repeated time at its first."""
    clock.set(datetime.combine(first_day, time(12), UTC))
    s = svc(clocked_app)
    patient_id = await enrol(clocked_app, 0)
    await s.schedules.add_medication(
        label_of(0), name="Methadone", dose="60 mg", times="01:30,02:30,08:00"
    )
    await s.reminders.plan()
    for _ in range(6 * 24 * 2):  # six days, a tick every half hour
        clock.advance(timedelta(minutes=30))
        await s.reminders.plan()
    rows = await deliveries(clocked_app, patient_id, "dose")
    keys = [r["dedupe_key"] for r in rows]
    assert len(keys) == len(set(keys))
    by_slot = {(date.fromisoformat(r["local_date"]), r["slot"]): due(r) for r in rows}
    last_day = (clock.now() + HORIZON).astimezone(NEW_YORK).date() - timedelta(days=1)
    day = first_day + timedelta(days=1)
    while day <= last_day:
        for slot in ("01:30", "02:30", "08:00"):
            assert by_slot[day, slot] == resolve_local(day, time.fromisoformat(slot), NEW_YORK)
        day += timedelta(days=1)
    assert len(rows) == len(by_slot)
    if change_day.month == 3:  # 02:00 to 03:00 is skipped: 02:30 is due at 03:00 EDT
        assert by_slot[change_day, "02:30"] == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    else:  # 01:00 to 02:00 happens twice: 01:30 is due the first time (EDT)
        assert by_slot[change_day, "01:30"] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


async def test_consent_is_picked_up_on_the_next_tick(clocked_app: App, clock: ManualClock) -> None:
    """Agreeing re-plans nobody at once; the next tick plans the new patient and only them."""
    s = svc(clocked_app)
    await enrol_with_doses(clocked_app, 2)
    await s.reminders.plan()
    code = await invite(clocked_app, "P-399")
    await clocked_app.process_update(text_update(clocked_app.bot, 6399, f"/start {code}"))
    await clocked_app.process_update(callback_update(clocked_app.bot, 6399, "c:yes"))
    newcomer = await s.schedules.patient("P-399")
    assert await deliveries(clocked_app, newcomer.id) == []
    clock.advance(TICK)
    tick = await s.reminders.plan()
    assert tick.patients == 1
    prompts = await deliveries(clocked_app, newcomer.id, "checkin")
    assert prompts
    assert all(due(r) > clock.now() - TICK for r in prompts)


async def test_a_schedule_written_by_another_program_is_picked_up_on_the_next_tick(
    clocked_app: App, clock: ManualClock
) -> None:
    """A medication inserted straight into the database (a clinic tool) is planned next tick."""
    s = svc(clocked_app)
    [patient_id] = await enrol_with_doses(clocked_app, 1)
    await s.reminders.plan()
    stamp = clock.now().isoformat(timespec="seconds")
    async with s.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO medications (patient_id, name, dose_text, times, weekdays, start_date, "
            "active, created_at, updated_at) VALUES (?, 'Naltrexone', '50 mg', '10:00', 'daily', "
            "'2026-11-26', 1, ?, ?)",
            (patient_id, stamp, stamp),
        )
    clock.advance(TICK)
    assert (await s.reminders.plan()).patients == 1
    slots = {r["slot"] for r in await deliveries(clocked_app, patient_id, "dose")}
    assert slots == {"08:00", "20:00", "10:00"}


async def test_a_zone_change_moves_the_plan_and_later_slices_follow_the_new_zone(
    clocked_app: App, clock: ManualClock
) -> None:
    """A new zone re-plans at once; ticks then plan each new slice in the new zone."""
    s = svc(clocked_app)
    [patient_id] = await enrol_with_doses(clocked_app, 1)
    await s.reminders.plan()
    patient = await s.schedules.patient(label_of(0))
    await s.flows.change_preferences(patient, timezone="America/Los_Angeles")
    clock.advance(TICK)
    assert (await s.reminders.plan()).patients == 0, "the change re-planned the patient already"
    for _ in range(int(timedelta(days=2) / timedelta(minutes=10))):
        clock.advance(timedelta(minutes=10))
        await s.reminders.plan()
    los_angeles = ZoneInfo("America/Los_Angeles")
    pending = [r for r in await deliveries(clocked_app, patient_id) if r["status"] == "pending"]
    assert len(pending) > 8
    for row in pending:
        wall = due(row).astimezone(los_angeles)
        assert f"{wall:%H:%M}" == row["slot"]
        assert wall.date().isoformat() == row["local_date"]


async def test_pause_holds_through_every_tick_and_resume_brings_the_future_back(
    clocked_app: App, clock: ManualClock
) -> None:
    """Paused, no tick brings a row back, however far time moves; resumed, the future returns."""
    s = svc(clocked_app)
    [patient_id] = await enrol_with_doses(clocked_app, 1)
    await s.reminders.plan()
    await clocked_app.process_update(text_update(clocked_app.bot, FIRST_USER, "/pause"))
    for _ in range(int(timedelta(days=3) / timedelta(minutes=15))):
        clock.advance(timedelta(minutes=15))
        assert (await s.reminders.plan()).patients == 0
    assert not [r for r in await deliveries(clocked_app, patient_id) if r["status"] == "pending"]
    await clocked_app.process_update(text_update(clocked_app.bot, FIRST_USER, "/resume"))
    clock.advance(TICK)
    await s.reminders.plan()
    pending = [r for r in await deliveries(clocked_app, patient_id) if r["status"] == "pending"]
    assert pending
    assert min(due(r) for r in pending) >= clock.now() - TICK, "nothing due while paused"
    assert max(due(r) for r in pending) >= clock.now() + HORIZON - timedelta(hours=12)


async def test_the_first_dose_sent_of_an_ending_naltrexone_course_plans_its_message_next_tick(
    clocked_app: App, clock: ManualClock, api: Any
) -> None:
    """The tolerance message needs a dose to have gone out; that send re-plans the patient."""
    s = svc(clocked_app)
    patient_id = await enrol(clocked_app, 0)
    await s.schedules.add_medication(
        label_of(0), name="Naltrexone", dose="50 mg", times="08:00", end=date(2026, 11, 27)
    )
    await s.reminders.plan()
    assert await deliveries(clocked_app, patient_id, "jit") == [], "no dose has gone out yet"
    clock.set(datetime(2026, 11, 26, 13, 0, tzinfo=UTC))  # 08:00 in New York
    d = Dispatcher(bot=clocked_app.bot, reminders=s.reminders, clock=clock)
    await d.tick()
    await d.drain()
    clock.advance(TICK)
    assert (await s.reminders.plan()).patients == 1
    [row] = await deliveries(clocked_app, patient_id, "jit")
    assert row["slot"] == "naltrexone_stop"
    assert row["due_at"] == "2026-11-28T14:00:00+00:00", "09:00 the morning after the last day"


async def test_a_tick_computed_before_a_removal_does_not_bring_its_rows_back(
    clocked_app: App, clock: ManualClock
) -> None:
    """Rows computed from the state before a change are not written after it (the change won)."""
    s = svc(clocked_app)
    patient_id = await enrol(clocked_app, 0)
    med = await s.schedules.add_medication(
        label_of(0), name="Methadone", dose="30 mg", times="10:00"
    )
    await s.reminders.plan()
    # A change the tick must pick up (so the patient is due), then the tick reads and computes...
    async with s.db.transaction() as tx:
        await tx.execute("UPDATE patients SET checkin_time = '21:00' WHERE id = ?", (patient_id,))
    clock.advance(TICK)
    plans = await s.reminders.compute_plans([patient_id], clock.now())
    assert any(r.ref_id == med.id for p in plans for r in p.rows)
    # ...while the care team removes the methadone course, which cancels its rows.
    await s.schedules.remove_medication(med.id)
    assert await s.reminders.write_plans(plans, clock.now()) == (0, 0)
    live = {
        r["kind"]
        for r in await deliveries(clocked_app, patient_id)
        if r["status"] == "pending" and r["ref_id"] == med.id
    }
    assert live == set(), "no dose reminder nor day-1 safety message of a removed course"
    assert (await s.reminders.plan()).patients == 0, "the removal re-planned the patient"


async def test_every_change_that_can_alter_a_plan_marks_it_in_the_same_transaction(
    clocked_app: App, clock: ManualClock
) -> None:
    """Zone, check-in time, pause, status, schedules and appointments raise the plan version;
    the language and a session's attendance do not."""
    s = svc(clocked_app)
    [patient_id] = await enrol_with_doses(clocked_app, 1)
    await s.schedules.add_appointment(label_of(0), kind="therapy", at="2026-11-30 15:00")
    await s.reminders.plan()
    changes = {
        "timezone": "UPDATE patients SET timezone = 'America/Chicago' WHERE id = ?",
        "checkin time": "UPDATE patients SET checkin_time = '21:30' WHERE id = ?",
        "pause": "UPDATE patients SET reminders_paused = 1 WHERE id = ?",
        "resume": "UPDATE patients SET reminders_paused = 0 WHERE id = ?",
        "status": "UPDATE patients SET status = 'withdrawn' WHERE id = ?",
        "medication": "UPDATE medications SET active = 0 WHERE patient_id = ?",
        "appointment": "UPDATE appointments SET status = 'cancelled' WHERE patient_id = ?",
    }
    unchanged = {
        "language": "UPDATE patients SET locale = 'es' WHERE id = ?",
        "attendance": "UPDATE appointments SET attendance = 'attended' WHERE patient_id = ?",
        "same zone": "UPDATE patients SET timezone = timezone WHERE id = ?",
    }
    for what, sql in {**unchanged, **changes}.items():
        before = (await versions(clocked_app))[patient_id]
        async with s.db.transaction() as tx:
            await tx.execute(sql, (patient_id,))
        after = (await versions(clocked_app))[patient_id]
        assert after == before + (what in changes), what
        if what in changes:
            assert (await reaches(clocked_app))[patient_id] is None, what


async def test_a_patient_whose_stored_zone_is_unreadable_does_not_stop_the_others(
    clocked_app: App, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """One broken row is logged (by id) and retried; everyone else is planned."""
    s = svc(clocked_app)
    ids = await enrol_with_doses(clocked_app, 2)
    async with s.db.transaction() as tx:
        await tx.execute("UPDATE patients SET timezone = 'Mars/Olympus' WHERE id = ?", (ids[0],))
    with caplog.at_level(logging.WARNING, logger="bot.services.reminders"):
        tick = await s.reminders.plan()
    assert tick.patients == 1
    assert any(f"patient_id={ids[0]}" in r.getMessage() for r in caplog.records)
    assert (await reaches(clocked_app))[ids[0]] is None, "tried again on the next tick"
    assert await deliveries(clocked_app, ids[1])
