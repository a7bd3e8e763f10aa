"""One worker polls Telegram per PostgreSQL database.

Telegram answers a second ``getUpdates`` caller on the same bot with "Conflict", so with
several workers on one database only one may poll; the others would take updates by webhook.
The lock is a PostgreSQL session advisory lock held on a connection of its own for the life of
the process: the server releases it when that connection ends, however the process ends.
"""

from __future__ import annotations

from typing import Any, Final

import psycopg

from bot.storage.db import DatabaseUnavailableError, error_reason

# "RC" + "poll" as a number: the polling worker's lock.
POLLER_LOCK_KEY: Final = 0x5243_706F_6C6C


class PollerLockedError(Exception):
    """Another worker already polls Telegram for this database."""


class PollerLock:
    """The polling worker's lock on a PostgreSQL database, held until the process ends."""

    def __init__(self, url: str, where: str) -> None:
        self._url = url
        self._where = where
        self._conn: psycopg.Connection[Any] | None = None

    def acquire(self) -> None:
        """Take the lock or raise ``PollerLockedError`` (``DatabaseUnavailableError`` if the
        server cannot be reached)."""
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            msg = f"cannot connect to the {self._where}: {error_reason(exc)}"
            raise DatabaseUnavailableError(msg) from None
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (POLLER_LOCK_KEY,)).fetchone()
        if row is None or not row[0]:
            conn.close()
            msg = (
                f"another worker already polls Telegram for the {self._where}; run further "
                "workers with --webhook behind your HTTPS proxy (see README, Running at scale)"
            )
            raise PollerLockedError(msg)
        self._conn = conn

    def release(self) -> None:
        """Release the lock (closing its connection)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
