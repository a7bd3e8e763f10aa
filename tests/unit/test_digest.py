"""The digest's figures and reasons against values computed by hand on a fixed week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.models import Alert, Patient, PatientStatus
from bot.services.digest_figures import _Records, session_state, summarise
from bot.services.digest_model import Reason, Rules
from bot.storage.digest import CheckinRow, DoseRow, SessionRow

NY = ZoneInfo("America/New_York")
WEEK_END = date(2026, 11, 29)  # a Sunday: the week is Mon 23 - Sun 29
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def patient(**changes: object) -> Patient:
    values: dict[str, object] = {
        "id": 1,
        "label": "P-001",
        "telegram_user_id": 11,
        "chat_id": 11,
        "status": PatientStatus.ACTIVE,
        "timezone": "America/New_York",
        "locale": "en",
        "checkin_time": "20:00",
        "reminders_paused": False,
        "created_at": datetime(2026, 10, 1, tzinfo=UTC),
        "enrolled_at": datetime(2026, 10, 1, tzinfo=UTC),
        "consented_at": datetime(2026, 10, 1, 14, tzinfo=UTC),
    }
    values.update(changes)
    return Patient(**values)  # type: ignore[arg-type]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).astimezone(UTC)


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


def checkin(day: date, craving: int | None, mood: int | None, used: bool | None) -> CheckinRow:
    return CheckinRow(1, day, craving, mood, used)


def dose(day: date, status: str, response: str | None = None, detail: str | None = None) -> DoseRow:
    return DoseRow(1, day, local(day, 8), status, response, detail, "Suboxone")


def alert(kind: str, at: datetime, *, acknowledged: bool = False, category: str = "") -> Alert:
    return Alert(
        id=hash((kind, at)) % 10_000,
        patient_id=1,
        kind=kind,
        severity="urgent",
        category=category or None,
        created_at=at,
        acknowledged_by=2 if acknowledged else None,
        acknowledged_at=at + timedelta(minutes=5) if acknowledged else None,
    )


def prompts(first: date, last: date) -> list[tuple[date, datetime]]:
    days = (last - first).days + 1
    return [(first + timedelta(days=i), local(first + timedelta(days=i), 20)) for i in range(days)]


def fixed_week() -> _Records:
    """One busy week, with every figure worked out in the test below."""
    return _Records(
        checkins=[
            checkin(d(16), 3, 7, False),
            checkin(d(18), 3, 6, False),
            checkin(d(23), 2, 6, False),
            checkin(d(24), 8, 5, True),
            checkin(d(25), 9, 4, False),
            checkin(d(27), 5, 5, True),
        ],
        doses=[
            dose(d(23), "answered", "taken"),
            dose(d(24), "answered", "taken"),
            dose(d(25), "answered", "taken"),
            dose(d(26), "answered", "skipped", "ran_out"),
            dose(d(27), "answered", "skipped", "forgot"),
            dose(d(28), "missed"),
            dose(d(29), "missed"),
        ],
        sessions=[
            SessionRow(1, local(d(23), 10), 10, "confirmed", "attended"),
            SessionRow(1, local(d(24), 10), 11, "reschedule_requested", None),
            SessionRow(1, local(d(25), 10), 12, "scheduled", "missed"),
            SessionRow(1, local(d(27), 10), 13, "confirmed", None),
        ],
        alerts=[
            # 03:30 UTC on Tuesday is 22:30 on Monday in New York: the patient's Monday.
            alert("crisis", datetime(2026, 11, 24, 3, 30, tzinfo=UTC), category="suicide"),
            alert("sos", datetime(2026, 11, 26, 15, 0, tzinfo=UTC), acknowledged=True),
        ],
        prompts=prompts(d(16), d(29)),
    )


def test_every_figure_of_a_busy_week_matches_the_hand_count() -> None:
    """Check-ins, craving, mood, use, doses, skips, sessions, events and alerts, by hand."""
    week = summarise(patient(), fixed_week(), WEEK_END, NOW, Rules())
    assert (week.checkins_done, week.checkins_expected) == (4, 7)
    assert week.craving_mean == 6.0  # (2 + 8 + 9 + 5) / 4
    assert week.craving_max == 9
    assert week.craving_variability == 3.7  # (6 + 1 + 4) / 3
    assert week.craving_previous_mean == 3.0
    assert week.mood_mean == 5.0  # (6 + 5 + 4 + 5) / 4
    assert week.mood_previous_mean == 6.5
    assert week.mood_direction == "down"
    assert week.use_days == 2
    assert (week.doses_scheduled, week.doses_taken) == (7, 3)
    assert (week.doses_missed, week.doses_skipped) == (2, 2)
    assert week.skip_reasons == (("ran_out", 1), ("forgot", 1))  # "ran out" first
    assert week.ran_out == ("Suboxone",)
    assert (week.dtms_scheduled, week.dtms_attended) == (4, 2)
    assert week.missed_sessions == (12,)
    assert week.crisis_events == (("crisis", 0), ("sos", 3))  # Monday, Thursday
    assert week.open_alerts == 1
    assert week.days_without_checkin == 2  # last answer Fri 27, week ends Sun 29


def test_the_reasons_of_a_busy_week_come_in_order_of_weight() -> None:
    """Each rule that fires is a reason; the heaviest (a crisis) first; ties keep rule order."""
    week = summarise(patient(), fixed_week(), WEEK_END, NOW, Rules())
    assert week.reasons == (
        Reason("crisis", weekday=0),
        Reason("sos", weekday=3),
        Reason("use", count=2),
        Reason("ran_out", name="Suboxone"),
        Reason("craving_high", count=2, amount=8),
        Reason("craving_up", amount=3.0),
        Reason("missed_doses", count=2),
        Reason("missed_dtms", count=12),
    )
    assert week.score == 100 + 90 + 50 + 40 + 30 + 25 + 20 + 20
    assert week.flagged


def test_thresholds_come_from_the_rules() -> None:
    """Raising the thresholds above the week's values silences those reasons."""
    rules = Rules(
        use_days=3,
        craving_high=10,
        craving_rise=3.5,
        missed_doses=3,
        mood_drop=1.0,
    )
    codes = [r.code for r in summarise(patient(), fixed_week(), WEEK_END, NOW, rules).reasons]
    assert "use" not in codes
    assert "craving_high" not in codes
    assert "craving_up" not in codes
    assert "missed_doses" not in codes
    assert "mood_down" in codes  # 6.5 -> 5.0 is a drop of 1.5, over the lowered 1.0


