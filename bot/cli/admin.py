"""Setting up: ``companion migrate``, ``clinician add | list | remove`` and ``invite``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from bot.cli.errors import CliError
from bot.clock import SystemClock
from bot.config import Settings
from bot.services.careteam import CareTeamService
from bot.services.enrollment import EnrollmentService
from bot.storage.db import Database


async def migrate(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Print the schema version (every command first creates or upgrades the database)."""
    version = await db.schema_version()
    print(f"database {settings.database_path} is at schema version {version}")


async def clinician(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Add, list or deactivate a clinician."""
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


async def invite(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Create a one-time enrollment code and print its link."""
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
