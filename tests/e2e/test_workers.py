"""End to end: two workers on one PostgreSQL database, one killed with SIGKILL mid-fan-out.

A clinic of 1,000 patients gets a medication each whose dose is due at the same minute while
two ``companion run`` processes share the database. Once the reminders flow, the worker that
holds the planner's lease is killed with SIGKILL: no shutdown code runs, so its lease and the
sends it had under way are left as they were. The survivor must take both over.

The emulator enforces Telegram's flood limits (a send beyond them gets 429) and records the
time of every send it accepts: that record, not the bot's own figures, shows the budget the
workers share held. Only the PostgreSQL worker's own machinery is under test; the clinic is
set up with plain SQL, as clinic IT's import would leave it.

No send may be refused: a 429 would mean more than 30 sends reached Telegram in one second
(the shared budget runs a slot a second under the workers' own pace for sends that reach it
late, see bot/app.py).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bench import clinic
from bot.config import Settings
from bot.storage.db import to_db_time
from tests.e2e.conftest import READY_TIMEOUT, BotProcess
from tests.emulator import AsyncEmulatorClient, EmulatorThread
from tests.emulator.client import Stats
from tests.support.ports import unused_port

PATIENTS = 1_000
FIRST_USER = 9_600_001
LATE_USER = FIRST_USER + PATIENTS  # enrolled, but given a medication only after the kill
MEDICATION = clinic.MEDICATION  # no just-in-time safety messages for this one
LEASE_SECONDS = 3
KILL_AFTER = 250  # reminders the emulator has accepted when the planner's holder is killed
FAN_OUT_TIMEOUT = 100.0  # the floor is 1,000 / 29 a second, about 34.5 seconds
SETTLE_TIMEOUT = 10.0  # for the last outcomes to be recorded
TELEGRAM_OVERALL = 30  # Telegram's limit for a bot: 30 messages a second, 1 a second per chat
SECRET = "e2e-workers-webhook-secret-0123"


@pytest.fixture
def workers(
    tmp_path: Path, emulator: EmulatorThread, postgres_url: str, request: pytest.FixtureRequest
) -> Iterator[list[BotProcess]]:
    """Two bot processes (not started) on one PostgreSQL database, each in a folder of its own.

    Only one worker per database may poll Telegram, so both take updates by webhook; none
    are posted here. No weekly digest falls due during the run.
    """
    weekday = datetime.now(ZoneInfo(clinic.ZONE)).weekday()
    processes = []
    for number in (1, 2):
        folder = tmp_path / f"worker-{number}"
        folder.mkdir()
        port = unused_port()
        processes.append(
            BotProcess(
                folder,
                emulator.url,
                DATABASE_URL=postgres_url,
                WORKER_LEASE_SECONDS=str(LEASE_SECONDS),
                WEBHOOK_URL=f"http://127.0.0.1:{port}/hook-{number}",
                WEBHOOK_PORT=str(port),
                WEBHOOK_SECRET_TOKEN=SECRET,
                DIGEST_WEEKDAY=str((weekday + 3) % 7),
            )
        )
    yield processes
    failed = getattr(request.node, "rep_call", None)
    for number, process in enumerate(processes, start=1):
        code = process.stop()
        if failed is not None and failed.failed:
            print(f"--- worker {number} log (exit {code}) ---\n{process.logs()}")


@pytest.fixture
async def database(postgres_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The test's own connection to the workers' database."""
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        yield conn


async def enrol(conn: psycopg.AsyncConnection[Any], users: list[int]) -> dict[int, int]:
    """Insert enrolled, consented patients (no medication yet); return patient ids by user."""
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(clinic.ZONE))
    stamp = to_db_time(now - timedelta(days=1))
    checkin_slot = f"{local + timedelta(hours=12):%H:%M}"  # no prompt falls due in the run
    version = Settings(_env_file=None).consent_version  # type: ignore[call-arg]
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO patients (label, telegram_user_id, chat_id, status, timezone, "
            "checkin_time, created_at, enrolled_at, consented_at) "
            "VALUES (%s, %s, %s, 'active', %s, %s, %s, %s, %s)",
            [(f"W-{u}", u, u, clinic.ZONE, checkin_slot, stamp, stamp, stamp) for u in users],
        )
        await cur.execute("SELECT telegram_user_id, id FROM patients")
        patients = {int(user): int(patient) for user, patient in await cur.fetchall()}
        await cur.executemany(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "VALUES (%s, %s, 'agreed', %s)",
            [(patients[u], version, stamp) for u in users],
        )
    return patients


