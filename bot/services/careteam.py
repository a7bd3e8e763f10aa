"""The care team: clinicians, their patients, alerts to them, and the audit of their reads.

An alert is written together with its deliveries, one per clinician to tell, in one
transaction: once an alert exists, the dispatcher will send it, whatever happens to the
process afterwards. The deliveries may be held back for a few seconds, so that the patient's
own answer goes out first; ``release`` then hands them to the dispatcher at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.models import Alert, Clinician, Patient, more_severe
from bot.storage.alerts import AlertRepository
from bot.storage.db import Database, Transaction
from bot.storage.deliveries import DeliveryRepository, PlannedDelivery
from bot.storage.repositories import (
    AuditRepository,
    ClinicianRepository,
    PatientRepository,
)
from bot.texts import LOCALES

ALERT = "alert"  # the delivery kind of an alert to one clinician
ALERT_PRIORITY = 0  # deliveries go in priority order: alerts before everything else
ESCALATED = "escalated"  # an alert delivery's slot when it is the escalated copy
DEFAULT_ALERT_GRACE = timedelta(minutes=1440)

# A second crisis signal from the same patient within this window joins the open alert instead
# of paging the team again, unless it is more severe than the open alert (worse news pages
# again); the patient is answered with resources every time regardless.
ALERT_COALESCE_WINDOW = timedelta(minutes=30)


class NotAllowedError(Exception):
    """The caller is not a clinician, or not on this patient's care team."""


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """An alert and whom to tell about it."""

    alert: Alert
    patient: Patient
    recipients: tuple[Clinician, ...]
    is_new: bool
    # When the alert's deliveries were written held back, the moment the hold ends.
    held_until: datetime | None = None


def alert_key(alert_id: int, clinician_id: int, *, escalated: bool = False) -> str:
    """Return the dedupe key of an alert's delivery to one clinician."""
    return f"alert:{alert_id}:{clinician_id}{':escalated' if escalated else ''}"


def alert_deliveries(
    notice: AlertNotice,
    now: datetime,
    *,
    grace: timedelta,
    escalated: bool = False,
    due_at: datetime | None = None,
) -> list[PlannedDelivery]:
    """Return the delivery of an alert to each recipient, due at once (or at ``due_at``).

    An escalated alert is a second, marked copy to every recipient (the team included).
    """
    due = due_at or now
    return [
        PlannedDelivery(
            dedupe_key=alert_key(notice.alert.id, clinician.id, escalated=escalated),
            kind=ALERT,
            chat_id=clinician.telegram_id,
            clinician_id=clinician.id,
            patient_id=notice.patient.id,
            ref_id=notice.alert.id,
            slot=ESCALATED if escalated else None,
            due_at=due,
            expires_at=due + grace,
            priority=ALERT_PRIORITY,
        )
        for clinician in notice.recipients
    ]


@dataclass(frozen=True, slots=True)
class PatientOverview:
    """One line of a clinician's patient list."""

    patient: Patient
    open_alerts: int


