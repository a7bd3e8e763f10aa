"""What the weekly digest shows: each patient's figures, why they need attention, and the rules.

A patient "needs attention" by transparent rules whose thresholds are settings (``Rules``);
each rule that fires is a ``Reason`` that the digest shows as a sentence, and the sum of the
reasons' weights orders the list, so the order explains itself. The figures are computed in
``digest_figures``; ``DigestService`` (``digest``) reads the rows and builds the digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from bot.config import Settings
from bot.models import Clinician, CohortPoint, Patient, PatientStatus, PatientTrend

WEEK = 7
TREND_DAYS = 28
# Alert kinds that are crisis events in the digest, as the digest names them: a crisis message,
# and the safety net's later alerts about it (a patient's "I need help now", "someone else is in
# danger", no answer to "are you safe?", an unsafe or silent follow-up), and /sos.
CRISIS_KINDS = {
    "crisis": "crisis",
    "crisis_help": "crisis",
    "crisis_other": "crisis",
    "crisis_silent": "crisis",
    "followup_unsafe": "crisis",
    "followup_silent": "crisis",
    "sos": "sos",
}
# Skip reasons, the one that matters most first: a patient who ran out needs a refill now.
SKIP_REASON_ORDER = ("ran_out", "stopped", "side_effects", "forgot", "other")
# A patient's status as the digest shows it; "paused" is an active patient who paused reminders.
ENROLLED = frozenset({PatientStatus.ACTIVE, PatientStatus.UNREACHABLE, PatientStatus.WITHDRAWN})


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of the "needs attention" rules (settings ``DIGEST_*``)."""

    use_days: int = 1
    craving_high: int = 8
    craving_high_days: int = 2
    craving_rise: float = 2.0
    mood_drop: float = 2.0
    missed_doses: int = 2
    no_checkin_days: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """Read the thresholds from the settings."""
        return cls(
            use_days=settings.digest_use_days,
            craving_high=settings.digest_craving_high,
            craving_high_days=settings.digest_craving_high_days,
            craving_rise=settings.digest_craving_rise,
            mood_drop=settings.digest_mood_drop,
            missed_doses=settings.digest_missed_doses,
            no_checkin_days=settings.digest_no_checkin_days,
        )


# Each reason's weight orders the list: the sum of a patient's weights, most first. A crisis
# outranks everything; a quiet week with one late check-in comes last among the flagged.
WEIGHTS = {
    "crisis": 100,
    "dtms_emergency": 95,
    "sos": 90,
    "unreachable": 60,
    "use": 50,
    "ran_out": 40,
    "stopped": 40,  # a patient who says they stopped a medicine needs a conversation
    "craving_high": 30,
    "craving_up": 25,
    "missed_doses": 20,
    "missed_dtms": 20,
    "mood_down": 15,
    "no_checkin": 15,
}


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that fired, with what the sentence needs (a weekday, a count, a name)."""

    code: str
    count: int = 0
    weekday: int | None = None  # 0 = Monday, in the patient's zone
    name: str = ""
    amount: float = 0.0

    @property
    def weight(self) -> int:
        """Return how much this reason moves a patient up the list."""
        return WEIGHTS[self.code]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened, for the "last events" list of ``/patient``."""

    at: datetime  # local, in the patient's zone
    code: str  # crisis, sos, use, missed_dose, skipped_dose, reschedule, missed_dtms, ...
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PatientWeek:
    """One patient's week: every figure of the digest, the reasons, and the 28-day trend."""

    patient: Patient
    status: str
    enrolled_on: date | None
    checkins_done: int
    checkins_expected: int
    craving_mean: float | None
    craving_max: int | None
    craving_variability: float | None
    craving_previous_mean: float | None
    mood_mean: float | None
    mood_previous_mean: float | None
    use_days: int
    doses_scheduled: int
    doses_taken: int
    doses_missed: int
    doses_skipped: int
    skip_reasons: tuple[tuple[str, int], ...]
    ran_out: tuple[str, ...]
    dtms_scheduled: int
    dtms_attended: int
    missed_sessions: tuple[int, ...]
    crisis_events: tuple[tuple[str, int], ...]  # (kind, weekday)
    open_alerts: int
    days_without_checkin: int | None
    unreachable_since: int | None  # weekday
    reasons: tuple[Reason, ...]
    trend: PatientTrend
    events: tuple[Event, ...] = field(default=())
    # After-effects of dTMS reported in the week's check-ins: (code, days), most serious first.
    dtms_effects: tuple[tuple[str, int], ...] = field(default=())
    # Safety messages sent in the week (bot/services/jit.py): (message code, weekday), in order.
    safety_messages: tuple[tuple[str, int], ...] = field(default=())

    @property
    def score(self) -> int:
        """Return the sum of the reasons' weights."""
        return sum(reason.weight for reason in self.reasons)

    @property
    def flagged(self) -> bool:
        """Return whether the patient needs attention."""
        return bool(self.reasons)

    @property
    def mood_direction(self) -> str | None:
        """Return "up", "down" or "steady" against the week before (None without both)."""
        if self.mood_mean is None or self.mood_previous_mean is None:
            return None
        change = self.mood_mean - self.mood_previous_mean
        if change >= 1:
            return "up"
        if change <= -1:
            return "down"
        return "steady"

    @property
    def adherence(self) -> float | None:
        """Return doses taken / scheduled (None when none were scheduled)."""
        return self.doses_taken / self.doses_scheduled if self.doses_scheduled else None

    def cohort_point(self) -> CohortPoint:
        """Return the patient's row in the cohort overview chart."""
        return CohortPoint(
            label=self.patient.label,
            craving_mean=self.craving_mean,
            mood_mean=self.mood_mean,
            adherence=self.adherence,
            checkins_done=self.checkins_done,
            checkins_expected=self.checkins_expected,
            flagged=self.flagged,
        )


@dataclass(frozen=True, slots=True)
class WeeklyDigest:
    """A clinician's digest: patients ranked, flagged first."""

    clinician: Clinician
    week_start: date
    week_end: date
    generated_at: datetime
    patients: tuple[PatientWeek, ...]

    @property
    def flagged(self) -> tuple[PatientWeek, ...]:
        """Return the patients who need attention, most first."""
        return tuple(p for p in self.patients if p.flagged)

    @property
    def quiet(self) -> tuple[PatientWeek, ...]:
        """Return the patients with nothing to report, by label."""
        return tuple(p for p in self.patients if not p.flagged)
