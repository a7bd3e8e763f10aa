"""What a daily check-in shows: each question with its buttons, the summary, the lapse reply.

The daily prompt is the first question, sent by the reminders as a delivery under
``prompt_key``; ``/checkin`` and every answer (``bot/services/checkins.py``) show the same
screens. Each button carries the local date its question was asked for, so a press is counted
for that day whenever it comes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import callbacks
from bot.services import aftereffects
from bot.services.learn import PAGE
from bot.storage.checkins import Checkin
from bot.texts import Texts

__all__ = [
    "CRAVING",
    "DTMS",
    "MOOD",
    "NOTE",
    "SCALE",
    "USE",
    "Screen",
    "lapse_screen",
    "prompt_key",
    "prompt_screen",
    "question_screen",
    "summary_screen",
]

# Question names, as the templates know them.
CRAVING = "craving"
MOOD = "mood"
USE = "use"
DTMS = "dtms"
NOTE = "note"

SCALE = tuple(str(n) for n in range(11))
SCALE_ROWS = (SCALE[:6], SCALE[6:])  # 0-5 and 6-10: two rows fit a phone screen
LAPSE_ARTICLE = f"{PAGE}after-a-lapse:0"

Buttons = tuple[tuple[tuple[str, str], ...], ...]


@dataclass(frozen=True, slots=True)
class Screen:
    """A message to show: Telegram HTML and rows of (label, callback data)."""

    text: str
    buttons: Buttons = ()


def prompt_key(patient_id: int, day: date) -> str:
    """Return the dedupe key of a patient's daily check-in prompt for one local date."""
    return f"checkin:{patient_id}:{day.isoformat()}"


def prompt_screen(
    texts: Texts, locale: str, day: date, *, today: date, notes: bool, dtms: bool = False
) -> Screen:
    """Render the daily prompt: the check-in's first question, with its 0-10 buttons."""
    return question_screen(
        texts, locale, day, CRAVING, today=today, current=None, notes=notes, dtms=dtms
    )


def question_screen(
    texts: Texts,
    locale: str,
    day: date,
    step: str,
    *,
    today: date,
    current: Checkin | None,
    notes: bool,
    dtms: bool = False,
    problem: str | None = None,
) -> Screen:
    """Render one question of a day's check-in, with its buttons and any problem above it."""
    context = _context(day, today, current, notes=notes, dtms=dtms, step=step)
    text = texts.render("checkin.question", locale, **context)
    if problem:
        text = f"{problem}\n\n{text}"
    iso = day.isoformat()
    if step in {CRAVING, MOOD}:
        code = callbacks.CHECKIN_CRAVING if step == CRAVING else callbacks.CHECKIN_MOOD
        buttons: Buttons = tuple(
            tuple((n, callbacks.checkin(iso, code, n)) for n in row) for row in SCALE_ROWS
        )
    elif step == USE:
        buttons = (
            tuple(
                (
                    texts.button(f"checkin_{choice}", locale),
                    callbacks.checkin(iso, callbacks.CHECKIN_USE, choice),
                )
                for choice in (callbacks.CHECKIN_NO, callbacks.CHECKIN_YES)
            ),
        )
    elif step == DTMS:
        buttons = aftereffects.question_buttons(texts, locale, iso)
    else:
        skip = callbacks.checkin(iso, callbacks.CHECKIN_NOTE, callbacks.CHECKIN_SKIP)
        buttons = (((texts.button("checkin_skip_note", locale), skip),),)
    return Screen(text, buttons)


def summary_screen(
    texts: Texts, locale: str, current: Checkin, *, today: date, notes: bool, dtms: bool
) -> Screen:
    """Render what a day's check-in holds, with the button that asks it again."""
    context = _context(
        current.local_date,
        today,
        current,
        notes=notes,
        dtms=dtms or current.dtms_effect is not None,
    )
    text = texts.render("checkin.saved", locale, **context)
    change = callbacks.checkin(
        current.local_date.isoformat(), callbacks.CHECKIN_CHANGE, callbacks.CHECKIN_AGAIN
    )
    return Screen(text, (((texts.button("checkin_change", locale), change),),))


def lapse_screen(texts: Texts, locale: str, *, team_alerted: bool) -> Screen:
    """Render the kind answer to "use: yes", with the after-a-lapse article."""
    read = ((texts.button("checkin_lapse_article", locale), LAPSE_ARTICLE),)
    text = texts.render("checkin.lapse", locale, team_alerted=team_alerted)
    return Screen(text, (read,))


def _steps(*, notes: bool, dtms: bool) -> tuple[str, ...]:
    return (CRAVING, MOOD, USE, *((DTMS,) if dtms else ()), *((NOTE,) if notes else ()))


def _context(
    day: date,
    today: date,
    current: Checkin | None,
    *,
    notes: bool,
    dtms: bool = False,
    step: str = "",
) -> dict[str, Any]:
    steps = _steps(notes=notes, dtms=dtms)
    return {
        "date": day.isoformat(),
        "weekday": day.weekday(),
        "is_today": day == today,
        "craving": current.craving if current else None,
        "mood": current.mood if current else None,
        "used": current.used if current else None,
        "has_note": current.has_note if current else False,
        "dtms_effect": current.dtms_effect if current else None,
        "dtms": dtms,
        "notes": notes,
        "step": step,
        "number": steps.index(step) + 1 if step in steps else len(steps),
        "total": len(steps),
    }
