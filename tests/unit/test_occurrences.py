"""Tests for wall-clock-correct occurrences and for the parsing of schedule input."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.services.occurrences import (
    ALL_WEEKDAYS,
    NonexistentLocalDateError,
    Occurrence,
    ScheduleInputError,
    daily_occurrences,
    format_weekdays,
    occurrences_between,
    parse_hhmm,
    parse_weekdays,
    resolve_local,
)

ZONES = (
    "UTC",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Halifax",
    "America/St_Johns",
    "America/Mexico_City",
    "America/Havana",
    "America/Bogota",
    "America/Caracas",
    "America/Santiago",
    "America/Asuncion",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/Nuuk",
    "America/Scoresbysund",
    "Atlantic/Azores",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Helsinki",
    "Europe/Kyiv",
    "Europe/Moscow",
    "Europe/Istanbul",
    "Africa/Casablanca",
    "Africa/Cairo",
    "Africa/Johannesburg",
    "Africa/Lagos",
    "Asia/Jerusalem",
    "Asia/Gaza",
    "Asia/Beirut",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Australia/Eucla",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Norfolk",
    "Pacific/Marquesas",
)
ZONES_WITH_DST_CHANGES_IN_2025_AND_2026 = (
    "America/New_York",
    "America/St_Johns",
    "America/Santiago",
    "Europe/London",
    "Europe/Berlin",
    "Africa/Casablanca",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)
FIRST_DAY = date(2025, 1, 1)
LAST_DAY = date(2026, 12, 31)
ONE_DAY = timedelta(days=1)
QUARTER_HOUR = timedelta(minutes=15)
EVERY_QUARTER_HOUR = tuple(time(hour, minute) for hour in range(24) for minute in (0, 15, 30, 45))

NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def _utc(*parts: int) -> datetime:
    """Build a UTC instant from year, month, day, hour and minute."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading of an instant in a zone."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


@cache
def _transition_ranges(zone_name: str) -> tuple[tuple[date, date], ...]:
    """Scan 2025 and 2026 for offset changes and return the local days around each one."""
    tz = ZoneInfo(zone_name)
    ranges: list[tuple[date, date]] = []
    probe = datetime.combine(FIRST_DAY, time(12), tzinfo=UTC)
    previous = probe.astimezone(tz).utcoffset()
    while probe.date() <= LAST_DAY:
        probe += ONE_DAY
        offset = probe.astimezone(tz).utcoffset()
        if offset != previous:
            before = (probe - ONE_DAY).astimezone(tz).date()
            ranges.append((before, probe.astimezone(tz).date() + ONE_DAY))
        previous = offset
    return tuple(ranges)


def _brute_force_dues(tz: ZoneInfo, first: date, last: date) -> dict[datetime, datetime]:
    """Map every 15-minute wall time of the days to its expected due instant, by enumeration.

    Offsets and changes of these zones fall on quarter hours, so walking UTC in quarter hours
    meets every wall time that exists; a wall time that is never met lies in a gap and is due at
    the first instant whose wall clock is later.
    """
    start = datetime.combine(first - ONE_DAY, time(), tzinfo=UTC)
    instants = [start + step * QUARTER_HOUR for step in range(96 * ((last - first).days + 3))]
    first_seen: dict[datetime, datetime] = {}
    for instant in instants:
        first_seen.setdefault(_wall(instant, tz), instant)
    expected: dict[datetime, datetime] = {}
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        for slot in EVERY_QUARTER_HOUR:
            wall = datetime.combine(date.fromordinal(ordinal), slot)
            if wall in first_seen:
                expected[wall] = first_seen[wall]
            else:
                expected[wall] = next(i for i in instants if _wall(i, tz) > wall)
    return expected


@pytest.mark.parametrize("zone_name", ZONES)
def test_every_quarter_hour_slot_fires_once_per_day_at_the_right_instant_around_changes(
    zone_name: str,
) -> None:
    """Around each 2025-2026 offset change, every quarter-hour slot is due daily as enumerated."""
    tz = ZoneInfo(zone_name)
    for first, last in _transition_ranges(zone_name):
        expected = _brute_force_dues(tz, first, last)
        days = [date.fromordinal(o) for o in range(first.toordinal(), last.toordinal() + 1)]
        for slot in EVERY_QUARTER_HOUR:
            found = daily_occurrences(slot, ALL_WEEKDAYS, tz, first, last)
            assert [o.local_date for o in found] == days
            for occurrence in found:
                wall = datetime.combine(occurrence.local_date, slot)
                assert occurrence.due_utc == expected[wall], (zone_name, wall)
                assert occurrence.due_utc.utcoffset() == timedelta(0)
                assert occurrence.local_due == occurrence.due_utc.astimezone(tz)
                assert occurrence.local_due.replace(tzinfo=None) >= wall


