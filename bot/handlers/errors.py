"""The one error handler: log ids and the error type, answer kindly, keep polling."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import NetworkError, TelegramError

from bot.handlers.common import Context, reply, services_of, user_locale

log = logging.getLogger(__name__)


async def handle_error(update: object, context: Context) -> None:
    """Log the failure without any message text and tell the user something went wrong."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if update is None and isinstance(error, NetworkError):
        # Polling could not reach Telegram; the library retries by itself. One line, no
        # traceback, so an outage does not flood the log.
        log.warning("Telegram unreachable while polling error=%s", type(error).__name__)
        return
    # The traceback names our code and the error type; it never carries the user's text, which
    # is why we do not log ``update.to_dict()`` as many examples do.
    log.error(
        "error while handling update_id=%s error=%s",
        update_id,
        type(error).__name__,
        exc_info=error,
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        texts = services_of(context).texts
        await reply(update, texts.render("error.generic", user_locale(update)))
    except TelegramError:
        log.warning("could not send the error reply update_id=%s", update_id)