async def prescribe(conn: psycopg.AsyncConnection[Any], patient_ids: list[int]) -> None:
    """Give each patient a daily dose at the current minute, prescribed yesterday.

    Its slot today has just come: the planner plans it and it is due at once.
    """
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(clinic.ZONE))
    stamp = to_db_time(now - timedelta(days=1))
    start = f"{local - timedelta(days=1):%Y-%m-%d}"
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO medications (patient_id, name, dose_text, times, weekdays, "
            "start_date, active, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, 'daily', %s, 1, %s, %s)",
            [(p, *MEDICATION, f"{local:%H:%M}", start, stamp, stamp) for p in patient_ids],
        )


async def rows(conn: psycopg.AsyncConnection[Any], sql: str) -> list[tuple[Any, ...]]:
    """Run one query and return its rows."""
    async with conn.cursor() as cur:
        await cur.execute(sql)
        return await cur.fetchall()


async def start_both(emu: AsyncEmulatorClient, workers: list[BotProcess]) -> None:
    """Start both workers at once and wait until each has registered and set its webhook."""
    for worker in workers:
        worker.start("--webhook")
    deadline = time.monotonic() + READY_TIMEOUT
    while (await emu.stats()).calls.get("setWebhook", 0) < len(workers):
        for worker in workers:
            assert worker.proc is not None
            if worker.proc.poll() is not None:
                pytest.fail(f"a worker exited with {worker.proc.returncode}:\n{worker.logs()}")
        if time.monotonic() > deadline:
            pytest.fail("the workers did not start")
        await asyncio.sleep(0.1)


async def settled(conn: psycopg.AsyncConnection[Any]) -> None:
    """Wait until no dose due by now is waiting or under way: every outcome is recorded."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        [(open_rows,)] = await rows(
            conn,
            "SELECT COUNT(*) FROM deliveries WHERE kind = 'dose' "
            f"AND status IN ('pending', 'sending') AND due_at <= '{to_db_time(datetime.now(UTC))}'",
        )
        if not open_rows:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{open_rows} due doses still waiting or under way")
        await asyncio.sleep(0.2)


def reminded(stats: Stats) -> Counter[int]:
    """Count the messages each chat was sent."""
    return Counter(s.chat_id for s in stats.sends if s.method == "sendMessage")


async def wait_for(emu: AsyncEmulatorClient, done: Callable[[Stats], bool], what: str) -> Stats:
    """Poll the emulator's stats until ``done(stats)``; return them."""
    deadline = time.monotonic() + FAN_OUT_TIMEOUT
    while True:
        stats = await emu.stats()
        if done(stats):
            return stats
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what}: not within {FAN_OUT_TIMEOUT:.0f} s ({len(reminded(stats))} chats)"
            )
        await asyncio.sleep(0.5)


def closest_per_chat(stats: Stats) -> float:
    """Return the shortest time between two accepted sends to one chat."""
    times: defaultdict[int, list[float]] = defaultdict(list)
    for send in stats.sends:
        times[send.chat_id].append(send.t)
    gaps = [
        later - earlier
        for stamps in times.values()
        for earlier, later in zip(sorted(stamps), sorted(stamps)[1:], strict=False)
    ]
    return min(gaps, default=float("inf"))


