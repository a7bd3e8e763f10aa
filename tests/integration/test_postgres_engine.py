"""The PostgreSQL engine keeps the SQLite engine's guarantees across processes' pools.

Two ``PostgresDatabase`` objects on one database stand for two workers: each has its own pool,
as two ``companion run`` processes would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest

from bot.storage.db import Database, DatabaseUnavailableError, Statement, migration_files
from bot.storage.postgres_engine import PostgresDatabase
from tests.support.ports import unused_port
from tests.support.postgres import PostgresServer

STAMP = "2026-11-26T12:00:00+00:00"


@pytest.fixture
def empty_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database (no migrations applied)."""
    name = postgres_server.new_database(migrated=False)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


def add(telegram_id: int) -> Statement:
    """A statement that stores one clinician."""
    return Statement(
        "INSERT INTO clinicians (telegram_id, name, created_at) VALUES (?, 'Dr. Vega', ?)",
        (telegram_id, STAMP),
    )


async def stored(db: Database) -> list[int]:
    """Return the stored clinicians' Telegram ids in order."""
    rows = await db.fetchall("SELECT telegram_id FROM clinicians ORDER BY telegram_id")
    return [int(row[0]) for row in rows]


def test_both_engines_have_the_same_migrations() -> None:
    """Every schema version exists on both engines, so a database can move between them."""
    sqlite = [(version, name) for version, name, _ in migration_files("sqlite")]
    postgresql = [(version, name) for version, name, _ in migration_files("postgresql")]
    assert sqlite == postgresql


async def test_workers_migrating_at_once_apply_each_migration_once(empty_url: str) -> None:
    """Two workers starting together on an empty database: one applies, the other finds done."""
    first, second = PostgresDatabase(empty_url), PostgresDatabase(empty_url)
    await first.connect()
    await second.connect()
    try:
        applied = await asyncio.gather(first.migrate(), second.migrate())
        versions = [version for version, _, _ in migration_files("postgresql")]
        assert sorted(applied[0] + applied[1]) == versions
        assert await first.schema_version() == versions[-1]
        assert await second.migrate() == []
    finally:
        await first.close()
        await second.close()


async def test_a_write_transaction_waits_for_another_workers(
    workers: tuple[Database, Database],
) -> None:
    """A transaction that reads and then decides never acts on a read another worker makes
    stale: the second worker's transaction starts only after the first commits."""
    first, second = workers
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow() -> None:
        async with first.transaction() as tx:
            await tx.execute(add(1).sql, add(1).params)
            inside.set()
            await release.wait()

    async def counting() -> int:
        async with second.transaction() as tx:
            row = await tx.fetchone("SELECT COUNT(*) AS n FROM clinicians")
            assert row is not None
            count = int(row["n"])
            await tx.execute(add(100 + count).sql, add(100 + count).params)
            return count

    holder = asyncio.create_task(slow())
    await inside.wait()
    waiter = asyncio.create_task(counting())
    await asyncio.sleep(0.2)
    assert not waiter.done(), "the second writer went ahead while the first held the lock"
    release.set()
    await holder
    assert await waiter == 1  # it saw the first worker's row
    assert await stored(second) == [1, 101]


async def test_a_write_batch_that_fails_leaves_none_of_its_changes(
    workers: tuple[Database, Database],
) -> None:
    """A statement that fails rolls back the ones before it; the connection is fine after."""
    db, _ = workers
    with pytest.raises(psycopg.errors.UniqueViolation):
        await db.write(add(1), add(1))
    assert await stored(db) == []
    await db.write(add(2))
    assert await stored(db) == [2]


async def test_a_cancelled_transaction_is_rolled_back_and_frees_the_lock(
    workers: tuple[Database, Database],
) -> None:
    """A block cancelled halfway leaves nothing, and the other worker can write at once."""
    first, second = workers
    started = asyncio.Event()

    async def cancelled() -> None:
        async with first.transaction() as tx:
            await tx.execute(add(1).sql, add(1).params)
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(cancelled())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(second.write(add(2)), timeout=5)
    assert await stored(second) == [2]


async def test_several_reads_see_one_snapshot(workers: tuple[Database, Database]) -> None:
    """read() of several statements is one snapshot, whatever is committed meanwhile."""
    db, _ = workers
    await db.write(add(1))
    counts = await db.read(
        Statement("SELECT COUNT(*) AS n FROM clinicians"),
        Statement("SELECT COUNT(*) AS n FROM clinicians WHERE telegram_id = 1"),
    )
    assert [int(rows[0]["n"]) for rows in counts] == [1, 1]


async def test_rows_read_like_sqlite_rows(workers: tuple[Database, Database]) -> None:
    """By name in any case, by position, as a dict; flags and sums come back as numbers."""
    db, _ = workers
    await db.write(add(7), add(8))
    row = await db.fetchone(
        "SELECT telegram_id AS Tid, active, SUM(telegram_id) OVER () AS total, "
        "AVG(telegram_id) OVER () AS mean FROM clinicians ORDER BY telegram_id LIMIT 1"
    )
    assert row is not None
    assert row["tid"] == row["TID"] == row[0] == 7
    assert row["active"] == 1
    assert row["total"] == 15
    assert row["mean"] == 7.5
    assert dict(zip(row.keys(), row, strict=True))["tid"] == 7
    with pytest.raises(IndexError):
        row["missing"]


async def test_an_unreachable_server_is_named_without_the_password() -> None:
    """A DATABASE_URL nobody answers gives one clear error that never shows the password."""
    url = f"postgresql://companion:s3cret-pass@127.0.0.1:{unused_port()}/companion"
    db = PostgresDatabase(url)
    with pytest.raises(DatabaseUnavailableError) as raised:
        await db.connect()
    message = str(raised.value)
    assert "s3cret-pass" not in message
    assert "127.0.0.1" in message
    assert "PostgreSQL database companion" in message


async def test_a_transaction_cancelled_mid_statement_leaves_nothing_and_frees_the_lock(
    workers: tuple[Database, Database],
) -> None:
    """Cancelled while the server runs its statement: the caller sees the cancellation, the
    block's rows are gone, the write lock is free, and the pool still serves."""
    first, second = workers

    async def slow_block() -> None:
        async with first.transaction() as tx:
            await tx.execute(add(1).sql, add(1).params)
            await tx.fetchone("SELECT pg_sleep(20)")

    task = asyncio.create_task(slow_block())
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(second.write(add(2)), timeout=5)
    await asyncio.wait_for(first.write(add(3)), timeout=5)
    assert await stored(first) == [2, 3]


async def test_a_snapshot_read_cancelled_mid_statement_leaves_the_pool_serving(
    workers: tuple[Database, Database],
) -> None:
    """A cancelled read() of several statements gives its connection back clean."""
    db, _ = workers
    task = asyncio.create_task(db.read(Statement("SELECT 1"), Statement("SELECT pg_sleep(20)")))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(12):  # more than the pool's connections
        assert await asyncio.wait_for(db.fetchone("SELECT 1 AS one"), timeout=5) is not None
