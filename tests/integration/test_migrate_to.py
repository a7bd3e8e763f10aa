"""`companion migrate-to`: a clinic's SQLite file moves to PostgreSQL whole, or not at all."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot import callbacks
from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services, build_services
from bot.services.audit import AuditService
from bot.storage.lock import InstanceLock
from bot.storage.postgres_engine import PostgresDatabase
from bot.storage.sqlite_engine import SqliteDatabase
from bot.storage.transfer import NOT_COPIED, RUNTIME_STATE, TransferError, copy_database
from tests.support.ports import unused_port
from tests.support.postgres import PostgresServer

DR = 9501
FIRST_USER = 6501
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # 07:00 in New York
TODAY = date(2026, 11, 26)


def clinic_settings(path: Path, url: str | None = None) -> Settings:
    """Settings on the SQLite file at ``path``, or on PostgreSQL at ``url``."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_path=path,
        database_url=url,
        clinic_timezone="America/New_York",
        rate_limit_per_chat_seconds=0,
        chart_workers=0,
    )


def run_cli(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot`` on the SQLite file at ``path`` with only the given settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    clean.update({"DATABASE_PATH": str(path), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=path.parent,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def opened(settings: Settings) -> Services:
    """Services on the settings' database, connected and migrated, on the test's clock."""
    services = build_services(settings, ManualClock(START))
    await services.db.connect()
    await services.db.migrate()
    return services


async def build_clinic(services: Services) -> None:
    """Enrol patients with medications, a dTMS course, an appointment, check-ins and alerts,
    then plan their reminders, one of them caught mid-send."""
    await services.careteam.add_clinician(DR, "Dr. Osei")
    for n in range(3):
        label = f"P-{n + 1:03d}"
        issued = await services.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
        user = FIRST_USER + n
        await services.enrollment.start(user, user, issued.code, "en")
        patient = await services.enrollment.decide_consent(user, agreed=True)
        assert patient is not None
        await services.schedules.add_medication(
            label, name="Buprenorphine", dose="8 mg", times="08:00,20:00"
        )
        for step, choice in ((callbacks.CHECKIN_CRAVING, "9"), (callbacks.CHECKIN_MOOD, "4")):
            await services.checkins.answer(
                patient, callbacks.checkin(TODAY.isoformat(), step, choice)
            )
    await services.schedules.add_tms_course(
        "P-001", start=TODAY + timedelta(days=1), time_text="10:00", days="mon-fri", sessions=5
    )
    await services.schedules.add_appointment("P-002", kind="therapy", at="2026-11-27 15:00")
    await services.schedules.remove_medication(1)
    patient = await services.schedules.patient("P-002")
    await services.careteam.raise_alert(patient, kind="craving", severity="urgent", category=None)
    await AuditService(services.db, services.clock).trail("P-003")
    await services.reminders.plan()
    # A send whose outcome was never known when the bot stopped.
    async with services.db.transaction() as tx:
        await tx.execute(
            "UPDATE deliveries SET status = 'sending', attempts = 1 WHERE id = "
            "(SELECT MIN(id) FROM deliveries WHERE status = 'pending')"
        )


async def snapshot(services: Services) -> dict[str, set[tuple[Any, ...]]]:
    """Return every row of every table but the migration log, as sets of tuples by table."""
    skipped = NOT_COPIED | RUNTIME_STATE
    tables = [t for t in await services.db.table_names() if t not in skipped]
    found: dict[str, set[tuple[Any, ...]]] = {}
    for table in tables:
        rows = await services.db.fetchall(f'SELECT * FROM "{table}"')
        found[table] = {tuple(sorted(zip(row.keys(), row, strict=True))) for row in rows}
    return found


async def reminders(services: Services) -> list[tuple[Any, ...]]:
    """Return the planned reminders, each by what it reminds of, not its key."""
    rows = await services.db.fetchall(
        "SELECT dedupe_key, kind, patient_id, ref_id, due_at, status FROM deliveries "
        "WHERE status IN ('pending', 'sending') ORDER BY dedupe_key"
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    """Where the clinic's SQLite file lives (its folder made, the file not)."""
    (tmp_path / "data").mkdir()
    return tmp_path / "data" / "companion.sqlite3"


@pytest.fixture
async def clinic(sqlite_path: Path) -> AsyncIterator[dict[str, set[tuple[Any, ...]]]]:
    """A clinic on SQLite, built through the services and closed; yields its rows."""
    services = await opened(clinic_settings(sqlite_path))
    try:
        await build_clinic(services)
        yield await snapshot(services)
    finally:
        await services.db.close()


@pytest.fixture
def empty_target(postgres_server: PostgresServer) -> Iterator[str]:
    """An empty PostgreSQL database, never migrated; yields its URL."""
    name = postgres_server.new_database(migrated=False)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


async def test_a_clinic_moves_whole_and_carries_on_without_a_lost_or_doubled_reminder(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]], empty_target: str
) -> None:
    """Every row arrives as it was, the audit chain verifies, new rows get new ids, and
    planning on PostgreSQL neither repeats nor drops a reminder planned on SQLite."""
    before = await opened(clinic_settings(sqlite_path))
    try:
        planned = await reminders(before)
        head = (await AuditService(before.db, before.clock).verify()).head
    finally:
        await before.db.close()
    assert any(row[-1] == "sending" for row in planned)
    assert all(clinic[table] for table in ("alerts", "checkins", "appointments", "plan_state"))

    result = run_cli(sqlite_path, "migrate-to", empty_target)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "patients" in result.stdout
    assert f"{sum(len(rows) for rows in clinic.values())} rows" in result.stdout
    assert "DATABASE_URL" in result.stdout

    moved = await opened(clinic_settings(sqlite_path, empty_target))
    try:
        assert await snapshot(moved) == clinic
        report = await AuditService(moved.db, moved.clock).verify()
        assert report.ok, report
        assert report.rows == len(clinic["audit_log"])
        assert report.head == head
        await moved.reminders.plan()
        assert await reminders(moved) == planned
        issued = await moved.enrollment.create_invite("P-004", clinician_telegram_id=DR, days=7)
        assert issued.label == "P-004"
        medication = await moved.schedules.add_medication(
            "P-002", name="Naltrexone", dose="50 mg", times="09:00"
        )
        assert medication.id > max(dict(row)["id"] for row in clinic["medications"])
        assert (await AuditService(moved.db, moved.clock).verify()).ok
    finally:
        await moved.db.close()


async def test_the_url_may_come_from_database_url(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]], empty_target: str
) -> None:
    """Without an argument the target is DATABASE_URL, so the password stays off the command
    line."""
    result = run_cli(sqlite_path, "migrate-to", DATABASE_URL=empty_target)
    assert result.returncode == 0, result.stderr
    moved = await opened(clinic_settings(sqlite_path, empty_target))
    try:
        assert await snapshot(moved) == clinic
    finally:
        await moved.db.close()


