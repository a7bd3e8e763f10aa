"""The PostgreSQL engine: a connection pool shared by the bot's coroutines and other workers.

Several ``companion run`` processes may share one PostgreSQL database. To keep the guarantees
the SQLite engine gives by having one writer at a time, every write transaction takes one
transaction-level advisory lock first (``pg_advisory_xact_lock``), released by its COMMIT or
ROLLBACK, so no transaction that reads and then decides acts on a read another worker made
stale. Reads take no lock and run in parallel on the pool. Claiming due deliveries does not
wait for that lock: it locks the rows it takes with ``FOR UPDATE SKIP LOCKED``, so two workers
claiming at once each take different rows (``Database.claim``).

The SQL arrives in SQLite's dialect and is rewritten once per text (``bot/storage/dialect.py``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

import psycopg
from psycopg import adapt, conninfo, pq
from psycopg.rows import RowMaker
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.storage.db import (
    Database,
    DatabaseUnavailableError,
    MigrationError,
    Outcome,
    Params,
    Row,
    Statement,
    Transaction,
    error_reason,
    migration_files,
    to_db_time,
)
from bot.storage.dialect import CATALOG, to_postgresql

log = logging.getLogger(__name__)

# Every write transaction of every worker takes this lock first ("RC" + "writ" as a number).
WRITE_LOCK_KEY: Final = 0x5243_7772_6974
CONNECT_TIMEOUT_SECONDS: Final = 10.0
_NUMERIC_OID: Final = 1700


class PgRow:
    """A row read by column name (case-insensitive, as SQLite's rows are) or by position."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, values: Sequence[Any], names: list[str], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._names = names
        self._index = index

    def __getitem__(self, key: int | str, /) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key.lower()]]
            except KeyError:
                msg = f"no such column: {key}"
                raise IndexError(msg) from None
        return self._values[key]

    def keys(self) -> list[str]:
        """Return the column names, in order."""
        return list(self._names)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PgRow):
            return NotImplemented
        return self._names == other._names and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _row_factory(cursor: psycopg.AsyncCursor[Any]) -> RowMaker[PgRow]:
    names = [column.name for column in cursor.description or ()]
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name.lower(), position)

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(values, names, index)

    return make


class _FlagDumper(adapt.Dumper):
    """True and False are stored as 1 and 0, as SQLite stores them."""

    oid = 20  # int8

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


class _DateDumper(adapt.Dumper):
    """A date is stored as ISO text, as Python's sqlite3 stores it."""

    oid = 0  # unknown: PostgreSQL reads it as the text column it is compared with

    def dump(self, obj: Any) -> bytes:
        return str(obj.isoformat()).encode()


class _DateTimeDumper(adapt.Dumper):
    """An aware instant is stored as the fixed-width UTC text both engines keep."""

    oid = 0

    def dump(self, obj: Any) -> bytes:
        return to_db_time(obj).encode()


class _NumberLoader(adapt.Loader):
    """SUM and AVG give NUMERIC; read it as SQLite gives it, an int when whole, else a float."""

    def load(self, data: Any) -> int | float:
        number = Decimal(bytes(data).decode())
        whole = number.to_integral_value()
        return int(whole) if number == whole else float(number)


def _store_as_sqlite_does(adapters: adapt.AdaptersMap) -> None:
    adapters.register_dumper(bool, _FlagDumper)
    adapters.register_dumper(date, _DateDumper)
    adapters.register_dumper(datetime, _DateTimeDumper)
    adapters.register_loader(_NUMERIC_OID, _NumberLoader)


async def _run(conn: psycopg.AsyncConnection[Any], statement: Statement) -> Outcome:
    translated = to_postgresql(statement.sql)
    cursor = conn.cursor(row_factory=_row_factory)
    try:
        await cursor.execute(translated.sql, statement.params or None)
        rows: list[Row] = list(await cursor.fetchall()) if cursor.description else []
        if translated.returns_id:
            return Outcome([], cursor.rowcount, int(rows[0]["id"]) if rows else None)
        return Outcome(rows, cursor.rowcount, None)
    finally:
        await cursor.close()


