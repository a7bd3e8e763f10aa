"""The admin CLI as clinic IT uses it: real processes, one-line errors, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot`` in a clean folder (no .env) with only the given settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    clean.update({"DATABASE_PATH": str(tmp_path / "db.sqlite3"), **env})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_without_token_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """`companion run` without a token exits non-zero with one line naming TELEGRAM_BOT_TOKEN."""
    result = run_cli(tmp_path, "run")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_run_webhook_without_its_settings_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """`companion run --webhook` without WEBHOOK_URL or the secret stops before anything starts."""
    result = run_cli(tmp_path, "run", "--webhook", TELEGRAM_BOT_TOKEN="1:x")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "WEBHOOK_URL is not set" in lines[0]
    result = run_cli(
        tmp_path, "run", "--webhook", TELEGRAM_BOT_TOKEN="1:x", WEBHOOK_URL="https://x.org/tg"
    )
    assert result.returncode != 0
    assert "WEBHOOK_SECRET_TOKEN is not set" in result.stderr
    assert not (tmp_path / "db.sqlite3").exists(), "nothing started"


def test_malformed_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    """A bad time zone stops the CLI with one line naming CLINIC_TIMEZONE, no traceback."""
    result = run_cli(tmp_path, "migrate", CLINIC_TIMEZONE="Mars/Olympus")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("companion: CLINIC_TIMEZONE")


def test_bad_argument_is_one_line_with_a_hint(tmp_path: Path) -> None:
    """An unknown or malformed argument is one line that points at --help."""
    result = run_cli(tmp_path, "clinician", "add", "--telegram-id", "abc", "--name", "X")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--help" in result.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    """Each command answers --help with its usage and exits 0."""
    for command in (
        ["run"],
        ["migrate"],
        ["clinician", "add"],
        ["invite"],
        ["backup"],
        ["audit", "verify"],
        ["audit", "show"],
        ["rotate-key"],
        ["content", "status"],
    ):
        result = run_cli(tmp_path, *command, "--help")
        assert result.returncode == 0, command
        assert "usage:" in result.stdout


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    """`companion migrate` creates the database with the foundation tables, idempotently."""
    assert run_cli(tmp_path, "migrate").returncode == 0
    second = run_cli(tmp_path, "migrate")
    assert second.returncode == 0
    assert "schema version" in second.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"patients", "invites", "consents", "clinicians", "audit_log"} <= tables
    assert mode == "wal"


def test_clinician_add_list_remove(tmp_path: Path) -> None:
    """Clinicians can be added, listed (also as JSON) and removed."""
    added = run_cli(tmp_path, "clinician", "add", "--telegram-id", "4242", "--name", "Dr. Ada")
    assert added.returncode == 0, added.stderr
    listed = run_cli(tmp_path, "clinician", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"telegram_id": 4242, "name": "Dr. Ada", "role": "clinician"}
    ]
    assert run_cli(tmp_path, "clinician", "remove", "--telegram-id", "4242").returncode == 0
    again = run_cli(tmp_path, "clinician", "remove", "--telegram-id", "4242")
    assert again.returncode == 1
    assert "no active clinician" in again.stderr


def test_invite_prints_code_and_link(tmp_path: Path) -> None:
    """`companion invite` prints a code and the t.me link when the username is configured."""
    result = run_cli(
        tmp_path, "invite", "--label", "P-014", "--days", "3", TELEGRAM_BOT_USERNAME="clinic_bot"
    )
    assert result.returncode == 0, result.stderr
    code = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("code:"))
    assert f"https://t.me/clinic_bot?start={code}" in result.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        stored = [row[0] for row in conn.execute("SELECT code_hash FROM invites")]
    assert code not in stored, "only the hash of a code is stored"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label", "John Smith"], "label"),
        (["--label", "P-1", "--days", "0"], "1 to 90 days"),
        (["--label", "P-1", "--clinician", "999"], "no active clinician"),
    ],
)
def test_invite_refuses_bad_input_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    """A name-like label, a bad duration or an unknown clinician is one clear line."""
    result = run_cli(tmp_path, "invite", *args, TELEGRAM_BOT_USERNAME="clinic_bot")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_backup_writes_a_consistent_copy(tmp_path: Path) -> None:
    """`companion backup` copies the database and refuses to overwrite a file."""
    run_cli(tmp_path, "clinician", "add", "--telegram-id", "7", "--name", "Dr. B")
    target = tmp_path / "backups" / "copy.sqlite3"
    assert run_cli(tmp_path, "backup", str(target)).returncode == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT COUNT(*) FROM clinicians").fetchone()[0] == 1
    again = run_cli(tmp_path, "backup", str(target))
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_export_writes_the_patient_file_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """`companion export` writes the /mydata file (owner-only), audited; it never overwrites."""
    assert run_cli(tmp_path, "invite", "--label", "P-014").returncode == 0
    target = tmp_path / "exports" / "p-014.json"
    result = run_cli(tmp_path, "export", "--patient", "P-014", "--output", str(target))
    assert result.returncode == 0, result.stderr
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["patient"]["label"] == "P-014"
    assert {"patients", "invites", "audit_log", "clinicians"} <= set(document["tables"])
    assert target.stat().st_mode & 0o777 == 0o600, "health data is readable by its owner only"

    again = run_cli(tmp_path, "export", "--patient", "P-014", "--output", str(target))
    assert again.returncode == 1
    assert len(again.stderr.strip().splitlines()) == 1
    assert "already exists" in again.stderr
    assert json.loads(target.read_text(encoding="utf-8")) == document, "the file is untouched"
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        audited = conn.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'patient.export' AND actor_kind = 'cli'"
        ).fetchone()[0]
    assert audited == 1, "a refused export leaves no audit row"


def test_export_prints_to_stdout_and_refuses_an_unknown_label(tmp_path: Path) -> None:
    """Without --output the document goes to stdout; an unknown label is one line, no file."""
    assert "--output" in run_cli(tmp_path, "export", "--help").stdout
    assert run_cli(tmp_path, "invite", "--label", "P-015").returncode == 0
    printed = run_cli(tmp_path, "export", "--patient", "P-015")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["patient"]["label"] == "P-015"
    target = tmp_path / "nobody.json"
    missing = run_cli(tmp_path, "export", "--patient", "P-404", "--output", str(target))
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "no patient with label P-404" in missing.stderr
    assert not target.exists()


def test_a_broken_article_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    """With a clinic's own content folder, a broken article stops `run` with one line."""
    shipped = Path(__file__).resolve().parents[2] / "content"
    own = tmp_path / "clinic-content"
    shutil.copytree(shipped, own)
    article = own / "articles" / "en" / "methadone.md"
    article.write_text(article.read_text().replace("sources:", "sourcez:", 1))
    result = run_cli(tmp_path, "run", TELEGRAM_BOT_TOKEN="123:abc", CONTENT_DIR=str(own))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "methadone.md" in lines[0]