def test_an_empty_week_of_a_paused_patient_reports_nothing() -> None:
    """No rows, reminders paused: zeros and Nones, no reason, shown as paused."""
    week = summarise(patient(reminders_paused=True), _Records(), WEEK_END, NOW, Rules())
    assert week.status == "paused"
    assert (week.checkins_done, week.checkins_expected) == (0, 0)
    assert week.craving_mean is None
    assert week.mood_direction is None
    assert week.adherence is None
    assert week.reasons == ()
    assert not week.flagged


def test_an_active_patient_silent_all_week_is_flagged_for_no_check_in() -> None:
    """Asked every day and never answering since the 20th: "no check-in for 9 days"."""
    rows = _Records(checkins=[checkin(d(20), 2, 7, False)], prompts=prompts(d(16), d(29)))
    week = summarise(patient(), rows, WEEK_END, NOW, Rules())
    assert (week.checkins_done, week.checkins_expected) == (0, 7)
    assert week.reasons == (Reason("no_checkin", count=9),)


def test_a_patient_enrolled_mid_week_is_expected_only_from_enrollment() -> None:
    """Consent on Friday: three prompts, three answers, nothing to report."""
    rows = _Records(
        checkins=[
            checkin(d(27), 3, 6, False),
            checkin(d(28), 2, 7, False),
            checkin(d(29), 2, 7, False),
        ],
        prompts=prompts(d(27), d(29)),
    )
    week = summarise(patient(consented_at=local(d(27), 9)), rows, WEEK_END, NOW, Rules())
    assert week.enrolled_on == d(27)
    assert (week.checkins_done, week.checkins_expected) == (3, 3)
    assert week.reasons == ()


