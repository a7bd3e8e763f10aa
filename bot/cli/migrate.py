"""``companion migrate-to URL``: move the clinic's SQLite file into an empty PostgreSQL database.

The bot must be stopped: the SQLite file's instance lock is held for the whole copy, so a
``companion run`` can neither be running nor start meanwhile. The file is brought to the latest
schema first, the target is migrated, and every row goes across in one transaction (see
``bot/storage/transfer.py``). The SQLite file is left as it was, as the backup.

The URL holds a password: messages name the server with ``describe()``, never the URL.
"""

from __future__ import annotations

import argparse

from bot.cli.errors import CliError
from bot.config import Settings
from bot.storage.db import error_reason
from bot.storage.lock import InstanceLock, InstanceLockedError


def target_url(settings: Settings, args: argparse.Namespace) -> str:
    """Return the URL given on the command line, else ``DATABASE_URL``."""
    if args.url is not None:
        return str(args.url)
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    msg = (
        "say where to move the data: companion migrate-to postgresql://USER:PASSWORD@HOST:5432/"
        "DBNAME, or set DATABASE_URL (which keeps the password off the command line)"
    )
    raise CliError(msg)


async def migrate_to(settings: Settings, args: argparse.Namespace) -> None:
    """Copy every row of the SQLite file at DATABASE_PATH into the PostgreSQL database."""
    # Imported here: only this command needs the PostgreSQL driver.
    import psycopg  # noqa: PLC0415

    from bot.storage.postgres_engine import PostgresDatabase  # noqa: PLC0415
    from bot.storage.sqlite_engine import SqliteDatabase  # noqa: PLC0415
    from bot.storage.transfer import TransferError, copy_database  # noqa: PLC0415

    url = target_url(settings, args)
    path = settings.database_path
    if not path.is_file():
        msg = f"no SQLite database at {path} (DATABASE_PATH): nothing to move"
        raise CliError(msg)
    lock = InstanceLock(path)
    try:
        lock.acquire()
    except InstanceLockedError as exc:
        raise CliError(str(exc)) from None
    source = SqliteDatabase(path)
    target = PostgresDatabase(url, pool_size=1)
    where = target.describe()
    try:
        await source.connect()
        await source.migrate()
        await target.connect()
        await target.migrate()
        report = await copy_database(source, target)
    except TransferError as exc:
        msg = f"{exc} ({where})"
        raise CliError(msg) from None
    except psycopg.Error as exc:
        reason = error_reason(exc)
        msg = f"copy to the {where} failed and was undone, the target is as it was: {reason}"
        raise CliError(msg) from None
    finally:
        await target.close()
        await source.close()
        lock.release()
    width = max((len(table) for table in report.rows), default=0)
    print(f"copied {source.describe()} to the {where}:")
    for table, rows in report.rows.items():
        print(f"  {table:<{width}}  {rows}")
    print(f"{len(report.rows)} tables, {report.total} rows; every count checked")
    print(
        "next: set DATABASE_URL to this database in the environment of every worker and start "
        f"them; keep {path} as a backup (the bot no longer writes to it)"
    )
