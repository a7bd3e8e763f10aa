"""Retention: data older than ``RETENTION_DAYS`` is deleted once a day.

What goes: reminders and prompts already sent or settled, with the patient's answers stored on
them, and check-ins (values and encrypted notes) of local days before the cut-off. What stays:
the audit log, which records access and must outlive the data, schedules, alerts and patients.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.storage.db import Database
from bot.storage.retention import RetentionRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    """How many rows one purge deleted."""

    deliveries: int = 0
    checkins: int = 0


class RetentionService:
    """Deletes what is older than the kept period (``days``; 0 keeps everything)."""

    def __init__(self, db: Database, clock: Clock, *, days: int) -> None:
        self._repo = RetentionRepository(db)
        self._clock = clock
        self._days = days

    async def purge(self) -> Purged:
        """Delete settled deliveries and check-ins older than the kept period."""
        if self._days <= 0:
            return Purged()
        cutoff = self._clock.now() - timedelta(days=self._days)
        # A check-in's day is the patient's local date; a day's margin covers every zone.
        purged = Purged(
            deliveries=await self._repo.delete_deliveries_before(cutoff),
            checkins=await self._repo.delete_checkins_before(cutoff.date() - timedelta(days=1)),
        )
        log.info(
            "retention purge days=%s deliveries=%s checkins=%s",
            self._days,
            purged.deliveries,
            purged.checkins,
        )
        return purged
