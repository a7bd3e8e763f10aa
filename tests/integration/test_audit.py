"""The audit log is append-only and hash-chained, and the chain survives an erasure."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram.ext import Application

from bot.container import Services
from bot.services.audit import AuditService
from bot.storage.db import from_db_time
from tests.support.botapi import LocalBotApi
from tests.support.sql import DATABASE_ERRORS, run_sql
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 5301
BOB = 5302
DR = 9301


def svc(app: App) -> Services:
    """Return the application's services."""
    found = app.bot_data["services"]
    assert isinstance(found, Services)
    return found


async def send(app: App, user_id: int, text: str) -> None:
    """Send a text message as a user."""
    await app.process_update(text_update(app.bot, user_id, text))


async def press(app: App, user_id: int, data: str) -> None:
    """Press an inline button as a user."""
    await app.process_update(callback_update(app.bot, user_id, data))


async def enroll(app: App, user_id: int, label: str) -> None:
    """Invite a patient onto Dr. Rivera's team, start and consent."""
    issued = await svc(app).enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await send(app, user_id, f"/start {issued.code}")
    await press(app, user_id, "c:yes")


async def busy_clinic(app: App, api: LocalBotApi) -> None:
    """Two patients, schedule changes, clinician reads (one row and many at once), an export."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Rivera")
    await enroll(app, ALICE, "P-001")
    await enroll(app, BOB, "P-002")
    await s.schedules.add_medication("P-001", name="Naltrexone", dose="50 mg", times="08:00")
    await send(app, DR, "/patients")
    rivera = await s.careteam.clinician_for_user(DR)
    assert rivera is not None
    today = s.clock.now().date()
    await s.digests.build_weekly_digest(rivera, today - timedelta(days=1))
    await send(app, ALICE, "/mydata")
    api.clear()


async def rows(app: App) -> int:
    """Return how many audit rows there are."""
    row = await svc(app).db.fetchone("SELECT COUNT(*) AS n FROM audit_log")
    assert row is not None
    return int(row["n"])


async def test_every_audit_row_is_chained_and_the_chain_verifies(
    app: App, api: LocalBotApi
) -> None:
    """Rows from every writer, single and batched, carry hashes that verify in order."""
    await busy_clinic(app, api)
    unchained = await svc(app).db.fetchone(
        "SELECT COUNT(*) AS n FROM audit_log WHERE row_hash IS NULL OR prev_hash IS NULL"
    )
    assert unchained is not None
    assert unchained["n"] == 0
    actions = {r["action"] for r in await svc(app).db.fetchall("SELECT action FROM audit_log")}
    assert {"invite.create", "enrollment.bind", "digest.read", "patient.export"} <= actions
    report = await AuditService(svc(app).db, svc(app).clock).verify()
    assert report.ok, report.problem
    assert report.rows == await rows(app)
    assert report.unchained == 0


async def test_chain_still_verifies_after_a_patient_erases_their_data(
    app: App, api: LocalBotApi
) -> None:
    """/delete de-links the patient's audit rows, and the chain still verifies."""
    await busy_clinic(app, api)
    s = svc(app)
    alice = await s.enrollment.patient_for_user(ALICE)
    assert alice is not None
    await send(app, ALICE, "/delete")
    yes = api.buttons(api.sent(ALICE)[-1])[0][1]
    await press(app, ALICE, yes)
    assert "erased" in api.last_text(ALICE)
    linked = await s.db.fetchone(
        "SELECT COUNT(*) AS n FROM audit_log WHERE patient_id = ? "
        "OR (actor_kind = 'patient' AND actor_id = ?)",
        (alice.id, alice.id),
    )
    assert linked is not None
    assert linked["n"] == 0
    keys = await s.db.fetchone(
        "SELECT COUNT(*) AS n FROM audit_subjects WHERE patient_id = ?", (alice.id,)
    )
    assert keys is not None
    assert keys["n"] == 0, "the patient's audit key goes with the patient"
    report = await AuditService(s.db, s.clock).verify()
    assert report.ok, report.problem
    assert report.rows == await rows(app)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'nothing.to.see' WHERE id = 2",
        "UPDATE audit_log SET patient_id = patient_id + 1 WHERE patient_id IS NOT NULL",
        "UPDATE audit_log SET actor_id = NULL WHERE actor_kind = 'clinician'",
        "DELETE FROM audit_log WHERE id = 2",
        "INSERT INTO audit_log (at, actor_kind, action) VALUES ('2026-01-01', 'cli', 'forged')",
    ],
)
async def test_the_database_refuses_to_change_or_remove_audit_rows(
    app: App, api: LocalBotApi, statement: str
) -> None:
    """UPDATE (other than erasure's de-link), DELETE and an unchained INSERT are aborted."""
    await busy_clinic(app, api)
    before = await rows(app)
    with pytest.raises(DATABASE_ERRORS, match="audit_log"):
        await run_sql(svc(app).db, statement)
    assert await rows(app) == before