async def test_a_target_that_holds_data_is_refused_and_left_unchanged(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]], postgres_url: str
) -> None:
    """A database with a clinician already in it is refused with one line; nothing is added."""
    live = await opened(clinic_settings(sqlite_path, postgres_url))
    try:
        await live.careteam.add_clinician(4242, "Dr. Ada")
        rows = await snapshot(live)
        result = run_cli(sqlite_path, "migrate-to", postgres_url)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "already holds data (in audit_log, clinicians)" in lines[0]
        assert await snapshot(live) == rows
    finally:
        await live.db.close()


async def test_a_failure_mid_copy_leaves_the_target_empty(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]], empty_target: str
) -> None:
    """A row the target refuses late in the copy (the reminder caught mid-send, against a
    check the SQLite file does not have) undoes every row copied before it."""
    target = PostgresDatabase(empty_target)
    await target.connect()
    try:
        await target.migrate()
        async with target.transaction() as tx:
            await tx.execute(
                "ALTER TABLE deliveries ADD CONSTRAINT no_sending CHECK (status <> 'sending')"
            )
        result = run_cli(sqlite_path, "migrate-to", empty_target)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "failed and was undone" in lines[0]
        assert "no_sending" in lines[0]
        for table in clinic:
            row = await target.fetchone(f'SELECT COUNT(*) AS n FROM "{table}"')
            assert row is not None
            assert row["n"] == 0, table
    finally:
        await target.close()


