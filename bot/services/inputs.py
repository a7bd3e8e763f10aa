"""Untrusted input read safely: echoed back only in short, read as a number only from ASCII.

A person's typed answer may be thousands of characters long, and button (callback) data can be
forged. An error that quotes the input whole would outgrow Telegram's 4,096-character limit and
fail to send; ``str.isdigit`` accepts ``²`` and other digits ``int`` rejects, and a long run of
digits overflows SQLite's 64-bit integers.
"""

from __future__ import annotations

ECHO_LIMIT = 40
MAX_NUMBER_DIGITS = 18  # fits a signed 64-bit SQLite integer
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters with an ellipsis, for quoting it back."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def read_number(text: str, max_digits: int = MAX_NUMBER_DIGITS) -> int | None:
    """Return the whole number written in ASCII digits, or None for anything else."""
    if not (text.isascii() and text.isdecimal() and len(text) <= max_digits):
        return None
    return int(text)
