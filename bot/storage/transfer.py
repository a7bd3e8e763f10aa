"""Moving a clinic's data from its SQLite file into an empty PostgreSQL database, whole.

``companion migrate-to`` runs this once, with the bot stopped. Everything is copied in one
PostgreSQL transaction, so a failure at any row leaves the target as empty as it was; the
SQLite file is read inside a write transaction of its own, so no other command can change it
half-way through the copy, and it is never written.

The copy knows no table in advance beyond the few below that need care: the tables come from
``Database.table_names()``, their order from the target's foreign keys (parents first), and
each row's columns from the row itself, so a migration that adds a table or a column needs no
change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Final

from bot.storage.db import Database, Row, Transaction
from bot.storage.dialect import CATALOG
from bot.storage.privacy import quote

BATCH_ROWS: Final = 500
# Each database's own migrations wrote it; its rows say what was applied there, not here.
NOT_COPIED: Final = frozenset({"schema_migrations"})
# The running workers' state, not the clinic's data: which workers ran and what they held
# (the stopped SQLite bot's worker would otherwise hold the planner's lease for a while), and
# the send budget several workers share on PostgreSQL only.
RUNTIME_STATE: Final = frozenset({"workers", "leases", "send_budget_chats", "send_budget_slots"})
# Filled in by the target's triggers as other rows arrive: a new patient gets a plan_state row
# and a new schedule row marks its patient's plan out of date. Copied after every other table,
# in place of what the triggers made, so each plan's version and reach stay exactly as they
# were and the planner neither re-plans nor skips anyone.
TRIGGER_MADE: Final = ("plan_state",)
# Audit rows written before the hash chain began (sqlite/0007_audit_chain.sql) have no hash,
# and the insert guard refuses a row without one. Those rows are let in, and only those: the
# guard is off for their inserts alone, inside the copy's transaction, where no other
# connection can write to the table.
AUDIT_TABLE: Final = "audit_log"
AUDIT_INSERT_GUARD: Final = "audit_log_insert_chained"
_POSITION: Final = "transfer_position"
_IDENTITY_COLUMNS: Final = (
    "SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass(:table) "
    "AND attidentity <> '' AND NOT attisdropped"
)


class TransferError(Exception):
    """The copy was refused or did not check out; the message says why, and nothing was kept."""


@dataclass(frozen=True, slots=True)
class TransferReport:
    """Rows copied per table, in the order they were copied."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        """Return every row copied."""
        return sum(self.rows.values())


async def copy_database(
    source: Database, target: Database, *, batch_rows: int = BATCH_ROWS
) -> TransferReport:
    """Copy every row of ``source`` (SQLite) into ``target`` (PostgreSQL, migrated, empty).

    Both must be connected and at the same schema version. Raise ``TransferError`` if the
    target holds any row already, or if the counts differ afterwards; either way, and on any
    database error, the target is left as it was.
    """
    if source.engine != "sqlite" or target.engine != "postgresql":
        msg = "the copy goes from a SQLite file to a PostgreSQL database"
        raise TransferError(msg)
    tables = await _common_tables(source, target)
    here, there = await source.schema_version(), await target.schema_version()
    if here != there:
        msg = f"the SQLite file is at schema version {here} but the target at {there}"
        raise TransferError(msg)
    async with target.transaction() as write:
        await _refuse_if_occupied(write, tables)
        order = await _parents_first(write, tables)
        async with source.transaction() as read:
            copied = {table: await _copy_table(read, write, table, batch_rows) for table in order}
            await _check_counts(read, write, copied)
        await _restart_identities(write, order)
    return TransferReport(copied)


async def _common_tables(source: Database, target: Database) -> list[str]:
    """Return the tables to copy; both databases must have the same ones."""
    mine = set(await source.table_names()) - NOT_COPIED - RUNTIME_STATE
    theirs = set(await target.table_names()) - NOT_COPIED - RUNTIME_STATE
    if mine != theirs:
        missing = ", ".join(sorted(mine - theirs)) or "none"
        extra = ", ".join(sorted(theirs - mine)) or "none"
        msg = (
            "the two databases have different tables "
            f"(missing from the target: {missing}; only in the target: {extra})"
        )
        raise TransferError(msg)
    return sorted(mine)


async def _refuse_if_occupied(write: Transaction, tables: Sequence[str]) -> None:
    """Refuse a target that holds any row: a copy never merges into live data."""
    occupied = [
        table
        for table in tables
        if await write.fetchone(f"SELECT 1 FROM {quote(table)} LIMIT 1")  # noqa: S608 - quoted name
        is not None
    ]
    if occupied:
        msg = (
            f"the target already holds data (in {', '.join(occupied)}); "
            "migrate-to only fills an empty database, so nothing was copied"
        )
        raise TransferError(msg)


async def _parents_first(write: Transaction, tables: Sequence[str]) -> list[str]:
    """Order the tables so every row's parent is copied before it, trigger-made ones last."""
    catalog = CATALOG[write.engine]
    graph: dict[str, set[str]] = {}
    for table in tables:
        parents = await write.fetchall(catalog.foreign_keys, {"table": table})
        graph[table] = {str(row["table"]) for row in parents} - {table}
    try:
        sorter = TopologicalSorter(graph)
        sorter.prepare()
    except CycleError as exc:
        msg = f"the tables' foreign keys form a circle: {exc.args[1]}"
        raise TransferError(msg) from None
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready())  # sorted: the same order on every run
        order.extend(ready)
        sorter.done(*ready)
    return [t for t in order if t not in TRIGGER_MADE] + [t for t in order if t in TRIGGER_MADE]


