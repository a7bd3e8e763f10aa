"""The ``companion`` entry point: parse the command line, run one command, report failures.

Every failure a person can cause (a bad argument, a missing setting, an unknown label) is one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence

import psycopg
from telegram.error import InvalidToken

from bot.cli import admin, content, migrate, records, reports, run, schedules
from bot.cli.errors import EXIT_FAILURE, CliError
from bot.cli.parser import build_parser, join_dashed_values
from bot.config import Settings, SettingsError, configure_libraries, load_settings
from bot.logs import quiet_libraries
from bot.services.enrollment import EnrollmentError
from bot.services.library_files import ContentError as LibraryContentError
from bot.services.reports import ReportTemplateError
from bot.storage.db import Database, MigrationError, error_reason
from bot.storage.engines import open_database
from bot.texts import ContentError as TextsContentError

_COMMANDS: dict[str, Callable[[Settings, Database, argparse.Namespace], Awaitable[None]]] = {
    "migrate": admin.migrate,
    "digest": reports.digest,
    "clinician": admin.clinician,
    "invite": admin.invite,
    "backup": records.backup,
    "export": records.export,
    "audit": records.audit,
    "rotate-key": records.rotate_key,
    "med": schedules.med,
    "tms": schedules.tms,
    "appt": schedules.appt,
    "schedule": schedules.schedule,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command and return the exit code."""
    raw = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(join_dashed_values(raw))
    configure_libraries()
    quiet_libraries()
    try:
        settings = load_settings()
        if args.command == "run":
            return run.run(settings, webhook=args.webhook)
        if args.command == "demo":
            return asyncio.run(reports.demo(settings, args))
        if args.command == "migrate-to":
            # Not through _with_database: the source is the SQLite file even when
            # DATABASE_URL is set, and the target is opened only after the file is locked.
            asyncio.run(migrate.migrate_to(settings, args))
            return 0
        if args.command == "content":
            return content.content_status(settings, args)
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
    except psycopg.Error as exc:
        # The first line only: PostgreSQL's DETAIL lines may quote a row's values.
        reason = error_reason(exc)
        print(f"companion: database error: {reason}", file=sys.stderr)
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
    db = open_database(settings)
    await db.connect()
    try:
        await db.migrate()
        await work(db)
    finally:
        await db.close()
