"""Logs carry ids, never message text, check-in values, notes or the token, at any level."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.logs import RedactingFormatter, configure_logging
from tests.emulator import EmulatorThread
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
TOKEN = "987654321:SECRET-token-that-must-never-be-printed"
PAT = 7701
DR = 9701
MARKER = "zebra-violet-8841"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the logging configuration back as the test runner had it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    hook = sys.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)
    sys.excepthook = hook


def test_a_traceback_holding_the_token_is_redacted() -> None:
    """An exception whose text holds the token is logged with the token replaced."""
    formatter = RedactingFormatter("%(message)s")
    try:
        msg = f"GET https://api.telegram.org/bot{TOKEN}/getMe failed"
        raise RuntimeError(msg)
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    text = formatter.format(record)
    assert "SECRET-token" not in text
    assert "<token>" in text


async def test_debug_logs_hold_no_message_text_note_or_value(
    settings: Settings,
    api: LocalBotApi,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    """At LOG_LEVEL=DEBUG: a note, a question and a crisis message never reach the log."""
    keyed = settings.model_copy(
        update={
            "data_encryption_key": SecretStr(Fernet.generate_key().decode()),
            "log_level": "DEBUG",
        }
    )
    configure_logging("DEBUG")
    app: App = build_application(keyed, request=api, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    try:
        services = app.bot_data["services"]
        await services.careteam.add_clinician(DR, "Dr. Log")
        issued = await services.enrollment.create_invite("P-770", clinician_telegram_id=DR, days=7)
        await app.process_update(text_update(app.bot, PAT, f"/start {issued.code}"))
        await app.process_update(callback_update(app.bot, PAT, "c:yes"))
        await app.process_update(text_update(app.bot, PAT, "/checkin"))
        today = datetime.now(ZoneInfo(keyed.clinic_timezone)).date().isoformat()
        for data in ("c:7", "m:3", "u:yes"):
            await app.process_update(callback_update(app.bot, PAT, f"ci:{today}:{data}"))
        await app.process_update(text_update(app.bot, PAT, f"note {MARKER} about my week"))
        await app.process_update(text_update(app.bot, PAT, f"what is {MARKER} methadone"))
        await app.process_update(text_update(app.bot, PAT, f"i want to die {MARKER}"))
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()
    logged = capsys.readouterr().err
    assert logging.getLogger("bot").isEnabledFor(logging.DEBUG), "the test ran at DEBUG"
    assert MARKER not in logged
    assert "about my week" not in logged
    assert "i want to die" not in logged


def test_a_rejected_token_is_one_line_and_never_printed(tmp_path: Path) -> None:
    """Telegram answers 401: one line naming the setting, exit 1, the token nowhere."""
    with EmulatorThread() as emulator:  # knows no bot, so every token is rejected
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
        env.update(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": emulator.url,
                "DATABASE_PATH": str(tmp_path / "db.sqlite3"),
            }
        )
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "SECRET-token" not in output
    assert "987654321" not in output
    assert "TELEGRAM_BOT_TOKEN was refused by Telegram" in result.stderr.strip().splitlines()[-1]
