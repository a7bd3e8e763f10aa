"""A database with audit rows from before the chain migrates, and the chain starts after them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.clock import ManualClock
from bot.services.audit import AuditService
from bot.storage.audit import GENESIS
from bot.storage.db import migration_files
from bot.storage.repositories import AuditRepository
from bot.storage.sqlite_engine import SqliteDatabase, split_sql

CHAIN_MIGRATION = 7


def old_database(path: Path) -> None:
    """Create a database at the schema before the chain, with two audit rows."""
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, name, sql in migration_files("sqlite"):
        if version >= CHAIN_MIGRATION:
            continue
        for statement in split_sql(sql):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00+00:00')",
            (version, name),
        )
    for action in ("clinician.add", "invite.create"):
        conn.execute(
            "INSERT INTO audit_log (at, actor_kind, action) "
            "VALUES ('2026-01-01T00:00:00+00:00', 'cli', ?)",
            (action,),
        )
    conn.commit()
    conn.close()


async def test_rows_written_before_the_chain_are_counted_apart(tmp_path: Path) -> None:
    """Old rows keep NULL hashes; the first new row chains from zeros; verify says OK."""
    path = tmp_path / "old.sqlite3"
    old_database(path)
    db = SqliteDatabase(path)
    await db.connect()
    try:
        assert CHAIN_MIGRATION in await db.migrate()
        clock = ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
        async with db.transaction() as tx:
            await AuditRepository(db).add(tx, "cli", None, "clinician.add", None, clock.now())
        first = await db.fetchone("SELECT prev_hash FROM audit_log WHERE row_hash IS NOT NULL")
        assert first is not None
        assert first["prev_hash"] == GENESIS
        report = await AuditService(db, clock).verify()
        assert report.ok, report.problem
        assert (report.rows, report.unchained) == (3, 2)
    finally:
        await db.close()
