"""Running the real Application in process for the sweep and the fuzz run: jobs, errors, calls.

``install_dispatcher`` gives the Application the dispatcher its jobs would start, so an alert
raised by an update goes out at once as it does in production; ``settle`` waits for what an
update left running; ``Watched`` records every error an update ends in, whether it reached the
error handler or was logged by a background task; ``call_strings`` is every text a Bot API call
carries, files included.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.handlers.common import BACKGROUND_KEY
from bot.storage.db import to_db_time
from scheduler.dispatch import Dispatcher
from scheduler.jobs import DISPATCHER_KEY
from tests.support.apps import App, svc
from tests.support.botapi import Call

MAX_ROUNDS = 50


def install_dispatcher(app: App) -> Dispatcher:
    """Give the Application the dispatcher the jobs would start, so alerts go out at once."""
    s = svc(app)
    dispatcher = Dispatcher(
        bot=app.bot,
        reminders=s.reminders,
        clock=s.clock,
        repeats_allowed=s.settings.reminder_repeats,
        digests=s.weekly,
        safety_net=s.safety_net,
    )
    app.bot_data[DISPATCHER_KEY] = dispatcher
    return dispatcher


def dispatcher_of(app: App) -> Dispatcher:
    """Return the dispatcher ``install_dispatcher`` gave the Application."""
    dispatcher = app.bot_data[DISPATCHER_KEY]
    assert isinstance(dispatcher, Dispatcher)
    return dispatcher


async def settle(app: App, *, tick: bool = True) -> None:
    """Wait for the work an update left running: background tasks, then every due send.

    The dispatcher sends one message per chat per tick (the next waits for the previous
    outcome), so it ticks until no pending row is due.
    """
    dispatcher = dispatcher_of(app)
    for _ in range(MAX_ROUNDS):
        tasks: set[asyncio.Task[None]] = set(app.bot_data.get(BACKGROUND_KEY, set()))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if tick:
            await dispatcher.tick()
        await dispatcher.drain()
        if not app.bot_data.get(BACKGROUND_KEY) and not (tick and await _due(app)):
            return


async def _due(app: App) -> int:
    s = svc(app)
    row = await s.db.fetchone(
        "SELECT COUNT(*) AS n FROM deliveries WHERE status = 'pending' AND due_at <= ?",
        (to_db_time(s.clock.now()),),
    )
    return int(row["n"]) if row is not None else 0


@dataclass
class Watched:
    """The errors seen while watching: exceptions that reached the error handler, ERROR logs."""

    exceptions: list[str] = field(default_factory=list)
    logged: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # every log line, any level

    @property
    def errors(self) -> list[str]:
        """Return every error, one line each."""
        return [f"unhandled {name}" for name in self.exceptions] + self.logged


class _Recorder(logging.Handler):
    def __init__(self, watched: Watched) -> None:
        super().__init__(logging.DEBUG)
        self._watched = watched

    def emit(self, record: logging.LogRecord) -> None:
        line = f"{record.name}: {record.getMessage()}"
        self._watched.messages.append(line)
        if record.levelno >= logging.ERROR:
            self._watched.logged.append(line)


@contextmanager
def watching(app: App) -> Iterator[Watched]:
    """Record the errors and log lines of what runs inside the block."""
    watched = Watched()

    async def record_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        watched.exceptions.append(type(context.error).__name__)

    recorder = _Recorder(watched)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(recorder)
    root.setLevel(min(previous_level, logging.INFO))
    app.add_error_handler(record_error)
    try:
        yield watched
    finally:
        app.remove_error_handler(record_error)
        root.removeHandler(recorder)
        root.setLevel(previous_level)


def call_strings(call: Call) -> list[str]:
    """Return every text a call carries: text, caption, callback answer, album, uploaded files."""
    params: dict[str, Any] = call.params
    found = [str(params[key]) for key in ("text", "caption") if params.get(key) is not None]
    media = params.get("media")
    if isinstance(media, list):
        found.extend(str(item.get("caption", "")) for item in media if isinstance(item, dict))
    found.extend(content.decode("utf-8", "replace") for content in call.files.values())
    return found


def chat_of(call: Call) -> int | None:
    """Return the chat a call is addressed to (None for calls without one)."""
    chat = call.params.get("chat_id")
    return int(chat) if chat is not None else None


def handler_keys(handler: BaseHandler[Any, Any, Any]) -> list[str]:
    """Name a registered handler: its commands, its callback pattern, or its callback."""
    if isinstance(handler, CommandHandler):
        return [f"/{command}" for command in sorted(handler.commands)]
    if isinstance(handler, CallbackQueryHandler):
        pattern = handler.pattern
        if pattern is None:
            return ["button (any data)"]
        return [f"button {pattern.pattern if isinstance(pattern, re.Pattern) else pattern}"]
    callback = handler.callback
    module = callback.__module__.removeprefix("bot.handlers.")
    return [f"{type(handler).__name__} {module}.{callback.__qualname__}"]


FEATURES_GROUP = 0


def feature_for(app: App, update: Update) -> str | None:
    """Return the key of the feature handler (group 0) that takes an update, if any."""
    for handler in app.handlers.get(FEATURES_GROUP, []):
        if handler.check_update(update):
            return handler_keys(handler)[0]
    return None
