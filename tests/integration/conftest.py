"""The integration tests run on both storage engines, SQLite and PostgreSQL.

A test that reaches into SQLite itself (its file, its connection) is marked ``sqlite_only`` and
runs on SQLite alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.db import Database
from bot.storage.postgres_engine import PostgresDatabase


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each integration test runs once per engine."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the PostgreSQL run of tests that only make sense on SQLite."""
    kept: list[pytest.Item] = []
    left: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("engine") == "postgresql"
        if on_postgres and item.get_closest_marker("sqlite_only") is not None:
            left.append(item)
        else:
            kept.append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


@pytest.fixture
async def workers(postgres_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two workers' connections to one migrated PostgreSQL database, each with its own pool,
    as two ``companion run`` processes would have."""
    first, second = PostgresDatabase(postgres_url), PostgresDatabase(postgres_url)
    await first.connect()
    await second.connect()
    yield first, second
    await first.close()
    await second.close()
