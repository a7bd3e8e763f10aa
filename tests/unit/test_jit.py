"""Just-in-time safety messages: courses, send times and triggers, computed without a database."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.container import Services, build_services
from bot.models import Medication, Patient, PatientStatus
from bot.services.jit import (
    DISULFIRAM,
    DRUGS,
    METHADONE,
    NALTREXONE,
    Course,
    Plan,
    Window,
    find_courses,
    plan_course,
)
from bot.storage.deliveries import PlannedDelivery
from bot.storage.jit import MedicationSpan, StopReport
from bot.texts import LOCALES, ContentError, content_root

NEW_YORK = ZoneInfo("America/New_York")
WINDOW = Window(time(9, 0), time(20, 0))
# Thursday 2026-11-26, 07:00 in New York.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)


def patient(zone: str = "America/New_York") -> Patient:
    """Return an enrolled, consented patient."""
    return Patient(
        id=7,
        label="P-007",
        telegram_user_id=7007,
        chat_id=7007,
        status=PatientStatus.ACTIVE,
        timezone=zone,
        locale="en",
        checkin_time="20:00",
        reminders_paused=False,
        created_at=NOW - timedelta(days=30),
        enrolled_at=NOW - timedelta(days=30),
        consented_at=NOW - timedelta(days=30),
    )


def span(
    med_id: int,
    start: date,
    *,
    times: tuple[str, ...] = ("08:00",),
    end: date | None = None,
    created: datetime = NOW,
    removed: datetime | None = None,
    name: str = "Methadone",
    weekdays: str = "daily",
) -> MedicationSpan:
    """Return a medication schedule as the planner reads it."""
    return MedicationSpan(
        Medication(
            id=med_id,
            patient_id=7,
            name=name,
            dose_text="60 mg",
            times=times,
            weekdays=weekdays,
            start_date=start,
            end_date=end,
            active=removed is None,
            created_at=created,
        ),
        removed_at=removed,
    )


def plan(
    *spans: MedicationSpan,
    drug: str = METHADONE,
    now: datetime = NOW,
    days: int = 20,
    stops: tuple[StopReport, ...] = (),
    reminded: bool = True,
    enabled: frozenset[str] = frozenset(DRUGS),
    who: Patient | None = None,
) -> list[PlannedDelivery]:
    """Plan every course of these schedules (all of one medicine) over ``days`` from ``now``."""
    who = who or patient()
    courses = find_courses(spans, ZoneInfo(who.timezone), {s.medication.id: drug for s in spans})
    settings = Plan(now, now + timedelta(days=days), WINDOW, enabled)
    rows: list[PlannedDelivery] = []
    for course in courses:
        rows.extend(plan_course(who, course, stops, reminded=reminded, plan=settings))
    return rows


def local(row: PlannedDelivery, zone: ZoneInfo = NEW_YORK) -> str:
    """Return a row's due time on the patient's wall clock."""
    return f"{row.due_at.astimezone(zone):%Y-%m-%d %H:%M}"


def test_methadone_sends_day_1_4_and_10_at_the_first_dose_time() -> None:
    """A new methadone course gets three messages, each at the first dose time of its day."""
    rows = plan(span(1, TODAY, times=("10:30", "18:00")))
    assert [(r.slot, local(r)) for r in rows] == [
        ("methadone_start", "2026-11-26 10:30"),
        ("methadone_day4", "2026-11-29 10:30"),
        ("methadone_day10", "2026-12-05 10:30"),
    ]
    assert {r.dedupe_key for r in rows} == {
        "jit:7:methadone_start:2026-11-26",
        "jit:7:methadone_day4:2026-11-26",
        "jit:7:methadone_day10:2026-11-26",
    }
    assert all(r.kind == "jit" and r.ref_id == 1 for r in rows)


def test_the_planner_only_writes_what_falls_inside_its_horizon() -> None:
    """With a two-day horizon only the first message is planned; the others come later."""
    assert [r.slot for r in plan(span(1, TODAY, times=("10:30",)), days=2)] == ["methadone_start"]


def test_dose_times_outside_waking_hours_move_into_them() -> None:
    """A 06:00 dose gets its message at 09:00; a 22:00 dose at 20:00 the same day."""
    early = plan(span(1, TODAY, times=("06:00",)), days=1)
    late = plan(span(1, TODAY, times=("22:00",)), days=1)
    assert local(early[0]) == "2026-11-26 09:00"
    assert local(late[0]) == "2026-11-26 20:00"


def test_a_course_entered_in_the_evening_gets_its_first_message_the_next_morning() -> None:
    """Entered at 21:30 for a 22:00 dose: the first message waits for 09:00, never at night."""
    evening = datetime(2026, 11, 27, 2, 30, tzinfo=UTC)  # 21:30 in New York
    rows = plan(span(1, TODAY, times=("22:00",), created=evening), now=evening, days=1)
    assert [(r.slot, local(r)) for r in rows] == [("methadone_start", "2026-11-27 09:00")]


def test_messages_follow_the_wall_clock_across_the_dst_change() -> None:
    """A course from Oct 28 sends at 08:00 local before and after the clocks go back (Nov 1)."""
    start = date(2026, 10, 28)
    created = datetime(2026, 10, 28, 11, 0, tzinfo=UTC)
    rows = plan(span(1, start, times=("09:15",), created=created), now=created)
    assert [local(r) for r in rows] == ["2026-10-28 09:15", "2026-10-31 09:15", "2026-11-06 09:15"]
    assert [r.due_at.hour for r in rows] == [13, 13, 14]  # EDT, then EST


def test_a_course_entered_late_gets_the_first_message_now_and_skips_the_ones_it_missed() -> None:
    """Entered on day 6 (start date day 1): the day-1 facts now, no day-4 message, day 10 later."""
    start = TODAY - timedelta(days=5)
    late = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 11:00 in New York
    rows = plan(span(1, start, created=late), now=late)
    assert [(r.slot, local(r)) for r in rows] == [
        ("methadone_start", "2026-11-26 11:00"),
        ("methadone_day10", "2026-11-30 09:00"),
    ]


def test_a_course_older_than_two_weeks_gets_nothing() -> None:
    """A patient long on methadone (start date a month ago) is not told about "first days"."""
    assert plan(span(1, TODAY - timedelta(days=30))) == []


def test_a_dose_change_entered_as_a_new_schedule_continues_the_course() -> None:
    """Old schedule removed today, new one from today: one course, from the first start."""
    start = TODAY - timedelta(days=2)
    old = span(1, start, created=NOW - timedelta(days=2), removed=NOW)
    new = span(2, TODAY)
    [course] = find_courses([old, new], NEW_YORK, {1: METHADONE, 2: METHADONE})
    assert (course.start, course.last_day, course.first.id) == (start, None, 1)
    rows = plan(old, new)
    assert {r.dedupe_key for r in rows} == {
        f"jit:7:methadone_day4:{start}",
        f"jit:7:methadone_day10:{start}",
    }


def test_a_new_start_after_a_break_is_a_new_course() -> None:
    """A schedule that starts two days after the last one ended starts again from day 1."""
    first = span(1, TODAY - timedelta(days=40), end=TODAY - timedelta(days=3))
    again = span(2, TODAY)
    courses = find_courses([first, again], NEW_YORK, {1: METHADONE, 2: METHADONE})
    assert [c.start for c in courses] == [TODAY - timedelta(days=40), TODAY]
    assert [r.slot for r in plan(first, again, days=2)] == ["methadone_start"]


def test_a_schedule_removed_before_it_started_is_no_course() -> None:
    """Entered by mistake for next week and removed today: no course, no message."""
    mistaken = span(1, TODAY + timedelta(days=7), removed=NOW + timedelta(minutes=2))
    assert find_courses([mistaken], NEW_YORK, {1: METHADONE}) == []


def test_a_removed_course_sends_nothing_more() -> None:
    """A methadone course removed on day 2 plans none of its later messages."""
    start = TODAY - timedelta(days=1)
    removed = span(1, start, created=NOW - timedelta(days=1), removed=NOW)
    assert plan(removed) == []


def test_a_course_that_ends_before_day_10_has_no_day_10_message() -> None:
    """A one-week methadone schedule gets the day-1 and day-4 messages only."""
    rows = plan(span(1, TODAY, end=TODAY + timedelta(days=6)))
    assert [r.slot for r in rows] == ["methadone_start", "methadone_day4"]


def test_a_weekday_schedule_counts_its_days_from_the_first_dose() -> None:
    """Mon-Fri methadone entered on a Saturday starts its count on Monday."""
    saturday = date(2026, 11, 28)
    created = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
    rows = plan(span(1, saturday, weekdays="mon-fri", created=created), now=created, days=2)
    assert [(r.slot, local(r)) for r in rows] == [("methadone_start", "2026-11-30 09:00")]


def test_disulfiram_gets_one_message_at_its_start() -> None:
    """Disulfiram: the hidden-alcohol message on the first day, and nothing after."""
    rows = plan(span(1, TODAY, times=("12:00",), name="Antabuse"), drug=DISULFIRAM)
    assert [(r.slot, local(r)) for r in rows] == [("disulfiram_start", "2026-11-26 12:00")]


def test_naltrexone_start_alone_sends_nothing() -> None:
    """An open-ended naltrexone course has no message until it ends or the patient stops."""
    assert plan(span(1, TODAY, name="Naltrexone"), drug=NALTREXONE) == []


def test_a_naltrexone_course_that_ends_gets_the_message_the_next_morning() -> None:
    """End date Nov 30: the tolerance message at 09:00 on Dec 1, once per course."""
    course = span(1, TODAY - timedelta(days=20), end=date(2026, 11, 30), name="Vivitrol")
    rows = plan(course, drug=NALTREXONE)
    key = f"jit:7:naltrexone_stop:{TODAY - timedelta(days=20)}"
    assert [(r.slot, r.dedupe_key, local(r)) for r in rows] == [
        ("naltrexone_stop", key, "2026-12-01 09:00")
    ]


def test_an_ended_naltrexone_course_never_reminded_sends_nothing() -> None:
    """A schedule entered by mistake and removed is not a course the patient stopped."""
    course = span(1, TODAY, removed=NOW + timedelta(minutes=3), name="Naltrexone")
    assert plan(course, drug=NALTREXONE, reminded=False) == []


def test_a_stopped_dose_sends_the_naltrexone_message_at_once() -> None:
    """The patient's own "stopped" is answered at that moment, before any end date."""
    course = span(1, TODAY - timedelta(days=10), end=TODAY + timedelta(days=20))
    late_evening = datetime(2026, 11, 27, 3, 30, tzinfo=UTC)  # 22:30 in New York
    stop = StopReport(7, 1, late_evening)
    rows = plan(course, drug=NALTREXONE, now=late_evening, stops=(stop,))
    assert [(r.slot, r.due_at) for r in rows] == [("naltrexone_stop", late_evening)]