@pytest.mark.parametrize("zone_name", ZONES_WITH_DST_CHANGES_IN_2025_AND_2026)
def test_scanning_finds_the_offset_changes_of_zones_that_have_them(zone_name: str) -> None:
    """The exhaustive check above really visits changes: DST zones have several in 2025-2026."""
    assert len(_transition_ranges(zone_name)) >= 4


def test_sao_paulo_has_no_changes_since_2019_and_every_slot_round_trips() -> None:
    """Sao Paulo stays at UTC-3 (no DST since 2019), so every slot is due at its wall time + 3 h."""
    tz = ZoneInfo("America/Sao_Paulo")
    assert _transition_ranges("America/Sao_Paulo") == ()
    for slot in EVERY_QUARTER_HOUR:
        for occurrence in daily_occurrences(
            slot, ALL_WEEKDAYS, tz, date(2025, 10, 1), date(2026, 3, 1)
        ):
            wall = datetime.combine(occurrence.local_date, slot)
            assert occurrence.due_utc == wall.replace(tzinfo=UTC) + timedelta(hours=3)


zone_names = st.sampled_from(ZONES)
days_in_range = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
slots = st.times()


@given(zone_name=zone_names, day=days_in_range, slot=slots)
def test_any_slot_on_any_day_is_due_once_and_never_before_its_wall_time(
    zone_name: str, day: date, slot: time
) -> None:
    """Any slot is due once a day: at its wall time if it exists, else the first instant after."""
    tz = ZoneInfo(zone_name)
    wall = datetime.combine(day, slot)
    [occurrence] = daily_occurrences(slot, ALL_WEEKDAYS, tz, day, day)
    assert occurrence.local_date == day
    assert occurrence.slot == slot
    local = occurrence.local_due.replace(tzinfo=None)
    readings = {
        wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        for fold in (0, 1)
        if _wall(wall.replace(tzinfo=tz, fold=fold), tz) == wall
    }
    if readings:
        assert local == wall
        assert occurrence.due_utc == min(readings)
    else:
        assert local > wall
        assert _wall(occurrence.due_utc - timedelta(microseconds=1), tz) < wall


@given(
    zone_name=zone_names,
    start=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 28), timezones=st.just(UTC)
    ),
    length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    chosen_slots=st.lists(st.times(), min_size=1, max_size=4),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    bounds=st.tuples(st.none() | days_in_range, st.none() | days_in_range),
)
def test_a_rolling_window_holds_exactly_the_daily_occurrences_due_inside_it(
    zone_name: str,
    start: datetime,
    length: timedelta,
    chosen_slots: list[time],
    weekdays: frozenset[int],
    bounds: tuple[date | None, date | None],
) -> None:
    """A UTC window returns exactly the daily occurrences due inside it, within the active dates."""
    tz = ZoneInfo(zone_name)
    end = start + length
    active_from, active_until = bounds
    expected = sorted(
        (
            occurrence
            for slot in set(chosen_slots)
            for occurrence in daily_occurrences(
                slot, weekdays, tz, start.date() - 3 * ONE_DAY, end.date() + 3 * ONE_DAY
            )
            if start <= occurrence.due_utc < end
            and (active_from is None or occurrence.local_date >= active_from)
            and (active_until is None or occurrence.local_date <= active_until)
        ),
        key=lambda o: (o.due_utc, o.local_date, o.slot),
    )
    found = occurrences_between(
        chosen_slots, weekdays, tz, start, end, active_from=active_from, active_until=active_until
    )
    assert found == expected


@pytest.mark.parametrize(
    ("slot", "due"),
    [
        (time(1, 59), _utc(2026, 3, 8, 6, 59)),
        (time(2, 0), _utc(2026, 3, 8, 7, 0)),
        (time(2, 30), _utc(2026, 3, 8, 7, 0)),
        (time(2, 59), _utc(2026, 3, 8, 7, 0)),
        (time(3, 0), _utc(2026, 3, 8, 7, 0)),
        (time(3, 30), _utc(2026, 3, 8, 7, 30)),
    ],
)
def test_new_york_spring_gap_slots_are_due_at_the_three_o_clock_transition(
    slot: time, due: datetime
) -> None:
    """On New York's 2026 spring change, every slot from 02:00 to 02:59 is due at 03:00 EDT."""
    assert resolve_local(date(2026, 3, 8), slot, NEW_YORK) == due


