"""Shared fixtures: settings on a temporary database, and the bot wired to a local Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings, configure_libraries
from bot.container import Services, build_services
from tests.support.botapi import LocalBotApi
from tests.support.postgres import PostgresServer, start_server

configure_libraries()

TEST_TOKEN = "123456789:TEST-token-for-local-tests-only-xxxxx"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this test process, on a loopback port."""
    server = start_server()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, dropped after it."""
    name = postgres_server.new_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def engine() -> str:
    """The storage engine of ``settings``: SQLite, but both engines in tests/integration."""
    return "sqlite"


@pytest.fixture
def settings(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> Settings:
    """Settings that ignore the environment's .env file and use a fresh database."""
    database_url = request.getfixturevalue("postgres_url") if engine == "postgresql" else None
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TEST_TOKEN,  # type: ignore[arg-type]
        database_path=tmp_path / "companion.sqlite3",
        database_url=database_url,
        clinic_name="Harbor Clinic",
        clinic_timezone="America/New_York",
        clinic_oncall_phone="555-0100",
        rate_limit_per_chat_seconds=0,
        chart_workers=0,
    )


@pytest.fixture
def api() -> LocalBotApi:
    """A Bot API peer that answers in process."""
    return LocalBotApi()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    """Services on a migrated database, without Telegram."""
    built = build_services(settings)
    await built.db.connect()
    await built.db.migrate()
    yield built
    await built.db.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand (a test module may set its own start)."""
    return ManualClock(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))


@pytest.fixture
async def clocked_app(
    settings: Settings, api: LocalBotApi, clock: ManualClock
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The real Application on the manual clock, without the background jobs."""
    application = build_application(settings, request=api, clock=clock, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


@pytest.fixture
async def app(
    settings: Settings, api: LocalBotApi
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """The real Application, initialised and post-initialised, talking to ``api``."""
    application = build_application(settings, request=api, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()
