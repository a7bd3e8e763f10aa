"""Webhook mode's settings: checked at start, with one line that names what is wrong."""

from __future__ import annotations

import logging

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.logs import DropUpdateContents

SECRET = "abcdefghijklmnop-_0123"


def settings(**values: object) -> Settings:
    return load_settings(telegram_bot_token="1:x", **values)


def test_the_path_defaults_to_the_public_address_path() -> None:
    webhook = settings(
        webhook_url="https://bot.example.org/hooks/telegram", webhook_secret_token=SECRET
    ).require_webhook()
    assert (webhook.listen, webhook.port, webhook.path) == ("127.0.0.1", 8443, "/hooks/telegram")
    assert webhook.secret_token == SECRET
    assert SECRET not in repr(webhook), "the secret is never shown"


def test_a_path_of_its_own_wins() -> None:
    webhook = settings(
        webhook_url="https://bot.example.org/",
        webhook_path="/tg",
        webhook_port=9000,
        webhook_listen="0.0.0.0",
        webhook_secret_token=SECRET,
    ).require_webhook()
    assert (webhook.listen, webhook.port, webhook.path) == ("0.0.0.0", 9000, "/tg")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"webhook_secret_token": SECRET}, "WEBHOOK_URL is not set"),
        ({"webhook_url": "https://bot.example.org/tg"}, "WEBHOOK_SECRET_TOKEN is not set"),
    ],
)
def test_webhook_mode_without_what_it_needs_names_the_setting(
    values: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        settings(**values).require_webhook()


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"webhook_url": "bot.example.org/tg"}, "WEBHOOK_URL"),
        ({"webhook_url": "ftp://bot.example.org/tg"}, "WEBHOOK_URL"),
        ({"webhook_path": "tg"}, "WEBHOOK_PATH"),
        ({"webhook_port": "70000"}, "WEBHOOK_PORT"),
        ({"webhook_secret_token": "too-short"}, "WEBHOOK_SECRET_TOKEN"),
        ({"webhook_secret_token": "has spaces in it, sixteen+"}, "WEBHOOK_SECRET_TOKEN"),
    ],
)
def test_a_malformed_webhook_setting_is_refused(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named) as caught:
        settings(**values)
    secret = values.get("webhook_secret_token")
    if secret:
        assert secret not in str(caught.value), "a bad secret is not echoed either"


def test_a_webhook_error_line_never_quotes_the_update() -> None:
    record = logging.LogRecord(
        "telegram.ext._utils.webhookhandler",
        logging.CRITICAL,
        __file__,
        1,
        "Something went wrong processing the data received from Telegram. "
        "Received data was *not* processed! Received data was: %r",
        ({"message": {"text": "i want to die"}},),
        None,
    )
    assert DropUpdateContents().filter(record)
    assert "die" not in record.getMessage()
    assert "could not read" in record.getMessage()
