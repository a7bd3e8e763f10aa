"""One worker of ``python -m bench.scale``: a process of its own, as ``companion run`` is.

The benchmark starts one of these per worker and talks to it in JSON lines: on stdin it
sends a job (a database that is already seeded, and what to do with it); the worker builds
the services a clinic's process would, warms up, answers ``{"ready": true}`` and waits for
``go``, so every worker of a configuration starts the measured part together; then it runs
the job and answers with what it did and when (the wall clock, which all processes on one
machine share). An empty line ends it.

Jobs:

* ``deliver``: the real dispatcher sends every due reminder it can claim to an in-process Bot
  API peer, no rate limiter, until nothing is left to claim (the other worker may still be
  sending its last ones).
* ``updates``: the real Application (every handler group, the real services) handles its
  share of full daily check-ins, four taps each, as many patients at once as its update
  processor allows. Its rate limiter does all its bookkeeping but never waits, and has no
  shared budget, so Telegram's limits are not what is measured.
* ``fanout``: as ``deliver`` but through the Application's own bot and rate limiter (on
  PostgreSQL with the send budget shared by the workers) to the Bot API emulator.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from telegram import Bot, Update
from telegram.ext import Application

from bench.updates import started_unthrottled
from bot import callbacks
from bot.app import build_application
from bot.clock import SystemClock
from bot.config import Settings, configure_libraries
from bot.container import Services, build_services
from scheduler.dispatch import Dispatcher
from scheduler.jobs import build_dispatcher
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update

TOKEN = "123456:BENCH-token-not-real-000000000000"
ZONE = "America/New_York"
PROMPT_MESSAGE_ID = 500
TAPS_PER_CHECKIN = 4
# Update ids are Telegram's, unique per bot: each worker draws from a range of its own.
UPDATE_IDS_PER_WORKER = 10_000_000

App = Application[Any, Any, Any, Any, Any, Any]


def _settings(job: dict[str, Any]) -> Settings:
    url = job.get("database_url")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=Path(job["database_path"]),
        database_url=SecretStr(url) if url else None,
        clinic_timezone=ZONE,
        data_encryption_key=SecretStr(job["encryption_key"]),
        chart_workers=0,
        telegram_base_url=job.get("base_url"),
    )


async def _dispatch_all(dispatcher: Dispatcher, interval: float) -> None:
    """Tick as the scheduler does, at most ``interval`` apart, until nothing is left to claim.

    A tick that finds nothing while nothing is in flight means every due row is sent or
    being sent by another worker.
    """
    while True:
        idle = dispatcher.in_flight == 0
        await dispatcher.tick()
        if dispatcher.in_flight == 0:
            if idle:
                return
            continue
        await dispatcher.drain(within_seconds=interval)


async def _ready_then_go() -> float:
    """Say the worker is ready, wait for the word, and return the wall-clock start."""
    _answer({"ready": True})
    line = await asyncio.to_thread(sys.stdin.readline)
    if line.strip() != "go":
        msg = f"expected go, got {line!r}"
        raise RuntimeError(msg)
    return time.time()


async def _deliver(job: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(job)
    services = build_services(settings, SystemClock())
    await services.db.connect()
    peer = LocalBotApi()
    bot = Bot(TOKEN, request=peer, get_updates_request=peer)
    await bot.initialize()
    try:
        await services.worker.start()
        dispatcher = build_dispatcher(bot, services)
        started = await _ready_then_go()
        await _dispatch_all(dispatcher, settings.dispatch_interval_seconds)
        ended = time.time()
    finally:
        await bot.shutdown()
        await services.db.close()
    return {
        "started": started,
        "ended": ended,
        "sent": dispatcher.stats.sent,
        "repeats": dispatcher.stats.repeats,
        "chats": [int(call["chat_id"]) for call in peer.of("sendMessage")],
    }


async def _fanout(job: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(job)
    app = build_application(settings, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    services: Services = app.bot_data["services"]
    try:
        await services.worker.start()
        dispatcher = build_dispatcher(app.bot, services)
        started = await _ready_then_go()
        await _dispatch_all(dispatcher, settings.dispatch_interval_seconds)
        ended = time.time()
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()
    return {
        "started": started,
        "ended": ended,
        "sent": dispatcher.stats.sent,
        "repeats": dispatcher.stats.repeats,
    }


def _checkin_taps(app: App, user: int, day: str, first_id: int) -> list[Update]:
    """Build one patient's four check-in taps on the daily prompt, with update ids from
    ``first_id`` on."""
    data = (
        callbacks.checkin(day, callbacks.CHECKIN_CRAVING, "6"),
        callbacks.checkin(day, callbacks.CHECKIN_MOOD, "4"),
        callbacks.checkin(day, callbacks.CHECKIN_USE, callbacks.CHECKIN_NO),
        callbacks.checkin(day, callbacks.CHECKIN_NOTE, callbacks.CHECKIN_SKIP),
    )
    taps = []
    for n, tap in enumerate(data):
        update = callback_update(app.bot, user, tap, message_id=PROMPT_MESSAGE_ID)
        shape = update.to_dict()
        shape["update_id"] = first_id + n
        taps.append(Update.de_json(shape, app.bot))
    return taps


async def _check_in_all(app: App, patients: list[list[Update]]) -> None:
    """Hand every patient's taps to the update processor, each patient's in order, the
    patients at once (the processor holds them to ``CONCURRENT_UPDATES``)."""

    async def one(taps: list[Update]) -> None:
        for update in taps:
            await app.update_processor.process_update(update, app.process_update(update))

    await asyncio.gather(*(one(taps) for taps in patients))


async def _updates(job: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(job)
    app, peer = await started_unthrottled(settings)
    first_id = job["index"] * UPDATE_IDS_PER_WORKER + 1
    patients = [
        _checkin_taps(app, user, job["day"], first_id + n * TAPS_PER_CHECKIN)
        for n, user in enumerate(job["warm_up"] + job["users"])
    ]
    warm_up, measured = patients[: len(job["warm_up"])], patients[len(job["warm_up"]) :]
    try:
        await _check_in_all(app, warm_up)
        started = await _ready_then_go()
        await _check_in_all(app, measured)
        ended = time.time()
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()
    taps = len(patients) * TAPS_PER_CHECKIN
    answered, edited = len(peer.of("answerCallbackQuery")), len(peer.of("editMessageText"))
    if answered != taps or edited != taps:
        msg = f"{taps} taps, {answered} answered, {edited} screens"
        raise RuntimeError(msg)
    return {"started": started, "ended": ended, "taps": len(measured) * TAPS_PER_CHECKIN}


JOBS = {"deliver": _deliver, "updates": _updates, "fanout": _fanout}


def _answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    """Run the jobs read from stdin, one a line, until an empty line."""
    configure_libraries()
    while line := sys.stdin.readline().strip():
        job = json.loads(line)
        _answer(asyncio.run(JOBS[job["kind"]](job)))


if __name__ == "__main__":
    main()