def test_content_status_lists_every_article_version_and_exits_3_when_reviews_are_due(
    tmp_path: Path,
) -> None:
    """The shipped articles, both languages, are listed as never reviewed; exit code 3."""
    result = run_cli(tmp_path, "content", "status")
    assert result.returncode == 3, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "a review stays current for 12 months (CONTENT_REVIEW_MONTHS)" in lines[0]
    assert lines[1].split() == ["ARTICLE", "LANG", "VERSION", "CHANGED", "REVIEWED", "DUE"]
    rows = [line.split() for line in lines[2:-1]]
    assert ["naloxone-overdose", "es"] in [row[:2] for row in rows]
    assert all(row[4] == "never" for row in rows)
    assert all("never reviewed by a clinician" in line for line in lines[2:-1])
    assert lines[-1].startswith(f"{len(rows)} of {len(rows)} article versions need a clinician")
    as_json = run_cli(tmp_path, "content", "status", "--json")
    assert as_json.returncode == 3
    records = json.loads(as_json.stdout)
    assert len(records) == len(rows)
    assert {r["language"] for r in records} == {"en", "es"}
    assert all(r["reviewed_by"] is None and r["due"] == ["never_reviewed"] for r in records)


def test_content_status_says_what_is_due_and_exits_0_when_nothing_is(tmp_path: Path) -> None:
    """Reviewed articles are current; a change, an old review or a stale translation is due."""
    own = tmp_path / "clinic-content"
    shutil.copytree(Path(__file__).resolve().parents[2] / "content", own)
    today = date.today().isoformat()
    for article in sorted((own / "articles").glob("*/*.md")):
        text = article.read_text(encoding="utf-8")
        reviewed = f"reviewed_by: Dr. Ana Rivera, MD\nreviewed_on: {today}\nupdated_on:"
        article.write_text(text.replace("updated_on:", reviewed, 1), encoding="utf-8")
    current = run_cli(tmp_path, "content", "status", CONTENT_DIR=str(own))
    assert current.returncode == 0, current.stdout + current.stderr
    assert current.stdout.strip().splitlines()[-1].startswith("all ")
    assert f"{today} by Dr. Ana Rivera, MD" in current.stdout

    methadone = own / "articles" / "en" / "methadone.md"
    text = methadone.read_text(encoding="utf-8")
    methadone.write_text(text.replace("\nversion: 2\n", "\nversion: 3\n", 1), encoding="utf-8")
    naloxone = own / "articles" / "es" / "naloxone-overdose.md"
    naloxone.write_text(
        naloxone.read_text(encoding="utf-8").replace(
            f"reviewed_on: {today}", "reviewed_on: 2020-01-01"
        ),
        encoding="utf-8",
    )
    due = run_cli(tmp_path, "content", "status", CONTENT_DIR=str(own), CONTENT_REVIEW_MONTHS="24")
    assert due.returncode == 3
    lines = {tuple(line.split()[:2]): line for line in due.stdout.splitlines()[2:-1]}
    assert "translates original v2; the original is now v3" in lines[("methadone", "es")]
    assert "review older than 24 months" in lines[("naloxone-overdose", "es")]
    assert "next review by" in lines[("methadone", "en")]
    assert "2 of " in due.stdout.splitlines()[-1]


