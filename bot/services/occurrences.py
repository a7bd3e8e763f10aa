"""Wall-clock-correct occurrences of daily schedules, and the parsing of schedule input.

This module owns the rule that turns "08:00 on weekdays in America/New_York" into UTC due
instants. Cron triggers get this wrong around daylight-saving changes, so every instant is
computed here with ``zoneinfo``:

* A wall time that happens once resolves to exactly that instant.
* A wall time in a repeated (fall-back) hour resolves to its FIRST occurrence (``fold=0``).
* A wall time in a skipped (spring-forward) hour resolves to the first valid instant after it,
  which is the transition instant itself (02:30 on a New York spring-change day is due at
  03:00 EDT). Every slot inside a gap therefore shares that one instant, whatever the gap's
  length (one hour, Lord Howe's 30 minutes, or a whole day).
* A local date that never happens at all (Pacific/Apia skipped 2011-12-30 when it crossed the
  date line) has no occurrence: :func:`resolve_local` raises :class:`NonexistentLocalDateError`
  and the occurrence functions leave that date out. Moving the dose to the next day instead
  would hand the patient two doses on one calendar day, which is worse than one missing
  reminder on a day that nobody lived through.

It also owns how people type schedule input (times of day and weekdays) and how weekdays are
shown back. Everything here is pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.services.inputs import shorten

__all__ = [
    "ALL_WEEKDAYS",
    "NonexistentLocalDateError",
    "Occurrence",
    "ScheduleInputError",
    "daily_occurrences",
    "format_weekdays",
    "occurrences_between",
    "parse_hhmm",
    "parse_weekdays",
    "resolve_local",
]

ALL_WEEKDAYS: frozenset[int] = frozenset(range(7))

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)
# A due instant is never earlier on the local calendar than its own date and at most one day
# later (a gap that straddles midnight); a fall-back across midnight can put an earlier instant
# on a later local date. These margins widen a UTC window's local dates to cover both cases.
_DATES_BEFORE_WINDOW = 2
_DATES_AFTER_WINDOW = 1

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES: dict[str, int] = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "weds": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_DAY_SETS: dict[str, frozenset[int]] = {
    "daily": ALL_WEEKDAYS,
    "everyday": ALL_WEEKDAYS,
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
    "weekend": frozenset({5, 6}),
}
_SHORTEST_RANGE = 3  # "mon,tue" reads better than "mon-tue"; ranges start at three days

_TIME_PATTERN = re.compile(
    r"""
    (?P<hour>[0-9]{1,2})
    (?:\s*[:.]\s*(?P<minute>[0-9]{1,2}))?
    \s*
    (?P<meridiem>a\.?\s*m\.?|p\.?\s*m\.?)?
    """,
    re.IGNORECASE | re.VERBOSE,
)


class ScheduleInputError(ValueError):
    """A time of day or a set of weekdays, as typed by a person, that cannot be read.

    ``str(error)`` is a plain English sentence that can be shown to the person who typed it;
    ``code`` names the problem so that a handler can render a localized template instead.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class NonexistentLocalDateError(ValueError):
    """The time zone skipped this whole calendar date, so nothing can be due on it."""


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One wall-clock slot on one local date, with the instant it is due."""

    local_date: date
    slot: time
    due_utc: datetime
    local_due: datetime

    @property
    def key(self) -> str:
        """Return the ``{local_date}:{HH:MM}`` part of a delivery's dedupe key."""
        return f"{self.local_date.isoformat()}:{self.slot:%H:%M}"


