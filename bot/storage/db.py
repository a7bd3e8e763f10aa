"""The SQLite connection: pragmas, write transactions and numbered migrations.

One ``Database`` owns one aiosqlite connection. Every statement goes through a lock so a read
never sees another coroutine's half-done write; writes start with ``BEGIN IMMEDIATE`` because a
transaction that starts as a read and later writes fails at once with "database is locked"
when another process (the admin CLI) holds the write lock, whatever ``busy_timeout`` says.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000
WORKER_STOP_SECONDS = 10.0

Params = Sequence[Any] | dict[str, Any]


class MigrationError(Exception):
    """A migration file could not be applied; the message names it."""


class DatabaseFileError(OSError):
    """The database file or its folder cannot be created or opened; the message names it."""


def to_db_time(moment: datetime) -> str:
    """Return an aware datetime as the fixed-width UTC text stored in the database."""
    if moment.tzinfo is None:
        msg = "naive datetime given to the database"
        raise ValueError(msg)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(text: str) -> datetime:
    """Parse a stored UTC instant."""
    return datetime.fromisoformat(text)


class Transaction:
    """A write transaction: run statements on the connection while holding the write lock."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> int | None:
        """Run one statement; return the last inserted row id."""
        cursor = await self._conn.execute(sql, params)
        row_id = cursor.lastrowid
        await cursor.close()
        return row_id

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        cursor = await self._conn.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return count

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter set."""
        await self._conn.executemany(sql, rows)

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Read one row inside the transaction."""
        cursor = await self._conn.execute(sql, params)
        row = await cursor.fetchone()
        await cursor.close()
        return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Read all rows inside the transaction."""
        cursor = await self._conn.execute(sql, params)
        rows = await cursor.fetchall()
        await cursor.close()
        return list(rows)


class Database:
    """One SQLite file in WAL mode, shared by the bot's coroutines."""

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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Run a block as one write transaction started with BEGIN IMMEDIATE.

        Whatever ends the block early (an error, a failed COMMIT, a cancelled task, even while
        BEGIN is still under way), the transaction is rolled back before the lock is released:
        the connection is shared, and a transaction left open would take in the next
        coroutine's statements.
        """
        async with self._lock:
            conn = self.conn
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield Transaction(conn)
                await conn.execute("COMMIT")
            except BaseException:
                await _roll_back(conn)
                raise

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Read one row."""
        async with self._lock:
            cursor = await self.conn.execute(sql, params)
            row = await cursor.fetchone()
            await cursor.close()
            return row

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Read all rows."""
        async with self._lock:
            cursor = await self.conn.execute(sql, params)
            rows = await cursor.fetchall()
            await cursor.close()
            return list(rows)

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
        for version, name, sql in _migration_files():
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


async def _roll_back(conn: aiosqlite.Connection) -> None:
    """Roll back the open transaction; nothing to do if none is open.

    The connection runs statements one after another in the order they were queued, so the
    ROLLBACK comes after a BEGIN or COMMIT still under way and before anything queued later.
    """
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        # BEGIN never ran or failed, a cancelled COMMIT went through, or SQLite ended the
        # transaction itself after an error: in each case no transaction is left open.
        if "no transaction is active" not in str(exc):
            raise


async def _worker_stopped(pending: aiosqlite.Connection) -> None:
    """Wait until a connection that failed to open has stopped its worker thread."""
    # aiosqlite queues the thread's stop itself after a failed open; the thread must see it
    # while the event loop still runs, or it raises "Event loop is closed" and never ends.
    worker = getattr(pending, "_thread", None)
    if isinstance(worker, threading.Thread):
        await asyncio.to_thread(worker.join, WORKER_STOP_SECONDS)


def _migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("bot.storage") / "migrations"
    found: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        name = entry.name
        if not name.endswith(".sql"):
            continue
        number, _, _ = name.partition("_")
        if not number.isdigit():
            msg = f"migration file {name} must start with a number"
            raise MigrationError(msg)
        found.append((int(number), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if len(versions) != len(set(versions)):
        msg = "two migration files share a number"
        raise MigrationError(msg)
    return found


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
