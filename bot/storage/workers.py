"""The workers and leases tables: which processes run, and which of them holds which duty."""

from __future__ import annotations

from datetime import datetime

from bot.storage.db import Database, Statement, to_db_time


class WorkerRepository:
    """Registers workers, keeps them alive, and grants leases on duties."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def register(self, worker: str, host: str, pid: int, now: datetime) -> None:
        """Record a worker that has just started."""
        stamp = to_db_time(now)
        await self._db.write(
            Statement(
                "INSERT INTO workers (id, host, pid, started_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                (worker, host, pid, stamp, stamp),
            )
        )

    async def heartbeat(self, worker: str, now: datetime, lease_until: datetime) -> None:
        """Say the worker is alive and renew the leases it holds, in one transaction."""
        await self._db.write(
            Statement("UPDATE workers SET seen_at = ? WHERE id = ?", (to_db_time(now), worker)),
            Statement(
                "UPDATE leases SET until = ? WHERE holder = ?", (to_db_time(lease_until), worker)
            ),
        )

    async def hold(self, name: str, worker: str, now: datetime, until: datetime) -> bool:
        """Take or renew the lease on a duty; False while another live worker holds it."""
        [outcome] = await self._db.write(
            Statement(
                "INSERT INTO leases (name, holder, until) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "until = excluded.until "
                "WHERE leases.holder = excluded.holder OR leases.until < ? RETURNING holder",
                (name, worker, to_db_time(until), to_db_time(now)),
            )
        )
        return outcome.first is not None

    async def leave(self, worker: str) -> None:
        """Forget a worker that stops cleanly: its leases are free for the others at once."""
        await self._db.write(
            Statement("DELETE FROM leases WHERE holder = ?", (worker,)),
            Statement("DELETE FROM workers WHERE id = ?", (worker,)),
        )

    async def forget_dead(self, seen_before: datetime) -> int:
        """Remove the rows of workers not seen since ``seen_before``; return how many."""
        [outcome] = await self._db.write(
            Statement("DELETE FROM workers WHERE seen_at < ?", (to_db_time(seen_before),))
        )
        return outcome.rowcount

    async def live(self, seen_since: datetime) -> list[str]:
        """Return the ids of the workers seen since ``seen_since``."""
        rows = await self._db.fetchall(
            "SELECT id FROM workers WHERE seen_at >= ? ORDER BY started_at, id",
            (to_db_time(seen_since),),
        )
        return [str(row["id"]) for row in rows]