async def test_a_worker_killed_mid_fan_out_loses_no_reminder_and_its_duties_move_on(
    workers: list[BotProcess],
    emulator: EmulatorThread,
    emu: AsyncEmulatorClient,
    database: psycopg.AsyncConnection[Any],
) -> None:
    """SIGKILL on the planner's holder while 1,000 reminders are due: every patient gets theirs,
    only a send in flight at the kill arrives twice, the survivor plans, and the emulator never
    sees Telegram's limits broken."""
    users = [FIRST_USER + n for n in range(PATIENTS)]
    patients = await enrol(database, [*users, LATE_USER])
    emulator.call(lambda e: [e.add_user(u, f"U{u}") for u in [*users, LATE_USER]])
    await emu.set_rate_limit(per_chat_per_second=1, overall_per_second=TELEGRAM_OVERALL)
    began = time.monotonic()
    await start_both(emu, workers)
    started = time.monotonic()

    await prescribe(database, [patients[u] for u in users])
    await wait_for(emu, lambda s: len(reminded(s)) >= KILL_AFTER, "reminders flow")
    [(holder, pid)] = await rows(
        database,
        "SELECT w.id, w.pid FROM leases l JOIN workers w ON w.id = l.holder "
        "WHERE l.name = 'planner'",
    )
    [victim] = [w for w in workers if w.proc is not None and w.proc.pid == pid]
    [survivor] = [w for w in workers if w is not victim]
    victim.kill()
    killed = time.monotonic()
    [(in_flight,)] = await rows(
        database,
        f"SELECT COUNT(*) FROM deliveries WHERE status = 'sending' AND claimed_by = '{holder}'",
    )
    # Prescribed after the kill: planned only if the lease has moved to the survivor.
    await prescribe(database, [patients[LATE_USER]])
    everyone = {*users, LATE_USER}
    await wait_for(emu, lambda s: everyone <= set(reminded(s)), "every reminder")
    arrived = time.monotonic()
    await settled(database)
    stats = await emu.stats()

    counts = reminded(stats)
    assert set(counts) == everyone, "every patient got their reminder, nobody else was written to"
    unknown = {
        int(chat)
        for chat, unknown_sends in await rows(
            database, "SELECT chat_id, unknown_sends FROM deliveries WHERE kind = 'dose'"
        )
        if unknown_sends > 0
    }
    twice = {chat for chat, n in counts.items() if n > 1}
    assert max(counts.values()) <= 2, "a send is repeated at most once"
    assert twice <= unknown, "only a send whose outcome was unknown arrives twice"
    assert in_flight > 0, "the kill left sends under way"
    senders = await rows(
        database,
        "SELECT claimed_by, COUNT(*) FROM deliveries WHERE kind = 'dose' AND status = 'sent' "
        "AND claimed_by IS NOT NULL GROUP BY claimed_by",
    )
    assert len(senders) == len(workers), "both workers sent part of the fan-out"

    [(holder_now,)] = await rows(database, "SELECT holder FROM leases WHERE name = 'planner'")
    assert survivor.proc is not None
    assert survivor.proc.poll() is None
    [(survivor_id,)] = await rows(
        database, f"SELECT id FROM workers WHERE pid = {survivor.proc.pid}"
    )
    assert holder_now == survivor_id != holder, "the survivor took the planner's lease"
    assert counts[LATE_USER] == 1, "and planned the medication prescribed after the kill"

    closest = closest_per_chat(stats)
    busiest = stats.max_sends_within(1.0)
    print(
        f"\nworkers ready {started - began:.1f} s; killed {killed - started:.1f} s after with "
        f"{in_flight} sends under way; every reminder {arrived - started:.1f} s after start; "
        f"{len(twice)} twice, {len(unknown)} unknown outcomes; sends by worker {dict(senders)}; "
        f"most in one second {busiest}; closest two to one chat {closest:.2f} s; "
        f"429 answers {stats.rate_limited}"
    )
    assert closest >= 1.0, "never two messages into one chat within a second"
    assert busiest <= TELEGRAM_OVERALL
    assert clinic.log_problems(survivor.logs()) == []
    assert stats.rate_limited == 0, "no send over 30 in one second was refused"