def test_an_older_stopped_answer_waits_for_waking_hours() -> None:
    """Planned hours after the answer (the patient was paused), it goes out at 09:00."""
    course = span(1, TODAY - timedelta(days=10))
    stop = StopReport(7, 1, datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    rows = plan(course, drug=NALTREXONE, stops=(stop,))
    assert [local(r) for r in rows] == ["2026-11-26 09:00"]


def test_a_stopped_answer_older_than_two_weeks_is_past_its_moment() -> None:
    """The stop message is for the weeks after stopping, not a month later."""
    course = span(1, TODAY - timedelta(days=40))
    stop = StopReport(7, 1, NOW - timedelta(days=15))
    assert plan(course, drug=NALTREXONE, stops=(stop,)) == []


def test_a_switched_off_kind_plans_nothing() -> None:
    """JUST_IN_TIME_METHADONE=false: no methadone message."""
    assert plan(span(1, TODAY), enabled=frozenset({NALTREXONE, DISULFIRAM})) == []


def test_the_window_opens_and_closes_on_the_patients_wall_clock() -> None:
    """Before 09:00 waits for 09:00, inside stays, after 20:00 waits for tomorrow's 09:00."""
    tokyo = ZoneInfo("Asia/Tokyo")
    inside = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
    assert WINDOW.next_open(inside, tokyo) == inside
    early = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 06:00 in Tokyo
    assert f"{WINDOW.next_open(early, tokyo).astimezone(tokyo):%d %H:%M}" == "26 09:00"
    late = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo
    assert f"{WINDOW.next_open(late, tokyo).astimezone(tokyo):%d %H:%M}" == "27 09:00"


def test_a_course_runs_on_its_days_only_while_a_schedule_is_in_place() -> None:
    """``running_on`` is false after the end date and for a removed schedule."""
    until = TODAY + timedelta(days=3)
    course = Course(METHADONE, TODAY, until, (span(1, TODAY, end=until),))
    assert course.running_on(TODAY + timedelta(days=3))
    assert not course.running_on(TODAY + timedelta(days=4))
    removed = Course(METHADONE, TODAY, TODAY, (span(1, TODAY, removed=NOW),))
    assert not removed.running_on(TODAY)


@pytest.mark.parametrize(
    ("name", "drug"),
    [
        ("Methadone", METHADONE),
        ("Dolophine", METHADONE),
        ("Methadose liquid", METHADONE),
        ("metadona", METHADONE),
        ("Vivitrol", NALTREXONE),
        ("Naltrexone", NALTREXONE),
        ("Antabuse", DISULFIRAM),
        ("Naloxone", None),
        ("Suboxone", None),
        ("Buprenorphine/naloxone", None),
        ("Acamprosate", None),
    ],
)
def test_schedules_are_recognised_by_the_librarys_names(
    services: Services, name: str, drug: str | None
) -> None:
    """Brand names, Spanish names and combinations map to the right medicine, or to none."""
    assert services.safety_messages.drug_of(name) == drug


def test_a_sending_window_that_closes_before_it_opens_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """JUST_IN_TIME_LATEST at or before JUST_IN_TIME_EARLIEST: one line naming the variable."""
    monkeypatch.setenv("JUST_IN_TIME_EARLIEST", "20:00")
    monkeypatch.setenv("JUST_IN_TIME_LATEST", "09:00")
    with pytest.raises(SettingsError, match=r"^JUST_IN_TIME_LATEST: must be later than"):
        load_settings(_env_file=None)


def test_a_content_folder_without_the_safety_templates_stops_start_up_unless_switched_off(
    settings: Settings, tmp_path: Path
) -> None:
    """A clinic's copy of content/ from before these messages names the missing template."""
    copy = tmp_path / "content"
    shutil.copytree(content_root(), copy)
    for locale in LOCALES:
        (copy / "messages" / locale / "jit.yaml").unlink()
    old = settings.model_copy(update={"content_dir": copy})
    with pytest.raises(ContentError, match=r"no template 'jit\.methadone_start'"):
        build_services(old)
    off = old.model_copy(
        update={f"just_in_time_{drug}": False for drug in DRUGS},
    )
    assert build_services(off).safety_messages.enabled == frozenset()
