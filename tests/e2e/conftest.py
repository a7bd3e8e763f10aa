"""End-to-end harness: the Bot API emulator on a loopback port and the bot as its own process.

The bot is started exactly as clinic IT starts it (``python -m bot run``) with its base URL
pointed at the emulator; tests act as patients and clinicians through the emulator's client
API, and use the admin CLI in a separate process like a person at the terminal would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.emulator import AsyncEmulatorClient, EmulatorThread

TOKEN = "424242:E2E-test-token-for-the-emulator-0000"
BOT_USERNAME = "companion_e2e_bot"
READY_TIMEOUT = 30.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder as end to end."""
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


class BotProcess:
    """The bot as a separate process: start, stop gracefully, or kill -9."""

    def __init__(self, workdir: Path, emulator_url: str, **settings: str) -> None:
        self.workdir = workdir
        self.log_path = workdir / "bot.log"
        self.db_path = workdir / "companion.sqlite3"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "DATABASE_", "CLINIC_"))
        }
        self.env.update(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": emulator_url,
                "TELEGRAM_BOT_USERNAME": BOT_USERNAME,
                "DATABASE_PATH": str(self.db_path),
                "CLINIC_NAME": "Harbor Clinic",
                "CLINIC_TIMEZONE": "America/New_York",
                "CLINIC_ONCALL_PHONE": "555-0100",
                "PLANNER_INTERVAL_SECONDS": "1",
                "DISPATCH_INTERVAL_SECONDS": "0.2",
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(settings)
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *options: str) -> None:
        """Start ``python -m bot run`` in the work folder (no .env there)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", *options],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def launch(self, emu: AsyncEmulatorClient, *options: str) -> None:
        """Start the bot and wait until this start of it takes updates.

        That is its first getUpdates, or with ``--webhook`` its setWebhook.
        """
        ready = "setWebhook" if "--webhook" in options else "getUpdates"
        before = (await emu.stats()).calls.get(ready, 0)
        self.start(*options)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"the bot exited with {self.proc.returncode}:\n{self.logs()}")
            if (await emu.stats()).calls.get(ready, 0) > before:
                return
            await asyncio.sleep(0.05)
        pytest.fail(f"the bot did not start taking updates:\n{self.logs()}")

    def kill(self) -> None:
        """Kill -9: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait for a graceful exit; return the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def logs(self) -> str:
        """Return everything the bot logged."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run an admin CLI command against the same database, as another process."""
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def invite(self, label: str, clinician: int | None = None) -> str:
        """Create an invite with the CLI and return its code."""
        args = ["invite", "--label", label]
        if clinician is not None:
            args += ["--clinician", str(clinician)]
        result = self.cli(*args)
        assert result.returncode == 0, result.stderr
        return next(
            line.split()[1] for line in result.stdout.splitlines() if line.startswith("code:")
        )

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """Read the bot's database (WAL lets us read while it writes)."""
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            conn.row_factory = sqlite3.Row
            return list(conn.execute(sql, params))

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Write to the bot's database: how a test makes time pass for due rows."""
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            conn.execute(sql, params)


@pytest.fixture
def emulator() -> Iterator[EmulatorThread]:
    """A Bot API emulator on a free loopback port, with our bot's token."""
    with EmulatorThread() as thread:
        thread.add_bot(TOKEN, username=BOT_USERNAME)
        yield thread


@pytest.fixture
async def emu(emulator: EmulatorThread) -> AsyncIterator[AsyncEmulatorClient]:
    """The emulator's client API."""
    async with AsyncEmulatorClient(emulator.url, bot=TOKEN) as client:
        yield client


@pytest.fixture
def bot(
    tmp_path: Path, emulator: EmulatorThread, request: pytest.FixtureRequest
) -> Iterator[BotProcess]:
    """The bot process (not started); its log is shown when a test fails."""
    process = BotProcess(tmp_path, emulator.url)
    yield process
    code = process.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        print(f"--- bot log (exit {code}) ---\n{process.logs()}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item so fixtures can show logs on failure."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)
