"""Webhook mode: Telegram posts each update to the bot, behind the clinic's reverse proxy.

An alternative to long polling for a clinic that already runs an HTTPS reverse proxy, and the
way for several workers to share one bot. python-telegram-bot's own webhook server listens on
``WEBHOOK_LISTEN:WEBHOOK_PORT`` at ``WEBHOOK_PATH`` and refuses, with 403, any request whose
``X-Telegram-Bot-Api-Secret-Token`` header is not ``WEBHOOK_SECRET_TOKEN``; the same token is
given to Telegram with ``setWebhook``. An update Telegram posts again (its answer was lost)
is stopped by the update log, as a repeated update is in polling mode.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.config import WebhookSettings

log = logging.getLogger(__name__)

# setWebhook is retried this many times at start-up (Telegram was reached a moment before).
BOOTSTRAP_RETRIES = 5


def run_webhook(
    application: Application[Any, Any, Any, Any, Any, Any], webhook: WebhookSettings
) -> None:
    """Register the webhook with Telegram and serve it until SIGINT or SIGTERM."""
    log.info("webhook mode: listening on %s:%s at %s", webhook.listen, webhook.port, webhook.path)
    application.run_webhook(
        listen=webhook.listen,
        port=webhook.port,
        url_path=webhook.path,
        webhook_url=webhook.url,
        secret_token=webhook.secret_token,
        allowed_updates=Update.ALL_TYPES,
        bootstrap_retries=BOOTSTRAP_RETRIES,
    )
