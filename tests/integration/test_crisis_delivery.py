"""How a crisis alert reaches the care team: after the patient's reply, durably, never late.

The alert is written (with its deliveries and the follow-up) before the patient is answered,
held while the answer goes out, then handed to the dispatcher; a crash at any point after the
write loses nothing, and an urgent alert overtakes whatever the clinician's chat is busy with.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.storage.deliveries import PlannedDelivery
from scheduler.dispatch import Dispatcher
from scheduler.jobs import DISPATCHER_KEY
from tests.support.apps import svc
from tests.support.botapi import GatedBotApi, LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7801
DR = 9801
CRISIS = "i want to kill myself tonight"
START = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


async def started(settings: Settings, api: LocalBotApi, clock: ManualClock) -> App:
    """Build and initialise the Application with a dispatcher, as ``companion run`` wires it."""
    app = build_application(settings, request=api, clock=clock, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    s = svc(app)
    app.bot_data[DISPATCHER_KEY] = Dispatcher(
        bot=app.bot,
        reminders=s.reminders,
        clock=clock,
        digests=s.weekly,
        safety_net=s.safety_net,
    )
    return app


async def stopped(app: App) -> None:
    """Shut the Application down."""
    await dispatcher(app).drain(within_seconds=10)
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()


def dispatcher(app: App) -> Dispatcher:
    """Return the dispatcher wired into the Application."""
    found = app.bot_data[DISPATCHER_KEY]
    assert isinstance(found, Dispatcher)
    return found


async def enrol(app: App) -> None:
    """Register the clinician and enrol the patient on their team, with consent."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Amari")
    issued = await s.enrollment.create_invite("P-780", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, PAT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PAT, "c:yes"))


async def flush(app: App) -> None:
    """Let the dispatcher send whatever is due, and wait for the sends."""
    for _ in range(3):
        await dispatcher(app).tick()
        await dispatcher(app).drain(within_seconds=10)


def sends_in_order(api: LocalBotApi) -> list[tuple[int, str]]:
    """Return (chat, first words) of every message sent, in the order Telegram got them."""
    return [
        (int(c.params["chat_id"]), str(c.params.get("text") or c.method)[:40])
        for c in api.calls
        if c.method in {"sendMessage", "sendMediaGroup", "sendPhoto"}
    ]


async def alert_rows(app: App) -> list[Any]:
    """Return the alert deliveries stored."""
    return await svc(app).db.fetchall("SELECT * FROM deliveries WHERE kind = 'alert'")


async def test_the_alert_is_stored_before_the_reply_and_sent_only_after_it(
    settings: Settings, clock: ManualClock
) -> None:
    """While the crisis reply hangs, the alert is already stored, yet nothing pages the team."""
    api = GatedBotApi()
    app = await started(settings, api, clock)
    try:
        await enrol(app)
        api.clear()
        gate = api.hold(PAT)
        handling = asyncio.create_task(app.process_update(text_update(app.bot, PAT, CRISIS)))
        try:
            await asyncio.wait_for(api.arrived_at(PAT).wait(), timeout=10)  # the reply hangs
            assert [row["chat_id"] for row in await alert_rows(app)] == [DR]
            followups = await svc(app).db.fetchall(
                "SELECT 1 FROM deliveries WHERE kind = 'crisis_followup'"
            )
            assert len(followups) == 1, "the follow-up is stored with the alert"
            await flush(app)  # a dispatcher tick while the reply is still on its way
            assert api.sent(DR) == []
        finally:
            gate.set()
        await asyncio.wait_for(handling, timeout=10)
        await flush(app)
        order = sends_in_order(api)
        reply_at = order.index(next(item for item in order if item[0] == PAT))
        alert_at = order.index(next(item for item in order if item[0] == DR))
        assert reply_at < alert_at
        assert "P-780" in api.last_text(DR)
    finally:
        await stopped(app)


