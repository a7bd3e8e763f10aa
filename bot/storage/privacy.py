"""Privacy: all the SQL behind a patient's data export and erasure, found from the schema itself.

Tables are discovered from the engine's catalog on every call, so a table added by a later
migration is covered the day it lands. A table holds a patient's rows when it has a
``patient_id`` column; ``flows`` is keyed by the patient's Telegram user id; a table without a
column of its own but with a foreign key to ``patients`` or to one of those tables is reached
through that key. Every other table is reported as holding nothing about patients.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from graphlib import CycleError, TopologicalSorter
from typing import Any

from bot.storage.db import Database, Transaction
from bot.storage.db import Row as DbRow
from bot.storage.dialect import CATALOG

PATIENTS_TABLE = "patients"
PATIENT_COLUMN = "patient_id"
FLOWS_TABLE = "flows"
FLOWS_USER_COLUMN = "user_id"
# Kept on erasure with the patient link removed: clinics must keep their access records.
DELINKED_TABLES = frozenset({"audit_log"})

Row = dict[str, Any]


class Link(StrEnum):
    """How a table's rows belong to a patient."""

    PROFILE = "profile"  # the patients row itself
    PATIENT_ID = "patient_id"
    TELEGRAM_USER = "telegram_user"
    FOREIGN_KEY = "foreign_key"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ForeignKey:
    """One column of a table that references a column of another table."""

    column: str
    table: str
    to: str


@dataclass(frozen=True, slots=True)
class TableShape:
    """A table's columns, its foreign keys and how its rows belong to a patient."""

    name: str
    columns: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    link: Link
    via: ForeignKey | None = None

    def references(self, table: str) -> bool:
        """Return whether any column of this table references the given table."""
        return any(fk.table == table for fk in self.foreign_keys)


def quote(name: str) -> str:
    """Return an SQL identifier quoted, so a discovered name is never read as SQL."""
    return '"' + name.replace('"', '""') + '"'


def _as_dict(row: DbRow) -> Row:
    return {key: row[key] for key in row.keys()}  # noqa: SIM118 - DbRow is not a mapping


class PrivacyRepository:
    """Discovers where a patient's rows are, reads them all and erases them in one go."""

    async def enrollment_code_hash(
        self, reader: Database | Transaction, patient_id: int
    ) -> str | None:
        """Return the hash of the invite code a patient enrolled with (None if there is none)."""
        row = await reader.fetchone(
            "SELECT code_hash FROM invites WHERE patient_id = ? AND used_at IS NOT NULL "
            "ORDER BY used_at DESC, id DESC LIMIT 1",
            (patient_id,),
        )
        return str(row["code_hash"]) if row else None

    async def shapes(self, tx: Transaction) -> list[TableShape]:
        """Return every table in the database with how its rows belong to a patient, by name."""
        catalog = CATALOG[tx.engine]
        names = [str(row["name"]) for row in await tx.fetchall(catalog.tables)]
        columns: dict[str, tuple[str, ...]] = {}
        primary: dict[str, str] = {}
        keys: dict[str, tuple[ForeignKey, ...]] = {}
        for name in names:
            info = await tx.fetchall(catalog.columns, {"table": name})
            columns[name] = tuple(str(row["name"]) for row in info)
            pks = [str(row["name"]) for row in info if row["pk"]]
            primary[name] = pks[0] if len(pks) == 1 else catalog.row_identity
        for name in names:
            fks = await tx.fetchall(catalog.foreign_keys, {"table": name})
            keys[name] = tuple(
                ForeignKey(
                    column=str(row["from"]),
                    table=str(row["table"]),
                    to=str(row["to"])
                    if row["to"]
                    else primary.get(str(row["table"]), catalog.row_identity),
                )
                for row in fks
            )
        direct = {
            name
            for name in names
            if name != PATIENTS_TABLE and PATIENT_COLUMN in columns[name] and name != FLOWS_TABLE
        }
        shapes: list[TableShape] = []
        for name in names:
            link, via = _link_of(name, columns[name], keys[name], direct)
            shapes.append(TableShape(name, columns[name], keys[name], link, via))
        return shapes

    async def rows(
        self, tx: Transaction, shape: TableShape, patient_id: int, telegram_user_id: int | None
    ) -> list[Row]:
        """Return a table's rows that belong to a patient (none for an unlinked table)."""
        where = _where(shape, patient_id, telegram_user_id)
        if where is None:
            return []
        condition, params = where
        found = await tx.fetchall(
            f"SELECT * FROM {quote(shape.name)} WHERE {condition} ORDER BY 1",  # noqa: S608 - names quoted, values bound
            params,
        )
        return [_as_dict(row) for row in found]

    async def erase(
        self,
        tx: Transaction,
        shapes: list[TableShape],
        patient_id: int,
        telegram_user_id: int | None,
    ) -> dict[str, int]:
        """Delete every row of a patient, children before parents; return rows per table.

        The audit log keeps its rows with the patient link (and the patient as actor) removed.
        """
        erased: dict[str, int] = {}
        for shape in _deletion_order(shapes):
            where = _where(shape, patient_id, telegram_user_id)
            if where is None:
                continue
            condition, params = where
            if shape.name in DELINKED_TABLES:
                erased[shape.name] = await self._delink(tx, shape, patient_id)
                continue
            erased[shape.name] = await tx.execute_rowcount(
                f"DELETE FROM {quote(shape.name)} WHERE {condition}",  # noqa: S608 - names quoted, values bound
                params,
            )
        return erased

    async def _delink(self, tx: Transaction, shape: TableShape, patient_id: int) -> int:
        changed = 0
        if PATIENT_COLUMN in shape.columns:
            changed += await tx.execute_rowcount(
                f"UPDATE {quote(shape.name)} SET {PATIENT_COLUMN} = NULL "  # noqa: S608 - names quoted, values bound
                f"WHERE {PATIENT_COLUMN} = ?",
                (patient_id,),
            )
        if {"actor_kind", "actor_id"} <= set(shape.columns):
            # A patient acting on their own data is recorded as the actor too.
            changed += await tx.execute_rowcount(
                f"UPDATE {quote(shape.name)} SET actor_id = NULL "  # noqa: S608 - names quoted, values bound
                "WHERE actor_kind = 'patient' AND actor_id = ?",
                (patient_id,),
            )
        return changed