async def _in_order(
    conn: psycopg.AsyncConnection[Any], statements: Sequence[Statement]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for statement in statements:
        if statement.when is not None and not statement.when(outcomes):
            outcomes.append(Outcome([], 0, None, ran=False))
        else:
            outcomes.append(await _run(conn, statement))
    return outcomes


class PostgresTransaction(Transaction):
    """A write transaction on one pooled connection; BEGIN and the write lock come with the
    first statement, so a block that runs none costs nothing."""

    engine = "postgresql"

    def __init__(self, conn: psycopg.AsyncConnection[Any], *, exclusive: bool = True) -> None:
        self._conn = conn
        self._exclusive = exclusive
        self.begun = False

    async def _begin(self) -> None:
        if self.begun:
            return
        self.begun = True
        if self._exclusive:
            await self._conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")
        else:
            await self._conn.execute("BEGIN")

    async def _one(self, sql: str, params: Params) -> Outcome:
        await self._begin()
        return await _run(self._conn, Statement(sql, params))

    async def execute(self, sql: str, params: Params = ()) -> int | None:
        """Run one statement; return the id of the row it inserted, if any."""
        return (await self._one(sql, params)).lastrowid

    async def execute_rowcount(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return (await self._one(sql, params)).rowcount

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        """Run one statement for each parameter set, pipelined."""
        batch = list(rows)
        if not batch:
            return
        await self._begin()
        async with self._conn.cursor() as cursor:
            await cursor.executemany(to_postgresql(sql).sql, batch)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row inside the transaction."""
        return (await self._one(sql, params)).first

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows inside the transaction."""
        return (await self._one(sql, params)).rows

    async def run(self, *statements: Statement) -> list[Outcome]:
        """Run several statements in order; return what each gave."""
        await self._begin()
        return await _in_order(self._conn, statements)

    async def finish(self, *, commit: bool) -> None:
        """COMMIT or ROLLBACK whatever was begun."""
        if not self.begun:
            return
        if commit:
            await self._conn.execute("COMMIT")
        elif self._conn.info.transaction_status != pq.TransactionStatus.IDLE:
            await self._conn.execute("ROLLBACK")


class PostgresDatabase(Database):
    """A PostgreSQL database reached through a pool of autocommit connections."""

    engine = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None

    def describe(self) -> str:
        """Name the server and database, never the password."""
        try:
            parts = conninfo.conninfo_to_dict(self._url)
        except psycopg.ProgrammingError:
            return "PostgreSQL (an unreadable DATABASE_URL)"
        host = parts.get("host", "localhost")
        port = parts.get("port", "5432")
        name = parts.get("dbname", "")
        return f"PostgreSQL database {name} on {host}:{port}"

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Set up each new connection: UTC, and values stored as SQLite stores them."""
        _store_as_sqlite_does(conn.adapters)
        await conn.execute("SET TIME ZONE 'UTC'")

    async def connect(self) -> None:
        """Open the pool and wait for its first connection; a server that cannot be used
        raises ``DatabaseUnavailableError`` naming it (and the server's reason) at once."""
        if self._pool is not None:
            return
        try:
            # One plain connection first: a refusal or a wrong password is told at once, in
            # the server's own words, instead of after the pool's retries run out.
            probe = await psycopg.AsyncConnection.connect(
                self._url, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)
            )
        except psycopg.Error as exc:
            msg = f"cannot connect to the {self.describe()}: {error_reason(exc)}"
            raise DatabaseUnavailableError(msg) from None
        await probe.close()
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._url,
            min_size=1,
            max_size=max(1, self._pool_size),
            kwargs={"autocommit": True},
            configure=self._configure,
            open=False,
            name="companion",
        )
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout:
            await pool.close()
            msg = f"cannot connect to the {self.describe()}: no connection in time"
            raise DatabaseUnavailableError(msg) from None
        self._pool = pool

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
        """Return the open pool."""
        if self._pool is None:
            msg = "database is not connected"
            raise RuntimeError(msg)
        return self._pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self.pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, *, exclusive: bool) -> AsyncIterator[PostgresTransaction]:
        async with self._connection() as conn:
            tx = PostgresTransaction(conn, exclusive=exclusive)
            try:
                yield tx
            except BaseException:
                try:
                    await tx.finish(commit=False)
                except psycopg.Error:
                    # The connection broke with the block; the pool discards it, and the
                    # server rolls the transaction back and frees its lock when it closes.
                    log.warning("rollback failed; the connection is dropped")
                raise
            await tx.finish(commit=True)

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """Run a block as one write transaction, after every other worker's write."""
        return self._transaction(exclusive=True)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        """Read one row."""
        async with self._connection() as conn:
            return (await _run(conn, Statement(sql, params))).first

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Read all rows."""
        async with self._connection() as conn:
            return (await _run(conn, Statement(sql, params))).rows

    async def read(self, *statements: Statement) -> list[list[Row]]:
        """Run several reads on one snapshot (REPEATABLE READ, read only)."""
        async with self._connection() as conn:
            if len(statements) == 1:
                return [(await _run(conn, statements[0])).rows]
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                outcomes = await _in_order(conn, statements)
            finally:
                await conn.execute("ROLLBACK")
        return [outcome.rows for outcome in outcomes]

    async def write(self, *statements: Statement) -> list[Outcome]:
        """Run statements as one write transaction, after every other worker's write."""
        async with self._transaction(exclusive=True) as tx:
            return await tx.run(*statements)

    async def claim(self, *statements: Statement) -> list[Outcome]:
        """Run row-locking claims as one transaction that takes no write lock."""
        async with self._transaction(exclusive=False) as tx:
            return await tx.run(*statements)

    async def checkpoint(self) -> bool:
        """VACUUM, so the versions of rows just erased are removed from the tables' pages."""
        async with self._connection() as conn:
            await conn.execute("VACUUM")
        return True

    async def table_names(self) -> list[str]:
        """Return the bot's tables in the current schema, sorted."""
        rows = await self.fetchall(CATALOG[self.engine].tables)
        return [str(row["name"]) for row in rows]

    async def migrate(self) -> list[int]:
        """Apply every migration not yet applied, each in its own transaction under the write
        lock, so workers starting together apply each one once."""
        done: list[int] = []
        for version, name, sql in migration_files("postgresql"):
            async with self._connection() as conn:
                try:
                    await conn.execute(
                        f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY}); "
                        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY "
                        "KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                    )
                    applied = await (
                        await conn.execute(
                            "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                        )
                    ).fetchone()
                    if applied is None:
                        await conn.execute(sql.encode())
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) "
                            "VALUES (%s, %s, %s)",
                            (version, name, to_db_time(datetime.now(UTC))),
                        )
                        done.append(version)
                    await conn.execute("COMMIT")
                except psycopg.Error as exc:
                    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
                        await conn.execute("ROLLBACK")
                    msg = f"migration {name} failed: {exc}"
                    raise MigrationError(msg) from exc
        return done

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 for a new database."""
        row = await self.fetchone("SELECT to_regclass('schema_migrations') IS NOT NULL AS found")
        if row is None or not row["found"]:
            return 0
        latest = await self.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
        return int(latest["v"] or 0) if latest is not None else 0
