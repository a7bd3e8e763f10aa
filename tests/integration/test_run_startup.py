"""`companion run` as a process: waiting out an unreachable Telegram, one instance per database."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import unused_port

TOKEN = "424242:startup-test-token-never-printed-00000"
WAIT = 30.0


class Run:
    """One ``python -m bot run`` process with its output in a file."""

    def __init__(self, folder: Path, name: str, **env: str) -> None:
        self.output = folder / f"{name}.log"
        settings = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TELEGRAM_", "DATABASE_", "CLINIC_"))
        }
        settings.update(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": f"http://127.0.0.1:{unused_port()}",
                "TELEGRAM_BOT_USERNAME": "startup_bot",
                "DATABASE_PATH": str(folder / "companion.sqlite3"),
                "CHART_WORKERS": "0",
                "PYTHONUNBUFFERED": "1",
                **env,
            }
        )
        with self.output.open("wb") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=folder,
                env=settings,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        """Return everything the process printed so far."""
        return self.output.read_text(errors="replace")

    def wait_for(self, needle: str, within: float = WAIT) -> None:
        """Wait until the output contains ``needle`` while the process runs."""
        deadline = time.monotonic() + within
        while needle not in self.text():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} in:\n{self.text()}"
            time.sleep(0.1)

    def finish(self, within: float = WAIT) -> int:
        """Wait for the process to end by itself; return its exit code."""
        try:
            return self.proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"still running after {within} s:\n{self.text()}")

    def terminate(self) -> int:
        """SIGTERM and wait for the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def kill(self) -> None:
        """Kill if still running (test clean-up)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    """Every process a test starts, killed at the end whatever happened."""
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def test_start_up_waits_for_an_unreachable_telegram_with_one_line_warnings(
    tmp_path: Path, runs: list[Run]
) -> None:
    """Telegram refused: a one-line warning per try, no traceback, no token; SIGTERM exits 0."""
    run = Run(tmp_path, "first")
    runs.append(run)
    run.wait_for("Telegram unreachable")
    time.sleep(2.5)  # at least one more try (after 1 s, then 2 s)
    assert run.proc.poll() is None, run.text()
    assert run.terminate() == 0, run.text()
    output = run.text()
    assert "Traceback" not in output
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output
    warnings = [line for line in output.splitlines() if "Telegram unreachable" in line]
    assert len(warnings) >= 2, output
    assert all("retrying in" in line for line in warnings)


def test_a_broken_database_stops_run_at_once_even_while_telegram_is_unreachable(
    tmp_path: Path, runs: list[Run]
) -> None:
    """A file that is not SQLite: one line and exit 1, before Telegram is even asked."""
    (tmp_path / "companion.sqlite3").write_bytes(b"not a database, just text; " * 100)
    run = Run(tmp_path, "broken")
    runs.append(run)
    assert run.finish() == 1
    lines = run.text().strip().splitlines()
    assert len(lines) == 1, run.text()
    assert "not a database" in lines[0]


def test_a_second_run_on_the_same_database_refuses_to_start_until_the_first_dies(
    tmp_path: Path, runs: list[Run]
) -> None:
    """One line and exit 1 while an instance holds the database; a SIGKILLed holder frees it."""
    first = Run(tmp_path, "first")
    runs.append(first)
    first.wait_for("Telegram unreachable")

    second = Run(tmp_path, "second")
    runs.append(second)
    assert second.finish() == 1
    lines = second.text().strip().splitlines()
    assert len(lines) == 1, second.text()
    assert "already running" in lines[0]
    assert str(first.proc.pid) in lines[0], "the line names the process holding the database"
    lock = tmp_path / "companion.sqlite3.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600

    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=WAIT)
    third = Run(tmp_path, "third")
    runs.append(third)
    third.wait_for("Telegram unreachable")
    assert third.terminate() == 0, third.text()


def test_run_on_a_folder_is_one_line_and_leaves_no_lock_file_beside_it(
    tmp_path: Path, runs: list[Run]
) -> None:
    """DATABASE_PATH naming a folder: one line, exit 1, no stray lock file next to the folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    run = Run(tmp_path, "folder", DATABASE_PATH=str(folder))
    runs.append(run)
    assert run.finish() == 1
    lines = run.text().strip().splitlines()
    assert len(lines) == 1, run.text()
    assert "Is a directory" in lines[0]
    assert not (tmp_path / "data.lock").exists()
