"""Retention: settled reminders, their answers and check-ins past RETENTION_DAYS are deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings, SettingsError, load_settings
from bot.container import Services, build_services
from bot.storage.db import to_db_time
from tests.support.botapi import LocalBotApi
from tests.support.sql import run_sql

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def clinic(settings: Settings) -> AsyncIterator[Services]:
    """Services keeping 60 days, with one patient."""
    built = build_services(settings.model_copy(update={"retention_days": 60}), ManualClock(NOW))
    await built.db.connect()
    await built.db.migrate()
    await built.enrollment.create_invite("P-001", clinician_telegram_id=None, days=7)
    yield built
    await built.db.close()


async def add_delivery(services: Services, key: str, due: datetime, status: str) -> None:
    """Store one dose reminder with a status (and an answer when answered)."""
    patient = await services.schedules.patient("P-001")
    await run_sql(
        services.db,
        "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, due_at, expires_at, "
        "status, response, created_at) VALUES (?, 'dose', ?, 1, ?, ?, ?, ?, ?)",
        (
            key,
            patient.id,
            to_db_time(due),
            to_db_time(due + timedelta(hours=2)),
            status,
            "taken" if status == "answered" else None,
            to_db_time(due),
        ),
    )


async def add_checkin(services: Services, day: datetime) -> None:
    """Store one check-in for a local day."""
    patient = await services.schedules.patient("P-001")
    await run_sql(
        services.db,
        "INSERT INTO checkins (patient_id, local_date, craving, mood, used, note_cipher, "
        "created_at, updated_at) VALUES (?, ?, 3, 6, 0, 'sealed', ?, ?)",
        (patient.id, day.date().isoformat(), to_db_time(day), to_db_time(day)),
    )


async def keys(services: Services, sql: str) -> set[str]:
    """Return the first column of every row as text."""
    return {str(row[0]) for row in await services.db.fetchall(sql)}


async def test_purge_deletes_settled_reminders_and_checkins_older_than_the_setting(
    clinic: Services,
) -> None:
    """Old answered, missed and sent reminders and old check-ins go; audit rows and others stay."""
    old, recent = NOW - timedelta(days=90), NOW - timedelta(days=10)
    for status in ("answered", "missed", "sent"):
        await add_delivery(clinic, f"old-{status}", old, status)
    await add_delivery(clinic, "old-pending", old, "pending")
    await add_delivery(clinic, "recent-answered", recent, "answered")
    await add_checkin(clinic, old)
    await add_checkin(clinic, recent)
    audit_before = await keys(clinic, "SELECT id FROM audit_log")

    purged = await clinic.retention.purge()

    assert (purged.deliveries, purged.checkins) == (3, 1)
    assert await keys(clinic, "SELECT dedupe_key FROM deliveries") == {
        "old-pending",
        "recent-answered",
    }
    assert await keys(clinic, "SELECT local_date FROM checkins") == {recent.date().isoformat()}
    assert await keys(clinic, "SELECT id FROM audit_log") == audit_before
    assert await clinic.schedules.patient("P-001"), "the patient is kept"


async def test_zero_keeps_everything(settings: Settings) -> None:
    """RETENTION_DAYS=0, the default, deletes nothing."""
    assert settings.retention_days == 0
    built = build_services(settings, ManualClock(NOW))
    await built.db.connect()
    await built.db.migrate()
    try:
        await built.enrollment.create_invite("P-001", clinician_telegram_id=None, days=7)
        await add_delivery(built, "ancient", NOW - timedelta(days=3000), "answered")
        purged = await built.retention.purge()
        assert (purged.deliveries, purged.checkins) == (0, 0)
        assert await keys(built, "SELECT dedupe_key FROM deliveries") == {"ancient"}
    finally:
        await built.db.close()


def test_a_retention_shorter_than_the_digests_look_back_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RETENTION_DAYS=7 would empty the charts: one line naming the variable."""
    monkeypatch.setenv("RETENTION_DAYS", "7")
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(("days", "scheduled"), [(0, False), (60, True)])
async def test_the_purge_runs_daily_only_when_a_retention_is_set(
    settings: Settings, api: LocalBotApi, days: int, scheduled: bool
) -> None:
    """The daily purge job exists with RETENTION_DAYS set, and not with the default 0."""
    application = build_application(
        settings.model_copy(update={"retention_days": days}),
        clock=ManualClock(NOW),
        request=api,
        start_scheduler=True,
    )
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    try:
        assert application.job_queue is not None
        purges = [job for job in application.job_queue.jobs() if str(job.name).startswith("PURGE")]
        assert len(purges) == (1 if scheduled else 0)
        if scheduled:
            assert purges[0].trigger.interval == timedelta(days=1)
    finally:
        assert application.post_shutdown is not None
        await application.post_shutdown(application)
        await application.shutdown()