async def _copy_table(read: Transaction, write: Transaction, table: str, batch_rows: int) -> int:
    """Copy one table in batches, in the source's row order; return the rows copied."""
    name = quote(table)
    row_identity = CATALOG[read.engine].row_identity
    if table in TRIGGER_MADE:
        await write.execute(f"DELETE FROM {name}")  # noqa: S608 - quoted name
    guard_off = table == AUDIT_TABLE and await _has_unchained_audit_rows(read)
    copied = 0
    after: int | None = None
    while True:
        rows = await read.fetchall(
            f"SELECT {row_identity} AS {_POSITION}, * FROM {name} "  # noqa: S608 - quoted name
            f"WHERE ? IS NULL OR {row_identity} > ? ORDER BY {row_identity} LIMIT ?",
            (after, after, batch_rows),
        )
        if not rows:
            return copied
        after = int(rows[-1][_POSITION])
        if guard_off:
            await _insert_audit_rows(write, rows)
        else:
            await _insert(write, table, rows)
        copied += len(rows)


async def _insert(write: Transaction, table: str, rows: Sequence[Row]) -> None:
    """Insert rows as they are, column for column by name (the position column left out)."""
    columns = [column for column in rows[0].keys() if column != _POSITION]  # noqa: SIM118 - a Row is not a mapping
    names = ", ".join(quote(column) for column in columns)
    marks = ", ".join("?" for _ in columns)
    await write.executemany(
        f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})",  # noqa: S608 - quoted names
        [tuple(row[column] for column in columns) for row in rows],
    )


async def _has_unchained_audit_rows(read: Transaction) -> bool:
    found = await read.fetchone(
        f"SELECT 1 FROM {quote(AUDIT_TABLE)} WHERE row_hash IS NULL LIMIT 1"  # noqa: S608 - constant
    )
    return found is not None


async def _insert_audit_rows(write: Transaction, rows: Sequence[Row]) -> None:
    """Insert a batch of audit rows, the ones from before the chain with the guard off."""
    unchained = [row for row in rows if row["row_hash"] is None]
    chained = [row for row in rows if row["row_hash"] is not None]
    if unchained:
        await write.execute(f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER {AUDIT_INSERT_GUARD}")
        await _insert(write, AUDIT_TABLE, unchained)
        await write.execute(f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER {AUDIT_INSERT_GUARD}")
    if chained:
        await _insert(write, AUDIT_TABLE, chained)


async def _check_counts(read: Transaction, write: Transaction, copied: dict[str, int]) -> None:
    """Count every table on both sides; any difference undoes the whole copy."""
    for table, count in copied.items():
        sql = f"SELECT COUNT(*) AS n FROM {quote(table)}"  # noqa: S608 - quoted name
        source_row, target_row = await read.fetchone(sql), await write.fetchone(sql)
        here = int(source_row["n"]) if source_row else 0
        there = int(target_row["n"]) if target_row else 0
        if not here == there == count:
            msg = (
                f"{table} has {here} rows in the SQLite file but {there} in the target "
                f"after copying {count}; nothing was kept"
            )
            raise TransferError(msg)


async def _restart_identities(write: Transaction, tables: Sequence[str]) -> None:
    """Move every identity column's sequence past the copied ids, so new rows never collide."""
    for table in tables:
        for column in await write.fetchall(_IDENTITY_COLUMNS, {"table": quote(table)}):
            highest = f"SELECT MAX({quote(str(column['name']))}) FROM {quote(table)}"  # noqa: S608 - quoted names
            await write.fetchone(
                "SELECT setval(pg_get_serial_sequence(:table, :column), "
                f"COALESCE(({highest}), 0) + 1, false) AS v",
                {"table": quote(table), "column": str(column["name"])},
            )
