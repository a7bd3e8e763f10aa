"""The care team: clinicians, their patients, alerts to them, and the audit of their reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.clock import Clock
from bot.models import Alert, Clinician, Patient, more_severe
from bot.storage.db import Database
from bot.storage.repositories import (
    AlertRepository,
    AuditRepository,
    ClinicianRepository,
    PatientRepository,
)
from bot.texts import LOCALES

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


@dataclass(frozen=True, slots=True)
class PatientOverview:
    """One line of a clinician's patient list."""

    patient: Patient
    open_alerts: int


class CareTeamService:
    """Clinician accounts, assignments, alerts and audited reads."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._clinicians = ClinicianRepository(db)
        self._patients = PatientRepository(db)
        self._alerts = AlertRepository(db)
        self._audit = AuditRepository(db)

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
        self, patient: Patient, *, kind: str, severity: str, category: str | None
    ) -> AlertNotice:
        """Record an alert for a patient's care team (all clinicians if none is assigned)."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
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
        alert = await self._alerts.by_id(alert_id)
        assert alert is not None
        return AlertNotice(alert, patient, await self._recipients(patient.id), is_new)

    async def raise_keyed_alert(
        self, patient_id: int, *, kind: str, key: str, detail: str
    ) -> AlertNotice | None:
        """Raise a routine alert from the data once per key; None if already raised."""
        now = self._clock.now()
        async with self._db.transaction() as tx:
            alert_id = await self._alerts.add_keyed(tx, patient_id, kind, key, detail, now)
        if alert_id is None:
            return None
        alert = await self._alerts.by_id(alert_id)
        patient = await self._patients.by_id(patient_id)
        assert alert is not None
        assert patient is not None
        return AlertNotice(alert, patient, await self._recipients(patient.id), is_new=True)

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
