"""A simulated clinic for load runs: who the patients are, what each will do, and the checks.

``bench/load.py`` drives the patients; this module seeds the database the bot starts on (as
the end-to-end tests do, with the project's own migrations and plain SQL for the rows), makes
the reminders due when the load begins, and afterwards checks that the database holds every
answer exactly once, as it was given, and that the bot logged no error.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.storage.db import from_db_time, to_db_time
from bot.storage.sqlite_engine import SqliteDatabase
from tests.emulator import EmulatorThread

ZONE = "America/New_York"
FIRST_CLINICIAN_USER = 9_400_001
FIRST_PATIENT_USER = 9_500_001
PATIENTS_PER_CLINICIAN = 50
MEDICATION = ("Buprenorphine", "8 mg film")  # no just-in-time safety messages for this one
PLAN_TIMEOUT = 60.0
SKIP_REASONS = {
    "side_effects": "Side effects",
    "forgot": "Not with me / forgot",
    "ran_out": "Ran out",
    "other": "Other / rather not say",
}
ANSWERS = (("taken", 0.6), ("snooze", 0.2), ("skip", 0.2))
DOUBLE_TAP_SHARE = 0.1  # of Taken answers
USE_SHARE = 0.05  # check-ins that report use (a follow-up message, and an alert to the team)


@dataclass(frozen=True)
class PatientPlan:
    """What one simulated patient does, and when (seconds after the load starts)."""

    number: int
    answer: str  # taken, snooze or skip
    reminder_at: float
    skip_reason: str = "forgot"
    double_tap: bool = False
    checkin_at: float | None = None
    craving: int = 0
    mood: int = 0
    used: bool = False

    @property
    def user_id(self) -> int:
        """Return the patient's Telegram id (and chat id)."""
        return FIRST_PATIENT_USER + self.number

    @property
    def label(self) -> str:
        """Return the patient's pseudonymous label."""
        return f"L-{self.number:05d}"


def make_plans(
    patients: int,
    seconds: float,
    checkin_share: float,
    seed: int,
    answers: tuple[tuple[str, float], ...] = ANSWERS,
) -> list[PatientPlan]:
    """Draw each patient's reminder answer and check-in, spread over the window."""
    rng = random.Random(seed)
    choices, weights = zip(*answers, strict=True)
    plans = []
    for number in range(patients):
        answer = rng.choices(choices, weights)[0]
        checks_in = rng.random() < checkin_share
        plans.append(
            PatientPlan(
                number=number,
                answer=answer,
                reminder_at=rng.uniform(0, seconds),
                skip_reason=rng.choice(sorted(SKIP_REASONS)),
                double_tap=answer == "taken" and rng.random() < DOUBLE_TAP_SHARE,
                checkin_at=rng.uniform(0, seconds) if checks_in else None,
                craving=rng.randint(0, 10),
                mood=rng.randint(0, 10),
                used=rng.random() < USE_SHARE,
            )
        )
    return plans