async def test_a_crisis_alert_survives_a_crash_while_the_reply_hangs(
    settings: Settings, clock: ManualClock
) -> None:
    """The process dies while the crisis reply hangs; after a restart the team is paged."""
    api = GatedBotApi()
    app = await started(settings, api, clock)
    await enrol(app)
    api.hold(PAT)  # never opens: the reply never leaves
    handling = asyncio.create_task(app.process_update(text_update(app.bot, PAT, CRISIS)))
    await asyncio.wait_for(api.arrived_at(PAT).wait(), timeout=10)  # the reply hangs
    handling.cancel()  # the crash: nothing after this point of the handler runs
    with pytest.raises(asyncio.CancelledError):
        await handling
    await svc(app).db.close()

    after = LocalBotApi()
    restarted = await started(settings, after, clock)
    try:
        await dispatcher(restarted).recover()
        clock.advance(timedelta(seconds=30))
        await flush(restarted)
        [alert] = after.texts(DR)
        assert "P-780" in alert
        assert CRISIS not in alert
        clock.advance(timedelta(minutes=settings.crisis_followup_minutes))
        await flush(restarted)
        assert any("are you safe now?" in text for text in after.texts(PAT))
    finally:
        await stopped(restarted)


async def test_an_urgent_alert_does_not_wait_behind_the_clinicians_digest(
    settings: Settings, clock: ManualClock
) -> None:
    """A crisis alert raised while the clinician's digest is going out arrives before its rest."""
    api = GatedBotApi()
    app = await started(settings, api, clock)
    try:
        await enrol(app)
        await app.process_update(text_update(app.bot, DR, "/digest"))
        api.clear()
        gate = api.hold(DR)  # the digest's first part is on its way and slow
        try:
            await dispatcher(app).tick()
            # The digest is built and its first part is on its way.
            await asyncio.wait_for(api.arrived_at(DR).wait(), timeout=60)
            await app.process_update(text_update(app.bot, PAT, CRISIS))
            await dispatcher(app).drain(within_seconds=0.5)  # the alert's send waits its turn
        finally:
            gate.set()
        await flush(app)
        to_dr = [text for chat, text in sends_in_order(api) if chat == DR]
        assert len(to_dr) == 4, to_dr  # the digest's message, charts and files, and the alert
        assert "Urgent" in to_dr[1], f"the alert comes right after the part under way: {to_dr}"
    finally:
        await stopped(app)


async def test_an_alert_goes_out_while_every_send_in_flight_is_stuck(
    settings: Settings, clock: ManualClock
) -> None:
    """With the cap on sends in flight reached by hanging reminders, an alert still goes."""
    api = GatedBotApi()
    app = await started(settings, api, clock)
    s = svc(app)
    app.bot_data[DISPATCHER_KEY] = Dispatcher(
        bot=app.bot, reminders=s.reminders, clock=clock, max_in_flight=2
    )
    others = [7811, 7812]
    await enrol(app)
    for n, chat in enumerate(others):
        issued = await s.enrollment.create_invite(f"P-79{n}", clinician_telegram_id=DR, days=7)
        await app.process_update(text_update(app.bot, chat, f"/start {issued.code}"))
        await app.process_update(callback_update(app.bot, chat, "c:yes"))
    api.clear()
    gates = [api.hold(chat) for chat in others]
    try:
        async with s.db.transaction() as tx:
            await s.reminders.deliveries.plan(
                tx,
                [
                    PlannedDelivery(
                        dedupe_key=f"checkin:test:{chat}",
                        kind="checkin",
                        chat_id=chat,
                        patient_id=int(row["id"]),
                        local_date="2026-11-30",
                        slot="10:00",
                        due_at=clock.now(),
                        expires_at=clock.now() + timedelta(hours=2),
                    )
                    for chat in others
                    for row in await tx.fetchall(
                        "SELECT id FROM patients WHERE telegram_user_id = ?", (chat,)
                    )
                ],
                clock.now(),
            )
        await dispatcher(app).tick()
        assert dispatcher(app).in_flight == 2, "both check-in prompts hang"
        await app.process_update(text_update(app.bot, PAT, CRISIS))
        await asyncio.wait_for(api.answered_in(DR).wait(), timeout=10)
        assert "P-780" in api.last_text(DR)
        assert all(not api.sent(chat) for chat in others)
    finally:
        for gate in gates:
            gate.set()
        await stopped(app)