def test_new_york_repeated_autumn_hour_fires_once_at_its_first_occurrence() -> None:
    """On New York's 2026 autumn change, 01:30 is due once, at 01:30 EDT (05:30 UTC)."""
    found = daily_occurrences(
        time(1, 30), ALL_WEEKDAYS, NEW_YORK, date(2026, 10, 31), date(2026, 11, 2)
    )
    assert [o.due_utc for o in found] == [
        _utc(2026, 10, 31, 5, 30),
        _utc(2026, 11, 1, 5, 30),
        _utc(2026, 11, 2, 6, 30),
    ]
    assert found[1].local_due.utcoffset() == timedelta(hours=-4)


def test_sydney_spring_gap_and_autumn_fold_follow_the_rule() -> None:
    """Sydney's 02:30 is due at 03:00 AEDT in the October gap, at 02:30 AEDT in the April fold."""
    assert resolve_local(date(2025, 10, 5), time(2, 30), SYDNEY) == _utc(2025, 10, 4, 16, 0)
    assert resolve_local(date(2026, 4, 5), time(2, 30), SYDNEY) == _utc(2026, 4, 4, 15, 30)


@pytest.mark.parametrize("slot", [time(2, 0), time(2, 15), time(2, 29), time(2, 30)])
def test_lord_howe_half_hour_gap_resolves_to_half_past_two(slot: time) -> None:
    """Lord Howe skips 02:00-02:29 in October 2025: those slots are due at 02:30 (+11:00)."""
    due = resolve_local(date(2025, 10, 5), slot, LORD_HOWE)
    assert due == _utc(2025, 10, 4, 15, 30)
    assert due.astimezone(LORD_HOWE).replace(tzinfo=None) == datetime(2025, 10, 5, 2, 30)


def test_lord_howe_half_hour_fold_fires_at_the_first_reading() -> None:
    """Lord Howe repeats 01:30-01:59 in April 2026: 01:45 is due at the first reading (+11:00)."""
    assert resolve_local(date(2026, 4, 5), time(1, 45), LORD_HOWE) == _utc(2026, 4, 4, 14, 45)


@pytest.mark.parametrize(
    ("zone_name", "change_day"),
    [
        ("America/New_York", date(2026, 3, 8)),
        ("Europe/Berlin", date(2026, 3, 29)),
        ("Australia/Sydney", date(2025, 10, 5)),
    ],
)
def test_slots_after_midnight_on_the_day_after_the_spring_change_are_not_skipped(
    zone_name: str, change_day: date
) -> None:
    """Each minute from 00:00 to 00:59 fires every day around a spring change (cron skips some)."""
    tz = ZoneInfo(zone_name)
    days = [change_day + offset * ONE_DAY for offset in range(-1, 3)]
    for minute in range(60):
        slot = time(0, minute)
        found = daily_occurrences(slot, ALL_WEEKDAYS, tz, days[0], days[-1])
        assert [o.local_date for o in found] == days
        for occurrence in found:
            assert occurrence.local_due.replace(tzinfo=None) >= datetime.combine(
                occurrence.local_date, slot
            )
        assert found[2].local_due.replace(tzinfo=None) == datetime.combine(days[2], slot)


def test_a_midnight_gap_moves_early_slots_to_the_end_of_the_gap() -> None:
    """Santiago skipped 00:00-00:59 on 2025-09-07, so 00:30 that day is due at 01:00 (-03:00)."""
    tz = ZoneInfo("America/Santiago")
    due = resolve_local(date(2025, 9, 7), time(0, 30), tz)
    assert due.astimezone(tz).replace(tzinfo=None) == datetime(2025, 9, 7, 1, 0)


def test_a_date_the_zone_skipped_has_no_occurrence() -> None:
    """Samoa skipped 2011-12-30: that date has no occurrence and its neighbours keep theirs."""
    apia = ZoneInfo("Pacific/Apia")
    with pytest.raises(NonexistentLocalDateError):
        resolve_local(date(2011, 12, 30), time(8), apia)
    found = daily_occurrences(time(8), ALL_WEEKDAYS, apia, date(2011, 12, 29), date(2011, 12, 31))
    assert [o.local_date for o in found] == [date(2011, 12, 29), date(2011, 12, 31)]
    assert [o.due_utc for o in found] == [_utc(2011, 12, 29, 18, 0), _utc(2011, 12, 30, 18, 0)]


