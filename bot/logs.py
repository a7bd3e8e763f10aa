"""Logging set-up: one line per event with ids, never message text, values or tokens."""

from __future__ import annotations

import logging
import re
import sys
import traceback
from types import TracebackType

# Bot API URLs carry the token ("/bot123456:ABC.../sendMessage"); scrub it wherever it appears.
_TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


# Libraries that log what they send and receive at DEBUG: python-telegram-bot logs every update
# and every Bot API call with its parameters (message text, a typed check-in note, a crisis
# message); the HTTP client logs URLs with the token; aiosqlite logs the calls it runs. None of
# them may go below these levels, whatever LOG_LEVEL says.
QUIET_LIBRARIES = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiosqlite": logging.INFO,
    "apscheduler": logging.WARNING,
    "asyncio": logging.INFO,
    # The webhook server: one access line per update at INFO; refused requests at WARNING.
    "tornado": logging.WARNING,
    # The PostgreSQL driver warns when it drops a failed pipeline, quoting the server's error,
    # whose detail may hold a row's values; the error itself reaches our own code. Its pool's
    # warnings (a connection lost or refused) name no row and stay.
    "psycopg": logging.ERROR,
    "psycopg.pool": logging.WARNING,
}


def quiet_libraries() -> None:
    """Hold the libraries above at their floors (for the CLI, which logs nothing itself)."""
    for name, floor in QUIET_LIBRARIES.items():
        logger = logging.getLogger(name)
        logger.setLevel(max(floor, logger.getEffectiveLevel()))


# python-telegram-bot's webhook handler logs a whole update it could not read, message text
# included; its other lines carry nothing of a patient's.
_WEBHOOK_LOGGER = "telegram.ext._utils.webhookhandler"


class DropUpdateContents(logging.Filter):
    """Keep a webhook error line, without the update it quotes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a line that quotes received data."""
        if record.args and "data" in str(record.msg).casefold():
            record.msg = "the webhook received an update it could not read (contents not logged)"
            record.args = None
        return True


def redact(text: str) -> str:
    """Return text with anything shaped like a bot token replaced."""
    return _TOKEN_PATTERN.sub("<token>", text)


class RedactTokens(logging.Filter):
    """Replace anything shaped like a bot token in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with tokens removed."""
        message = record.getMessage()
        if _TOKEN_PATTERN.search(message):
            record.msg = redact(message)
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """Format a record, its traceback included, with tokens removed.

    A filter sees only the message; a traceback (an exception whose text holds a request URL)
    is formatted later, so the whole formatted line is scrubbed here.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted record with tokens replaced."""
        return redact(super().format(record))


def configure_logging(level: str) -> None:
    """Log to stderr at the given level, with the HTTP client quiet and tokens redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, floor in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
    webhook = logging.getLogger(_WEBHOOK_LOGGER)
    if not any(isinstance(f, DropUpdateContents) for f in webhook.filters):
        webhook.addFilter(DropUpdateContents())
    # Whatever escapes every handler (Python's own crash output) is scrubbed too.
    sys.excepthook = _redacting_excepthook


def _redacting_excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    text = "".join(traceback.format_exception(kind, error, trace))
    sys.stderr.write(redact(text))
