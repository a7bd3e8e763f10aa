"""The shared connection's write transactions: one chat's failure never leaks into another's.

Every coroutine of the bot shares one SQLite connection, so a transaction left open by one
update would take in the next update's statements: its reads would see uncommitted rows and
its writes would be committed or rolled back with someone else's.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import Database
from bot.storage.sqlite_engine import SqliteDatabase

STAMP = "2026-11-26T12:00:00+00:00"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database."""
    database = SqliteDatabase(tmp_path / "companion.sqlite3")
    await database.connect()
    await database.migrate()
    yield database
    await database.close()


async def add_clinician(db: Database, telegram_id: int) -> None:
    """Write one clinician in a transaction of its own."""
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO clinicians (telegram_id, name, role, created_at) "
            "VALUES (?, 'Dr. Vega', 'clinician', ?)",
            (telegram_id, STAMP),
        )


async def clinicians(db: Database) -> list[int]:
    """Return the stored clinicians' Telegram ids."""
    return [int(row[0]) for row in await db.fetchall("SELECT telegram_id FROM clinicians")]


async def test_a_commit_that_fails_is_rolled_back_before_anyone_else_writes(db: Database) -> None:
    """A failed COMMIT leaves no transaction open: the next one starts clean and stands alone."""

    async def write_a_dangling_row() -> None:
        async with db.transaction() as tx:
            # Checked at COMMIT: the row points at a patient that does not exist.
            await tx.execute("PRAGMA defer_foreign_keys = ON")
            await tx.execute(
                "INSERT INTO care_team (patient_id, clinician_id) VALUES (424242, 424242)"
            )

    with pytest.raises(sqlite3.IntegrityError):
        await write_a_dangling_row()
    await add_clinician(db, 5001)
    assert await clinicians(db) == [5001]
    assert await db.fetchall("SELECT * FROM care_team") == []


async def test_a_transaction_cancelled_while_it_begins_leaves_none_open(db: Database) -> None:
    """A task cancelled during BEGIN (e.g. at shutdown) does not leave its transaction behind."""
    started = asyncio.Event()

    async def write() -> None:
        started.set()
        async with db.transaction() as tx:
            await tx.execute("SELECT 1")

    task = asyncio.create_task(write())
    await started.wait()
    await asyncio.sleep(0)  # the task has sent BEGIN IMMEDIATE and waits for its answer
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await add_clinician(db, 5002)
    assert await clinicians(db) == [5002]


async def test_a_transaction_cancelled_half_way_is_rolled_back(db: Database) -> None:
    """A task cancelled between two statements leaves neither of them, and the lock free."""
    wrote_first = asyncio.Event()
    never = asyncio.Event()

    async def write() -> None:
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO clinicians (telegram_id, name, role, created_at) "
                "VALUES (5003, 'Dr. Half', 'clinician', ?)",
                (STAMP,),
            )
            wrote_first.set()
            await never.wait()

    task = asyncio.create_task(write())
    await wrote_first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await add_clinician(db, 5004)
    assert await clinicians(db) == [5004]
