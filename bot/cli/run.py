"""``companion run``: one bot per database, started even while Telegram is unreachable."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Any

from bot.cli.errors import CliError
from bot.config import Settings, SettingsError
from bot.storage.db import DatabaseUnavailableError
from bot.storage.lock import InstanceLock, InstanceLockedError
from bot.storage.poller_lock import PollerLock, PollerLockedError

if TYPE_CHECKING:
    from telegram.ext import Application

# Start-up retries while Telegram is unreachable: 1, 2, 4 ... seconds, at most a minute apart.
START_RETRY_FIRST_SECONDS = 1.0
START_RETRY_MAX_SECONDS = 60.0


def run(settings: Settings, *, webhook: bool = False) -> int:
    """Run the bot until SIGINT or SIGTERM, as the only instance on its database.

    Updates come by long polling or, with ``webhook``, posted by Telegram to the webhook.
    """
    from telegram import Update  # noqa: PLC0415 - keep the admin commands light

    from bot.app import build_application  # noqa: PLC0415
    from bot.logs import configure_logging  # noqa: PLC0415
    from bot.webhook import run_webhook  # noqa: PLC0415

    settings.require_token()
    # Checked before anything starts: a missing setting is one line, not a half-started bot.
    hook = settings.require_webhook() if webhook else None
    # Before anything else: a second bot on this database would send every reminder twice.
    lock = _single_worker_lock(settings, polling=hook is None)
    try:
        configure_logging(settings.log_level)
        logging.getLogger("bot").debug(
            "debug logging on; libraries that log message contents stay quiet"
        )
        application = build_application(settings)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # run_polling or run_webhook below carries on in this loop
        if not loop.run_until_complete(_start_up(application, settings)):
            loop.close()
            return 0  # stopped by SIGTERM or SIGINT while Telegram was unreachable
        if hook is not None:
            run_webhook(application, hook)
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES)
    finally:
        if lock is not None:
            lock.release()
    return 0


def _single_worker_lock(settings: Settings, *, polling: bool) -> InstanceLock | PollerLock | None:
    """Take the lock that keeps a second process from doing this one's work.

    On SQLite one process runs the bot (the file lock). On PostgreSQL any number of workers
    share the database, claiming each delivery once; only polling Telegram is one worker's
    alone, since Telegram refuses a second poller of the same bot.
    """
    if settings.database_url is not None:
        if not polling:
            return None
        from bot.storage.engines import open_database  # noqa: PLC0415

        poller = PollerLock(
            settings.database_url.get_secret_value(), open_database(settings).describe()
        )
        try:
            poller.acquire()
        except (PollerLockedError, DatabaseUnavailableError) as exc:
            raise CliError(str(exc)) from None
        return poller
    lock = InstanceLock(settings.database_path)
    try:
        lock.acquire()
    except InstanceLockedError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        msg = f"cannot lock the database {lock.database}: {exc.strerror or exc}"
        raise CliError(msg) from exc
    return lock


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
