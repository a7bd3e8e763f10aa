"""The admin CLI: ``companion run | migrate | clinician | invite | backup | export | audit ...``.

Every failure a person can cause (a bad argument, a missing setting, an unknown label) is one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

from telegram.error import InvalidToken

from bot.clock import SystemClock
from bot.config import Settings, SettingsError, configure_libraries, load_settings
from bot.container import build_services
from bot.services.audit import AuditService, UnknownLabelError
from bot.services.careteam import CareTeamService
from bot.services.crypto import CryptoError, NoteCipher
from bot.services.digest import DigestService, Rules, week_ending_for
from bot.services.enrollment import EnrollmentError, EnrollmentService
from bot.services.keys import KeyRotation, RotationCounts
from bot.services.library import ContentError as LibraryContentError
from bot.services.privacy import UnknownPatientError
from bot.services.reports import ReportTemplateError, write_files
from bot.services.schedules import (
    ScheduleError,
    ScheduleService,
    parse_date,
    parse_local_datetime,
)
from bot.storage.db import Database, MigrationError
from bot.storage.lock import InstanceLock, InstanceLockedError
from bot.texts import ContentError as TextsContentError

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.services.reviews import ReviewStatus

EXIT_FAILURE = 1
EXIT_USAGE = 2
# `content status`: the content is valid, and at least one article is due for clinical review.
EXIT_REVIEWS_DUE = 3
# Start-up retries while Telegram is unreachable: 1, 2, 4 ... seconds, at most a minute apart.
START_RETRY_FIRST_SECONDS = 1.0
START_RETRY_MAX_SECONDS = 60.0


class CliError(Exception):
    """A failure to report as one line."""


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


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and its arguments."""
    parser = _Parser(prog="companion", description="Recovery Companion: Telegram bot and admin.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("run", help="run the bot (long polling) until SIGINT or SIGTERM")
    sub.add_parser("migrate", help="create or upgrade the database")
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


def _join_dashed_values(argv: Sequence[str]) -> list[str]:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command and return the exit code."""
    raw = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(_join_dashed_values(raw))
    configure_libraries()
    try:
        settings = load_settings()
        if args.command == "run":
            return _run(settings)
        if args.command == "demo":
            return asyncio.run(_demo(settings, args))
        if args.command == "content":
            return _content_status(settings, args)
        handler = _COMMANDS[args.command]
        asyncio.run(_with_database(settings, lambda db: handler(settings, db, args)))
    except (
        SettingsError,
        CliError,
        EnrollmentError,
        MigrationError,
        TextsContentError,
        LibraryContentError,
        ReportTemplateError,
        OSError,
        ValueError,
    ) as exc:
        # A broken article or template names its file here, and the bot does not start.
        print(f"companion: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except sqlite3.Error as exc:
        print(f"companion: database error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except InvalidToken:
        # The library's message quotes the token: never print it.
        print(
            "companion: TELEGRAM_BOT_TOKEN was refused by Telegram: "
            "check the token from @BotFather",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except OverflowError:
        # A value no check above caught; still one line, as for every mistake a person can make.
        print("companion: a number or date is out of range", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    return 0


async def _with_database(settings: Settings, work: Callable[[Database], Awaitable[None]]) -> None:
    db = Database(settings.database_path)
    await db.connect()
    try:
        await db.migrate()
        await work(db)
    finally:
        await db.close()


async def _migrate(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    version = await db.schema_version()
    print(f"database {settings.database_path} is at schema version {version}")


async def _clinician(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    careteam = CareTeamService(
        db, SystemClock(), alert_grace=timedelta(minutes=settings.grace_minutes_alert)
    )
    if args.action == "add":
        role = "admin" if args.admin else "clinician"
        await careteam.add_clinician(args.telegram_id, args.name, role=role, locale=args.language)
        print(f"clinician {args.telegram_id} ({role}) is active")
    elif args.action == "remove":
        if not await careteam.remove_clinician(args.telegram_id):
            msg = f"no active clinician with Telegram id {args.telegram_id}"
            raise CliError(msg)
        print(f"clinician {args.telegram_id} removed")
    else:
        rows = await careteam.clinicians()
        if args.json:
            print(
                json.dumps(
                    [{"telegram_id": c.telegram_id, "name": c.name, "role": c.role} for c in rows],
                    indent=2,
                )
            )
        elif not rows:
            print(
                "no clinicians yet: add one with "
                "companion clinician add --telegram-id ID --name NAME"
            )
        for c in rows if not args.json else []:
            print(f"{c.telegram_id}\t{c.role}\t{c.name}")


async def _invite(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    enrollment = EnrollmentService(
        db,
        SystemClock(),
        default_timezone=settings.clinic_timezone,
        consent_version=settings.consent_version,
        default_checkin_time=f"{settings.checkin_default_time:%H:%M}",
    )
    days = args.days if args.days is not None else settings.invite_valid_days
    issued = await enrollment.create_invite(
        args.label, clinician_telegram_id=args.clinician, days=days
    )
    username = settings.telegram_bot_username or await _bot_username(settings)
    print(f"label:   {issued.label}")
    print(f"code:    {issued.code}")
    expires = issued.expires_at.astimezone(settings.zone)
    print(f"expires: {expires:%Y-%m-%d %H:%M} {settings.clinic_timezone}")
    if username:
        print(f"link:    https://t.me/{username}?start={issued.code}")
    else:
        print("link:    set TELEGRAM_BOT_USERNAME to print the t.me link", file=sys.stderr)


async def _bot_username(settings: Settings) -> str | None:
    """Ask Telegram for the bot's username when a token is set (None when unreachable)."""
    if settings.telegram_bot_token is None:
        return None
    from telegram import Bot  # noqa: PLC0415 - only this path needs the network stack
    from telegram.error import TelegramError  # noqa: PLC0415

    base = settings.telegram_base_url
    bot = Bot(
        settings.require_token(),
        base_url=f"{base}/bot" if base else "https://api.telegram.org/bot",
    )
    try:
        async with bot:
            return bot.username
    except TelegramError:
        return None


async def _backup(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    destination: Path = args.destination
    # Claimed owner-only before anything is copied into it: a backup is the whole health record.
    _new_private_file(destination).close()
    try:
        # sqlite's online backup copies a consistent snapshot even while the bot writes.
        target = sqlite3.connect(destination, check_same_thread=False)
        try:
            await db.conn.backup(target)
        finally:
            target.close()
    except BaseException:
        destination.unlink(missing_ok=True)  # noqa: ASYNC240 - one unlink after a failed copy
        raise
    print(f"backup written to {destination}")


async def _export(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    from bot.container import build_services  # noqa: PLC0415 - content loads only for these commands

    # The file is claimed before the export is taken, so a refusal leaves no audit row behind.
    handle = _new_private_file(args.output) if args.output is not None else None
    try:
        export = await build_services(settings, db=db).privacy.export_for_label(args.patient)
        if handle is None:
            sys.stdout.write(export.content().decode("utf-8"))
            return
        with handle:
            handle.write(export.content())
    except BaseException as exc:
        if handle is not None:
            handle.close()
            args.output.unlink(missing_ok=True)
        if isinstance(exc, UnknownPatientError):
            raise CliError(str(exc)) from exc
        if isinstance(exc, OSError):
            target = args.output or "standard output"
            msg = f"cannot write {target}: {exc.strerror or exc}"
            raise CliError(msg) from exc
        raise
    print(f"export of {export.label} written to {args.output}")


def _new_private_file(path: Path) -> BinaryIO:
    """Create a file that must not exist yet, readable by its owner only (it holds health data)."""
    try:
        if not path.parent.exists():
            path.parent.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        msg = f"cannot create the folder {path.parent}: {exc.strerror or exc}"
        raise CliError(msg) from exc
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        msg = f"{path} already exists; choose a new file name"
        raise CliError(msg) from exc
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise CliError(msg) from exc
    return os.fdopen(descriptor, "wb")


def _schedule_service(settings: Settings, db: Database) -> ScheduleService:
    from bot.container import build_services  # noqa: PLC0415 - content loads only for these commands

    return build_services(settings, db=db).schedules


async def _med(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        med = await schedules.add_medication(
            args.patient,
            name=args.name,
            dose=args.dose,
            times=args.times,
            days=args.days,
            start=args.start,
            end=args.end,
        )
        print(
            f"medication {med.id} added: {med.name} ({med.dose_text}) at "
            f"{','.join(med.times)} {med.weekdays} from {med.start_date}"
        )
    elif args.action == "remove":
        med = await schedules.remove_medication(args.id)
        print(f"medication {med.id} ({med.name}) stopped")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient)
        if not plan.medications:
            print(f"no active medications for {patient.label}")
        for m in plan.medications:
            end = m.end_date.isoformat() if m.end_date else "open"
            print(
                f"{m.id}\t{m.name}\t{m.dose_text}\t{','.join(m.times)}\t{m.weekdays}\t"
                f"{m.start_date}..{end}"
            )


async def _tms(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        course, sessions = await schedules.add_tms_course(
            args.patient,
            start=args.start,
            time_text=args.time,
            days=args.days,
            sessions=args.sessions,
            location=args.location,
        )
        first = sessions[0].local_start if sessions else None
        last = sessions[-1].local_start if sessions else None
        print(
            f"dTMS course {course.id} added: {len(sessions)} sessions, {course.weekdays} at "
            f"{course.time}, {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        )
    elif args.action == "remove":
        course = await schedules.remove_tms_course(args.id)
        print(f"dTMS course {course.id} ended; remaining sessions cancelled")
    elif args.action == "mark":
        digests = DigestService(db, SystemClock(), Rules.from_settings(settings))
        if not await digests.mark_attendance(args.patient, args.session, attended=args.attended):
            msg = f"{args.patient} has no dTMS session {args.session}"
            raise CliError(msg)
        what = "attended" if args.attended else "missed"
        print(f"{args.patient} dTMS session {args.session}: {what}")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient)
        if not plan.courses:
            print(f"no active dTMS course for {patient.label}")
        for c in plan.courses:
            print(
                f"{c.id}\t{c.start_date}\t{c.weekdays}\t{c.time}\t{c.sessions} sessions\t"
                f"{c.location or ''}"
            )


async def _appt(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    schedules = _schedule_service(settings, db)
    if args.action == "add":
        appt = await schedules.add_appointment(
            args.patient, kind=args.kind, at=args.at, location=args.location
        )
        print(
            f"appointment {appt.id} added: {appt.kind} at "
            f"{appt.local_start:%Y-%m-%d %H:%M} {appt.timezone}"
        )
    elif args.action == "remove":
        appt = await schedules.cancel_appointment(args.id)
        print(f"appointment {appt.id} cancelled")
    else:
        patient = await schedules.patient(args.patient)
        plan = await schedules.schedule_of(patient, days_ahead=90)
        if not plan.appointments:
            print(f"no upcoming appointments for {patient.label}")
        for a in plan.appointments:
            number = f" {a.session_number}/{a.sessions_total}" if a.session_number else ""
            print(
                f"{a.id}\t{a.kind}{number}\t{a.local_start:%Y-%m-%d %H:%M} {a.timezone}\t"
                f"{a.status}\t{a.location or ''}"
            )


async def _schedule(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    schedules = _schedule_service(settings, db)
    patient = await schedules.patient(args.patient)
    start = args.start or schedules.local_today(patient)
    views = await schedules.planned(args.patient, start=start, days=args.days)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "kind": v.kind,
                        "local_time": v.local_time.isoformat(),
                        "utc_time": v.utc_time.isoformat(),
                        "what": v.what,
                    }
                    for v in views
                ],
                indent=2,
            )
        )
        return
    print(
        f"{patient.label}: {len(views)} planned reminders, {args.days} days from {start} "
        f"({patient.timezone})"
    )
    for v in views:
        print(f"{v.local_time:%Y-%m-%d %H:%M %z}\t{v.utc_time:%Y-%m-%d %H:%M}Z\t{v.kind}\t{v.what}")


async def _digest(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    services = build_services(settings, db=db)
    try:
        clinician = await services.careteam.clinician_for_user(args.clinician)
        if clinician is None:
            msg = f"no active clinician with Telegram id {args.clinician}"
            raise CliError(msg)
        week_end = (
            args.week_ending
            if args.week_ending
            else week_ending_for(services.clock.now(), settings.zone, include_today=False)
        )
        # Clinic IT reads it on the clinician's behalf: audited as a CLI read of each patient.
        digest = await services.digests.build_weekly_digest(
            clinician, week_end, actor_kind="cli", action="digest.export"
        )
        files = await services.renderer.render(digest, clinician.locale, services.charts)
    finally:
        services.charts.close()
    written = write_files(files, args.out)
    print(
        f"digest for {clinician.name}, {digest.week_start} to {digest.week_end}: "
        f"{len(digest.patients)} patients, {len(digest.flagged)} need attention; "
        f"{len(written)} files in {args.out}"
    )


async def _rotate_key(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    if settings.data_encryption_key is None:
        msg = "DATA_ENCRYPTION_KEY is not set: it must hold the key the notes are under now"
        raise CliError(msg)
    new_key = sys.stdin.readline().strip() if args.new_key == "-" else args.new_key.strip()
    old_key = settings.data_encryption_key.get_secret_value()
    if new_key == old_key:
        msg = "the new key is the key in DATA_ENCRYPTION_KEY; generate a new one"
        raise CliError(msg)
    try:
        rotation = KeyRotation(db, NoteCipher(old_key), NoteCipher(new_key))
    except CryptoError as exc:
        msg = f"--new-key: {exc}"
        raise CliError(msg) from exc

    def progress(counts: RotationCounts) -> None:
        print(f"... {counts.rotated} re-encrypted, {counts.already} already done", flush=True)

    counts = await rotation.run(progress)
    print(
        f"notes re-encrypted: {counts.rotated}; already under the new key: {counts.already}; "
        f"opened by neither key (left as they are): {counts.unreadable}"
    )
    if counts.changed_meanwhile:
        print(
            f"{counts.changed_meanwhile} notes changed during the run: run the command again",
            file=sys.stderr,
        )
        return
    print(
        "done: now set DATA_ENCRYPTION_KEY to the new key and restart the bot "
        "(keep the old key until a backup taken after this run exists)"
    )


ACTOR_NAMES = {"cli": "clinic IT (CLI)", "system": "the bot", "patient": "the patient"}


async def _audit(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    audit = AuditService(db, SystemClock())
    if args.action == "verify":
        report = await audit.verify()
        if not report.ok:
            msg = (
                f"audit log broken at row {report.broken_id}: it {report.problem} "
                f"({report.rows} rows read)"
            )
            raise CliError(msg)
        older = f", {report.unchained} written before the chain began" if report.unchained else ""
        print(f"audit log OK: {report.rows} rows{older}")
        print(f"head: {report.head} (keep it to detect removal of the newest rows)")
        return
    try:
        patient, rows = await audit.trail(args.patient)
    except UnknownLabelError as exc:
        raise CliError(str(exc)) from exc
    print(f"audit trail of {patient.label} ({len(rows)} rows, times in {settings.clinic_timezone})")
    for row in rows:
        when = row.at.astimezone(settings.zone)
        if row.actor_kind == "clinician":
            who = row.clinician_name or f"clinician #{row.actor_id}"
        else:
            who = ACTOR_NAMES.get(row.actor_kind, row.actor_kind)
        print(f"{when:%Y-%m-%d %H:%M}\t{who}\t{row.action}")


DUE_TEXT = {
    "never_reviewed": "never reviewed by a clinician",
    "changed_since_review": "changed after its review",
    "review_expired": "review older than {months} months",
    "translation_behind": "translates original v{translated}; the original is now v{original}",
}


def _content_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print every article version's clinical review state; exit 3 when any review is due."""
    from bot.container import load_content  # noqa: PLC0415 - only this command needs the content
    from bot.services.reviews import review_statuses  # noqa: PLC0415
    from bot.texts import content_root  # noqa: PLC0415

    root = settings.content_dir or content_root()
    _, library = load_content(root, tuple(sorted(settings.crisis_context().items())))
    today = SystemClock().now().astimezone(settings.zone).date()
    months = settings.content_review_months
    statuses = review_statuses(library, today, months)
    due = [status for status in statuses if status.is_due]
    if args.json:
        print(json.dumps([_status_record(status) for status in statuses], indent=2))
        return EXIT_REVIEWS_DUE if due else 0
    per_language = ", ".join(
        f"{locale} {sum(s.article.locale == locale for s in statuses)}"
        for locale in library.locales
    )
    print(
        f"articles in {root / 'articles'}: {len(library.all())} ({per_language}); "
        f"a review stays current for {months} months (CONTENT_REVIEW_MONTHS); today {today}"
    )
    rows = [("ARTICLE", "LANG", "VERSION", "CHANGED", "REVIEWED", "DUE")]
    for status in statuses:
        article = status.article
        reviewed = (
            f"{article.reviewed_on} by {article.reviewed_by}" if article.reviewed_on else "never"
        )
        if status.is_due:
            what = "review: " + "; ".join(
                _due_text(status, reason, months) for reason in status.due
            )
        else:
            what = f"next review by {status.review_until}"
        rows.append(
            (article.id, article.locale, article.version, str(article.updated_on), reviewed, what)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*padded, row[-1]]))
    counts = {reason: sum(reason in s.due for s in statuses) for reason in DUE_TEXT}
    print(
        f"{len(due)} of {len(statuses)} article versions need a clinician's review: "
        f"{counts['never_reviewed']} never reviewed, "
        f"{counts['changed_since_review']} changed after their review, "
        f"{counts['review_expired']} reviewed over {months} months ago, "
        f"{counts['translation_behind']} translations behind their original"
        if due
        else f"all {len(statuses)} article versions have a current clinical review"
    )
    return EXIT_REVIEWS_DUE if due else 0


def _due_text(status: ReviewStatus, reason: str, months: int) -> str:
    return DUE_TEXT[reason].format(
        months=months,
        translated=status.article.translated_from_version,
        original=status.original_version,
    )


def _status_record(status: ReviewStatus) -> dict[str, Any]:
    article = status.article
    return {
        "id": article.id,
        "language": article.locale,
        "title": article.title,
        "version": article.version,
        "updated_on": article.updated_on.isoformat(),
        "reviewed_on": article.reviewed_on.isoformat() if article.reviewed_on else None,
        "reviewed_by": article.reviewed_by,
        "translated_from_version": article.translated_from_version,
        "original_version": status.original_version,
        "review_until": status.review_until.isoformat() if status.review_until else None,
        "due": list(status.due),
        "file": str(article.path),
    }


async def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from bot.demo import build_demo  # noqa: PLC0415 - only this command needs it

    # The synthetic clinic's own events (a patient blocking the bot) are not news to the reader.
    logging.disable(logging.WARNING)
    files = await build_demo(args.out, settings, locale=args.language)
    print(
        f"demo clinic written to {args.out}: {len(files.messages)} message part(s), "
        f"{len(files.photos)} chart(s), {files.report_name}, {files.csv_name}"
    )
    return 0


_COMMANDS: dict[str, Callable[[Settings, Database, argparse.Namespace], Awaitable[None]]] = {
    "migrate": _migrate,
    "digest": _digest,
    "clinician": _clinician,
    "invite": _invite,
    "backup": _backup,
    "export": _export,
    "audit": _audit,
    "rotate-key": _rotate_key,
    "med": _med,
    "tms": _tms,
    "appt": _appt,
    "schedule": _schedule,
}


def _run(settings: Settings) -> int:
    from telegram import Update  # noqa: PLC0415 - keep the admin commands light

    from bot.app import build_application  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415

    settings.require_token()
    # Before anything else: a second bot on this database would send every reminder twice.
    lock = InstanceLock(settings.database_path)
    try:
        lock.acquire()
    except InstanceLockedError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        msg = f"cannot lock the database {lock.database}: {exc.strerror or exc}"
        raise CliError(msg) from exc
    try:
        configure_logging(settings.log_level)
        logging.getLogger("bot").debug(
            "debug logging on; libraries that log message contents stay quiet"
        )
        application = build_application(settings)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # run_polling below carries on in this loop
        if not loop.run_until_complete(_start_up(application, settings)):
            loop.close()
            return 0  # stopped by SIGTERM or SIGINT while Telegram was unreachable
        application.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        lock.release()
    return 0


async def _start_up(
    application: Application[Any, Any, Any, Any, Any, Any], settings: Settings
) -> bool:
    """Open the database, then reach Telegram; return False if stopped before Telegram answered.

    The database comes first so that a broken file stops the bot at once, even while Telegram
    is unreachable. Telegram is then retried with backoff, one warning line per try, as during
    a polling outage: a service manager should see a bot that waits, not one that crashes.
    """
    from bot.container import SERVICES_KEY, Services  # noqa: PLC0415

    services = application.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await services.db.connect()
        try:
            await services.db.migrate()
            logging.getLogger("bot").info("starting; database=%s", settings.database_path)
            ready = await _initialize_with_retry(application, stop)
        except BaseException:
            await services.db.close()
            raise
        if not ready:
            await services.db.close()
        return ready
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


async def _initialize_with_retry(
    application: Application[Any, Any, Any, Any, Any, Any], stop: asyncio.Event
) -> bool:
    """Initialise the application (getMe) until it works; False if ``stop`` is set first."""
    from telegram.error import InvalidToken, NetworkError, RetryAfter  # noqa: PLC0415

    log = logging.getLogger("bot")
    delay = START_RETRY_FIRST_SECONDS
    while True:
        attempt = asyncio.ensure_future(application.initialize())
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({attempt, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not attempt.done():
            attempt.cancel()
            await asyncio.gather(attempt, return_exceptions=True)
            return False
        try:
            attempt.result()
        except InvalidToken:
            msg = "TELEGRAM_BOT_TOKEN was refused by Telegram: check the token from @BotFather"
            raise SettingsError(msg) from None
        except RetryAfter as exc:
            wait = max(delay, exc.retry_after.total_seconds())  # type: ignore[union-attr]
            log.warning("Telegram asked to wait at start-up; retrying in %.0f s", wait)
        except NetworkError as exc:  # also TimedOut
            wait = delay
            log.warning(
                "Telegram unreachable at start-up error=%s; retrying in %.0f s",
                type(exc).__name__,
                wait,
            )
        else:
            return True
        try:
            await asyncio.wait_for(stop.wait(), timeout=wait)
        except TimeoutError:
            delay = min(delay * 2, START_RETRY_MAX_SECONDS)
        else:
            return False


if __name__ == "__main__":
    sys.exit(main())