def test_content_status_names_a_broken_translation_in_one_line(tmp_path: Path) -> None:
    """A Spanish article with an unknown placeholder stops the command with one line, exit 1."""
    own = tmp_path / "clinic-content"
    shutil.copytree(Path(__file__).resolve().parents[2] / "content", own)
    article = own / "articles" / "es" / "methadone.md"
    article.write_text(article.read_text().replace("{{ emergency_number }}", "{{ policia }}", 1))
    result = run_cli(tmp_path, "content", "status", CONTENT_DIR=str(own))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "es/methadone.md: unknown placeholder {{ policia }}" in lines[0]


def test_content_dir_must_be_a_copy_of_content(tmp_path: Path) -> None:
    """A CONTENT_DIR without messages/ and articles/ is refused by name."""
    result = run_cli(tmp_path, "migrate", CONTENT_DIR=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("companion: CONTENT_DIR")


def test_schedule_json_lists_local_and_utc_times_across_the_spring_change(
    tmp_path: Path,
) -> None:
    """`companion schedule --json`: kind, local and UTC time; a skipped 02:30 fires at 03:00."""
    assert (
        run_cli(tmp_path, "invite", "--label", "P-DST", TELEGRAM_BOT_USERNAME="b").returncode == 0
    )
    added = run_cli(
        tmp_path,
        "med",
        "add",
        "--patient",
        "P-DST",
        "--name",
        "Methadone",
        "--dose",
        "60 mg",
        "--times",
        "02:30,08:00",
        "--start",
        "2027-03-12",
    )
    assert added.returncode == 0, added.stderr
    result = run_cli(
        tmp_path, "schedule", "--patient", "P-DST", "--from", "2027-03-13", "--days", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    doses = [r for r in json.loads(result.stdout) if r["kind"] == "dose"]
    assert [(r["local_time"], r["utc_time"]) for r in doses] == [
        ("2027-03-13T02:30:00-05:00", "2027-03-13T07:30:00+00:00"),
        ("2027-03-13T08:00:00-05:00", "2027-03-13T13:00:00+00:00"),
        ("2027-03-14T03:00:00-04:00", "2027-03-14T07:00:00+00:00"),
        ("2027-03-14T08:00:00-04:00", "2027-03-14T12:00:00+00:00"),
    ]


def test_med_add_refuses_a_bad_time_in_one_line(tmp_path: Path) -> None:
    """A time that cannot be read is one line saying what is wrong; nothing is added."""
    run_cli(tmp_path, "invite", "--label", "P-T", TELEGRAM_BOT_USERNAME="b")
    result = run_cli(
        tmp_path, "med", "add", "--patient", "P-T", "--name", "X", "--dose", "1", "--times", "25:00"
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    listed = run_cli(tmp_path, "med", "list", "--patient", "P-T")
    assert "no active medications" in listed.stdout


def test_demo_writes_the_digest_a_clinician_receives_without_token_or_database(
    tmp_path: Path,
) -> None:
    """`companion demo --out DIR`: message, charts, report and CSV; no token, no data/ folder."""
    out = tmp_path / "demo"
    result = run_cli(tmp_path, "demo", "--out", str(out), CHART_WORKERS="0")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    names = sorted(p.name for p in out.iterdir())
    assert "message-1.html" in names
    assert "cohort.png" in names
    assert any(n.endswith(".html") and n.startswith("digest-") for n in names)
    assert any(n.endswith(".csv") for n in names)
    message = (out / "message-1.html").read_text()
    for reason in ("crisis message", "used on 2 days", "ran out of", "missed doses",
                   "no check-in for", "missed dTMS session", "unreachable since",
                   "dTMS after-effects: headache 2, scalp 1"):  # fmt: skip
        assert reason in message, reason
    assert "42 CFR part 2" in message
    assert not (tmp_path / "db.sqlite3").exists(), "the demo never touches the real database"


def test_digest_command_writes_files_for_a_clinician_and_audits_the_read(tmp_path: Path) -> None:
    """`companion digest --clinician ID --out DIR --week-ending DATE`, audited per patient."""
    assert (
        run_cli(tmp_path, "clinician", "add", "--telegram-id", "77", "--name", "Dr. A").returncode
        == 0
    )
    assert run_cli(tmp_path, "invite", "--label", "P-700", "--clinician", "77").returncode == 0
    out = tmp_path / "digest"
    result = run_cli(
        tmp_path, "digest", "--clinician", "77", "--out", str(out), "--week-ending", "2026-11-29",
        CHART_WORKERS="0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2026-11-23 to 2026-11-29" in result.stdout
    assert (out / "digest-2026-11-29.csv").exists()
    assert (out / "message-1.html").exists()


def test_digest_command_refuses_an_unknown_clinician_and_a_bad_date(tmp_path: Path) -> None:
    """One line and a non-zero exit for an unknown clinician or a malformed date."""
    unknown = run_cli(tmp_path, "digest", "--clinician", "5", "--out", str(tmp_path / "x"))
    assert unknown.returncode != 0
    assert unknown.stderr.strip() == "companion: no active clinician with Telegram id 5"
    assert (
        run_cli(tmp_path, "clinician", "add", "--telegram-id", "77", "--name", "Dr. A").returncode
        == 0
    )
    bad = run_cli(
        tmp_path, "digest", "--clinician", "77", "--out", str(tmp_path / "x"),
        "--week-ending", "29/11/2026",
    )  # fmt: skip
    assert bad.returncode != 0
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


def test_tms_mark_records_attendance_and_refuses_an_unknown_session(tmp_path: Path) -> None:
    """`companion tms mark` sets a session's attendance; an unknown session is one line."""
    assert run_cli(tmp_path, "invite", "--label", "P-710").returncode == 0
    added = run_cli(
        tmp_path, "tms", "add", "--patient", "P-710", "--start", "2026-12-01", "--time", "10:00",
        "--sessions", "5",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    marked = run_cli(tmp_path, "tms", "mark", "--patient", "P-710", "--session", "2", "--missed")
    assert marked.returncode == 0, marked.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        rows = conn.execute(
            "SELECT session_number, attendance FROM appointments ORDER BY session_number"
        ).fetchall()
    assert rows[1] == (2, "missed")
    assert rows[0] == (1, None)
    missing = run_cli(tmp_path, "tms", "mark", "--patient", "P-710", "--session", "9", "--attended")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "companion: P-710 has no dTMS session 9"


def test_a_clinician_can_be_added_with_the_spanish_language(tmp_path: Path) -> None:
    """`clinician add --language es` stores the language of their digest and alerts."""
    added = run_cli(
        tmp_path, "clinician", "add", "--telegram-id", "78", "--name", "Dra. B", "--language", "es"
    )
    assert added.returncode == 0, added.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        assert conn.execute("SELECT locale FROM clinicians").fetchall() == [("es",)]


def test_audit_verify_says_ok_then_names_the_row_an_attacker_changed(tmp_path: Path) -> None:
    """`companion audit verify` prints OK with the row count; after tampering, exit 1 naming it."""
    assert run_cli(tmp_path, "invite", "--label", "P-900").returncode == 0
    assert run_cli(tmp_path, "export", "--patient", "P-900").returncode == 0
    good = run_cli(tmp_path, "audit", "verify")
    assert good.returncode == 0, good.stderr
    assert "audit log OK: 2 rows" in good.stdout
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        conn.execute("DROP TRIGGER audit_log_only_delink")
        first = conn.execute("SELECT MIN(id) FROM audit_log").fetchone()[0]
        conn.execute("UPDATE audit_log SET action = 'nothing' WHERE id = ?", (first,))
    broken = run_cli(tmp_path, "audit", "verify")
    assert broken.returncode == 1
    lines = broken.stderr.strip().splitlines()
    assert len(lines) == 1, broken.stderr
    assert f"audit log broken at row {first}" in lines[0]


def test_audit_show_refuses_an_unknown_label(tmp_path: Path) -> None:
    """`companion audit show` for a label nobody has is one line and exit 1."""
    result = run_cli(tmp_path, "audit", "show", "--patient", "P-404")
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no patient with label" in result.stderr


def test_rotate_key_reencrypts_notes_and_says_to_switch_the_setting(tmp_path: Path) -> None:
    """`companion rotate-key --new-key KEY` prints counts and tells to set the new key."""
    from bot.services.crypto import NoteCipher, generate_key  # noqa: PLC0415 - test only

    old_key, new_key = generate_key(), generate_key()
    assert run_cli(tmp_path, "invite", "--label", "P-950").returncode == 0
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        for day in ("2026-03-01", "2026-03-02"):
            conn.execute(
                "INSERT INTO checkins (patient_id, local_date, note_cipher, created_at, "
                "updated_at) VALUES (1, ?, ?, 'x', 'x')",
                (day, NoteCipher(old_key).encrypt(f"note of {day}")),
            )
    missing = run_cli(tmp_path, "rotate-key", "--new-key", new_key)
    assert missing.returncode == 1
    assert "DATA_ENCRYPTION_KEY" in missing.stderr
    bad = run_cli(tmp_path, "rotate-key", "--new-key", "short", DATA_ENCRYPTION_KEY=old_key)
    assert bad.returncode == 1
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "short" not in bad.stderr, "a key is never echoed"
    result = run_cli(tmp_path, "rotate-key", "--new-key", new_key, DATA_ENCRYPTION_KEY=old_key)
    assert result.returncode == 0, result.stderr
    assert "notes re-encrypted: 2; already under the new key: 0" in result.stdout
    assert "set DATA_ENCRYPTION_KEY to the new key" in result.stdout
    assert old_key not in result.stdout + result.stderr
    assert new_key not in result.stdout + result.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
        tokens = [row[0] for row in conn.execute("SELECT note_cipher FROM checkins ORDER BY id")]
    assert [NoteCipher(new_key).decrypt(t) for t in tokens] == [
        "note of 2026-03-01",
        "note of 2026-03-02",
    ]
    again = run_cli(tmp_path, "rotate-key", "--new-key", new_key, DATA_ENCRYPTION_KEY=old_key)
    assert "notes re-encrypted: 0; already under the new key: 2" in again.stdout


def test_rotate_key_takes_a_key_that_starts_with_a_dash(tmp_path: Path) -> None:
    """A Fernet key may start with "-" (about one in 64); it is still the key, not an option."""
    from bot.services.crypto import generate_key  # noqa: PLC0415 - test only

    old_key = generate_key()
    new_key = next(k for k in iter(generate_key, None) if k.startswith("-"))
    assert run_cli(tmp_path, "invite", "--label", "P-951").returncode == 0
    result = run_cli(tmp_path, "rotate-key", "--new-key", new_key, DATA_ENCRYPTION_KEY=old_key)
    assert result.returncode == 0, result.stderr
    assert "notes re-encrypted: 0; already under the new key: 0" in result.stdout
