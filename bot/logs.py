"""Logging set-up: one line per event with ids, never message text, values or tokens."""

from __future__ import annotations

import logging
import re
import sys

# Bot API URLs carry the token ("/bot123456:ABC.../sendMessage"); scrub it wherever it appears.
_TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class RedactTokens(logging.Filter):
    """Replace anything shaped like a bot token in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with tokens removed."""
        message = record.getMessage()
        if _TOKEN_PATTERN.search(message):
            record.msg = _TOKEN_PATTERN.sub("<token>", message)
            record.args = None
        return True


def configure_logging(level: str) -> None:
    """Log to stderr at the given level, with the HTTP client quiet and tokens redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactTokens())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL contains the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
