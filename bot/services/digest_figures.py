"""The weekly digest's figures: what one patient's rows say about their last seven local days.

Everything here is plain arithmetic on rows read from the database, so that a clinician can
check any figure by hand; ``summarise`` is pure, and the unit tests call it directly.

Weeks are local: a patient's week is seven calendar days in the patient's own zone (a DST week
has 167 or 169 hours and is still seven days), and an event's weekday is the patient's.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.models import Alert, DayTrend, Patient, PatientStatus, PatientTrend
from bot.services.aftereffects import EMERGENCY, tally
from bot.services.digest_model import (
    CRISIS_KINDS,
    SKIP_REASON_ORDER,
    TREND_DAYS,
    WEEK,
    Event,
    PatientWeek,
    Reason,
    Rules,
)
from bot.storage.digest import (
    CheckinRow,
    DoseRow,
    GroupRecords,
    RawRecords,
    SessionRow,
    parse_records,
)


def summarise_all(
    patients: Sequence[Patient],
    raw: RawRecords,
    week_end: date,
    now: datetime,
    rules: Rules,
    with_events: bool,
) -> list[PatientWeek]:
    """Compute every patient's week from the rows read for all of them at once."""
    grouped = _group(parse_records(raw))
    # A patient who withdrew consent is listed with that status and nothing else: their data
    # is no longer disclosed, not even what was collected before.
    return [
        summarise(
            patient,
            _Records()
            if patient.status == PatientStatus.WITHDRAWN
            else grouped.get(patient.id, _Records()),
            week_end,
            now,
            rules,
            with_events=with_events,
        )
        for patient in patients
    ]


