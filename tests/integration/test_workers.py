"""Several workers on one PostgreSQL database: each due delivery is claimed by one worker, a
stopped worker's sends and duties are taken over by a survivor.

Two ``PostgresDatabase`` objects stand for two ``companion run`` processes. The same behaviour
on SQLite (one worker) is checked too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.clock import ManualClock
from bot.services.workers import PLANNER, Worker
from bot.storage.db import Database, to_db_time
from bot.storage.deliveries import DeliveryRepository
from bot.storage.repositories import UpdateLog
from bot.storage.sqlite_engine import SqliteDatabase
from tests.support.sql import run_sql

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def add_due(db: Database, count: int, *, chats: int | None = None) -> None:
    """Store ``count`` due dose reminders, one chat each (or spread over ``chats`` chats)."""
    due, expires = to_db_time(NOW - timedelta(minutes=1)), to_db_time(NOW + timedelta(hours=2))
    async with db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, chat_id, due_at, expires_at, created_at) "
            "VALUES (?, 'dose', ?, ?, ?, ?)",
            [
                (f"due-{n}", 1000 + (n % chats if chats else n), due, expires, due)
                for n in range(count)
            ],
        )


async def statuses(db: Database) -> dict[str, int]:
    """Count the deliveries by status."""
    rows = await db.fetchall("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")
    return {str(row["status"]): int(row["n"]) for row in rows}


async def test_two_workers_claiming_at_once_take_each_row_once(
    workers: tuple[Database, Database],
) -> None:
    """Claims racing on two pools: every due row is claimed, and by exactly one worker."""
    first, second = workers
    await add_due(first, 400)
    claims: dict[str, list[int]] = {"a": [], "b": []}

    async def claim_all(db: Database, worker: str) -> None:
        repo = DeliveryRepository(db)
        while batch := await repo.claim_due(NOW, 5, worker=worker):
            claims[worker].extend(d.id for d in batch)

    await asyncio.gather(claim_all(first, "a"), claim_all(second, "b"))
    taken = claims["a"] + claims["b"]
    assert len(taken) == len(set(taken)) == 400
    rows = await first.fetchall("SELECT id, claimed_by FROM deliveries")
    assert {int(r["id"]): r["claimed_by"] for r in rows} == {
        **dict.fromkeys(claims["a"], "a"),
        **dict.fromkeys(claims["b"], "b"),
    }


async def test_one_chat_has_one_send_under_way_across_workers(
    workers: tuple[Database, Database],
) -> None:
    """Ten rows for two chats: racing workers still claim one row per chat at a time."""
    first, second = workers
    await add_due(first, 10, chats=2)
    a, b = await asyncio.gather(
        DeliveryRepository(first).claim_due(NOW, 10, worker="a"),
        DeliveryRepository(second).claim_due(NOW, 10, worker="b"),
    )
    chats = [d.chat_id for d in a + b]
    assert sorted(chats) == [1000, 1001]


async def test_a_survivor_takes_over_a_stopped_workers_sends(
    workers: tuple[Database, Database],
) -> None:
    """Rows a dead worker was sending go back to pending once (unknown outcome); rows of a
    live worker are left alone."""
    first, second = workers
    clock = ManualClock(NOW)
    dead, survivor = Worker(first, clock, lease=LEASE), Worker(second, clock, lease=LEASE)
    await dead.start()
    await survivor.start()
    await add_due(first, 6)
    await DeliveryRepository(first).claim_due(NOW, 3, worker=dead.id)
    await DeliveryRepository(second).claim_due(NOW, 3, worker=survivor.id)

    assert await survivor.beat() == (0, 0), "a live worker's sends were taken"
    clock.advance(LEASE / 2)
    await survivor.beat()
    assert await statuses(first) == {"sending": 6}

    clock.advance(LEASE)  # the dead worker has not beaten for longer than a lease
    assert await survivor.beat() == (3, 0)
    assert await statuses(first) == {"pending": 3, "sending": 3}
    rows = await first.fetchall(
        "SELECT claimed_by, unknown_sends FROM deliveries WHERE status = 'pending'"
    )
    assert {(r["claimed_by"], r["unknown_sends"]) for r in rows} == {(None, 1)}


async def test_a_duty_is_held_by_one_worker_and_taken_over_when_it_stops(
    workers: tuple[Database, Database],
) -> None:
    """The planner's lease: one holder; a silent holder's lease lapses; a clean stop frees it."""
    first, second = workers
    clock = ManualClock(NOW)
    a, b = Worker(first, clock, lease=LEASE), Worker(second, clock, lease=LEASE)
    await a.start()
    await b.start()
    assert await a.holds(PLANNER)
    assert not await b.holds(PLANNER)
    clock.advance(LEASE / 2)
    await a.beat()  # renews the lease
    clock.advance(LEASE * 0.9)
    assert not await b.holds(PLANNER)
    clock.advance(LEASE)  # a has gone silent
    assert await b.holds(PLANNER)
    assert not await a.holds(PLANNER)
    await b.stop()
    assert await a.holds(PLANNER)


async def test_on_sqlite_a_restart_takes_over_every_send_left_under_way(tmp_path: object) -> None:
    """One worker at a time on SQLite: at start, the previous process's sends are its own."""
    assert hasattr(tmp_path, "__truediv__")
    db = SqliteDatabase(tmp_path / "companion.sqlite3")  # type: ignore[operator]
    await db.connect()
    await db.migrate()
    try:
        clock = ManualClock(NOW)
        before = Worker(db, clock, lease=LEASE)
        await before.start()
        await add_due(db, 4)
        await DeliveryRepository(db).claim_due(NOW, 4, worker=before.id)
        await run_sql(db, "UPDATE deliveries SET unknown_sends = 1 WHERE dedupe_key = 'due-0'")
        after = Worker(db, clock, lease=LEASE)  # the same second: no waiting for a lease
        assert await after.start() == (3, 1)
        assert await after.holds(PLANNER)
    finally:
        await db.close()


async def test_an_update_posted_to_two_workers_is_taken_in_by_one(
    workers: tuple[Database, Database],
) -> None:
    """Telegram may post an update again to another worker behind the load balancer."""
    first, second = workers
    results = await asyncio.gather(
        *(
            UpdateLog(db).take_in(update_id, NOW, None)
            for update_id in range(1, 51)
            for db in (first, second)
        )
    )
    new = [fresh for fresh, _ in results]
    assert new.count(True) == 50
    assert all(a != b for a, b in zip(new[::2], new[1::2], strict=True))