def test_only_the_chosen_weekdays_have_occurrences() -> None:
    """A Monday-Wednesday-Friday schedule yields those three days of a week, in order."""
    found = daily_occurrences(
        time(9), frozenset({0, 2, 4}), NEW_YORK, date(2026, 6, 1), date(2026, 6, 7)
    )
    assert [o.local_date.weekday() for o in found] == [0, 2, 4]
    assert [o.key for o in found] == ["2026-06-01:09:00", "2026-06-03:09:00", "2026-06-05:09:00"]


def test_a_reversed_date_range_has_no_occurrences() -> None:
    """An end date before the start date yields nothing rather than an error."""
    assert (
        daily_occurrences(time(9), ALL_WEEKDAYS, NEW_YORK, date(2026, 6, 2), date(2026, 6, 1)) == []
    )


def test_occurrences_in_a_window_are_ordered_by_due_time_across_slots() -> None:
    """Several slots in one window come back interleaved by due time, each once."""
    found = occurrences_between(
        [time(20), time(8), time(8)],
        ALL_WEEKDAYS,
        NEW_YORK,
        _utc(2026, 6, 1, 0, 0),
        _utc(2026, 6, 3, 0, 0),
    )
    assert [o.local_due.replace(tzinfo=None) for o in found] == [
        datetime(2026, 5, 31, 20, 0),
        datetime(2026, 6, 1, 8, 0),
        datetime(2026, 6, 1, 20, 0),
        datetime(2026, 6, 2, 8, 0),
    ]


def test_the_window_is_half_open_so_a_rolling_planner_sees_each_occurrence_once() -> None:
    """An occurrence due exactly at a window's end belongs to the next window, not to both."""
    boundary = _utc(2026, 6, 1, 12, 0)
    slot = [time(8)]  # 08:00 EDT is 12:00 UTC
    before = occurrences_between(slot, ALL_WEEKDAYS, NEW_YORK, boundary - ONE_DAY / 24, boundary)
    after = occurrences_between(slot, ALL_WEEKDAYS, NEW_YORK, boundary, boundary + ONE_DAY / 24)
    assert before == []
    assert [o.due_utc for o in after] == [boundary]


def test_active_dates_bound_the_local_days_of_a_schedule() -> None:
    """A medication active from June 2 to June 3 yields only those local days."""
    found = occurrences_between(
        [time(8)],
        ALL_WEEKDAYS,
        NEW_YORK,
        _utc(2026, 6, 1, 0, 0),
        _utc(2026, 6, 6, 0, 0),
        active_from=date(2026, 6, 2),
        active_until=date(2026, 6, 3),
    )
    assert [o.local_date for o in found] == [date(2026, 6, 2), date(2026, 6, 3)]