@dataclass(slots=True)
class _Records:
    checkins: list[CheckinRow] = field(default_factory=list)
    doses: list[DoseRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    prompts: list[tuple[date, datetime]] = field(default_factory=list)
    safety: list[tuple[str, datetime]] = field(default_factory=list)


def _group(records: GroupRecords) -> dict[int, _Records]:
    grouped: defaultdict[int, _Records] = defaultdict(_Records)
    for checkin in records.checkins:
        grouped[checkin.patient_id].checkins.append(checkin)
    for dose in records.doses:
        grouped[dose.patient_id].doses.append(dose)
    for session in records.sessions:
        grouped[session.patient_id].sessions.append(session)
    for alert in records.alerts:
        grouped[alert.patient_id].alerts.append(alert)
    for patient_id, day, due in records.prompts:
        grouped[patient_id].prompts.append((day, due))
    for patient_id, code, sent in records.safety:
        grouped[patient_id].safety.append((code, sent))
    return grouped


def session_state(session: SessionRow, now: datetime) -> str:
    """Return what became of a dTMS session: staff's record first, then the patient's answer."""
    if session.attendance is not None:
        return session.attendance
    if session.status == "reschedule_requested":
        return "reschedule"
    if session.starts_at > now:
        return "confirmed" if session.status == "confirmed" else "scheduled"
    # Past and not marked by staff: the patient's "I'll be there" is the best record there is.
    return "attended" if session.status == "confirmed" else "unconfirmed"


def summarise(  # noqa: PLR0912, PLR0915 - one pass over one patient's rows, in order
    patient: Patient,
    rows: _Records,
    week_end: date,
    now: datetime,
    rules: Rules,
    *,
    with_events: bool = False,
) -> PatientWeek:
    """Compute one patient's week from their rows (pure: the unit tests call it directly)."""
    zone = ZoneInfo(patient.timezone)
    today = now.astimezone(zone).date()
    week_start = week_end - timedelta(days=WEEK - 1)
    prev_start, prev_end = week_start - timedelta(days=WEEK), week_start - timedelta(days=1)
    trend_start = week_end - timedelta(days=TREND_DAYS - 1)

    def in_week(day: date) -> bool:
        return week_start <= day <= week_end

    checkins = {c.local_date: c for c in rows.checkins}
    week_checkins = [c for day, c in sorted(checkins.items()) if in_week(day)]
    answered = [c for c in week_checkins if _answered(c)]
    cravings = [c.craving for c in week_checkins if c.craving is not None]
    moods = [c.mood for c in week_checkins if c.mood is not None]
    prev = [c for day, c in checkins.items() if prev_start <= day <= prev_end]
    prev_cravings = [c.craving for c in prev if c.craving is not None]
    prev_moods = [c.mood for c in prev if c.mood is not None]

    # Expected: the days the bot asked (a prompt was due by now), plus any day answered anyway
    # (/checkin without a prompt). A patient enrolled mid-week or paused is asked less.
    asked = {day for day, due in rows.prompts if in_week(day) and due <= now}
    expected_days = asked | {c.local_date for c in answered}

    doses = [d for d in rows.doses if in_week(d.local_date) and d.due_at <= now]
    taken = [d for d in doses if d.response == "taken"]
    skipped = [d for d in doses if d.response == "skipped"]
    missed = [d for d in doses if d.status == "missed"]
    reasons_count: dict[str, int] = defaultdict(int)
    for dose in skipped:
        reasons_count[dose.detail or "other"] += 1
    skip_reasons = tuple(
        (code, reasons_count[code]) for code in SKIP_REASON_ORDER if reasons_count.get(code)
    )
    ran_out = tuple(sorted({d.medication for d in skipped if d.detail == "ran_out"}))
    stopped = sorted({d.medication for d in skipped if d.detail == "stopped"})

    sessions = [
        (s, s.starts_at.astimezone(zone).date(), session_state(s, now)) for s in rows.sessions
    ]
    week_sessions = [
        (s, state) for s, day, state in sessions if in_week(day) and s.starts_at <= now
    ]
    attended = [s for s, state in week_sessions if state == "attended"]
    missed_sessions = tuple(
        s.session_number or 0 for s, state in week_sessions if state == "missed"
    )

    alerts_local = [(a, a.created_at.astimezone(zone)) for a in rows.alerts]
    crisis_events = tuple(
        (CRISIS_KINDS[a.kind], at.weekday())
        for a, at in sorted(alerts_local, key=lambda item: item[1])
        if a.kind in CRISIS_KINDS and in_week(at.date())
    )
    open_alerts = sum(1 for a in rows.alerts if a.acknowledged_at is None)
    safety_local = [
        (code, sent.astimezone(zone)) for code, sent in sorted(rows.safety, key=_second)
    ]
    safety_messages = tuple((code, at.weekday()) for code, at in safety_local if in_week(at.date()))

    status = patient.status.value
    if patient.status == PatientStatus.ACTIVE and patient.reminders_paused:
        status = "paused"
    unreachable_since = None
    if patient.status == PatientStatus.UNREACHABLE:
        marks = [at for a, at in alerts_local if a.kind == "unreachable"]
        unreachable_since = max(marks).weekday() if marks else None

    enrolled_on = patient.consented_at.astimezone(zone).date() if patient.consented_at else None
    # Days without a check-in, counted up to the end of the week (or today, if sooner), from
    # the last answered check-in or, for a new patient, from enrollment.
    last_day = min(week_end, today)
    last_answer = max((c.local_date for c in rows.checkins if _answered(c)), default=None)
    since_day = last_answer or enrolled_on
    days_without = (last_day - since_day).days if since_day is not None else None
    if last_answer is None and days_without is not None:
        days_without += 1  # never answered: the day of enrollment counts as a day without

    craving_mean = _mean(cravings)
    craving_prev = _mean(prev_cravings)
    mood_mean = _mean(moods)
    mood_prev = _mean(prev_moods)

    reasons: list[Reason] = []
    for kind, weekday in crisis_events:
        reasons.append(Reason(kind, weekday=weekday))
    reasons.extend(
        Reason("dtms_emergency", weekday=c.local_date.weekday())
        for c in week_checkins
        if c.dtms_effect == EMERGENCY
    )
    if patient.status == PatientStatus.UNREACHABLE:
        reasons.append(Reason("unreachable", weekday=unreachable_since))
    use_days = sum(1 for c in week_checkins if c.used)
    if use_days >= rules.use_days:
        reasons.append(Reason("use", count=use_days))
    reasons.extend(Reason("ran_out", name=name) for name in ran_out)
    reasons.extend(Reason("stopped", name=name) for name in stopped)
    high_days = sum(1 for c in cravings if c >= rules.craving_high)
    if high_days >= rules.craving_high_days:
        reasons.append(Reason("craving_high", count=high_days, amount=rules.craving_high))
    if craving_mean is not None and craving_prev is not None:
        rise = craving_mean - craving_prev
        if rise >= rules.craving_rise:
            reasons.append(Reason("craving_up", amount=round(rise, 1)))
    if len(missed) >= rules.missed_doses:
        reasons.append(Reason("missed_doses", count=len(missed)))
    reasons.extend(Reason("missed_dtms", count=number) for number in missed_sessions)
    if mood_mean is not None and mood_prev is not None:
        drop = mood_prev - mood_mean
        if drop >= rules.mood_drop:
            reasons.append(Reason("mood_down", amount=round(drop, 1)))
    if (
        patient.status == PatientStatus.ACTIVE
        and not patient.reminders_paused
        and days_without is not None
        and days_without >= rules.no_checkin_days
    ):
        reasons.append(Reason("no_checkin", count=days_without))
    reasons.sort(key=lambda r: -r.weight)

    trend = _trend(patient, trend_start, checkins, rows.doses, sessions, now)
    events = _events(rows, zone, trend_start, now) if with_events else ()
    return PatientWeek(
        patient=patient,
        status=status,
        enrolled_on=enrolled_on,
        checkins_done=len(answered),
        checkins_expected=len(expected_days),
        craving_mean=craving_mean,
        craving_max=max(cravings) if cravings else None,
        craving_variability=_successive_change(cravings),
        craving_previous_mean=craving_prev,
        mood_mean=mood_mean,
        mood_previous_mean=mood_prev,
        use_days=use_days,
        doses_scheduled=len(doses),
        doses_taken=len(taken),
        doses_missed=len(missed),
        doses_skipped=len(skipped),
        skip_reasons=skip_reasons,
        ran_out=ran_out,
        dtms_scheduled=len(week_sessions),
        dtms_attended=len(attended),
        missed_sessions=missed_sessions,
        crisis_events=crisis_events,
        open_alerts=open_alerts,
        days_without_checkin=days_without,
        unreachable_since=unreachable_since,
        reasons=tuple(reasons),
        trend=trend,
        events=events,
        dtms_effects=tally(c.dtms_effect for c in week_checkins),
        safety_messages=safety_messages,
    )


def _second(item: tuple[str, datetime]) -> datetime:
    return item[1]


def _answered(checkin: CheckinRow) -> bool:
    return checkin.craving is not None or checkin.mood is not None or checkin.used is not None


def _mean(values: Sequence[int]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def _successive_change(values: Sequence[int]) -> float | None:
    """Return the mean absolute change between successive check-ins (MASD), a usual measure
    of day-to-day instability in daily ratings; None with fewer than two."""
    if len(values) < 2:
        return None
    return round(statistics.fmean(abs(b - a) for a, b in itertools.pairwise(values)), 1)


def _trend(
    patient: Patient,
    start: date,
    checkins: dict[date, CheckinRow],
    doses: Sequence[DoseRow],
    sessions: Sequence[tuple[SessionRow, date, str]],
    now: datetime,
) -> PatientTrend:
    scheduled: dict[date, int] = defaultdict(int)
    taken: dict[date, int] = defaultdict(int)
    for dose in doses:
        if dose.due_at <= now:
            scheduled[dose.local_date] += 1
            taken[dose.local_date] += dose.response == "taken"
    # The chart has no "unconfirmed": a past session nobody answered for is drawn as scheduled.
    session_by_day = {
        day: "scheduled" if state == "unconfirmed" else state for _, day, state in sessions
    }
    days = []
    for offset in range(TREND_DAYS):
        day = start + timedelta(days=offset)
        checkin = checkins.get(day)
        days.append(
            DayTrend(
                day=day,
                craving=checkin.craving if checkin else None,
                mood=checkin.mood if checkin else None,
                used=checkin.used if checkin else None,
                doses_scheduled=scheduled.get(day, 0),
                doses_taken=taken.get(day, 0),
                dtms=session_by_day.get(day),
            )
        )
    return PatientTrend(label=patient.label, days=tuple(days))


def _events(rows: _Records, zone: ZoneInfo, start: date, now: datetime) -> tuple[Event, ...]:
    """Return the notable events since ``start``, newest first (for ``/patient``)."""
    events: list[Event] = []
    for alert in rows.alerts:
        at = alert.created_at.astimezone(zone)
        if alert.kind in CRISIS_KINDS and at.date() >= start:
            events.append(Event(at, CRISIS_KINDS[alert.kind], alert.category or ""))
        elif alert.kind == "reschedule" and at.date() >= start:
            events.append(Event(at, alert.kind))
    for checkin in rows.checkins:
        # A check-in's day has no time of its own: its events are placed at noon.
        at = datetime.combine(checkin.local_date, time(12), zone)
        if checkin.used:
            events.append(Event(at, "use"))
        if checkin.dtms_effect == EMERGENCY:
            events.append(Event(at, "dtms_emergency"))
    events.extend(_dose_events(rows.doses, zone, now))
    for code, sent in rows.safety:
        at = sent.astimezone(zone)
        if at.date() >= start:
            events.append(Event(at, "safety_message", code))
    for session in rows.sessions:
        if session.attendance == "missed":
            events.append(
                Event(
                    session.starts_at.astimezone(zone),
                    "missed_dtms",
                    str(session.session_number or ""),
                )
            )
    events.sort(key=lambda e: e.at, reverse=True)
    return tuple(events)


def _dose_events(doses: Sequence[DoseRow], zone: ZoneInfo, now: datetime) -> list[Event]:
    """Return the missed and skipped doses due by ``now`` as events."""
    events = []
    for dose in doses:
        if dose.due_at > now:
            continue
        if dose.status == "missed":
            events.append(Event(dose.due_at.astimezone(zone), "missed_dose", dose.medication))
        elif dose.response == "skipped":
            events.append(
                Event(
                    dose.due_at.astimezone(zone),
                    f"skipped_{dose.detail or 'other'}",
                    dose.medication,
                )
            )
    return events
