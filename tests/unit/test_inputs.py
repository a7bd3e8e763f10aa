"""Untrusted input: shortened before it is echoed, read as a number only from ASCII digits."""

from __future__ import annotations

import pytest

from bot import callbacks
from bot.services.inputs import read_number, shorten
from bot.services.schedules import ScheduleError, check_zone, parse_date


def test_long_input_is_echoed_as_forty_characters_with_an_ellipsis() -> None:
    """An echo of a 5,000-character answer is 40 characters, the last an ellipsis."""
    echoed = shorten("y" * 5000)
    assert len(echoed) == 40
    assert echoed.endswith("\N{HORIZONTAL ELLIPSIS}")
    assert shorten("  Room   2 ") == "Room 2"


def test_only_short_runs_of_ascii_digits_are_numbers() -> None:
    """Superscripts, other scripts' digits, signs and over-long runs are not numbers."""
    assert read_number("42") == 42
    for text in ("\N{SUPERSCRIPT TWO}", "\u0661", "-1", "+1", " 1", "", "9" * 19):
        assert read_number(text) is None


def test_callback_ids_in_odd_digits_are_malformed() -> None:
    """Reminder and erase buttons whose id is not plain ASCII digits parse as malformed."""
    assert callbacks.parse("d:t:12") == ("d", "t", 12, None)
    assert callbacks.parse("d:t:\N{SUPERSCRIPT TWO}") is None
    assert callbacks.parse("d:t:" + "9" * 30) is None
    assert callbacks.parse_privacy("pv:erase:" + "9" * 30 + ":abc") is None


def test_schedule_errors_quote_the_input_short() -> None:
    """A bad date or zone is quoted back in at most 40 characters, never raising OSError."""
    for check, text in ((parse_date, "1" * 5000), (check_zone, "Z" * 300)):
        with pytest.raises(ScheduleError) as caught:
            check(text)
        assert len(str(caught.value)) < 120