def tamper(path: str, *statements: str) -> None:
    """Change the file as an attacker with file access could: drop the triggers, then edit."""
    conn = sqlite3.connect(path)
    try:
        for trigger in ("audit_log_only_delink", "audit_log_no_delete", "audit_log_insert_chained"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("statement", "broken", "problem"),
    [
        ("UPDATE audit_log SET action = 'patients.list' WHERE id = {id}", 0, "was changed"),
        ("UPDATE audit_log SET at = '2020-01-01T00:00:00+00:00' WHERE id = {id}", 0, "changed"),
        ("DELETE FROM audit_log WHERE id = {id}", 1, "does not follow"),
        (
            "UPDATE audit_log SET patient_id = (SELECT MAX(id) FROM patients) "
            "WHERE id = {id} AND patient_id != (SELECT MAX(id) FROM patients)",
            0,
            "another patient",
        ),
        ("UPDATE audit_log SET patient_id = NULL WHERE id = {id}", 0, "patient link"),
    ],
)
@pytest.mark.sqlite_only
async def test_verify_names_the_first_row_an_attacker_changed(
    app: App, api: LocalBotApi, statement: str, broken: int, problem: str
) -> None:
    """A row edited, removed or moved with raw SQL (triggers dropped) is named by verify."""
    await busy_clinic(app, api)
    s = svc(app)
    target = await s.db.fetchone(
        "SELECT id FROM audit_log WHERE patient_id = (SELECT MIN(id) FROM patients) "
        "AND action = 'digest.read'"
    )
    assert target is not None
    victim = int(target["id"])
    tamper(str(s.settings.database_path), statement.format(id=victim))
    report = await AuditService(s.db, s.clock).verify()
    assert not report.ok
    assert report.broken_id == victim + broken
    assert report.problem is not None
    assert problem in report.problem


async def test_audit_show_lists_who_read_the_patient_by_name_in_local_time(
    app: App, api: LocalBotApi
) -> None:
    """`companion audit show --patient` names the clinician, the action and the clinic's time."""
    await busy_clinic(app, api)
    s = svc(app)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(DATABASE_PATH=str(s.settings.database_path), CLINIC_TIMEZONE="America/Chicago")
    if s.settings.database_url is not None:
        env["DATABASE_URL"] = s.settings.database_url.get_secret_value()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "audit",
        "show",
        "--patient",
        "P-001",
        cwd=s.settings.database_path.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert "P-001" in lines[0]
    assert "America/Chicago" in lines[0]
    reads = [line for line in lines if "Dr. Rivera" in line]
    assert any(line.endswith("\tdigest.read") for line in reads)
    assert any(line.endswith("\tpatients.list") for line in reads)
    first_read = next(r for r in await s.db.fetchall("SELECT at FROM audit_log ORDER BY id"))
    local = from_db_time(first_read["at"]).astimezone(ZoneInfo("America/Chicago"))
    assert lines[1].startswith(f"{local:%Y-%m-%d %H:%M}")
    shown = await s.db.fetchone("SELECT actor_kind FROM audit_log WHERE action = 'audit.show'")
    assert shown is not None, "looking at the trail is itself audited"
    assert shown["actor_kind"] == "cli"
