"""Choosing the storage engine from the settings."""

from __future__ import annotations

from bot.config import Settings
from bot.storage.db import Database
from bot.storage.postgres_engine import PostgresDatabase
from bot.storage.sqlite_engine import SqliteDatabase


def open_database(settings: Settings) -> Database:
    """Return the database the settings name: PostgreSQL for ``DATABASE_URL``, else SQLite."""
    if settings.database_url is not None:
        return PostgresDatabase(
            settings.database_url.get_secret_value(), pool_size=settings.database_pool_size
        )
    return SqliteDatabase(settings.database_path)
