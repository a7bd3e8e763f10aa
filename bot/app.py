"""Wiring: build the Application with its storage, content, services, handlers and jobs."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseRateLimiter, ContextTypes
from telegram.request import BaseRequest

from bot.clock import Clock
from bot.config import Settings
from bot.container import SERVICES_KEY, Services, build_services
from bot.handlers import register_handlers
from bot.handlers.common import Context
from bot.ordering import ChatOrderedUpdateProcessor
from bot.ratelimit import SharedDelay, TelegramRateLimiter
from bot.storage.send_budget import SendBudget
from bot.texts import LOCALES
from scheduler.jobs import start_jobs, stop_jobs

log = logging.getLogger(__name__)

START_SCHEDULER_KEY = "start_scheduler"

PATIENT_COMMANDS = (
    "checkin",
    "learn",
    "schedule",
    "pause",
    "resume",
    "settings",
    "mydata",
    "delete",
    "help",
    "sos",
)
CLINICIAN_COMMANDS = (
    "patients",
    "patient",
    "digest",
    "invite",
    "addmed",
    "addtms",
    "cancel",
    "help",
    "sos",
)


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    services: Services | None = None,
    start_scheduler: bool = True,
    rate_limiter: BaseRateLimiter[Any] | None = None,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the bot: the only place where handlers are registered, in order.

    ``rate_limiter`` replaces the one the settings describe (a benchmark of the bot's own
    cost gives it one whose budget is never reached).
    """
    services = services or build_services(settings, clock)
    limiter = rate_limiter or TelegramRateLimiter(
        overall_per_second=settings.rate_limit_per_second,
        per_chat_interval=settings.rate_limit_per_chat_seconds,
        shared=_shared_budget(settings, services),
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(settings.require_token())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        # One context per update, carrying what its handlers share (who sent it).
        .context_types(ContextTypes(context=Context))
        # Different chats are handled concurrently; one chat's (and one person's) updates
        # stay strictly in order, so flows and check-ins read their answers in sequence.
        .concurrent_updates(ChatOrderedUpdateProcessor(settings.concurrent_updates))
        .rate_limiter(limiter)
    )
    if settings.telegram_base_url:
        builder = builder.base_url(f"{settings.telegram_base_url}/bot").base_file_url(
            f"{settings.telegram_base_url}/file/bot"
        )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    application.bot_data[SERVICES_KEY] = services
    application.bot_data[START_SCHEDULER_KEY] = start_scheduler
    register_handlers(application)
    return application


# Slots a second the shared budget leaves unused, below RATE_LIMIT_PER_SECOND.
SHARED_HEADROOM = 1


def _shared_budget(settings: Settings, services: Services) -> SharedDelay | None:
    """Return what spaces sends with the other workers on a PostgreSQL database; None on
    SQLite, where one bot holds the whole budget and a send makes no extra round trip."""
    if services.db.engine != "postgresql":
        return None
    # One slot a second below the worker's own pace: a lone worker also counts its sends in
    # flight, so one that reaches Telegram late cannot crowd a second, but no worker can count
    # the others'. Two sends a second under Telegram's 30 absorb that lateness.
    return SendBudget(
        services.db,
        overall_per_second=max(1, settings.rate_limit_per_second - SHARED_HEADROOM),
        per_chat_interval=settings.rate_limit_per_chat_seconds,
    ).delay_for


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    await services.db.connect()
    applied = await services.db.migrate()
    if applied:
        log.info("database migrated versions=%s", applied)
    await set_command_menus(application, services)
    if application.bot_data.get(START_SCHEDULER_KEY, True):
        await start_jobs(application, services)


async def _post_stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await stop_jobs(application)


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    services.charts.close()
    await services.db.close()


async def set_command_menus(
    application: Application[Any, Any, Any, Any, Any, Any], services: Services
) -> None:
    """Publish the command menu: patients' by default and per language, clinicians' per chat."""
    texts = services.texts
    bot = application.bot
    for locale in LOCALES:
        commands = [
            BotCommand(name, texts.render(f"menu.{name}", locale)) for name in PATIENT_COMMANDS
        ]
        language = None if locale == "en" else locale
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language)
    clinician_menu = [
        BotCommand(name, texts.render(f"menu.{name}", "en")) for name in CLINICIAN_COMMANDS
    ]
    for clinician in await services.careteam.clinicians():
        try:
            await bot.set_my_commands(
                clinician_menu, scope=BotCommandScopeChat(clinician.telegram_id)
            )
        except TelegramError as exc:
            # A clinician who never opened the bot has no chat yet; their menu waits for /start.
            log.info("clinician menu not set clinician_id=%s error=%s", clinician.id, type(exc))
