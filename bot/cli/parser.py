"""The command line's grammar: every command, its arguments and their checks.

A bad argument is one line on stderr naming it, and exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from bot.cli.errors import EXIT_FAILURE, EXIT_REVIEWS_DUE, EXIT_USAGE
from bot.services.schedules import ScheduleError, parse_date, parse_local_datetime


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


# SQLite stores integers in 64 bits; a larger number would fail deep inside a query.
_INT64_MAX = 2**63 - 1
# Dates a clinic can mean: far-off years overflow the date arithmetic of schedules and digests.
_FIRST_DATE = date(2000, 1, 1)
_LAST_DATE = date(2199, 12, 31)


def _number(text: str) -> int:
    """Read a whole number that fits SQLite's 64-bit integers."""
    try:
        value = int(text)
    except ValueError:
        msg = f"{text[:40]!r} is not a whole number"
        raise argparse.ArgumentTypeError(msg) from None
    if abs(value) > _INT64_MAX:
        msg = f"{text[:40]} is too large"
        raise argparse.ArgumentTypeError(msg)
    return value


def _row_id(text: str) -> int:
    """Read an id printed by a list command."""
    value = _number(text)
    if value < 1:
        msg = f"{value} is not an id (ids start at 1)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _telegram_id(text: str) -> int:
    """Read a Telegram user id (a positive whole number)."""
    value = _number(text)
    if value < 1:
        msg = f"{value} is not a Telegram user id (a positive number)"
        raise argparse.ArgumentTypeError(msg)
    return value


def _within_years(day: date, text: str) -> None:
    if not _FIRST_DATE <= day <= _LAST_DATE:
        msg = f"{text[:40]} is outside {_FIRST_DATE} to {_LAST_DATE}"
        raise argparse.ArgumentTypeError(msg)


def _date(text: str) -> date:
    """Read a YYYY-MM-DD date within the years a schedule can use."""
    try:
        day = parse_date(text)
    except ScheduleError as exc:
        raise argparse.ArgumentTypeError(str(exc)[:120]) from None
    _within_years(day, text)
    return day


def _local_time_text(text: str) -> str:
    """Check a local date and time ("2026-12-03 15:00") and pass it on as written."""
    try:
        moment = parse_local_datetime(text)
    except ScheduleError as exc:
        raise argparse.ArgumentTypeError(str(exc)[:120]) from None
    _within_years(moment.date(), text)
    return text