def _link_of(
    name: str,
    columns: tuple[str, ...],
    keys: tuple[ForeignKey, ...],
    direct: set[str],
) -> tuple[Link, ForeignKey | None]:
    if name == PATIENTS_TABLE:
        return Link.PROFILE, None
    if name == FLOWS_TABLE and FLOWS_USER_COLUMN in columns:
        return Link.TELEGRAM_USER, None
    if name in direct:
        return Link.PATIENT_ID, None
    for fk in keys:
        if fk.table == PATIENTS_TABLE or fk.table in direct:
            return Link.FOREIGN_KEY, fk
    return Link.NONE, None


def _where(
    shape: TableShape, patient_id: int, telegram_user_id: int | None
) -> tuple[str, tuple[int, ...]] | None:
    if shape.link == Link.PROFILE:
        return "id = ?", (patient_id,)
    if shape.link == Link.PATIENT_ID:
        return f"{PATIENT_COLUMN} = ?", (patient_id,)
    if shape.link == Link.TELEGRAM_USER:
        if telegram_user_id is None:
            return None
        return f"{quote(FLOWS_USER_COLUMN)} = ?", (telegram_user_id,)
    if shape.link == Link.FOREIGN_KEY and shape.via is not None:
        fk = shape.via
        if fk.table == PATIENTS_TABLE:
            return f"{quote(fk.column)} = ?", (patient_id,)
        return (
            f"{quote(fk.column)} IN (SELECT {quote(fk.to)} FROM {quote(fk.table)} "  # noqa: S608 - names quoted, values bound
            f"WHERE {PATIENT_COLUMN} = ?)",
            (patient_id,),
        )
    return None


def _deletion_order(shapes: list[TableShape]) -> list[TableShape]:
    """Order linked tables so that a table is emptied before any table it references."""
    linked = {shape.name: shape for shape in shapes if shape.link != Link.NONE}
    # A node's "predecessors" here are the tables that reference it, so they come out first.
    graph: dict[str, set[str]] = {name: set() for name in linked}
    for shape in linked.values():
        for fk in shape.foreign_keys:
            if fk.table in linked and fk.table != shape.name:
                graph[fk.table].add(shape.name)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError:
        # Tables that reference each other rely on their ON DELETE actions; the patient goes last.
        order = sorted(linked, key=lambda name: (name == PATIENTS_TABLE, name))
    return [linked[name] for name in order]
