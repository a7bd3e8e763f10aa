"""The storage interface: one ``Database`` whatever engine holds the data.

Two engines implement it: SQLite (``bot/storage/sqlite_engine.py``, the embedded default, one
file) and PostgreSQL (``bot/storage/postgres_engine.py``, for several workers on a managed
server). The repositories write their SQL once, in SQLite's dialect; the few constructs that
PostgreSQL spells differently are translated in one place, ``bot/storage/dialect.py``, where
each SQLite form stands beside its PostgreSQL form. Migrations are kept per engine, version for
version, in ``bot/storage/migrations/<engine>/``.

Both engines give the same guarantees: a write transaction (``transaction()`` or ``write()``)
is serialised with every other write transaction, whichever process runs it, so a transaction
that reads and then decides never acts on a stale read; ``read()`` of several statements sees
one snapshot; a block that fails or is cancelled is rolled back whole.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal, Protocol

Params = Sequence[Any] | dict[str, Any]
Engine = Literal["sqlite", "postgresql"]


class Row(Protocol):
    """A result row, read by column name (case-insensitive) or by position."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class MigrationError(Exception):
    """A migration file could not be applied; the message names it."""


class DatabaseFileError(OSError):
    """The database file or its folder cannot be created or opened; the message names it."""


class DatabaseUnavailableError(OSError):
    """The database server cannot be reached or refused us; the message says which, never how
    to log in."""


def error_reason(exc: BaseException) -> str:
    """Return the first line of a database error, for a one-line message.

    PostgreSQL's further lines (DETAIL, CONTEXT) may quote a row's values; the first never
    holds a connection URL's password.
    """
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def to_db_time(moment: datetime) -> str:
    """Return an aware datetime as the fixed-width UTC text stored in the database."""
    if moment.tzinfo is None:
        msg = "naive datetime given to the database"
        raise ValueError(msg)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db_time(text: str) -> datetime:
    """Parse a stored UTC instant."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class Statement:
    """One SQL statement and its parameters, to run with others in one round trip.

    ``when``, if given, decides from what the statements before it in the same batch gave
    whether it runs at all; it may run on a database thread, so it only reads them.
    """

    sql: str
    params: Params = ()
    when: Callable[[Sequence[Outcome]], bool] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one statement gave: its rows (none for most writes), changes and inserted id."""

    rows: list[Row]
    rowcount: int
    lastrowid: int | None
    ran: bool = True  # False: its ``when`` said no

    @property
    def first(self) -> Row | None:
        """Return the first row, or None when there is none."""
        return self.rows[0] if self.rows else None


class Transaction(ABC):
    """A write transaction: statements run on one connection while holding the write lock."""

    engine: Engine

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int | None:
        """Run one statement; return the id of the row it inserted, if any."""

    @abstractmethod
    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter set."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row inside the transaction."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows inside the transaction."""

    @abstractmethod
    async def run(self, *statements: Statement) -> list[Outcome]:
        """Run several statements in order; return what each gave."""


class Database(ABC):
    """The bot's data, on one engine; every method is one round trip where the engine allows."""

    engine: Engine

    @abstractmethod
    async def connect(self) -> None:
        """Open the connection (or pool); raise a clear error if the database cannot be used."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection."""

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Run a block as one write transaction, serialised with every other writer."""

    @abstractmethod
    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row."""

    @abstractmethod
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows."""

    @abstractmethod
    async def read(self, *statements: Statement) -> list[list[Row]]:
        """Run several reads on one snapshot; return each one's rows."""

    @abstractmethod
    async def write(self, *statements: Statement) -> list[Outcome]:
        """Run statements as one write transaction; return what each gave."""

    @abstractmethod
    async def claim(self, *statements: Statement) -> list[Outcome]:
        """Run statements that claim rows with row locks (``FOR UPDATE SKIP LOCKED`` where the
        engine has it) as one transaction that does not wait for other writers' lock."""

    @abstractmethod
    async def checkpoint(self) -> bool:
        """Make erased rows unreadable from the engine's logs where it can; False if held back."""

    @abstractmethod
    async def migrate(self) -> list[int]:
        """Apply every numbered migration not yet applied; return the versions applied."""

    @abstractmethod
    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for a new database."""

    @abstractmethod
    async def table_names(self) -> list[str]:
        """Return the names of the bot's tables, sorted."""

    @abstractmethod
    def describe(self) -> str:
        """Say where the data is, for logs and messages, without any password."""


def migration_files(engine: Engine) -> list[tuple[int, str, str]]:
    """Return ``(version, file name, SQL)`` for one engine's migrations, in order."""
    folder = resources.files("bot.storage") / "migrations" / engine
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
