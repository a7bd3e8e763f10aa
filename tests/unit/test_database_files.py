"""The database file on disk: owner-only permissions, a clean failure on a broken file."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.storage.sqlite_engine import SqliteDatabase


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Run with the common default umask (group and others may read new files)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def threads_left(before: set[threading.Thread]) -> set[threading.Thread]:
    """Return the threads started since ``before`` that are still alive after a short wait."""
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=5)  # a stopped worker may take a moment to return
    return set(threading.enumerate()) - before


def mode(path: Path) -> int:
    """Return a file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_database_wal_and_shm_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    """The database, its -wal and -shm files are created 0600, its new folder 0700."""
    path = tmp_path / "data" / "companion.sqlite3"
    db = SqliteDatabase(path)
    await db.connect()
    try:
        await db.migrate()
        wal = path.with_name(path.name + "-wal")
        shm = path.with_name(path.name + "-shm")
        assert wal.exists()
        assert shm.exists()
        assert (mode(path), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
        assert mode(path.parent) == 0o700
    finally:
        await db.close()


async def test_a_file_that_is_not_a_database_fails_without_leaving_a_thread(
    tmp_path: Path,
) -> None:
    """Connecting to a non-SQLite file raises and stops the connection's worker thread."""
    path = tmp_path / "not-a-database.sqlite3"
    path.write_bytes(b"this is a text file, not SQLite, and it is long enough" * 40)
    before = set(threading.enumerate())
    db = SqliteDatabase(path)
    with pytest.raises(sqlite3.DatabaseError):
        await db.connect()
    await db.close()
    assert threads_left(before) == set(), "a worker thread would keep the process alive"


async def test_a_folder_given_as_the_database_fails_without_leaving_a_thread(
    tmp_path: Path,
) -> None:
    """A folder where the file should be is refused with a message naming it; no thread stays."""
    before = set(threading.enumerate())
    db = SqliteDatabase(tmp_path)
    with pytest.raises(OSError, match="cannot open the database") as raised:
        await db.connect()
    assert str(tmp_path) in str(raised.value)
    assert threads_left(before) == set()


async def test_secure_delete_is_on(tmp_path: Path) -> None:
    """Deleted rows are overwritten with zeros, whatever SQLite's compiled-in default."""
    db = SqliteDatabase(tmp_path / "companion.sqlite3")
    await db.connect()
    try:
        row = await db.fetchone("PRAGMA secure_delete")
        assert row is not None
        assert row[0] == 1
    finally:
        await db.close()
