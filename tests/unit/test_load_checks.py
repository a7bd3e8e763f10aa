"""The load run's checks find what a lost or doubled answer leaves in the database and log."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from bench import clinic
from bench.clinic import PatientPlan

CONSENT = "2026-11-30"
STAMP = "2026-11-30T12:00:00+00:00"


@pytest.fixture
async def seeded(tmp_path: Path) -> tuple[Path, list[PatientPlan]]:
    """Return a migrated database with three patients: Taken, Snooze and Skip, one checking in."""
    plans = [
        PatientPlan(number=0, answer="taken", reminder_at=1.0),
        PatientPlan(number=1, answer="snooze", reminder_at=2.0),
        PatientPlan(
            number=2, answer="skip", reminder_at=3.0, skip_reason="ran_out", checkin_at=4.0
        ),
    ]
    plans[2] = replace(plans[2], craving=3, mood=7, used=True)
    db_path = tmp_path / "companion.sqlite3"
    await clinic.migrate(db_path)
    clinic.seed_clinic(db_path, plans, CONSENT)
    return db_path, plans


def _answer(db_path: Path, plan: PatientPlan, row: tuple[object, ...], key: str = "a") -> None:
    """Store one dose delivery of the patient: (message_id, status, response, detail)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, due_at, expires_at, "
            "created_at, message_id, status, response, response_detail) "
            "VALUES (?, 'dose', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"dose:{plan.number}:{key}", plan.number + 1, plan.user_id, *[STAMP] * 3, *row),
        )


def _checkin(db_path: Path, plan: PatientPlan, values: tuple[int, int, int], day: str) -> None:
    """Store one check-in of the patient: (craving, mood, used)."""
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO checkins (patient_id, local_date, craving, mood, used, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (plan.number + 1, day, *values, STAMP, STAMP),
        )


def _store_as_given(db_path: Path, plans: list[PatientPlan]) -> None:
    """Store every planned answer once, as the patient gave it."""
    _answer(db_path, plans[0], (5, "answered", "taken", None))
    _answer(db_path, plans[1], (6, "pending", "snoozed", "10"))
    _answer(db_path, plans[2], (7, "answered", "skipped", "ran_out"))
    _checkin(db_path, plans[2], (3, 7, 1), "2026-11-30")


REMINDERS = {clinic.FIRST_PATIENT_USER + n: 5 + n for n in range(3)}  # patient -> message
CHECKED_IN = {clinic.FIRST_PATIENT_USER + 2}


def test_answers_stored_once_as_given_raise_no_problem(
    seeded: tuple[Path, list[PatientPlan]],
) -> None:
    """Each reminder answered once with the choice, and the check-in's values: nothing to say."""
    db_path, plans = seeded
    _store_as_given(db_path, plans)
    assert clinic.database_problems(db_path, plans, REMINDERS, CHECKED_IN) == []


def test_a_lost_a_doubled_and_a_changed_answer_are_each_reported(
    seeded: tuple[Path, list[PatientPlan]],
) -> None:
    """A Taken never stored, a Snooze stored on two rows and a wrong skip reason all show."""
    db_path, plans = seeded
    _answer(db_path, plans[1], (6, "pending", "snoozed", "10"))
    _answer(db_path, plans[1], (8, "answered", "taken", None), key="b")
    _answer(db_path, plans[2], (7, "answered", "skipped", "forgot"))
    _checkin(db_path, plans[2], (3, 7, 1), "2026-11-30")
    problems = clinic.database_problems(db_path, plans, REMINDERS, CHECKED_IN)
    assert [problem.split(":")[0] for problem in problems] == ["L-00000", "L-00001", "L-00002"]


def test_check_ins_with_other_values_or_from_nobody_are_reported(
    seeded: tuple[Path, list[PatientPlan]],
) -> None:
    """A check-in with other values than tapped, or by a patient who never checked in, shows."""
    db_path, plans = seeded
    _store_as_given(db_path, plans)
    _checkin(db_path, plans[0], (0, 0, 0), "2026-11-30")
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE checkins SET mood = 2 WHERE patient_id = 3")
    problems = clinic.database_problems(db_path, plans, REMINDERS, CHECKED_IN)
    assert problems == [
        "L-00000: a check-in that nobody gave",
        "L-00002: check-ins [(3, 2, 1)], expected [(3, 7, 1)]",
    ]


def test_log_lines_with_errors_tracebacks_or_locks_are_found() -> None:
    """Errors, tracebacks and "database is locked" are problems; ordinary lines are not."""
    log = "\n".join(
        [
            "2026-11-30 12:00:00,001 INFO bot.handlers.checkin: checkin started update_id=1",
            "2026-11-30 12:00:00,002 WARNING bot.ratelimit: flood control on sendMessage",
            "2026-11-30 12:00:00,003 ERROR bot.handlers.errors: update failed update_id=2",
            "Traceback (most recent call last):",
            "sqlite3.OperationalError: database is locked",
        ]
    )
    assert clinic.log_problems(log) == log.splitlines()[2:]
