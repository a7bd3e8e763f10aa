"""Reaching into the Application under test."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.container import Services

App = Application[Any, Any, Any, Any, Any, Any]


def svc(app: App) -> Services:
    """Return the services the Application was built with."""
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services