def _postgres_url(text: str) -> str:
    """Check a PostgreSQL address without ever repeating it (it may hold a password)."""
    if not text.startswith(("postgresql://", "postgres://")):
        msg = "must be a PostgreSQL address, postgresql://USER:PASSWORD@HOST:5432/DBNAME"
        raise argparse.ArgumentTypeError(msg)
    return text


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and its arguments."""
    parser = _Parser(prog="companion", description="Recovery Companion: Telegram bot and admin.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="run the bot until SIGINT or SIGTERM")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="take updates as a webhook behind your HTTPS reverse proxy (WEBHOOK_URL, "
        "WEBHOOK_SECRET_TOKEN) instead of long polling",
    )
    sub.add_parser("migrate", help="create or upgrade the database")
    move = sub.add_parser(
        "migrate-to",
        help="move every row of the SQLite file (DATABASE_PATH) into an empty PostgreSQL "
        "database, with the bot stopped",
        description="Copy the SQLite database at DATABASE_PATH into an empty PostgreSQL "
        "database in one transaction: on any failure the target stays empty. The bot must be "
        "stopped; the SQLite file is left as it was, as the backup.",
    )
    move.add_argument(
        "url",
        nargs="?",
        type=_postgres_url,
        metavar="URL",
        help="postgresql://USER:PASSWORD@HOST:5432/DBNAME (default DATABASE_URL, which keeps "
        "the password out of the process list)",
    )
    backup = sub.add_parser("backup", help="copy the database safely while the bot runs")
    backup.add_argument("destination", type=Path, help="file to write (must not exist)")
    export = sub.add_parser(
        "export", help="write everything stored about a patient as JSON (the /mydata file)"
    )
    export.add_argument("--patient", required=True, metavar="LABEL", help="the patient's label")
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="file to write (must not exist); default stdout"
    )

    clinician = sub.add_parser("clinician", help="manage clinicians")
    csub = clinician.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = csub.add_parser("add", help="register a clinician by Telegram user id")
    add.add_argument(
        "--telegram-id", type=_telegram_id, required=True, help="numeric Telegram user id"
    )
    add.add_argument("--name", required=True, help="display name shown to colleagues")
    add.add_argument(
        "--admin", action="store_true", help="give the admin role (sees every patient)"
    )
    add.add_argument(
        "--language",
        choices=["en", "es"],
        default="en",
        help="language of the clinician's digest and alerts (default en)",
    )
    lst = csub.add_parser("list", help="list active clinicians")
    lst.add_argument("--json", action="store_true", help="print JSON")
    remove = csub.add_parser("remove", help="deactivate a clinician")
    remove.add_argument("--telegram-id", type=_telegram_id, required=True)

    digest = sub.add_parser(
        "digest", help="write a clinician's weekly digest to a folder (message, charts, HTML, CSV)"
    )
    digest.add_argument(
        "--clinician", type=_telegram_id, required=True, metavar="TELEGRAM_ID", help="whose digest"
    )
    digest.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    digest.add_argument(
        "--week-ending",
        type=_date,
        metavar="DATE",
        help="last day of the week, YYYY-MM-DD (default yesterday in the clinic's zone)",
    )
    demo = sub.add_parser(
        "demo",
        help="build a synthetic clinic and write its digest to a folder (no token, no network)",
    )
    demo.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write")
    demo.add_argument("--language", choices=["en", "es"], default="en")

    invite = sub.add_parser("invite", help="create a one-time enrollment link for a patient")
    invite.add_argument("--label", required=True, help="pseudonymous label, e.g. P-014")
    invite.add_argument(
        "--clinician",
        type=_telegram_id,
        metavar="TELEGRAM_ID",
        help="put this clinician on the care team",
    )
    invite.add_argument("--days", type=_number, default=None, help="days the link stays valid")
    _add_schedule_commands(sub)
    _add_audit_commands(sub)
    _add_content_commands(sub)
    rotate = sub.add_parser(
        "rotate-key",
        help="re-encrypt every check-in note under a new key (the old one is DATA_ENCRYPTION_KEY)",
    )
    rotate.add_argument(
        "--new-key", required=True, metavar="KEY", help="the new Fernet key ('-': read from stdin)"
    )
    return parser


def _add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="check the audit log, or list who read a patient's data")
    asub = audit.add_subparsers(dest="action", required=True, parser_class=_Parser)
    asub.add_parser("verify", help="recompute the audit log's hash chain; exit 1 if broken")
    show = asub.add_parser("show", help="who read or changed a patient's data, and when")
    show.add_argument("--patient", required=True, metavar="LABEL", help="the patient's label")


def _add_content_commands(sub: Any) -> None:
    content = sub.add_parser("content", help="check the psychoeducation articles")
    csub = content.add_subparsers(dest="action", required=True, parser_class=_Parser)
    status = csub.add_parser(
        "status",
        help=(
            "list every article in every language with its clinical review and what is due; "
            f"exit {EXIT_REVIEWS_DUE} when a review is due, {EXIT_FAILURE} when content is broken"
        ),
    )
    status.add_argument("--json", action="store_true", help="print JSON")


def _add_schedule_commands(sub: Any) -> None:
    med = sub.add_parser("med", help="manage a patient's medication reminders")
    msub = med.add_subparsers(dest="action", required=True, parser_class=_Parser)
    madd = msub.add_parser("add", help="add a medication with its reminder times")
    madd.add_argument("--patient", required=True, metavar="LABEL")
    madd.add_argument("--name", required=True, help="medication name, e.g. Buprenorphine")
    madd.add_argument("--dose", required=True, help="dose as the prescriber wrote it")
    madd.add_argument("--times", required=True, help="times of day, e.g. 08:00,20:00")
    madd.add_argument("--days", default="daily", help="e.g. daily, mon-fri, mon,wed,fri")
    madd.add_argument("--start", type=_date, help="first local date, YYYY-MM-DD (default today)")
    madd.add_argument("--end", type=_date, help="last local date, YYYY-MM-DD (default open-ended)")
    mlist = msub.add_parser("list", help="list a patient's medications")
    mlist.add_argument("--patient", required=True, metavar="LABEL")
    mremove = msub.add_parser("remove", help="stop a medication's reminders")
    mremove.add_argument("--id", type=_row_id, required=True, help="medication id from list")

    tms = sub.add_parser("tms", help="manage a patient's dTMS course")
    tsub = tms.add_subparsers(dest="action", required=True, parser_class=_Parser)
    tadd = tsub.add_parser("add", help="add a course of numbered dTMS sessions")
    tadd.add_argument("--patient", required=True, metavar="LABEL")
    tadd.add_argument("--start", type=_date, required=True, help="first session date, YYYY-MM-DD")
    tadd.add_argument("--time", required=True, help="session time, HH:MM")
    tadd.add_argument("--days", default="mon-fri", help="session weekdays (default mon-fri)")
    tadd.add_argument("--sessions", type=_number, required=True, help="number of sessions")
    tadd.add_argument("--location", help="where, e.g. Room 2")
    tlist = tsub.add_parser("list", help="list a patient's courses")
    tlist.add_argument("--patient", required=True, metavar="LABEL")
    tremove = tsub.add_parser("remove", help="end a course and cancel its remaining sessions")
    tremove.add_argument("--id", type=_row_id, required=True, help="course id from list")
    tmark = tsub.add_parser("mark", help="record whether the patient came to a numbered session")
    tmark.add_argument("--patient", required=True, metavar="LABEL")
    tmark.add_argument("--session", type=_number, required=True, help="session number")
    came = tmark.add_mutually_exclusive_group(required=True)
    came.add_argument("--attended", action="store_true", help="the patient came")
    came.add_argument("--missed", action="store_true", help="the patient did not come")

    appt = sub.add_parser("appt", help="manage single appointments")
    asub = appt.add_subparsers(dest="action", required=True, parser_class=_Parser)
    aadd = asub.add_parser("add", help="add an appointment")
    aadd.add_argument("--patient", required=True, metavar="LABEL")
    aadd.add_argument(
        "--kind", required=True, choices=["dtms", "therapy", "prescriber", "group", "other"]
    )
    aadd.add_argument(
        "--at", type=_local_time_text, required=True, help='local time, e.g. "2026-12-03 15:00"'
    )
    aadd.add_argument("--location", help="where")
    alist = asub.add_parser("list", help="list a patient's upcoming appointments")
    alist.add_argument("--patient", required=True, metavar="LABEL")
    aremove = asub.add_parser("remove", help="cancel an appointment")
    aremove.add_argument("--id", type=_row_id, required=True, help="appointment id from list")

    plan = sub.add_parser("schedule", help="print every planned reminder of a patient")
    plan.add_argument("--patient", required=True, metavar="LABEL")
    plan.add_argument("--from", dest="start", type=_date, help="first local date (default today)")
    plan.add_argument("--days", type=_number, default=7, help="how many days (default 7)")
    plan.add_argument("--json", action="store_true", help="print JSON")


# Options whose value may itself start with "-": a Fernet key is URL-safe base64, so about one
# key in 64 does, and argparse would read "--new-key -Ab..." as a missing value.
_DASHED_VALUES = ("--new-key",)


def join_dashed_values(argv: Sequence[str]) -> list[str]:
    """Return argv with ``--new-key -Ab...`` written as ``--new-key=-Ab...``."""
    joined: list[str] = []
    pending: str | None = None
    for arg in argv:
        if pending is not None:
            joined.append(f"{pending}={arg}")
            pending = None
        elif arg in _DASHED_VALUES:
            pending = arg
        else:
            joined.append(arg)
    if pending is not None:
        joined.append(pending)
    return joined
