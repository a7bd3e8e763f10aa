"""The weekly digest as a delivery: planned like a reminder, built and rendered when it is sent.

A scheduled digest is a delivery row per clinician with the key ``digest:{clinician}:{week end}``,
due at the clinic's digest time (``DIGEST_WEEKDAY`` and ``DIGEST_TIME`` in ``CLINIC_TIMEZONE``,
computed with zoneinfo like every wall-clock time). A restart neither loses it (the row waits,
within its grace) nor doubles it (the key is unique, and the row counts the parts it has sent).
``/digest`` asks for one now through the same path.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from bot.clock import Clock
from bot.config import Settings
from bot.models import Clinician, Delivery
from bot.services.careteam import CareTeamService
from bot.services.digest import DigestService, week_ending_for
from bot.services.digest_model import WeeklyDigest
from bot.services.occurrences import occurrences_between
from bot.services.reports import ChartPool, DigestFiles, DigestRenderer
from bot.storage.db import Database
from bot.storage.deliveries import DeliveryRepository, PlannedDelivery
from bot.storage.repositories import ClinicianRepository

log = logging.getLogger(__name__)

DIGEST = "digest"
DIGEST_PRIORITY = 8  # after reminders: a digest a minute late harms nobody, a late dose might
ON_DEMAND_GRACE = timedelta(hours=2)


class DigestDeliveries:
    """Plans scheduled digests, queues on-demand ones, and builds a digest when it is sent."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        careteam: CareTeamService,
        digests: DigestService,
        renderer: DigestRenderer,
        charts: ChartPool,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._careteam = careteam
        self._digests = digests
        self._renderer = renderer
        self._charts = charts
        self._deliveries = DeliveryRepository(db)
        self._clinicians = ClinicianRepository(db)

    @property
    def grace(self) -> timedelta:
        """Return how late a scheduled digest may still go out after downtime."""
        return timedelta(minutes=self._settings.grace_minutes_digest)

    async def plan(self, now: datetime | None = None) -> int:
        """Make sure every active clinician has a row for each digest slot in the window."""
        now = now or self._clock.now()
        zone = self._settings.zone
        start = now - self.grace
        end = now + timedelta(hours=self._settings.plan_horizon_hours)
        slots = occurrences_between(
            [self._settings.digest_time],
            frozenset({self._settings.digest_weekday}),
            zone,
            start,
            end,
        )
        if not slots:
            return 0
        clinicians = await self._clinicians.list_active()
        rows = [
            PlannedDelivery(
                # The week ends the day before the slot: a Monday digest covers Mon-Sun.
                dedupe_key=f"{DIGEST}:{clinician.id}:{occ.local_date - timedelta(days=1)}",
                kind=DIGEST,
                chat_id=clinician.telegram_id,
                clinician_id=clinician.id,
                local_date=(occ.local_date - timedelta(days=1)).isoformat(),
                slot="scheduled",
                due_at=occ.due_utc,
                expires_at=occ.due_utc + self.grace,
                priority=DIGEST_PRIORITY,
            )
            for occ in slots
            # A clinician added after a slot does not get that week's digest late.
            for clinician in clinicians
            if clinician.created_at <= occ.due_utc or occ.due_utc > now
        ]
        if rows:
            async with self._db.transaction() as tx:
                await self._deliveries.plan(tx, rows, now)
        return len(rows)

    async def request_now(self, clinician: Clinician, request_id: int) -> date:
        """Queue the digest of the last seven days (today included) for a clinician now."""
        now = self._clock.now()
        week_end = week_ending_for(now, self._settings.zone, include_today=True)
        row = PlannedDelivery(
            dedupe_key=f"{DIGEST}:{clinician.id}:now:{request_id}",
            kind=DIGEST,
            chat_id=clinician.telegram_id,
            clinician_id=clinician.id,
            local_date=week_end.isoformat(),
            slot="now",
            due_at=now,
            expires_at=now + ON_DEMAND_GRACE,
            priority=DIGEST_PRIORITY,
        )
        async with self._db.transaction() as tx:
            await self._deliveries.plan(tx, [row], now)
        return week_end

    async def build(self, delivery: Delivery) -> tuple[WeeklyDigest, DigestFiles] | None:
        """Build and render the digest a delivery stands for; None if its clinician is gone."""
        clinician = await self._clinicians.by_id(delivery.clinician_id or 0)
        if clinician is None or not clinician.active or delivery.local_date is None:
            return None
        action = "digest.scheduled" if delivery.slot == "scheduled" else "digest.read"
        digest = await self._digests.build_weekly_digest(
            clinician, date.fromisoformat(delivery.local_date), action=action
        )
        files = await self._renderer.render(digest, clinician.locale, self._charts)
        log.info(
            "digest built delivery_id=%s clinician_id=%s patients=%s flagged=%s",
            delivery.id,
            clinician.id,
            len(digest.patients),
            len(digest.flagged),
        )
        return digest, files

    async def record_progress(self, delivery_id: int, parts_sent: int) -> None:
        """Remember how many parts of a digest are delivered."""
        await self._deliveries.record_progress(delivery_id, parts_sent)
