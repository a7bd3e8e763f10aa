"""The admin CLI against broken files and absurd values: one line, a non-zero exit, no hang."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import run_cli

HANG_TIMEOUT = 30


def run_cli_with_umask(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot`` like ``run_cli``, with the common umask 022."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    clean.update({"DATABASE_PATH": str(tmp_path / "db.sqlite3"), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=HANG_TIMEOUT,
        check=False,
        umask=0o022,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Assert a non-zero exit with exactly one line on stderr and no traceback; return it."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [
        ["migrate"],
        ["clinician", "list"],
        ["invite", "--label", "P-1"],
        ["export", "--patient", "P-1"],
        ["backup", "copy.sqlite3"],
    ],
)
def test_a_file_that_is_not_a_database_stops_each_command_at_once(
    tmp_path: Path, command: list[str]
) -> None:
    """A corrupt or non-SQLite file: one line and exit 1 at once, never a hang."""
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database, just some text; " * 100)
    result = run_cli_with_umask(tmp_path, *command, DATABASE_PATH=str(broken))
    line = assert_one_line_failure(result)
    assert "not a database" in line


def test_the_database_and_its_folder_are_created_private(tmp_path: Path) -> None:
    """`migrate` with umask 022 creates the folder 0700 and the database 0600."""
    path = tmp_path / "data" / "companion.sqlite3"
    result = run_cli_with_umask(tmp_path, "migrate", DATABASE_PATH=str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_backup_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """`companion backup` writes the copy 0600, its new folder 0700, with umask 022."""
    assert run_cli_with_umask(tmp_path, "migrate").returncode == 0
    target = tmp_path / "backups" / "copy.sqlite3"
    result = run_cli_with_umask(tmp_path, "backup", str(target))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert not list(target.parent.glob("*-journal")), "no journal left beside the copy"


def test_a_failed_backup_leaves_no_file(tmp_path: Path) -> None:
    """A backup that cannot be taken (the database is broken) leaves no partial copy."""
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"not a database, just some text; " * 100)
    target = tmp_path / "copy.sqlite3"
    result = run_cli(tmp_path, "backup", str(target), DATABASE_PATH=str(broken))
    assert_one_line_failure(result)
    assert not target.exists()


HUGE = "99999999999999999999"
YEAR_9999 = "9999-12-31"
ABSURD = [
    pytest.param(["clinician", "add", "--telegram-id", HUGE, "--name", "X"], {}, id="add-huge-id"),
    pytest.param(["clinician", "remove", "--telegram-id", HUGE], {}, id="remove-huge-id"),
    pytest.param(["invite", "--label", "P-9", "--clinician", HUGE], {}, id="invite-huge-id"),
    pytest.param(["digest", "--clinician", HUGE, "--out", "d"], {}, id="digest-huge-id"),
    pytest.param(["med", "remove", "--id", HUGE], {}, id="med-huge-id"),
    pytest.param(["tms", "remove", "--id", HUGE], {}, id="tms-huge-id"),
    pytest.param(["appt", "remove", "--id", HUGE], {}, id="appt-huge-id"),
    pytest.param(
        ["tms", "mark", "--patient", "P-1", "--session", HUGE, "--attended"], {}, id="huge-session"
    ),
    pytest.param(
        [
            "med",
            "add",
            "--patient",
            "P-1",
            "--name",
            "X",
            "--dose",
            "1",
            "--times",
            "08:00",
            "--start",
            YEAR_9999,
        ],
        {},
        id="med-start-9999",
    ),
    pytest.param(
        [
            "tms",
            "add",
            "--patient",
            "P-1",
            "--start",
            YEAR_9999,
            "--time",
            "10:00",
            "--sessions",
            "5",
        ],
        {},
        id="tms-start-9999",
    ),
    pytest.param(
        ["appt", "add", "--patient", "P-1", "--kind", "therapy", "--at", "9999-12-31 23:59"],
        {},
        id="appt-at-9999",
    ),
    pytest.param(["schedule", "--patient", "P-1", "--from", YEAR_9999], {}, id="schedule-9999"),
    pytest.param(
        ["digest", "--clinician", "77", "--out", "d", "--week-ending", YEAR_9999],
        {},
        id="week-ending-9999",
    ),
    pytest.param(["backup", "some_file/x.db"], {}, id="backup-under-a-file"),
    pytest.param(["migrate"], {"CLINIC_TIMEZONE": "A" * 300}, id="timezone-300-chars"),
    pytest.param(["migrate"], {"DATABASE_PATH": "."}, id="database-is-a-folder"),
    pytest.param(["migrate"], {"DATABASE_PATH": "some_file/db.sqlite3"}, id="database-under-file"),
]


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with clinician 77 and patient P-1, and a plain file named some_file."""
    folder = tmp_path_factory.mktemp("clinic")
    assert run_cli(folder, "clinician", "add", "--telegram-id", "77", "--name", "A").returncode == 0
    assert run_cli(folder, "invite", "--label", "P-1", "--clinician", "77").returncode == 0
    (folder / "some_file").write_text("not a folder\n")
    return folder


@pytest.mark.parametrize(("args", "env"), ABSURD)
def test_an_absurd_value_is_one_line_and_a_non_zero_exit(
    clinic: Path, args: list[str], env: dict[str, str]
) -> None:
    """Huge ids, year-9999 dates, impossible paths and settings: one line, never a traceback."""
    result = run_cli(clinic, *args, **env)
    line = assert_one_line_failure(result)
    assert len(line) < 300, "the line stays readable"
    if "CLINIC_TIMEZONE" in env:
        assert line.startswith("companion: CLINIC_TIMEZONE")