def test_a_new_patient_who_never_answered_counts_enrollment_day_as_silent() -> None:
    """Enrolled Friday, no answer Fri-Sun: three days without a check-in."""
    rows = _Records(prompts=prompts(d(27), d(29)))
    week = summarise(patient(consented_at=local(d(27), 9)), rows, WEEK_END, NOW, Rules())
    assert week.days_without_checkin == 3
    assert week.reasons == (Reason("no_checkin", count=3),)


def test_the_autumn_dst_week_has_seven_local_days_and_local_weekdays() -> None:
    """The week of 2026-11-01 (169 hours in New York): 7 prompts, 7 answers, local Sunday."""
    end = d(1)
    rows = _Records(
        checkins=[checkin(end - timedelta(days=i), 2, 7, False) for i in range(7)],
        prompts=prompts(end - timedelta(days=6), end),
        # 04:30 UTC on Monday Nov 2 is 23:30 on Sunday Nov 1 in New York (EST, UTC-5):
        # with the summer offset it would fall on Monday, outside the week.
        alerts=[alert("crisis", datetime(2026, 11, 2, 4, 30, tzinfo=UTC), category="overdose")],
    )
    week = summarise(patient(), rows, end, datetime(2026, 11, 2, 12, tzinfo=UTC), Rules())
    assert (week.checkins_done, week.checkins_expected) == (7, 7)
    assert week.crisis_events == (("crisis", 6),)


def test_the_spring_dst_week_counts_a_dose_at_the_skipped_hour() -> None:
    """2026-03-08 skips 02:00-03:00 in New York; a 02:30 dose (sent at 03:00) still counts."""
    day = date(2026, 3, 8)
    due = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the first instant after 02:30
    rows = _Records(doses=[DoseRow(1, day, due, "answered", "taken", None, "Methadone")])
    week = summarise(patient(), rows, day, datetime(2026, 3, 9, tzinfo=UTC), Rules())
    assert (week.doses_scheduled, week.doses_taken) == (1, 1)


def test_doses_not_yet_due_are_not_counted() -> None:
    """On demand mid-day, tonight's dose is neither scheduled nor missed yet."""
    today = d(30)
    rows = _Records(
        doses=[
            DoseRow(1, today, local(today, 8), "answered", "taken", None, "Suboxone"),
            DoseRow(1, today, local(today, 20), "pending", None, None, "Suboxone"),
        ]
    )
    week = summarise(patient(), rows, today, local(today, 12), Rules())
    assert (week.doses_scheduled, week.doses_taken) == (1, 1)


def test_an_unreachable_patient_says_since_when_in_their_zone() -> None:
    """Blocked on Thursday evening New York time: "unreachable since Thu", not Friday (UTC)."""
    rows = _Records(
        alerts=[alert("unreachable", datetime(2026, 11, 27, 3, 0, tzinfo=UTC))],  # Thu 22:00
        prompts=prompts(d(23), d(26)),
        checkins=[checkin(d(26), 2, 6, False)],
    )
    week = summarise(patient(status=PatientStatus.UNREACHABLE), rows, WEEK_END, NOW, Rules())
    assert week.status == "unreachable"
    assert week.reasons == (Reason("unreachable", weekday=3),)