def clinicians_for(patients: int) -> int:
    """Return how many clinicians care for this many patients."""
    return -(-patients // PATIENTS_PER_CLINICIAN)


def seed_clinic(db_path: Path, plans: list[PatientPlan], consent_version: str) -> None:
    """Insert clinicians and enrolled, consented patients with a daily medication.

    The dose and the daily check-in prompt are planned six and twelve hours from now, so
    nothing falls due on its own during the run; ``move_due`` brings one dose per
    patient into the window, as time passing would.
    """
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(ZONE))
    stamp = to_db_time(now - timedelta(days=1))
    dose_slot = f"{local + timedelta(hours=6):%H:%M}"
    checkin_slot = f"{local + timedelta(hours=12):%H:%M}"
    start = f"{local - timedelta(days=1):%Y-%m-%d}"
    clinicians = clinicians_for(len(plans))
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO clinicians (id, telegram_id, name, role, created_at) "
            "VALUES (?, ?, ?, 'clinician', ?)",
            [
                (c + 1, FIRST_CLINICIAN_USER + c, f"Dr. Load {c + 1}", stamp)
                for c in range(clinicians)
            ],
        )
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "checkin_time, created_at, enrolled_at, consented_at) "
            "VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
            [
                (p.number + 1, p.label, p.user_id, p.user_id, ZONE, checkin_slot, *[stamp] * 3)
                for p in plans
            ],
        )
        conn.executemany(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "VALUES (?, ?, 'agreed', ?)",
            [(p.number + 1, consent_version, stamp) for p in plans],
        )
        conn.executemany(
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (?, ?)",
            [(p.number + 1, p.number // PATIENTS_PER_CLINICIAN + 1) for p in plans],
        )
        conn.executemany(
            "INSERT INTO medications (patient_id, name, dose_text, times, weekdays, start_date, "
            "active, created_at, updated_at) VALUES (?, ?, ?, ?, 'daily', ?, 1, ?, ?)",
            [(p.number + 1, *MEDICATION, dose_slot, start, stamp, stamp) for p in plans],
        )


async def migrate(db_path: Path) -> None:
    """Create the database's tables with the project's own migrations."""
    db = SqliteDatabase(db_path)
    await db.connect()
    try:
        await db.migrate()
    finally:
        await db.close()


def create_users(emulator: EmulatorThread, plans: list[PatientPlan]) -> None:
    """Create every patient and clinician at the emulator (in one go on its own loop)."""
    ids = [FIRST_CLINICIAN_USER + c for c in range(clinicians_for(len(plans)))]
    ids += [p.user_id for p in plans]
    emulator.call(lambda emu: [emu.add_user(i, f"U{i}") for i in ids])


def _plan_ready(db_path: Path, patients: int) -> bool:
    with sqlite3.connect(db_path, timeout=30) as conn:
        (planned,) = conn.execute(
            "SELECT COUNT(DISTINCT patient_id) FROM deliveries "
            "WHERE kind = 'dose' AND status = 'pending'"
        ).fetchone()
    return int(planned) >= patients


def move_due(db_path: Path, plans: list[PatientPlan], start: float) -> dict[int, float]:
    """Make each patient's next dose due at its moment in the window, as time passing would;
    return the due times."""
    due: dict[int, float] = {}
    with sqlite3.connect(db_path, timeout=30) as conn:
        rows = conn.execute(
            "SELECT patient_id, MIN(id) FROM deliveries WHERE kind = 'dose' "
            "AND status = 'pending' AND due_at = (SELECT MIN(due_at) FROM deliveries AS d "
            "WHERE d.patient_id = deliveries.patient_id AND d.kind = 'dose' "
            "AND d.status = 'pending') GROUP BY patient_id"
        ).fetchall()
        first_dose = {int(patient): int(delivery) for patient, delivery in rows}
        updates = []
        for plan in plans:
            moment = datetime.fromtimestamp(start + plan.reminder_at, UTC)
            stored = to_db_time(moment)
            due[plan.user_id] = from_db_time(stored).timestamp()
            updates.append((stored, first_dose[plan.number + 1]))
        conn.executemany("UPDATE deliveries SET due_at = ? WHERE id = ?", updates)
    return due


async def wait_for_planning(db_path: Path, patients: int) -> None:
    """Wait for the bot's first planning pass to give every patient their doses."""
    deadline = time.monotonic() + PLAN_TIMEOUT
    while not await asyncio.to_thread(_plan_ready, db_path, patients):
        if time.monotonic() > deadline:
            msg = f"the bot did not plan {patients} patients within {PLAN_TIMEOUT:.0f} s"
            raise RuntimeError(msg)
        await asyncio.sleep(0.2)


def database_problems(
    db_path: Path, plans: list[PatientPlan], reminders: dict[int, int], checked_in: set[int]
) -> list[str]:
    """Return every answer the database does not hold exactly once, as it was given.

    ``reminders`` maps each patient who got their reminder to its message; ``checked_in``
    holds the patients who tapped through the whole check-in.
    """
    with sqlite3.connect(db_path, timeout=30) as conn:
        answers: dict[int, list[tuple[object, ...]]] = defaultdict(list)
        for row in conn.execute(
            "SELECT chat_id, message_id, status, response, response_detail FROM deliveries "
            "WHERE kind = 'dose' AND response IS NOT NULL"
        ):
            answers[int(row[0])].append(tuple(row[1:]))
        checkins: dict[int, list[tuple[object, ...]]] = defaultdict(list)
        for row in conn.execute(
            "SELECT p.telegram_user_id, c.local_date, c.craving, c.mood, c.used "
            "FROM checkins AS c JOIN patients AS p ON p.id = c.patient_id"
        ):
            checkins[int(row[0])].append(tuple(row[1:]))
        (integrity,) = conn.execute("PRAGMA integrity_check").fetchone()
    expected = {
        "taken": ("answered", "taken"),
        "snooze": ("pending", "snoozed"),
        "skip": ("answered", "skipped"),
    }
    problems = [] if integrity == "ok" else [f"integrity_check: {integrity}"]
    for plan in plans:
        user = plan.user_id
        if user in reminders:
            detail = {"taken": None, "snooze": "10", "skip": plan.skip_reason}[plan.answer]
            want = (reminders[user], *expected[plan.answer], detail)
            if answers[user] != [want]:
                problems.append(f"{plan.label}: dose answers {answers[user]}, expected [{want}]")
        elif answers[user]:
            problems.append(f"{plan.label}: dose answers {answers[user]} to no reminder seen")
        days = [day for day, *_ in checkins[user]]
        if len(days) != len(set(days)):
            problems.append(f"{plan.label}: several check-ins on one day")
        if user in checked_in:
            values = [tuple(values) for _, *values in checkins[user]]
            want_values = (plan.craving, plan.mood, int(plan.used))
            if values != [want_values]:
                problems.append(f"{plan.label}: check-ins {values}, expected [{want_values}]")
        elif plan.checkin_at is None and checkins[user]:
            problems.append(f"{plan.label}: a check-in that nobody gave")
    return problems


LOG_PROBLEMS = ("Traceback", "database is locked", " ERROR ", " CRITICAL ")


def log_problems(log: str) -> list[str]:
    """Return the log lines that show an error."""
    return [line for line in log.splitlines() if any(p in line for p in LOG_PROBLEMS)]
