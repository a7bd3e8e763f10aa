"""One running bot per database: an OS file lock beside the SQLite file.

Two bots on one database both send what is due (patients get every reminder twice) and both
poll Telegram (each gets Conflict errors). ``flock`` on ``<database>.lock`` is held by the open
file for the life of the process and released by the kernel however the process ends, SIGKILL
included, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path


class InstanceLockedError(Exception):
    """Another process holds the database's instance lock; the message says which."""


class InstanceLock:
    """The exclusive lock of one database file, taken once and held until the process ends."""

    def __init__(self, database_path: Path) -> None:
        # Resolved, so two spellings of one file (relative, absolute, a symlink) share a lock.
        database = database_path.resolve()
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise InstanceLockedError (OSError if the file cannot be made)."""
        if self._descriptor is not None:
            return
        if self.database.is_dir():
            # Not a lock beside a folder: the database cannot be opened there anyway.
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(self.database))
        if not self.path.parent.exists():
            self.path.parent.mkdir(mode=0o700, parents=True)
        # O_CLOEXEC: a process started from this one (chart workers) must not inherit it.
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(descriptor)
            msg = (
                f"another companion run is already running on {self.database} "
                f"(process {holder}); stop it first"
            )
            raise InstanceLockedError(msg) from None
        except BaseException:
            os.close(descriptor)
            raise
        # The holder's pid, for the refusal above and for whoever looks at the file.
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
        self._descriptor = descriptor

    def release(self) -> None:
        """Let the lock go (the process ending does the same)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
