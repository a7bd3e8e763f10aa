"""Alerts from the data, and escalation of urgent alerts nobody acknowledged.

A sweep reads what came in (check-ins, dose answers, misses) and raises the alerts that the
clinic switched on (``ALERT_*`` settings): reported use, craving at or over a threshold, a run
of missed doses, days without a check-in, and "ran out" as a skip reason. Each occurrence has a
key (``use:{patient}:{date}``), so a sweep that runs again, or after a restart, never raises the
same alert twice; the sweep looks back far enough to cover downtime.

An urgent alert (a crisis, /sos) that nobody acknowledged within ``ALERT_ESCALATE_MINUTES`` goes
to every active clinician, not only the patient's care team, marked as escalated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Settings
from bot.models import Patient
from bot.services.careteam import AlertNotice, CareTeamService
from bot.services.reminders import ReminderService
from bot.storage.db import Database
from bot.storage.watch import WatchRepository

log = logging.getLogger(__name__)

# How far back a sweep reads: long enough to cover a day of downtime, short enough to be cheap.
LOOKBACK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Finding:
    """An occurrence that should alert the care team once."""

    patient_id: int
    kind: str
    key: str
    detail: str


class AlertWatch:
    """Raises alerts from the data and escalates unacknowledged urgent ones."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        careteam: CareTeamService,
        reminders: ReminderService,
    ) -> None:
        self._db = db
        self._clock = clock
        self._settings = settings
        self._careteam = careteam
        self._reminders = reminders
        self._repo = WatchRepository(db)

    async def sweep(
        self, now: datetime | None = None, *, silence: bool = True
    ) -> list[AlertNotice]:
        """Raise every switched-on data alert not raised yet; return the new ones (queued).

        ``silence=False`` leaves out "no check-in for N days", which reads every active patient
        and changes only once a day, so the scheduler checks it less often.
        """
        now = now or self._clock.now()
        since = now - LOOKBACK
        s = self._settings
        findings: list[Finding] = []
        if s.alert_on_use or s.alert_craving_at:
            for row in await self._repo.recent_checkins(since):
                if s.alert_on_use and row.used:
                    findings.append(
                        Finding(row.patient_id, "use", f"use:{row.patient_id}:{row.day}", row.day)
                    )
                if s.alert_craving_at and (row.craving or 0) >= s.alert_craving_at:
                    findings.append(
                        Finding(
                            row.patient_id,
                            "craving",
                            f"craving:{row.patient_id}:{row.day}",
                            row.day,
                        )
                    )
        if s.alert_on_ran_out:
            findings.extend(
                Finding(patient_id, "ran_out", f"ran_out:{delivery_id}", medication)
                for patient_id, delivery_id, medication in await self._repo.ran_out_since(since)
            )
        if s.alert_missed_doses_in_row:
            findings.extend(await self._missed_runs(since, s.alert_missed_doses_in_row))
        if silence and s.alert_no_checkin_days:
            findings.extend(await self._silent_patients(now, s.alert_no_checkin_days))
        notices = []
        for finding in findings:
            notice = await self._careteam.raise_keyed_alert(
                finding.patient_id, kind=finding.kind, key=finding.key, detail=finding.detail
            )
            if notice is None:
                continue
            await self._reminders.enqueue_alert(notice)
            log.info(
                "data alert raised alert_id=%s patient_id=%s kind=%s",
                notice.alert.id,
                finding.patient_id,
                finding.kind,
            )
            notices.append(notice)
        return notices

    async def _missed_runs(self, since: datetime, threshold: int) -> list[Finding]:
        """Find patients whose latest resolved doses are ``threshold`` or more misses in a row."""
        found = []
        for patient_id, doses in (await self._repo.latest_doses(since, threshold * 4)).items():
            run = []
            for delivery_id, status in doses:  # newest first
                if status != "missed":
                    break
                run.append(delivery_id)
            if len(run) >= threshold:
                # The run's first miss names it: a longer run is the same alert, not a new one.
                found.append(
                    Finding(
                        patient_id, "missed_doses", f"missed:{patient_id}:{run[-1]}", str(len(run))
                    )
                )
        return found

    async def _silent_patients(self, now: datetime, days: int) -> list[Finding]:
        """Find active patients with no check-in answered for ``days`` local days."""
        found = []
        for patient, last in await self._repo.last_checkins():
            if patient.consented_at is None:
                continue
            today = now.astimezone(ZoneInfo(patient.timezone)).date()
            since_day = last or patient.consented_at.astimezone(ZoneInfo(patient.timezone)).date()
            silent = (today - since_day).days
            if silent >= days:
                found.append(
                    Finding(
                        patient.id,
                        "no_checkin",
                        f"no_checkin:{patient.id}:{last or 'never'}",
                        str(silent),
                    )
                )
        return found

    async def escalate(self, now: datetime | None = None) -> list[tuple[int, Patient]]:
        """Send urgent alerts unacknowledged past the wait to every active clinician."""
        minutes = self._settings.alert_escalate_minutes
        if not minutes:
            return []
        now = now or self._clock.now()
        escalated = []
        for alert_id in await self._repo.due_for_escalation(now - timedelta(minutes=minutes)):
            notice = await self._careteam.escalation_notice(alert_id)
            if notice is None:
                continue
            # Queued before it is marked: a crash in between queues it again, and the
            # deliveries' keys keep that from sending anything twice.
            await self._reminders.enqueue_alert(notice, escalated=True)
            await self._repo.mark_escalated(alert_id, now)
            log.warning(
                "alert escalated alert_id=%s patient_id=%s recipients=%s",
                alert_id,
                notice.patient.id,
                len(notice.recipients),
            )
            escalated.append((alert_id, notice.patient))
        return escalated
