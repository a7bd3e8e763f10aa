"""The SQLite engine: one file, its pragmas, write transactions and numbered migrations.

One ``SqliteDatabase`` owns one aiosqlite connection. Every statement goes through a lock so a read
never sees another coroutine's half-done write; writes start with ``BEGIN IMMEDIATE`` because a
transaction that starts as a read and later writes fails at once with "database is locked"
when another process (the admin CLI) holds the write lock, whatever ``busy_timeout`` says.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

import aiosqlite

from bot.storage.db import (
    Database,
    DatabaseFileError,
    MigrationError,
    Outcome,
    Params,
    Row,
    Statement,
    Transaction,
    migration_files,
    to_db_time,
)
from bot.storage.dialect import CATALOG

BUSY_TIMEOUT_MS = 10_000
WORKER_STOP_SECONDS = 10.0

T = TypeVar("T")


def _run(conn: sqlite3.Connection, statement: Statement) -> Outcome:
    """Run one statement to its end on the connection's thread and free its cursor there."""
    cursor = conn.execute(statement.sql, statement.params)
    try:
        rows = cursor.fetchall()
        return Outcome(rows, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


def _first_row(conn: sqlite3.Connection, statement: Statement) -> Row | None:
    """Read a statement's first row only (the rest are never fetched)."""
    cursor = conn.execute(statement.sql, statement.params)
    try:
        row: Row | None = cursor.fetchone()
        return row
    finally:
        cursor.close()


def _in_order(conn: sqlite3.Connection, statements: Sequence[Statement]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for statement in statements:
        if statement.when is not None and not statement.when(outcomes):
            outcomes.append(Outcome([], 0, None, ran=False))
        else:
            outcomes.append(_run(conn, statement))
    return outcomes


def _run_all(
    conn: sqlite3.Connection, statements: Sequence[Statement], begin: str | None
) -> list[Outcome]:
    """Run statements in order, inside ``begin`` ... COMMIT when given; roll back on failure."""
    if begin is None:
        return _in_order(conn, statements)
    conn.execute(begin)
    try:
        outcomes = _in_order(conn, statements)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


class SqliteTransaction(Transaction):
    """A write transaction: run statements on the connection while holding the write lock.

    BEGIN IMMEDIATE goes to SQLite with the first statement, in the same round trip; a block
    that runs no statement begins nothing.
    """

    engine = "sqlite"

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self.begun = False

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self.begun:
            return await self._db._call(work)
        # Marked before the round trip: if the task is cancelled while it runs, the
        # transaction may be open, and the block's exit must roll it back.
        self.begun = True

        def begin_then(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            return work(conn)

        return await self._db._call(begin_then)

    async def execute(self, sql: str, params: Params = ()) -> int | None:
        """Run one statement; return the last inserted row id."""
        return (
            await self._call(functools.partial(_run, statement=Statement(sql, params)))
        ).lastrowid

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return (
            await self._call(functools.partial(_run, statement=Statement(sql, params)))
        ).rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter set."""
        batch = list(rows)

        def many(conn: sqlite3.Connection) -> None:
            conn.executemany(sql, batch).close()

        await self._call(many)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row inside the transaction."""
        return await self._call(functools.partial(_first_row, statement=Statement(sql, params)))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows inside the transaction."""
        return (await self._call(functools.partial(_run, statement=Statement(sql, params)))).rows

    async def run(self, *statements: Statement) -> list[Outcome]:
        """Run several statements in order, in one round trip; return what each gave."""
        return await self._call(functools.partial(_run_all, statements=statements, begin=None))


class SqliteDatabase(Database):
    """One SQLite file in WAL mode, shared by the bot's coroutines.

    Every call to SQLite is a round trip to aiosqlite's thread, and a round trip costs more
    than most statements: each helper here makes one, whatever it runs (a statement read to
    its end, several statements, a whole short transaction).
    """

    engine = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Open the file (creating it and its folder private) and set the pragmas relied on.

        A file that cannot be opened or is not a database raises at once, with the
        connection's worker thread stopped: a thread left waiting would keep the process alive
        after the error, so a service manager would never see it exit.
        """
        if self._conn is not None:
            return
        self._create_private_file()
        pending = aiosqlite.connect(self.path, isolation_level=None)
        try:
            conn = await pending
        except BaseException:
            await _worker_stopped(pending)
            raise
        try:
            conn.row_factory = sqlite3.Row
            await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            # Erased rows are overwritten with zeros rather than left in free pages.
            await conn.execute("PRAGMA secure_delete = ON")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn

    def _create_private_file(self) -> None:
        """Create the database file 0600 (and its folder 0700) if it does not exist yet.

        SQLite gives the -wal, -shm and journal files the database file's permissions, so
        health data never lands in a file that other local users may read.
        """
        try:
            if not self.path.parent.exists():
                self.path.parent.mkdir(mode=0o700, parents=True)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            msg = f"cannot open the database {self.path}: {exc.strerror or exc}"
            raise DatabaseFileError(msg) from exc
        os.close(descriptor)

    async def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        """Return the open connection."""
        if self._conn is None:
            msg = "database is not connected"
            raise RuntimeError(msg)
        return self._conn

    async def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` with the sqlite3 connection on aiosqlite's thread: one round trip.

        aiosqlite runs every call it offers this way (its public ``execute_fetchall`` is one);
        a function of our own lets one trip run a statement to its end and close its cursor,
        or run several statements. The caller holds the lock (or the transaction).
        """
        conn = self.conn
        # aiosqlite's queue to its thread, which all its own calls use; the sqlite3 connection
        # is only touched on that thread.
        return cast(T, await conn._execute(lambda: work(conn._conn)))  # type: ignore[no-untyped-call]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run a block as one write transaction started with BEGIN IMMEDIATE.

        Whatever ends the block early (an error, a failed COMMIT, a cancelled task, even while
        BEGIN is still under way), the transaction is rolled back before the lock is released:
        the connection is shared, and a transaction left open would take in the next
        coroutine's statements.
        """
        async with self._lock:
            tx = SqliteTransaction(self)
            try:
                yield tx
                if tx.begun:
                    await self._call(_commit)
            except BaseException:
                if tx.begun:
                    await self._call(_roll_back)
                raise

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row."""
        async with self._lock:
            return await self._call(functools.partial(_first_row, statement=Statement(sql, params)))

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows."""
        async with self._lock:
            return (
                await self._call(functools.partial(_run, statement=Statement(sql, params)))
            ).rows

    async def read(self, *statements: Statement) -> list[list[Row]]:
        """Run several reads in one round trip, on one snapshot; return each one's rows."""
        begin = "BEGIN" if len(statements) > 1 else None
        async with self._lock:
            outcomes = await self._call(
                functools.partial(_run_all, statements=statements, begin=begin)
            )
        return [outcome.rows for outcome in outcomes]

    async def write(self, *statements: Statement) -> list[Outcome]:
        """Run statements as one write transaction in one round trip; return what each gave.

        BEGIN IMMEDIATE, the statements and COMMIT all run on the connection's thread in one
        go, so a cancelled caller can never leave the transaction half done: it commits whole,
        or fails and is rolled back whole.
        """
        async with self._lock:
            return await self._call(
                functools.partial(_run_all, statements=statements, begin="BEGIN IMMEDIATE")
            )

    async def claim(self, *statements: Statement) -> list[Outcome]:
        """Run claiming statements as one write transaction: SQLite has one writer at a time,
        so a claim is a write like any other."""
        return await self.write(*statements)

    async def table_names(self) -> list[str]:
        """Return the names of the bot's tables (SQLite's own left out), sorted."""
        rows = await self.fetchall(CATALOG[self.engine].tables)
        return [str(row["name"]) for row in rows]

    def describe(self) -> str:
        """Name the database file."""
        return f"SQLite file {self.path}"

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and empty it; False if a reader held it back.

        Until a checkpoint, the WAL keeps the old versions of every page a transaction changed,
        so rows just deleted can still be read from it.
        """
        async with self._lock:
            cursor = await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cursor.fetchone()
            await cursor.close()
        return row is not None and int(row[0]) == 0

    async def migrate(self) -> list[int]:
        """Apply every numbered migration not yet applied; return the versions applied."""
        async with self._lock:
            await self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        applied_rows = await self.fetchall("SELECT version FROM schema_migrations")
        applied = {int(row["version"]) for row in applied_rows}
        done: list[int] = []
        for version, name, sql in migration_files("sqlite"):
            if version in applied:
                continue
            try:
                async with self.transaction() as tx:
                    for statement in split_sql(sql):
                        await tx.execute(statement)
                    await tx.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)",
                        (version, name, to_db_time(datetime.now(UTC))),
                    )
            except sqlite3.Error as exc:
                msg = f"migration {name} failed: {exc}"
                raise MigrationError(msg) from exc
            done.append(version)
        return done

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for a new file."""
        row = await self.fetchone(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        )
        if row is None:
            return 0
        latest = await self.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
        return int(latest["v"] or 0) if latest is not None else 0


def _commit(conn: sqlite3.Connection) -> None:
    conn.execute("COMMIT").close()


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction; nothing to do if none is open.

    The connection's thread runs calls one after another in the order they were queued, so
    the ROLLBACK comes after a BEGIN or COMMIT still under way and before anything queued
    later.
    """
    if not conn.in_transaction:
        # BEGIN never ran or failed, a cancelled COMMIT went through, or SQLite ended the
        # transaction itself after an error: in each case no transaction is left open.
        return
    conn.execute("ROLLBACK").close()


async def _worker_stopped(pending: aiosqlite.Connection) -> None:
    """Wait until a connection that failed to open has stopped its worker thread."""
    # aiosqlite queues the thread's stop itself after a failed open; the thread must see it
    # while the event loop still runs, or it raises "Event loop is closed" and never ends.
    worker = getattr(pending, "_thread", None)
    if isinstance(worker, threading.Thread):
        await asyncio.to_thread(worker.join, WORKER_STOP_SECONDS)


def split_sql(script: str) -> list[str]:
    """Split a migration script into complete statements (executescript would auto-commit)."""
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines():
        if not buffer and (not line.strip() or line.strip().startswith("--")):
            continue
        buffer.append(line)
        candidate = "\n".join(buffer)
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip())
            buffer = []
    if "\n".join(buffer).strip():
        msg = "migration ends in an incomplete statement"
        raise MigrationError(msg)
    return statements