@pytest.mark.parametrize(
    ("status", "attendance", "starts", "expected"),
    [
        ("confirmed", "missed", -1, "missed"),  # staff's record wins over the promise
        ("scheduled", "attended", -1, "attended"),
        ("reschedule_requested", None, -1, "reschedule"),
        ("confirmed", None, -1, "attended"),  # past and confirmed, nothing marked
        ("scheduled", None, -1, "unconfirmed"),
        ("confirmed", None, 1, "confirmed"),
        ("scheduled", None, 1, "scheduled"),
    ],
)
def test_a_session_state_prefers_staff_records_then_the_patient_answer(
    status: str, attendance: str | None, starts: int, expected: str
) -> None:
    """What became of a dTMS session, from the clinic's mark, the answer and the time."""
    session = SessionRow(1, NOW + timedelta(hours=starts), 3, status, attendance)
    assert session_state(session, NOW) == expected


def test_the_trend_has_28_days_with_doses_and_sessions() -> None:
    """The chart's 28 days end on the week's last day and carry adherence and sessions."""
    week = summarise(patient(), fixed_week(), WEEK_END, NOW, Rules())
    days = week.trend.days
    assert len(days) == 28
    assert (days[0].day, days[-1].day) == (d(2), WEEK_END)
    by_day = {t.day: t for t in days}
    assert (by_day[d(24)].craving, by_day[d(24)].used) == (8, True)
    assert (by_day[d(26)].doses_scheduled, by_day[d(26)].doses_taken) == (1, 0)
    assert by_day[d(25)].dtms == "missed"
    assert by_day[d(24)].dtms == "reschedule"
    assert by_day[d(16)].mood == 7
    assert by_day[d(17)].craving is None


def test_the_safety_nets_later_alerts_count_as_crisis_events() -> None:
    """ "I need help now", no answer to "are you safe?", an unsafe follow-up: crisis events."""
    rows = _Records(
        alerts=[
            alert("crisis_help", local(d(24), 21), category="suicide"),
            alert("followup_silent", local(d(26), 21), category="overdose"),
        ],
        prompts=prompts(d(23), d(29)),
        checkins=[checkin(d(29), 2, 6, False)],
    )
    week = summarise(patient(), rows, WEEK_END, NOW, Rules())
    assert week.crisis_events == (("crisis", 1), ("crisis", 3))
    assert [r.code for r in week.reasons] == ["crisis", "crisis"]


def test_a_dose_skipped_as_stopped_needs_attention_by_the_medicines_name() -> None:
    """A skip "I have stopped taking it" counts with the skips, after "ran out", and is a reason."""
    rows = _Records(
        doses=[
            dose(d(24), "answered", "skipped", "forgot"),
            dose(d(25), "answered", "skipped", "stopped"),
            dose(d(26), "answered", "skipped", "ran_out"),
        ],
        prompts=prompts(d(23), d(29)),
    )
    week = summarise(patient(), rows, WEEK_END, NOW, Rules())
    assert week.skip_reasons == (("ran_out", 1), ("stopped", 1), ("forgot", 1))
    assert Reason("stopped", name="Suboxone") in week.reasons


def test_safety_messages_sent_in_the_week_are_listed_on_the_patients_days() -> None:
    """Sent in the week: listed by weekday in the patient's zone; the week before: not."""
    rows = _Records(
        safety=[
            ("methadone_day4", local(d(26), 9)),
            # 02:00 UTC on Tuesday 24 is Monday 23 at 21:00 in New York.
            ("methadone_start", datetime(2026, 11, 24, 2, 0, tzinfo=UTC)),
            ("disulfiram_start", local(d(20), 9)),
        ],
        checkins=[checkin(d(29), 2, 7, False)],
        prompts=prompts(d(23), d(29)),
    )
    week = summarise(patient(), rows, WEEK_END, NOW, Rules(), with_events=True)
    assert week.safety_messages == (("methadone_start", 0), ("methadone_day4", 3))
    assert not week.reasons, "a safety message alone is no reason for attention"
    sent = [(e.code, e.detail) for e in week.events if e.code == "safety_message"]
    assert sent == [
        ("safety_message", "methadone_day4"),
        ("safety_message", "methadone_start"),
        ("safety_message", "disulfiram_start"),
    ]
