"""Erasure leaves no trace on disk: not in the database file, its WAL, nor a fresh backup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.container import Services
from bot.services.privacy import EraseOutcome
from tests.integration.test_cli import run_cli
from tests.support.updates import callback_update, text_update

# File, WAL and backup traces, and round trips to aiosqlite's thread, are SQLite's own.
pytestmark = pytest.mark.sqlite_only

App = Application[Any, Any, Any, Any, Any, Any]
PATIENT = 5301
# Markers that appear nowhere else, so any copy of them in the raw bytes is a trace.
LABEL = "P-QX7TRACE"
MEDICATION = "Zorvemadine-Trace-4418"


def services_of(app: App) -> Services:
    """Return the application's services."""
    found = app.bot_data["services"]
    assert isinstance(found, Services)
    return found


async def test_an_erased_label_and_medication_are_gone_from_the_file_wal_and_backup(
    app: App, tmp_path: Path
) -> None:
    """After /delete's erasure the raw bytes of the file, its WAL and a backup hold no marker."""
    s = services_of(app)
    issued = await s.enrollment.create_invite(LABEL, clinician_telegram_id=None, days=7)
    await app.process_update(text_update(app.bot, PATIENT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PATIENT, "c:yes"))
    await s.schedules.add_medication(LABEL, name=MEDICATION, dose="5 mg", times="08:00,20:00")
    await s.reminders.plan()
    patient = await s.enrollment.patient_for_user(PATIENT)
    assert patient is not None
    path = s.settings.database_path
    wal = path.with_name(path.name + "-wal")
    planted = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert MEDICATION.encode() in planted, "the markers were written before the erasure"

    token = await s.privacy.erasure_token(patient)
    result = await s.privacy.erase_for_user(PATIENT, patient.id, token)
    assert result.outcome == EraseOutcome.ERASED
    for where in (path, wal):
        raw = where.read_bytes() if where.exists() else b""
        assert LABEL.encode() not in raw, f"the label is still in {where.name}"
        assert MEDICATION.encode() not in raw, f"the medication is still in {where.name}"

    backup = tmp_path / "after-erasure.sqlite3"
    made = run_cli(tmp_path, "backup", str(backup), DATABASE_PATH=str(path))
    assert made.returncode == 0, made.stderr
    for where in (path, wal, backup):
        raw = where.read_bytes() if where.exists() else b""
        assert LABEL.encode() not in raw, f"the label is still in {where.name}"
        assert MEDICATION.encode() not in raw, f"the medication is still in {where.name}"