class CareTeamService:
    """Clinician accounts, assignments, alerts and audited reads."""

    def __init__(
        self, db: Database, clock: Clock, *, alert_grace: timedelta = DEFAULT_ALERT_GRACE
    ) -> None:
        self._db = db
        self._clock = clock
        self._alert_grace = alert_grace
        self._clinicians = ClinicianRepository(db)
        self._patients = PatientRepository(db)
        self._alerts = AlertRepository(db)
        self._audit = AuditRepository(db)
        self._deliveries = DeliveryRepository(db)

    async def add_clinician(
        self, telegram_id: int, name: str, *, role: str = "clinician", locale: str = "en"
    ) -> int:
        """Register (or re-activate) a clinician, with the language of their messages."""
        if locale not in LOCALES:
            msg = f"a clinician's language is one of {', '.join(LOCALES)}"
            raise ValueError(msg)
        if telegram_id <= 0:
            msg = "a Telegram user id is a positive number"
            raise ValueError(msg)
        clean = " ".join(name.split())
        if not clean or len(clean) > 80:
            msg = "a name is 1 to 80 characters"
            raise ValueError(msg)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            clinician_id = await self._clinicians.add(tx, telegram_id, clean, role, now, locale)
            await self._audit.add(tx, "cli", None, "clinician.add", None, now)
        return clinician_id

    async def remove_clinician(self, telegram_id: int) -> bool:
        """Deactivate a clinician; False if there was no active one."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            removed = await self._clinicians.deactivate(tx, telegram_id)
            if removed:
                await self._audit.add(tx, "cli", None, "clinician.remove", None, now)
        return removed

    async def clinicians(self) -> list[Clinician]:
        """Return the active clinicians."""
        return await self._clinicians.list_active()

    async def clinician_for_user(self, telegram_id: int) -> Clinician | None:
        """Return the active clinician behind a Telegram user, if any."""
        return await self._clinicians.by_telegram_id(telegram_id)

    async def clinician_name(self, clinician_id: int | None) -> str:
        """Return a clinician's display name ("" if unknown)."""
        if clinician_id is None:
            return ""
        clinician = await self._clinicians.by_id(clinician_id)
        return clinician.name if clinician else ""

    async def require_clinician(self, telegram_id: int) -> Clinician:
        """Return the clinician or raise NotAllowedError."""
        clinician = await self._clinicians.by_telegram_id(telegram_id)
        if clinician is None:
            raise NotAllowedError
        return clinician

    async def my_patients(self, clinician: Clinician) -> list[PatientOverview]:
        """Return a clinician's patients (an admin's: every patient) with their open alerts.

        The read is audited, one row per patient shown.
        """
        if clinician.is_admin:
            patients = await self._patients.every_patient()
        else:
            patients = await self._patients.for_clinician(clinician.id)
        overview = [PatientOverview(p, len(await self._alerts.open_for(p.id))) for p in patients]
        now = self._clock.now()
        async with self._db.transaction() as tx:
            for item in overview:
                await self._audit.add(
                    tx, "clinician", clinician.id, "patients.list", item.patient.id, now
                )
        return overview

    async def patient_for_clinician(self, clinician: Clinician, label: str) -> Patient | None:
        """Return a patient the clinician may read (on the team, or any for an admin), else None.

        An unknown label and another team's patient give the same None, so the answer never
        reveals whether a label exists.
        """
        patient = await self._patients.by_label(label.strip())
        if patient is None:
            return None
        if clinician.is_admin or await self._patients.is_assigned(patient.id, clinician.id):
            return patient
        return None

    async def raise_alert(
        self,
        patient: Patient,
        *,
        kind: str,
        severity: str,
        category: str | None,
        hold: timedelta = timedelta(0),
    ) -> AlertNotice:
        """Record an alert for a patient's care team (all clinicians if none is assigned).

        A new alert is written with its deliveries (held back for ``hold``, if given); a
        signal that joins an open alert writes nothing more.
        """
        async with self._db.transaction() as tx:
            return await self.raise_alert_in(
                tx, patient, kind=kind, severity=severity, category=category, hold=hold
            )

    async def raise_alert_in(
        self,
        tx: Transaction,
        patient: Patient,
        *,
        kind: str,
        severity: str,
        category: str | None,
        hold: timedelta = timedelta(0),
    ) -> AlertNotice:
        """Record an alert and its deliveries inside a caller's transaction."""
        now = self._clock.now()
        recent = await self._alerts.recent_open(
            tx, patient.id, kind, since=now - ALERT_COALESCE_WINDOW
        )
        worse = recent is not None and more_severe(
            category, await self._alerts.category_of(tx, recent)
        )
        if recent is not None and not worse:
            alert_id, is_new = recent, False
        else:
            alert_id = await self._alerts.add(tx, patient.id, kind, severity, category, now)
            is_new = True
        return await self._notice_in(tx, alert_id, patient, is_new=is_new, now=now, hold=hold)

    async def raise_keyed_alert(
        self, patient_id: int, *, kind: str, key: str, detail: str
    ) -> AlertNotice | None:
        """Raise a routine alert from the data once per key, with its deliveries; None if
        already raised."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            alert_id = await self._alerts.add_keyed(tx, patient_id, kind, key, detail, now)
            if alert_id is None:
                return None
            patient = await self._patients.by_id_tx(tx, patient_id)
            assert patient is not None
            return await self._notice_in(tx, alert_id, patient, is_new=True, now=now)

    async def _notice_in(
        self,
        tx: Transaction,
        alert_id: int,
        patient: Patient,
        *,
        is_new: bool,
        now: datetime,
        hold: timedelta = timedelta(0),
    ) -> AlertNotice:
        """Read the alert and its recipients; for a new alert, write its deliveries."""
        alert = await self._alerts.by_id_tx(tx, alert_id)
        assert alert is not None
        team = await self._patients.care_team_tx(tx, patient.id)
        recipients = tuple(team or await self._clinicians.list_active_tx(tx))
        held_until = now + hold if is_new and hold > timedelta(0) else None
        notice = AlertNotice(alert, patient, recipients, is_new, held_until)
        if is_new:
            rows = alert_deliveries(notice, now, grace=self._alert_grace, due_at=held_until)
            await self._deliveries.plan(tx, rows, now)
        return notice

    async def release(self, notice: AlertNotice) -> None:
        """Send an alert's held deliveries now rather than when the hold ends."""
        if notice.held_until is None:
            return
        keys: Sequence[str] = [alert_key(notice.alert.id, c.id) for c in notice.recipients]
        await self._deliveries.release_held(keys, self._clock.now())

    async def notice_for(self, alert: Alert, patient: Patient) -> AlertNotice:
        """Return an existing alert addressed to the patient's care team as it is now."""
        return AlertNotice(alert, patient, await self._recipients(patient.id), is_new=True)

    async def escalation_notice(self, alert_id: int) -> AlertNotice | None:
        """Return an unacknowledged alert addressed to every active clinician."""
        alert = await self._alerts.by_id(alert_id)
        if alert is None or alert.acknowledged_at is not None:
            return None
        patient = await self._patients.by_id(alert.patient_id)
        if patient is None:
            return None
        everyone = tuple(await self._clinicians.list_active())
        return AlertNotice(alert, patient, everyone, is_new=True)

    async def _recipients(self, patient_id: int) -> tuple[Clinician, ...]:
        """Return the care team, or every active clinician when nobody is assigned."""
        team = await self._patients.care_team(patient_id)
        return tuple(team) if team else tuple(await self._clinicians.list_active())

    async def acknowledge(self, telegram_id: int, alert_id: int) -> tuple[Alert, Patient, bool]:
        """Acknowledge an alert as a clinician on the patient's team; audited."""
        clinician = await self.require_clinician(telegram_id)
        alert = await self._alerts.by_id(alert_id)
        if alert is None:
            raise NotAllowedError
        patient = await self._patients.by_id(alert.patient_id)
        if patient is None:
            raise NotAllowedError
        team = await self._patients.care_team(patient.id)
        # An escalated alert went to every clinician, so any of them may take it; an admin
        # sees every patient anyway.
        on_team = not team or clinician.id in {member.id for member in team}
        if not (on_team or clinician.is_admin or alert.escalation > 0):
            raise NotAllowedError
        now = self._clock.now()
        async with self._db.transaction() as tx:
            changed = await self._alerts.acknowledge(tx, alert_id, clinician.id, now)
            await self._audit.add(
                tx, "clinician", clinician.id, "alert.acknowledge", patient.id, now
            )
        updated = await self._alerts.by_id(alert_id)
        assert updated is not None
        return updated, patient, changed
