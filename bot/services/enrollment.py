"""Enrollment and consent: one-time invites, binding a Telegram user, recording consent.

Invite codes are random, shown once, and stored only as SHA-256 hashes. Nothing about a
Telegram user is stored until they present a valid code, and nothing beyond the binding and the
consent decision is stored until they agree.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.clock import Clock
from bot.models import Clinician, ConsentDecision, IssuedInvite, Patient, PatientStatus, Sender
from bot.storage.db import Database, Transaction
from bot.storage.repositories import (
    AuditRepository,
    ClinicianRepository,
    ConsentRepository,
    InviteRepository,
    PatientRepository,
    SenderRepository,
)

LABEL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
# Telegram deep-link payloads allow A-Z, a-z, 0-9, _ and - up to 64 characters.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,64}$")
CODE_BYTES = 12


class EnrollmentProblem(StrEnum):
    """Why an enrollment request was refused."""

    BAD_LABEL = "bad_label"
    LABEL_ENROLLED = "label_enrolled"
    # Another team's label, pending or enrolled: said in words that do not confirm it exists.
    LABEL_UNAVAILABLE = "label_unavailable"
    UNKNOWN_CLINICIAN = "unknown_clinician"
    BAD_DAYS = "bad_days"


class EnrollmentError(Exception):
    """A refused enrollment request; ``problem`` says why."""

    def __init__(self, problem: EnrollmentProblem, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem


class StartOutcome(StrEnum):
    """What ``/start`` led to."""

    ASK_CONSENT = "ask_consent"
    ALREADY_ENROLLED = "already_enrolled"
    NO_CODE = "no_code"
    INVALID_CODE = "invalid_code"
    EXPIRED_CODE = "expired_code"
    USED_CODE = "used_code"
    CLINICIAN = "clinician"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class StartResult:
    """The outcome of ``/start`` and the patient it concerns, if any."""

    outcome: StartOutcome
    patient: Patient | None = None


def hash_code(code: str) -> str:
    """Return the stored form of an invite code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