def test_naive_window_bounds_are_refused() -> None:
    """A window given in naive datetimes is a bug, so it raises instead of guessing a zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        occurrences_between(
            [time(8)], ALL_WEEKDAYS, NEW_YORK, datetime(2026, 6, 1), datetime(2026, 6, 2)
        )


def test_a_slot_with_its_own_zone_is_refused() -> None:
    """A slot is a wall-clock time; one carrying a zone raises instead of being reinterpreted."""
    with pytest.raises(ValueError, match="naive"):
        resolve_local(date(2026, 6, 1), time(8, tzinfo=UTC), NEW_YORK)


def test_weekday_numbers_outside_monday_to_sunday_are_refused() -> None:
    """Weekday 7 does not exist, so it raises rather than silently never firing."""
    with pytest.raises(ValueError, match="0 \\(Monday\\) to 6 \\(Sunday\\)"):
        daily_occurrences(time(8), frozenset({7}), NEW_YORK, date(2026, 6, 1), date(2026, 6, 7))


def test_an_occurrence_is_immutable() -> None:
    """Occurrences cross layers, so they are frozen."""
    [occurrence] = daily_occurrences(
        time(8), ALL_WEEKDAYS, NEW_YORK, date(2026, 6, 1), date(2026, 6, 1)
    )
    assert isinstance(occurrence, Occurrence)
    with pytest.raises(dataclasses.FrozenInstanceError):
        occurrence.slot = time(9)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:00", time(8, 0)),
        ("08:00", time(8, 0)),
        ("20:30", time(20, 30)),
        ("8.30", time(8, 30)),
        (" 0:00 ", time(0, 0)),
        ("23:59", time(23, 59)),
        ("7pm", time(19, 0)),
        ("7 PM", time(19, 0)),
        ("8:30 am", time(8, 30)),
        ("8:30 a.m.", time(8, 30)),
        ("12 am", time(0, 0)),
        ("12:15pm", time(12, 15)),
    ],
)
def test_times_are_read_in_24_hour_and_am_pm_forms(text: str, expected: time) -> None:
    """Common ways of writing a time of day are read as the time they mean."""
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("24:00", "time.midnight"),
        ("25:00", "time.hour_range"),
        ("8:60", "time.minute_range"),
        ("8:5", "time.minute_digits"),
        ("7", "time.ambiguous"),
        ("13pm", "time.hour_range_12"),
        ("0 am", "time.hour_range_12"),
        ("eight", "time.format"),
        ("", "time.format"),
        ("08:00:00", "time.format"),
    ],
)
def test_unreadable_times_raise_a_message_fit_for_the_user(text: str, code: str) -> None:
    """Unreadable times raise a ValueError whose code names the problem and whose text helps."""
    with pytest.raises(ScheduleInputError) as raised:
        parse_hhmm(text)
    assert raised.value.code == code
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).endswith(".")


@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_every_time_of_day_reads_back_from_its_usual_spellings(hour: int, minute: int) -> None:
    """Every minute of the day reads back from H:MM, HH:MM, HH.MM and the am/pm form."""
    expected = time(hour, minute)
    twelve_hour = f"{(hour - 1) % 12 + 1}:{minute:02d} {'pm' if hour >= 12 else 'am'}"
    for text in (f"{hour}:{minute:02d}", f"{expected:%H:%M}", f"{hour:02d}.{minute:02d}"):
        assert parse_hhmm(text) == expected
    assert parse_hhmm(twelve_hour) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mon,tue", {0, 1}),
        ("mon-fri", {0, 1, 2, 3, 4}),
        ("daily", {0, 1, 2, 3, 4, 5, 6}),
        ("Every day", {0, 1, 2, 3, 4, 5, 6}),
        ("weekdays", {0, 1, 2, 3, 4}),
        ("weekends", {5, 6}),
        ("sat-mon", {5, 6, 0}),
        ("SAT - MON", {5, 6, 0}),
        ("fri\u2013sun", {4, 5, 6}),
        ("Monday, Wednesday and Friday", {0, 2, 4}),
        ("tues thurs", {1, 3}),
        ("mon-wed, sat", {0, 1, 2, 5}),
        ("wed-wed", {2}),
    ],
)
def test_weekdays_are_read_from_names_ranges_and_named_sets(text: str, expected: set[int]) -> None:
    """Day names, wrapping ranges and named sets are read case-insensitively."""
    assert parse_weekdays(text) == frozenset(expected)


@pytest.mark.parametrize("text", ["", "  ", "funday", "mon-", "-fri", "mon-tue-wed", "1,2"])
def test_unreadable_weekdays_raise_a_message_fit_for_the_user(text: str) -> None:
    """Unknown day names and broken ranges raise a ScheduleInputError with guidance."""
    with pytest.raises(ScheduleInputError, match="mon-fri"):
        parse_weekdays(text)


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ({0, 1, 2, 3, 4, 5, 6}, "daily"),
        ({0, 1, 2, 3, 4}, "mon-fri"),
        ({0, 2, 4}, "mon,wed,fri"),
        ({5, 6}, "sat,sun"),
        ({5, 6, 0}, "sat-mon"),
        ({6, 0}, "sun,mon"),
        ({0, 1, 2, 5}, "mon-wed,sat"),
        ({0, 2, 5, 6}, "mon,wed,sat,sun"),
    ],
)
def test_weekdays_are_written_short(days: set[int], text: str) -> None:
    """Weekday sets are written as daily, ranges of three or more, or lists."""
    assert format_weekdays(frozenset(days)) == text


@given(days=st.frozensets(st.integers(0, 6), min_size=1))
def test_written_weekdays_read_back_to_the_same_set(days: frozenset[int]) -> None:
    """Formatting any non-empty set of weekdays and parsing it back gives the same set."""
    assert parse_weekdays(format_weekdays(days)) == days


def test_an_empty_weekday_set_cannot_be_written() -> None:
    """No days is not a schedule, so formatting it raises."""
    with pytest.raises(ValueError, match="no weekdays"):
        format_weekdays(frozenset())
