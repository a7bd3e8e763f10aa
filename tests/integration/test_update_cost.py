"""What an update costs in round trips to the database's thread: counted, never timed.

A round trip to aiosqlite's thread costs more than the statement it runs, so a check-in tap
is held to two: the update's intake (its id recorded, its sender read) and the answer (stored
with everything it changes). The same count comes from ``python -m bench.updates``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from bench import updates as bench_updates
from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.handlers.common import Context, forget_sender, sender_of
from bot.models import PatientStatus
from bot.services.crypto import generate_key
from tests.support.apps import App, svc
from tests.support.botapi import LocalBotApi
from tests.support.roundtrips import counting_round_trips
from tests.support.updates import callback_update, text_update

# File, WAL and backup traces, and round trips to aiosqlite's thread, are SQLite's own.
pytestmark = pytest.mark.sqlite_only

ALICE = 7301
DR = 9301
# Thursday 26 November 2026, 09:00 in New York.
START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
DAY = "2026-11-26"
TAP_BUDGET = 2


@pytest.fixture
async def app(settings: Settings, api: LocalBotApi) -> AsyncIterator[App]:
    """The Application with notes on (a key is set), on a manual clock."""
    keyed = settings.model_copy(update={"data_encryption_key": SecretStr(generate_key())})
    application = build_application(
        keyed, request=api, clock=ManualClock(START), start_scheduler=False
    )
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


async def enrol(app: App) -> int:
    """Invite, bind and consent Alice; return her patient id."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    issued = await s.enrollment.create_invite("P-730", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, ALICE, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, ALICE, "c:yes"))
    patient = await s.enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    return patient.id


async def trips_of_tap(app: App, data: str) -> int:
    """Press a button and return the round trips the update made."""
    with counting_round_trips(svc(app).db) as trips:
        await app.process_update(callback_update(app.bot, ALICE, data, message_id=40))
    return trips.count


async def stored(app: App) -> dict[str, Any]:
    """Return Alice's check-in row for the day, as stored."""
    row = await svc(app).db.fetchone("SELECT * FROM checkins WHERE local_date = ?", (DAY,))
    assert row is not None
    return dict(row)


async def test_each_tap_of_a_full_checkin_takes_two_round_trips(app: App, api: LocalBotApi) -> None:
    """Craving, mood, use and skipping the note: each tap is two round trips, and all is kept."""
    await enrol(app)
    taps = {
        "craving": f"ci:{DAY}:c:6",
        "mood": f"ci:{DAY}:m:4",
        "use": f"ci:{DAY}:u:no",
        "skip note": f"ci:{DAY}:n:skip",
    }
    counts = {step: await trips_of_tap(app, data) for step, data in taps.items()}
    assert counts == dict.fromkeys(taps, TAP_BUDGET)
    row = await stored(app)
    assert (row["craving"], row["mood"], row["used"], row["note_cipher"]) == (6, 4, 0, None)
    screens = [c.params["text"] for c in api.calls if c.method == "editMessageText"]
    assert "Anything you would like to add" in screens[-2], "the note question was asked"
    assert "Check-in saved" in screens[-1]
    assert await svc(app).flows.get(ALICE) is None, "the note question is closed"


async def test_a_typed_note_reads_the_patient_once(app: App, api: LocalBotApi) -> None:
    """A note typed at the note question: intake, the open flow, and the note stored."""
    await enrol(app)
    for data in (f"ci:{DAY}:c:6", f"ci:{DAY}:m:4", f"ci:{DAY}:u:no"):
        await trips_of_tap(app, data)
    with counting_round_trips(svc(app).db) as trips:
        await app.process_update(text_update(app.bot, ALICE, "Walked it off by the river."))
    assert trips.count == 3
    assert (await stored(app))["note_cipher"] is not None
    assert "Check-in saved" in api.sent(ALICE)[-1]["text"]


async def test_a_tap_from_a_patient_who_was_unreachable_is_taken_and_makes_them_reachable(
    app: App,
) -> None:
    """The gate marks them reachable (and drops the sender it read); the answer is stored."""
    patient_id = await enrol(app)
    await svc(app).reminders.mark_unreachable(patient_id)
    await trips_of_tap(app, f"ci:{DAY}:c:3")
    patient = await svc(app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE
    assert (await stored(app))["craving"] == 3


async def test_the_sender_is_read_once_per_update_until_it_is_dropped(app: App) -> None:
    """A second look at the sender costs nothing; after ``forget_sender`` it is read anew."""
    await enrol(app)
    update = callback_update(app.bot, ALICE, f"ci:{DAY}:c:3")
    context = Context.from_update(update, app)
    with counting_round_trips(svc(app).db) as trips:
        first = await sender_of(update, context)
        again = await sender_of(update, context)
        assert trips.count == 1
        forget_sender(context)
        fresh = await sender_of(update, context)
    assert trips.count == 2
    assert first is again
    assert fresh is not None
    assert fresh.patient is not None
    assert fresh.patient.telegram_user_id == ALICE


async def test_the_update_bench_runs_and_counts_two_round_trips_a_tap() -> None:
    """``python -m bench.updates`` measures both bots; its count of round trips is the budget."""
    result = await bench_updates.measure(patients=3, rounds=1)
    assert len(result.checkin.seconds) == 3 * len(bench_updates.STEPS)
    assert len(result.echo.seconds) == len(result.checkin.seconds)
    assert result.checkin.trips_per_update == TAP_BUDGET
