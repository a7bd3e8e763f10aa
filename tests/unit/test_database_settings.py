"""The DATABASE_URL setting: checked for shape, and never echoed, since it holds a password."""

from __future__ import annotations

import pytest

from bot.config import SettingsError, load_settings

TOKEN = "123456789:TEST-token-for-local-tests-only-xxxxx"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://clinic:s3cret-pass@db.example.org/companion",
        "postgresql:/clinic:s3cret-pass@db.example.org/companion",
        "clinic:s3cret-pass@db.example.org",
    ],
)
def test_a_malformed_database_url_is_refused_without_echoing_it(url: str) -> None:
    """One line names the setting and its shape; the value, password and all, stays out."""
    with pytest.raises(SettingsError, match="DATABASE_URL") as caught:
        load_settings(_env_file=None, telegram_bot_token=TOKEN, database_url=url)
    assert "s3cret-pass" not in str(caught.value)
    assert "postgresql://USER:PASSWORD@HOST:5432/DBNAME" in str(caught.value)


def test_an_empty_database_url_means_sqlite() -> None:
    """Left empty (as .env.example has it), the SQLite file is used."""
    assert (
        load_settings(_env_file=None, telegram_bot_token=TOKEN, database_url="").database_url
        is None
    )
