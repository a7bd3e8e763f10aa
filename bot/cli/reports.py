"""Digests written to a folder: ``companion digest`` and the synthetic ``demo``."""

from __future__ import annotations

import argparse
import logging

from bot.cli.errors import CliError
from bot.config import Settings
from bot.container import build_services
from bot.services.digest import week_ending_for
from bot.services.reports import write_files
from bot.storage.db import Database


async def digest(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Write a clinician's weekly digest to a folder, audited per patient."""
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


async def demo(settings: Settings, args: argparse.Namespace) -> int:
    """Build a synthetic clinic and write its digest to a folder."""
    from bot.demo import build_demo  # noqa: PLC0415 - only this command needs it

    # The synthetic clinic's own events (a patient blocking the bot) are not news to the reader.
    logging.disable(logging.WARNING)
    files = await build_demo(args.out, settings, locale=args.language)
    print(
        f"demo clinic written to {args.out}: {len(files.messages)} message part(s), "
        f"{len(files.photos)} chart(s), {files.report_name}, {files.csv_name}"
    )
    return 0