class EnrollmentService:
    """Invites, the Telegram binding and consent."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        default_timezone: str,
        consent_version: str,
        default_checkin_time: str = "20:00",
    ) -> None:
        self._db = db
        self._clock = clock
        self._default_timezone = default_timezone
        self._default_checkin_time = default_checkin_time
        self.consent_version = consent_version
        self._patients = PatientRepository(db)
        self._clinicians = ClinicianRepository(db)
        self._invites = InviteRepository(db)
        self._consents = ConsentRepository(db)
        self._audit = AuditRepository(db)
        self._senders = SenderRepository(db)

    async def create_invite(
        self,
        label: str,
        *,
        clinician_telegram_id: int | None,
        days: int,
        actor_kind: str = "cli",
    ) -> IssuedInvite:
        """Create a one-time code for a label, creating the patient if it is new.

        Clinic IT (``actor_kind="cli"``) may re-issue any label's invite. A clinician may
        re-issue only a label on their care team (an admin: any); for another team's label,
        pending or enrolled, the refusal is the one any unusable label gets, so guessing labels
        neither takes over a patient nor tells which labels exist.
        """
        if not LABEL_PATTERN.match(label):
            msg = (
                "a label is 1-32 letters, digits, '.', '_' or '-' and starts with a letter or "
                "digit (use a pseudonym such as P-014, never a name)"
            )
            raise EnrollmentError(EnrollmentProblem.BAD_LABEL, msg)
        if not 1 <= days <= 90:
            msg = "an invite is valid for 1 to 90 days"
            raise EnrollmentError(EnrollmentProblem.BAD_DAYS, msg)
        clinician: Clinician | None = None
        if clinician_telegram_id is not None:
            clinician = await self._clinicians.by_telegram_id(clinician_telegram_id)
            if clinician is None:
                msg = f"no active clinician with Telegram id {clinician_telegram_id}"
                raise EnrollmentError(EnrollmentProblem.UNKNOWN_CLINICIAN, msg)
        clinician_id = clinician.id if clinician is not None else None
        now = self._clock.now()
        code = secrets.token_urlsafe(CODE_BYTES)
        expires_at = now + timedelta(days=days)
        async with self._db.transaction() as tx:
            patient = await self._patients.by_label_tx(tx, label)
            if patient is not None and not await self._may_reissue(
                tx, patient, clinician, actor_kind
            ):
                msg = "this label can't be used; choose another pseudonym"
                raise EnrollmentError(EnrollmentProblem.LABEL_UNAVAILABLE, msg)
            # A patient who withdrew may come back with a new invite for the same label.
            if (
                patient is not None
                and patient.telegram_user_id is not None
                and patient.status != PatientStatus.WITHDRAWN
            ):
                msg = f"patient {label} is already enrolled"
                raise EnrollmentError(EnrollmentProblem.LABEL_ENROLLED, msg)
            if patient is None:
                patient_id = await self._patients.create(
                    tx, label, self._default_timezone, self._default_checkin_time, now
                )
            else:
                patient_id = patient.id
                await self._invites.revoke_open(tx, patient_id, now)
            await self._invites.add(tx, hash_code(code), patient_id, clinician_id, now, expires_at)
            if clinician_id is not None:
                await self._patients.assign(tx, patient_id, clinician_id)
            await self._audit.add(tx, actor_kind, clinician_id, "invite.create", patient_id, now)
        return IssuedInvite(code=code, label=label, expires_at=expires_at)

    async def _may_reissue(
        self, tx: Transaction, patient: Patient, clinician: Clinician | None, actor_kind: str
    ) -> bool:
        """Return whether this actor may issue a new invite for an existing label."""
        if actor_kind == "cli":
            return True
        if clinician is None:
            return False
        return clinician.is_admin or await self._patients.is_assigned_tx(
            tx, patient.id, clinician.id
        )

    async def start(self, user_id: int, chat_id: int, code: str | None, locale: str) -> StartResult:
        """Handle ``/start`` with or without a code; bad paths store nothing."""
        if await self._clinicians.by_telegram_id(user_id) is not None:
            return StartResult(StartOutcome.CLINICIAN)
        known = await self._patients.by_telegram_user(user_id)
        if known is not None and known.status == PatientStatus.WITHDRAWN and code:
            return await self._rejoin(known, code)
        if known is not None:
            return _result_for_known(known)
        if code is None:
            return StartResult(StartOutcome.NO_CODE)
        if not CODE_PATTERN.match(code):
            return StartResult(StartOutcome.INVALID_CODE)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            # Re-check inside the write lock: two taps on the same link must bind once.
            known = await self._patients.by_telegram_user_tx(tx, user_id)
            if known is not None:
                return _result_for_known(known)
            invite = await self._invites.by_hash(tx, hash_code(code))
            if invite is None or invite.revoked_at is not None:
                return StartResult(StartOutcome.INVALID_CODE)
            if invite.used_at is not None:
                return StartResult(StartOutcome.USED_CODE)
            if invite.expires_at <= now:
                return StartResult(StartOutcome.EXPIRED_CODE)
            patient = await self._patients.by_id_tx(tx, invite.patient_id)
            if patient is None or patient.telegram_user_id is not None:
                return StartResult(StartOutcome.USED_CODE)
            if not await self._invites.mark_used(tx, invite.id, now):
                return StartResult(StartOutcome.USED_CODE)
            await self._patients.bind(tx, patient.id, user_id, chat_id, locale, now)
            await self._audit.add(tx, "patient", patient.id, "enrollment.bind", patient.id, now)
            bound = await self._patients.by_id_tx(tx, patient.id)
        return StartResult(StartOutcome.ASK_CONSENT, bound)

    def consent_outdated(self, sender: Sender) -> bool:
        """Return whether the sender is an enrolled patient who agreed to an older consent text."""
        patient = sender.patient
        return (
            patient is not None
            and patient.has_consented
            and sender.agreed_version != self.consent_version
        )

    async def _rejoin(self, patient: Patient, code: str) -> StartResult:
        """Bring a patient who withdrew back with a new invite for their own label."""
        if not CODE_PATTERN.match(code):
            return StartResult(StartOutcome.INVALID_CODE)
        now = self._clock.now()
        async with self._db.transaction() as tx:
            invite = await self._invites.by_hash(tx, hash_code(code))
            if invite is None or invite.revoked_at is not None or invite.patient_id != patient.id:
                return StartResult(StartOutcome.INVALID_CODE)
            if invite.used_at is not None:
                return StartResult(StartOutcome.USED_CODE)
            if invite.expires_at <= now:
                return StartResult(StartOutcome.EXPIRED_CODE)
            if not await self._invites.mark_used(tx, invite.id, now):
                return StartResult(StartOutcome.USED_CODE)
            await self._patients.set_status(tx, patient.id, PatientStatus.AWAITING_CONSENT)
            await self._audit.add(tx, "patient", patient.id, "enrollment.rejoin", patient.id, now)
            again = await self._patients.by_id_tx(tx, patient.id)
        return StartResult(StartOutcome.ASK_CONSENT, again)

    async def decide_consent(self, user_id: int, *, agreed: bool) -> Patient | None:
        """Record the answer to the consent screen; None if there was nothing to answer.

        Besides a new patient's first answer, this takes an enrolled patient's answer to a new
        version of the consent text: "No thanks" then stops collection as for a new patient.
        """
        now = self._clock.now()
        async with self._db.transaction() as tx:
            patient = await self._patients.by_telegram_user_tx(tx, user_id)
            if patient is None:
                return None
            asked_again = patient.has_consented and (
                await self._consents.agreed_version(patient.id, tx) != self.consent_version
            )
            if not asked_again and patient.status not in {
                PatientStatus.AWAITING_CONSENT,
                PatientStatus.DECLINED,
            }:
                return None
            decision = ConsentDecision.AGREED if agreed else ConsentDecision.DECLINED
            await self._consents.record(tx, patient.id, self.consent_version, decision, now)
            if agreed:
                await self._patients.set_status(
                    tx, patient.id, PatientStatus.ACTIVE, consented_at=now
                )
            else:
                await self._patients.set_status(tx, patient.id, PatientStatus.DECLINED)
            await self._audit.add(tx, "patient", patient.id, f"consent.{decision}", patient.id, now)
            return await self._patients.by_id_tx(tx, patient.id)

    async def withdraw(self, user_id: int) -> Patient | None:
        """Withdraw an enrolled patient's consent; None if there was none to withdraw.

        Collection, reminders and disclosures stop (the caller cancels what was planned and
        tells the team); crisis handling does not, and a new invite can bring the patient back.
        """
        now = self._clock.now()
        async with self._db.transaction() as tx:
            patient = await self._patients.by_telegram_user_tx(tx, user_id)
            if patient is None or not patient.has_consented:
                return None
            await self._consents.record(
                tx, patient.id, self.consent_version, ConsentDecision.WITHDRAWN, now
            )
            await self._patients.set_status(tx, patient.id, PatientStatus.WITHDRAWN)
            await self._audit.add(tx, "patient", patient.id, "consent.withdrawn", patient.id, now)
            return await self._patients.by_id_tx(tx, patient.id)

    async def patient_for_user(self, user_id: int) -> Patient | None:
        """Return the patient bound to a Telegram user."""
        return await self._patients.by_telegram_user(user_id)

    async def sender(self, user_id: int) -> Sender:
        """Return who a Telegram user is (clinician, patient, consent agreed) in one read."""
        return await self._senders.by_telegram_user(user_id)


def _result_for_known(patient: Patient) -> StartResult:
    if patient.status in {PatientStatus.AWAITING_CONSENT, PatientStatus.DECLINED}:
        return StartResult(StartOutcome.ASK_CONSENT, patient)
    if patient.status == PatientStatus.WITHDRAWN:
        return StartResult(StartOutcome.WITHDRAWN, patient)
    return StartResult(StartOutcome.ALREADY_ENROLLED, patient)
