"""The admin CLI: ``companion run | migrate | clinician | invite | backup``.

Every failure a person can cause (a bad argument, a missing setting, an unknown label) is one
line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import NoReturn

from bot.clock import SystemClock
from bot.config import Settings, SettingsError, configure_libraries, load_settings
from bot.services.careteam import CareTeamService
from bot.services.enrollment import EnrollmentError, EnrollmentService
from bot.storage.db import Database, MigrationError

EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """Describe every command and its arguments."""
    parser = _Parser(prog="companion", description="Recovery Companion: Telegram bot and admin.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("run", help="run the bot (long polling) until SIGINT or SIGTERM")
    sub.add_parser("migrate", help="create or upgrade the database")
    backup = sub.add_parser("backup", help="copy the database safely while the bot runs")
    backup.add_argument("destination", type=Path, help="file to write (must not exist)")

    clinician = sub.add_parser("clinician", help="manage clinicians")
    csub = clinician.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = csub.add_parser("add", help="register a clinician by Telegram user id")
    add.add_argument("--telegram-id", type=int, required=True, help="numeric Telegram user id")
    add.add_argument("--name", required=True, help="display name shown to colleagues")
    add.add_argument("--admin", action="store_true", help="give the admin role")
    lst = csub.add_parser("list", help="list active clinicians")
    lst.add_argument("--json", action="store_true", help="print JSON")
    remove = csub.add_parser("remove", help="deactivate a clinician")
    remove.add_argument("--telegram-id", type=int, required=True)

    invite = sub.add_parser("invite", help="create a one-time enrollment link for a patient")
    invite.add_argument("--label", required=True, help="pseudonymous label, e.g. P-014")
    invite.add_argument(
        "--clinician", type=int, metavar="TELEGRAM_ID", help="put this clinician on the care team"
    )
    invite.add_argument("--days", type=int, default=None, help="days the link stays valid")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command and return the exit code."""
    args = build_parser().parse_args(argv)
    configure_libraries()
    try:
        settings = load_settings()
        if args.command == "run":
            return _run(settings)
        handler = _COMMANDS[args.command]
        asyncio.run(_with_database(settings, lambda db: handler(settings, db, args)))
    except (SettingsError, CliError, EnrollmentError, MigrationError, ValueError) as exc:
        print(f"companion: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except sqlite3.Error as exc:
        print(f"companion: database error: {exc}", file=sys.stderr)
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
    careteam = CareTeamService(db, SystemClock())
    if args.action == "add":
        role = "admin" if args.admin else "clinician"
        await careteam.add_clinician(args.telegram_id, args.name, role=role)
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
    )
    days = args.days if args.days is not None else settings.invite_valid_days
    issued = await enrollment.create_invite(
        args.label, clinician_telegram_id=args.clinician, days=days
    )
    username = settings.telegram_bot_username or await _bot_username(settings)
    print(f"label:   {issued.label}")
    print(f"code:    {issued.code}")
    print(f"expires: {issued.expires_at.isoformat(timespec='minutes')}")
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
    if destination.exists():  # noqa: ASYNC240 - one stat before a one-off admin copy
        msg = f"{destination} already exists; choose a new file name"
        raise CliError(msg)
    destination.parent.mkdir(parents=True, exist_ok=True)
    # sqlite's online backup copies a consistent snapshot even while the bot writes.
    target = sqlite3.connect(destination, check_same_thread=False)
    try:
        await db.conn.backup(target)
    finally:
        target.close()
    print(f"backup written to {destination}")


_COMMANDS: dict[str, Callable[[Settings, Database, argparse.Namespace], Awaitable[None]]] = {
    "migrate": _migrate,
    "clinician": _clinician,
    "invite": _invite,
    "backup": _backup,
}


def _run(settings: Settings) -> int:
    from telegram import Update  # noqa: PLC0415 - keep the admin commands light

    from bot.app import build_application  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415

    settings.require_token()
    configure_logging(settings.log_level)
    application = build_application(settings)
    logging.getLogger("bot").info("starting; database=%s", settings.database_path)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
