"""The database helpers' round trips to aiosqlite's thread: each helper makes one, whatever it runs.

A round trip (the event loop hands a call to the connection's thread and waits for it) costs
more than most statements, so the count is what these tests hold, not a time.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from bot.storage.db import Database, Outcome, Statement
from bot.storage.sqlite_engine import SqliteDatabase
from tests.support.roundtrips import counting_round_trips

STAMP = "2026-11-26T12:00:00+00:00"
ADD = (
    "INSERT INTO clinicians (telegram_id, name, role, created_at) "
    "VALUES (?, 'Dr. Vega', 'clinician', ?)"
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated database."""
    database = SqliteDatabase(tmp_path / "companion.sqlite3")
    await database.connect()
    await database.migrate()
    yield database
    await database.close()


def add(telegram_id: int) -> Statement:
    """The statement that stores one clinician."""
    return Statement(ADD, (telegram_id, STAMP))


async def stored(db: Database) -> list[int]:
    """Return the stored clinicians' Telegram ids, in order."""
    rows = await db.fetchall("SELECT telegram_id FROM clinicians ORDER BY telegram_id")
    return [int(row[0]) for row in rows]


async def test_a_read_of_one_row_or_of_all_is_one_round_trip(db: Database) -> None:
    """fetchone and fetchall each run, read and close their statement in one round trip."""
    await db.write(add(1), add(2))
    with counting_round_trips(db) as trips:
        one = await db.fetchone("SELECT telegram_id FROM clinicians ORDER BY telegram_id")
        every = await db.fetchall("SELECT telegram_id FROM clinicians ORDER BY telegram_id")
    assert trips.count == 2
    assert one is not None
    assert one[0] == 1
    assert [row[0] for row in every] == [1, 2]


async def test_several_reads_share_one_round_trip(db: Database) -> None:
    """Reads given together come back in order, each with its own rows, from one round trip."""
    await db.write(add(1), add(2))
    with counting_round_trips(db) as trips:
        first, count, none = await db.read(
            Statement("SELECT telegram_id FROM clinicians WHERE telegram_id = ?", (2,)),
            Statement("SELECT COUNT(*) FROM clinicians"),
            Statement("SELECT * FROM patients"),
        )
    assert trips.count == 1
    assert [row[0] for row in first] == [2]
    assert count[0][0] == 2
    assert none == []


async def test_a_write_batch_commits_in_one_round_trip_and_says_what_each_did(
    db: Database,
) -> None:
    """BEGIN, the statements and COMMIT go in one trip; each gives its id, changes and rows."""
    with counting_round_trips(db) as trips:
        inserted, renamed, returned = await db.write(
            add(1),
            Statement("UPDATE clinicians SET name = 'Dr. Ruiz' WHERE telegram_id = ?", (1,)),
            Statement(f"{ADD} RETURNING telegram_id", (7, STAMP)),
        )
    assert trips.count == 1
    assert inserted.lastrowid is not None
    assert renamed.rowcount == 1
    assert returned.first is not None
    assert returned.first[0] == 7
    assert await stored(db) == [1, 7]


async def test_a_write_batch_that_fails_leaves_none_of_its_changes(db: Database) -> None:
    """A statement that fails rolls back the ones before it; the next write stands alone."""
    with pytest.raises(sqlite3.IntegrityError):
        await db.write(add(1), add(1))
    assert await stored(db) == []
    await db.write(add(2))
    assert await stored(db) == [2]


async def test_a_write_batch_whose_caller_is_cancelled_is_all_or_nothing(db: Database) -> None:
    """A caller cancelled while its batch is on the thread leaves the whole batch or nothing."""
    task = asyncio.create_task(db.write(add(1), add(2), add(3)))
    await asyncio.sleep(0)  # the batch is queued to the thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await stored(db) in ([], [1, 2, 3])
    await db.write(add(4))  # the lock is free and no transaction is left open
    assert 4 in await stored(db)


async def test_a_transaction_begins_with_its_first_statement(db: Database) -> None:
    """BEGIN IMMEDIATE rides with the first statement: two statements and COMMIT, three trips."""
    with counting_round_trips(db) as trips:
        async with db.transaction() as tx:
            await tx.execute(ADD, (1, STAMP))
            row = await tx.fetchone("SELECT COUNT(*) FROM clinicians")
    assert trips.count == 3
    assert row is not None
    assert row[0] == 1
    assert await stored(db) == [1]


async def test_a_transaction_that_runs_nothing_makes_no_round_trip(db: Database) -> None:
    """A block that decides there is nothing to write begins and commits nothing."""
    with counting_round_trips(db) as trips:
        async with db.transaction():
            pass
    assert trips.count == 0


async def test_statements_run_together_inside_a_transaction(db: Database) -> None:
    """Transaction.run sends several statements in one trip, within the open transaction."""
    with counting_round_trips(db) as trips:
        async with db.transaction() as tx:
            first, second = await tx.run(add(1), add(2))
    assert trips.count == 2  # BEGIN with the statements, then COMMIT
    assert first.rowcount == second.rowcount == 1
    assert await stored(db) == [1, 2]


async def test_a_transaction_failing_after_its_first_statement_is_rolled_back(
    db: Database,
) -> None:
    """An error after BEGIN went out with the first statement undoes that statement."""

    async def change_then_fail() -> None:
        async with db.transaction() as tx:
            await tx.execute(ADD, (1, STAMP))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await change_then_fail()
    assert await stored(db) == []


async def test_a_statement_runs_only_when_the_ones_before_it_allow(db: Database) -> None:
    """``when`` reads what the earlier statements of the batch gave; a skipped one says so."""
    await db.write(add(1))

    def nothing_found(done: Sequence[Outcome]) -> bool:
        return not done[-1].rows

    found = Statement("SELECT 1 FROM clinicians WHERE telegram_id = ?", (1,))
    missing = Statement("SELECT 1 FROM clinicians WHERE telegram_id = ?", (2,))
    with counting_round_trips(db) as trips:
        *_, skipped = await db.write(found, Statement(ADD, (5, STAMP), when=nothing_found))
        *_, taken = await db.write(missing, Statement(ADD, (6, STAMP), when=nothing_found))
    assert trips.count == 2
    assert not skipped.ran
    assert taken.ran
    assert await stored(db) == [1, 6]