def resolve_local(local_date: date, slot: time, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of wall-clock ``slot`` on ``local_date`` in ``tz``.

    Raise :class:`NonexistentLocalDateError` if ``tz`` skipped ``local_date`` entirely, and
    :class:`ValueError` if ``slot`` carries a time zone of its own.
    """
    if slot.tzinfo is not None:
        msg = "slot must be a naive wall-clock time; the zone comes from tz"
        raise ValueError(msg)
    wall = datetime.combine(local_date, slot.replace(fold=0))
    due = _first_instant_at_or_after(wall, tz)
    if _wall_clock(due, tz).date() != local_date and not _date_exists(local_date, tz):
        msg = f"{local_date.isoformat()} does not exist in {tz.key}"
        raise NonexistentLocalDateError(msg)
    return due


def daily_occurrences(
    slot: time,
    weekdays: frozenset[int],
    tz: ZoneInfo,
    start: date,
    end: date,
) -> list[Occurrence]:
    """Return one occurrence of ``slot`` per matching local date in ``[start, end]``, by due time.

    ``weekdays`` uses 0 for Monday to 6 for Sunday. Dates that ``tz`` skipped have none.
    """
    _check_weekdays(weekdays)
    found: list[Occurrence] = []
    for ordinal in range(start.toordinal(), end.toordinal() + 1):
        local_date = date.fromordinal(ordinal)
        if local_date.weekday() not in weekdays:
            continue
        try:
            due = resolve_local(local_date, slot, tz)
        except NonexistentLocalDateError:
            continue
        found.append(Occurrence(local_date, slot, due, due.astimezone(tz)))
    found.sort(key=_chronological)
    return found


def occurrences_between(
    slots: Sequence[time],
    weekdays: frozenset[int],
    tz: ZoneInfo,
    start_utc: datetime,
    end_utc: datetime,
    *,
    active_from: date | None = None,
    active_until: date | None = None,
) -> list[Occurrence]:
    """Return every occurrence due in ``[start_utc, end_utc)``, by due time.

    ``active_from`` and ``active_until`` (inclusive, in ``tz``'s calendar) bound the local
    dates a schedule covers, e.g. a medication's start and stop dates.
    """
    for name, value in (("start_utc", start_utc), ("end_utc", end_utc)):
        if value.utcoffset() is None:
            msg = f"{name} must be timezone-aware"
            raise ValueError(msg)
    if end_utc <= start_utc:
        return []
    first_date = start_utc.astimezone(tz).date() - _DATES_BEFORE_WINDOW * _ONE_DAY
    last_date = end_utc.astimezone(tz).date() + _DATES_AFTER_WINDOW * _ONE_DAY
    if active_from is not None:
        first_date = max(first_date, active_from)
    if active_until is not None:
        last_date = min(last_date, active_until)
    found = [
        occurrence
        for slot in sorted(set(slots))
        for occurrence in daily_occurrences(slot, weekdays, tz, first_date, last_date)
        if start_utc <= occurrence.due_utc < end_utc
    ]
    found.sort(key=_chronological)
    return found


def parse_hhmm(text: str) -> time:
    """Parse a time of day such as ``08:00``, ``8:00``, ``20:30``, ``8.30`` or ``8:30 pm``.

    Accepted: a 24-hour time with ``:`` or ``.`` between hours and two-digit minutes (``0:00``
    to ``23:59``), or a 12-hour time with ``am``/``pm`` (``8 pm``, ``8:30am``, ``12 am`` is
    midnight, ``12 pm`` is noon). Rejected: ``24:00`` (say ``00:00``), a bare hour without
    ``am``/``pm`` (``7`` could be morning or evening), single-digit minutes (``8:5``), and
    anything else. Raise :class:`ScheduleInputError` with a message fit to show the user.
    """
    match = _TIME_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ScheduleInputError(
            "time.format",
            "Please send a time like 08:00 or 20:30 (24-hour clock), or like 8:30 pm.",
        )
    hour = int(match["hour"])
    minute_text = match["minute"]
    meridiem = match["meridiem"]
    if minute_text is not None and len(minute_text) != 2:
        raise ScheduleInputError(
            "time.minute_digits", "Please write the minutes with two digits, like 08:05."
        )
    minute = int(minute_text) if minute_text is not None else 0
    if minute > 59:
        raise ScheduleInputError("time.minute_range", "Minutes go from 00 to 59, like 08:45.")
    if meridiem is None:
        if minute_text is None:
            raise ScheduleInputError(
                "time.ambiguous",
                "Please add the minutes or am/pm, like 07:00, 19:00 or 7 pm.",
            )
        if hour == 24 and minute == 0:
            raise ScheduleInputError(
                "time.midnight", "There is no 24:00: please use 00:00 for midnight."
            )
        if hour > 23:
            raise ScheduleInputError(
                "time.hour_range", "Hours go from 0 to 23, like 20:30 for half past eight pm."
            )
        return time(hour, minute)
    if not 1 <= hour <= 12:
        raise ScheduleInputError(
            "time.hour_range_12",
            "With am or pm, hours go from 1 to 12, like 8:30 pm. Or use 20:30.",
        )
    is_pm = meridiem.lower().startswith("p")
    return time(hour % 12 + (12 if is_pm else 0), minute)


def parse_weekdays(text: str) -> frozenset[int]:
    """Parse weekdays such as ``mon,tue``, ``mon-fri``, ``sat-mon``, ``daily`` or ``weekends``.

    Case-insensitive; English three-letter or full day names; items are separated by commas,
    spaces, ``/``, ``&`` or ``and``; a range ``a-b`` runs forward from ``a`` to ``b`` and wraps
    past Sunday; ``daily`` (also ``every day``), ``weekdays`` and ``weekends`` name sets. Raise
    :class:`ScheduleInputError` with a message fit to show the user.
    """
    normalized = text.strip().lower().replace("\u2013", "-").replace("\u2014", "-")
    normalized = re.sub(r"\bevery\s+day\b", "daily", normalized)
    normalized = re.sub(r"\s*-\s*", "-", normalized)
    items = [item for item in re.split(r"(?:[\s,;/&]|\band\b)+", normalized) if item]
    if not items:
        raise ScheduleInputError(
            "weekdays.empty", "Please name the days, like mon-fri, daily or mon,wed,fri."
        )
    days: set[int] = set()
    for item in items:
        days |= _parse_weekday_item(item)
    return frozenset(days)


def format_weekdays(weekdays: frozenset[int]) -> str:
    """Return the short text for ``weekdays`` that :func:`parse_weekdays` reads back.

    All seven days are ``daily``; runs of three or more days become ranges (``mon-fri``), and
    shorter runs are listed (``mon,wed,fri``), Monday first. A set that is one run across the
    weekend is written from its first day (``fri-mon``, ``sun,mon``).
    """
    _check_weekdays(weekdays)
    if not weekdays:
        msg = "there are no weekdays to format"
        raise ValueError(msg)
    if weekdays == ALL_WEEKDAYS:
        return "daily"
    runs = _runs(sorted(weekdays))
    if len(runs) == 2 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs = [runs[1] + runs[0]]
    return ",".join(_format_run(run) for run in runs)


def _first_instant_at_or_after(wall: datetime, tz: ZoneInfo) -> datetime:
    """Return the first UTC instant whose wall clock in ``tz`` is ``wall`` or later."""
    earlier = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall_clock(earlier, tz) == wall:
        return earlier
    # ``wall`` is in a gap. The two folds read it with the offsets before and after the
    # change, so the transition instant lies between them; zoneinfo does not expose its
    # transitions, so bisect for the first instant whose wall clock is not before ``wall``.
    later = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    low, high = min(earlier, later), max(earlier, later)
    if _wall_clock(low, tz) >= wall:
        return low
    low_step, high_step = 0, (high - low) // _ONE_MICROSECOND
    while high_step - low_step > 1:
        middle = (low_step + high_step) // 2
        if _wall_clock(low + middle * _ONE_MICROSECOND, tz) >= wall:
            high_step = middle
        else:
            low_step = middle
    return low + high_step * _ONE_MICROSECOND


def _date_exists(local_date: date, tz: ZoneInfo) -> bool:
    """Return whether any instant falls on ``local_date`` in ``tz``."""
    midnight = datetime.combine(local_date, time())
    return _wall_clock(_first_instant_at_or_after(midnight, tz), tz).date() == local_date


def _wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def _chronological(occurrence: Occurrence) -> tuple[datetime, date, time]:
    """Return the sort key that orders occurrences by due instant, then date and slot."""
    return occurrence.due_utc, occurrence.local_date, occurrence.slot


def _check_weekdays(weekdays: Iterable[int]) -> None:
    """Raise ValueError unless every weekday is an integer from 0 (Monday) to 6 (Sunday)."""
    invalid = [day for day in weekdays if day not in ALL_WEEKDAYS]
    if invalid:
        msg = f"weekdays must be 0 (Monday) to 6 (Sunday), got {sorted(invalid)!r}"
        raise ValueError(msg)


def _parse_weekday_item(item: str) -> frozenset[int]:
    """Parse one day name, named set or range of ``parse_weekdays`` input."""
    if item in _DAY_SETS:
        return _DAY_SETS[item]
    if item in _DAY_ALIASES:
        return frozenset({_DAY_ALIASES[item]})
    first, dash, last = item.partition("-")
    if dash and first in _DAY_ALIASES and last in _DAY_ALIASES:
        start, stop = _DAY_ALIASES[first], _DAY_ALIASES[last]
        return frozenset((start + step) % 7 for step in range((stop - start) % 7 + 1))
    raise ScheduleInputError(
        "weekdays.unknown",
        f"I could not read {shorten(item)!r} as days. Try mon-fri, daily, weekends or mon,wed,fri.",
    )


def _runs(days: list[int]) -> list[list[int]]:
    """Split sorted weekdays into runs of consecutive days."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _format_run(run: list[int]) -> str:
    """Write one run of consecutive weekdays as a range or a list."""
    if len(run) >= _SHORTEST_RANGE:
        return f"{_DAY_NAMES[run[0]]}-{_DAY_NAMES[run[-1]]}"
    return ",".join(_DAY_NAMES[day] for day in run)