async def test_a_wrong_address_is_one_line_naming_the_server_without_the_password(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]]
) -> None:
    """A server that refuses the connection is named in one line; the password never shows."""
    port = unused_port()
    url = f"postgresql://clinic:s3cret-pw@127.0.0.1:{port}/companion"
    for result in (
        run_cli(sqlite_path, "migrate-to", url),
        run_cli(sqlite_path, "migrate-to", DATABASE_URL=url),
    ):
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"PostgreSQL database companion on 127.0.0.1:{port}" in lines[0]
        assert "s3cret-pw" not in result.stderr + result.stdout


def test_an_address_that_is_not_postgresql_is_a_usage_error(sqlite_path: Path) -> None:
    """Anything but a postgresql:// address is refused before anything is opened, unrepeated."""
    result = run_cli(sqlite_path, "migrate-to", "mysql://clinic:s3cret-pw@db/companion")
    assert result.returncode == 2
    assert "postgresql://" in result.stderr
    assert "s3cret-pw" not in result.stderr
    assert not sqlite_path.exists()


def test_help_names_the_address_and_the_setting(sqlite_path: Path) -> None:
    """`companion migrate-to --help` exits 0 and says the URL may come from DATABASE_URL."""
    result = run_cli(sqlite_path, "migrate-to", "--help")
    assert result.returncode == 0
    assert "usage:" in result.stdout
    assert "DATABASE_URL" in result.stdout


def test_without_an_address_it_says_how_to_give_one(sqlite_path: Path) -> None:
    """No argument and no DATABASE_URL: one line saying both ways."""
    result = run_cli(sqlite_path, "migrate-to")
    assert result.returncode == 1
    assert "DATABASE_URL" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_a_file_in_use_by_a_running_bot_is_refused(
    sqlite_path: Path, clinic: dict[str, set[tuple[Any, ...]]], empty_target: str
) -> None:
    """While a `companion run` holds the file's lock, nothing is copied and the target stays
    untouched."""
    lock = InstanceLock(sqlite_path)
    lock.acquire()
    try:
        result = run_cli(sqlite_path, "migrate-to", empty_target)
    finally:
        lock.release()
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "already running" in lines[0]
    target = PostgresDatabase(empty_target)
    await target.connect()
    try:
        assert await target.table_names() == []
    finally:
        await target.close()


async def test_audit_rows_from_before_the_chain_are_copied_as_they_are(
    sqlite_path: Path, empty_target: str
) -> None:
    """A file whose audit log began before the hash chain moves too, in batches, and
    verifies the same on PostgreSQL; new rows there still need their chain."""
    first = await opened(clinic_settings(sqlite_path))
    await first.db.close()
    with sqlite3.connect(sqlite_path) as conn:
        # As migration 0007 found it: a row written before the chain began.
        conn.execute("DROP TRIGGER audit_log_insert_chained")
        conn.execute(
            "INSERT INTO audit_log (at, actor_kind, action) "
            "VALUES ('2026-01-01T00:00:00+00:00', 'cli', 'invite.create')"
        )
    conn.close()
    services = await opened(clinic_settings(sqlite_path))
    try:
        await build_clinic(services)
        rows = await snapshot(services)
        assert (await AuditService(services.db, services.clock).verify()).unchained == 1
    finally:
        await services.db.close()
    source = SqliteDatabase(sqlite_path)
    target = PostgresDatabase(empty_target)
    await source.connect()
    await target.connect()
    try:
        await target.migrate()
        report = await copy_database(source, target, batch_rows=2)
        assert report.rows["audit_log"] == len(rows["audit_log"])
        verified = await AuditService(target, ManualClock(START)).verify()
        assert verified.ok, verified
        assert verified.unchained == 1
        with pytest.raises(psycopg.errors.RaiseException):
            async with target.transaction() as tx:
                await tx.execute(
                    "INSERT INTO audit_log (at, actor_kind, action) "
                    "VALUES ('2026-12-01T00:00:00+00:00', 'cli', 'x')"
                )
        with pytest.raises(TransferError, match="already holds data"):
            await copy_database(source, target)
    finally:
        await target.close()
        await source.close()
    moved = await opened(clinic_settings(sqlite_path, empty_target))
    try:
        assert await snapshot(moved) == rows
    finally:
        await moved.db.close()
