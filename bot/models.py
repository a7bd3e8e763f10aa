"""Plain values that cross layers: repositories return them, services and handlers read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class PatientStatus(StrEnum):
    """Where a patient stands in enrollment."""

    INVITED = "invited"
    AWAITING_CONSENT = "awaiting_consent"
    ACTIVE = "active"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"
    WITHDRAWN = "withdrawn"


class ConsentDecision(StrEnum):
    """A recorded answer to the consent screen."""

    AGREED = "agreed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True, slots=True)
class Clinician:
    """A member of a care team who may use the clinician commands."""

    id: int
    telegram_id: int
    name: str
    role: str
    active: bool
    created_at: datetime
    locale: str = "en"

    @property
    def is_admin(self) -> bool:
        """Return whether the clinician sees every patient (clinic leads, on-call)."""
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient known by a pseudonymous label; bound to Telegram once enrolled."""

    id: int
    label: str
    telegram_user_id: int | None
    chat_id: int | None
    status: PatientStatus
    timezone: str
    locale: str
    checkin_time: str
    reminders_paused: bool
    created_at: datetime
    enrolled_at: datetime | None
    consented_at: datetime | None

    @property
    def has_consented(self) -> bool:
        """Return whether the patient agreed and is still enrolled."""
        return self.status in {PatientStatus.ACTIVE, PatientStatus.UNREACHABLE}


@dataclass(frozen=True, slots=True)
class Sender:
    """Who a Telegram user is to the bot: an active clinician, a patient, both or neither."""

    user_id: int
    clinician: Clinician | None
    patient: Patient | None
    agreed_version: str | None  # the consent text the patient last agreed to, if any


@dataclass(frozen=True, slots=True)
class Invite:
    """A one-time enrollment code (stored hashed) for a patient label."""

    id: int
    patient_id: int
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """A freshly created invite: the only time the plain code exists."""

    code: str
    label: str
    expires_at: datetime


class CrisisCategory(StrEnum):
    """The kind of crisis a message signals; the value names the alert text for the team."""

    SUICIDE = "suicide"
    SELF_HARM = "self_harm"
    OVERDOSE = "overdose"
    MEDICAL_EMERGENCY = "medical_emergency"
    HARM_TO_OTHERS = "harm_to_others"
    ABUSE_OR_DANGER = "abuse_or_danger"
    RELAPSE_DANGER = "relapse_danger"


# Categories from most to least severe: the urgency of a threat to life in the next minutes. An
# overdose or another medical emergency needs the emergency number and naloxone now; use after
# lost tolerance is an overdose waiting to happen. Kept here, not in the detector, so that the
# care team's alert rules and the detector share one order without importing each other.
SEVERITY_ORDER: tuple[CrisisCategory, ...] = (
    CrisisCategory.OVERDOSE,
    CrisisCategory.MEDICAL_EMERGENCY,
    CrisisCategory.SUICIDE,
    CrisisCategory.RELAPSE_DANGER,
    CrisisCategory.HARM_TO_OTHERS,
    CrisisCategory.ABUSE_OR_DANGER,
    CrisisCategory.SELF_HARM,
)


def more_severe(new: str | None, old: str | None) -> bool:
    """Return True when crisis category ``new`` ranks above ``old`` (unknown ranks lowest)."""
    ranks = {category.value: rank for rank, category in enumerate(SEVERITY_ORDER)}
    lowest = len(SEVERITY_ORDER)
    return ranks.get(new or "", lowest) < ranks.get(old or "", lowest)


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the care team must see."""

    id: int
    patient_id: int
    kind: str
    severity: str
    category: str | None
    created_at: datetime
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    escalation: int = 0


@dataclass(frozen=True, slots=True)
class Medication:
    """A medication schedule: what the prescriber wrote and when to remind."""

    id: int
    patient_id: int
    name: str
    dose_text: str
    times: tuple[str, ...]
    weekdays: str
    start_date: date
    end_date: date | None
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class TmsCourse:
    """A dTMS course: numbered sessions on given weekdays at one time."""

    id: int
    patient_id: int
    start_date: date
    weekdays: str
    time: str
    sessions: int
    location: str | None
    active: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Appointment:
    """One appointment: a dTMS session, therapy, a prescriber visit or a group."""

    id: int
    patient_id: int
    kind: str
    starts_at: datetime
    local_start: datetime
    timezone: str
    location: str | None
    course_id: int | None
    session_number: int | None
    sessions_total: int | None
    status: str
    created_at: datetime


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    ANSWERED = "answered"
    MISSED = "missed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message the bot sends on its own initiative, and what became of it."""

    id: int
    dedupe_key: str
    kind: str
    patient_id: int | None
    clinician_id: int | None
    chat_id: int
    ref_id: int | None
    local_date: str | None
    slot: str | None
    priority: int
    due_at: datetime
    expires_at: datetime
    status: DeliveryStatus
    attempts: int
    unknown_sends: int
    repeats_sent: int
    next_repeat_at: datetime | None
    message_id: int | None
    response: str | None
    response_detail: str | None
    miss_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    answered_at: datetime | None
    progress: int = 0  # parts of a multi-part delivery (a digest) already sent


# Trends and the weekly digest --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayTrend:
    """One local day of a patient's record, as the charts draw it.

    ``doses_scheduled`` counts the dose reminders of the day that were due (not cancelled);
    ``doses_taken`` those answered Taken. ``dtms`` is the day's dTMS session, if any:
    "attended", "missed", "reschedule", "confirmed" (the patient said they would come, the
    session is still ahead) or "scheduled" (no answer yet).
    """

    day: date
    craving: int | None
    mood: int | None
    used: bool | None
    doses_scheduled: int
    doses_taken: int
    dtms: str | None


@dataclass(frozen=True, slots=True)
class PatientTrend:
    """A patient's days in order, oldest first (28 for a chart)."""

    label: str
    days: tuple[DayTrend, ...]


@dataclass(frozen=True, slots=True)
class CohortPoint:
    """One patient in the cohort overview chart; None where the week has no data."""

    label: str
    craving_mean: float | None
    mood_mean: float | None
    adherence: float | None  # doses taken / scheduled, 0..1
    checkins_done: int
    checkins_expected: int
    flagged: bool
