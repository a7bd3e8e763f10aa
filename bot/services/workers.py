"""This process among the workers that share one database.

On PostgreSQL several ``companion run`` processes may share the data. Each is a worker with a
random id, registered at start and kept alive by a heartbeat every third of
``WORKER_LEASE_SECONDS``. A duty that must run in one worker at a time is held under a lease
(``holds``): planning reminders and weekly digests, watching the data for alerts, and
housekeeping. Sending due deliveries is not a duty: every worker claims and sends, each row
going to one of them. A worker not seen for ``WORKER_LEASE_SECONDS`` is dead: its leases lapse
and any survivor takes them, and the deliveries it was sending are taken over by the survivors
(resent once if their outcome is unknown, as after a crash).

On SQLite there is only ever one worker (the instance lock sees to it): it holds every lease,
and at start every send left under way is its predecessor's.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import timedelta

from bot.clock import Clock
from bot.storage.db import Database
from bot.storage.deliveries import DeliveryRepository
from bot.storage.workers import WorkerRepository

log = logging.getLogger(__name__)

# Duties held under a lease, by name.
PLANNER = "planner"
WATCH = "watch"
HOUSEKEEPING = "housekeeping"
# A dead worker's row is removed after this many leases.
FORGET_AFTER_LEASES = 10


class Worker:
    """This process's identity, heartbeat and leases."""

    def __init__(self, db: Database, clock: Clock, *, lease: timedelta) -> None:
        self.id = secrets.token_hex(8)
        self.lease = lease
        self._clock = clock
        self._workers = WorkerRepository(db)
        self._deliveries = DeliveryRepository(db)
        self._alone = db.engine == "sqlite"

    @property
    def heartbeat_interval(self) -> timedelta:
        """How often the worker says it is alive: three times per lease."""
        return self.lease / 3

    async def start(self) -> tuple[int, int]:
        """Register, then take over the sends that dead workers left under way.

        Returns (rows to resend, rows assumed delivered), as ``recover_in_flight`` does.
        """
        now = self._clock.now()
        await self._workers.register(self.id, socket.gethostname(), os.getpid(), now)
        log.info("worker started worker=%s", self.id)
        return await self.take_over()

    async def beat(self) -> tuple[int, int]:
        """Say this worker is alive, renew its leases, and take over dead workers' sends."""
        now = self._clock.now()
        await self._workers.heartbeat(self.id, now, now + self.lease)
        await self._workers.forget_dead(now - FORGET_AFTER_LEASES * self.lease)
        if self._alone:
            return 0, 0  # its own sends are all this process has under way
        return await self.take_over()

    async def take_over(self) -> tuple[int, int]:
        """Put back the sends of dead workers: resent once, or taken as sent if already resent."""
        alive_since = None if self._alone else self._clock.now() - self.lease
        resend, assumed = await self._deliveries.recover_in_flight(self.id, alive_since)
        if resend or assumed:
            log.warning(
                "took over deliveries of a stopped worker resend=%s assumed_sent=%s",
                resend,
                assumed,
            )
        return resend, assumed

    async def holds(self, duty: str) -> bool:
        """Take or renew the lease on a duty; False while another live worker holds it."""
        now = self._clock.now()
        return await self._workers.hold(duty, self.id, now, now + self.lease)

    async def stop(self) -> None:
        """Leave cleanly: the leases are free for the other workers at once."""
        await self._workers.leave(self.id)
