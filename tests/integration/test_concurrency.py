"""Updates of different chats at once, through the real Application's update queue.

The Application is started as in production, so every update goes through the update
processor: chats run concurrently, each chat's and each person's updates in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.storage.db import from_db_time
from tests.support.apps import svc
from tests.support.botapi import GatedBotApi, LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
DR = 9601
PATIENTS = [7601 + n for n in range(6)]


@asynccontextmanager
async def running(settings: Settings, api: LocalBotApi) -> AsyncIterator[App]:
    """Start the Application as ``companion run`` does, without polling or scheduled jobs."""
    app = build_application(settings, request=api, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


async def feed(app: App, updates: Sequence[Update]) -> None:
    """Put updates on the queue in order, as polling does, and wait until all are handled."""
    for update in updates:
        await app.update_queue.put(update)
    await asyncio.wait_for(app.update_queue.join(), timeout=30)


async def enrol(app: App, user_id: int) -> None:
    """Invite, bind and consent one patient."""
    s = svc(app)
    if await s.careteam.clinician_for_user(DR) is None:
        await s.careteam.add_clinician(DR, "Dr. Osei")
    issued = await s.enrollment.create_invite(f"P-{user_id}", clinician_telegram_id=DR, days=7)
    await feed(app, [text_update(app.bot, user_id, f"/start {issued.code}")])
    await feed(app, [callback_update(app.bot, user_id, "c:yes")])


async def test_a_patient_whose_reply_hangs_does_not_hold_up_another_patient(
    settings: Settings,
) -> None:
    """While one chat's reply cannot be sent, another chat is answered at once."""
    api = GatedBotApi()
    async with running(settings, api) as app:
        gate = api.hold(PATIENTS[0])
        try:
            await app.update_queue.put(text_update(app.bot, PATIENTS[0], "/help"))
            await app.update_queue.put(text_update(app.bot, PATIENTS[0], "/sos"))
            await app.update_queue.put(text_update(app.bot, PATIENTS[1], "/help"))
            await asyncio.wait_for(api.answered_in(PATIENTS[1]).wait(), timeout=30)
            assert not api.sent(PATIENTS[0])
        finally:
            gate.set()
        await asyncio.wait_for(app.update_queue.join(), timeout=30)
        first, *later = api.texts(PATIENTS[0])
        assert first == api.texts(PATIENTS[1])[0], "/help was answered first"
        assert later, "then /sos"
        assert "988" in later[0]


async def test_one_chats_commands_take_effect_in_the_order_they_were_sent(
    settings: Settings, api: LocalBotApi
) -> None:
    """Pause and resume sent in quick succession by several patients end as each sent last."""
    async with running(settings, api) as app:
        for user_id in PATIENTS:
            await enrol(app, user_id)
        commands = ["/pause", "/resume", "/pause", "/resume", "/pause"]
        updates = []
        for command in commands:
            updates += [text_update(app.bot, user_id, command) for user_id in PATIENTS]
        await feed(app, updates)
        for user_id in PATIENTS:
            patient = await svc(app).enrollment.patient_for_user(user_id)
            assert patient is not None
            assert patient.reminders_paused, "the last command was /pause"
            replies = api.texts(user_id)[-len(commands) :]
            paused = [reply for reply in replies if "/resume" in reply]
            assert len(paused) == 3, "each /pause is answered with how to resume"
            assert "/resume" in replies[-1]


async def test_check_ins_of_many_patients_at_once_each_keep_their_own_answers(
    settings: Settings, api: LocalBotApi
) -> None:
    """Six check-ins answered in the same moments store six rows, each with its own values."""
    async with running(settings, api) as app:
        for user_id in PATIENTS:
            await enrol(app, user_id)
        await feed(app, [text_update(app.bot, user_id, "/checkin") for user_id in PATIENTS])
        for step in range(3):  # craving, mood, use
            presses = []
            for n, user_id in enumerate(PATIENTS):
                buttons = dict(api.buttons(_last_screen(api, user_id)))
                label = ("No" if n % 2 else "Yes") if step == 2 else str((n + step) % 11)
                presses.append(callback_update(app.bot, user_id, buttons[label]))
            await feed(app, presses)
        rows = await svc(app).db.fetchall(
            "SELECT p.telegram_user_id AS user_id, c.craving, c.mood, c.used "
            "FROM checkins c JOIN patients p ON p.id = c.patient_id ORDER BY user_id"
        )
        assert [(r["user_id"], r["craving"], r["mood"], r["used"]) for r in rows] == [
            (user_id, n % 11, (n + 1) % 11, 0 if n % 2 else 1) for n, user_id in enumerate(PATIENTS)
        ]


def _last_screen(api: LocalBotApi, chat_id: int) -> dict[str, Any]:
    """Return the last message sent to or edited in a chat."""
    screens = [
        c.params
        for c in api.calls
        if c.method in {"sendMessage", "editMessageText"} and int(c.params["chat_id"]) == chat_id
    ]
    return screens[-1]


async def test_a_replan_under_way_does_not_undo_a_time_zone_change(
    clocked_app: App, clock: ManualClock
) -> None:
    """A clinician's change and the patient's move to another zone at once: the new zone wins."""
    s = svc(clocked_app)
    await s.careteam.add_clinician(DR, "Dr. Osei")
    issued = await s.enrollment.create_invite("P-760", clinician_telegram_id=DR, days=7)
    user_id = PATIENTS[0]
    await clocked_app.process_update(text_update(clocked_app.bot, user_id, f"/start {issued.code}"))
    await clocked_app.process_update(callback_update(clocked_app.bot, user_id, "c:yes"))
    await s.schedules.add_medication("P-760", name="Naltrexone", dose="50 mg", times="21:00")
    patient = await s.enrollment.patient_for_user(user_id)
    assert patient is not None
    # The clinician's side re-plans the patient (as adding a dTMS course does) while the
    # patient's own update moves them to Los Angeles.
    await asyncio.gather(
        s.reminders.replan_patient(patient.id),
        s.flows.change_preferences(patient, timezone="America/Los_Angeles"),
    )
    rows = await s.db.fetchall(
        "SELECT due_at FROM deliveries WHERE kind = 'dose' AND status = 'pending'"
    )
    assert rows, "the dose reminders are planned"
    zone = ZoneInfo("America/Los_Angeles")
    assert {from_db_time(r["due_at"]).astimezone(zone).strftime("%H:%M") for r in rows} == {"21:00"}
