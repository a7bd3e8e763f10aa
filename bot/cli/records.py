"""The health record's copies and safeguards: ``backup``, ``export``, ``rotate-key``, ``audit``."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from typing import BinaryIO

from bot.cli.errors import CliError
from bot.clock import SystemClock
from bot.config import Settings
from bot.services.audit import AuditService, UnknownLabelError
from bot.services.crypto import CryptoError, NoteCipher
from bot.services.keys import KeyRotation, RotationCounts
from bot.services.privacy import UnknownPatientError
from bot.storage.db import Database
from bot.storage.sqlite_engine import SqliteDatabase


async def backup(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Copy the database to a new owner-only file while the bot may run."""
    destination: Path = args.destination
    if not isinstance(db, SqliteDatabase):
        msg = (
            f"backup copies the SQLite file; the data is in a {db.describe()}: back it up with "
            "pg_dump or the server's own backups"
        )
        raise CliError(msg)
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


async def export(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Write everything stored about a patient (the /mydata file)."""
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


async def rotate_key(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Re-encrypt every check-in note under a new key."""
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


async def audit(settings: Settings, db: Database, args: argparse.Namespace) -> None:
    """Verify the audit log's chain, or print who read a patient's data."""
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
