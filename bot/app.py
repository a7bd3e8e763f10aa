"""Wiring: build the Application with its storage, content, services, handlers and jobs."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.ordering import ChatOrderedUpdateProcessor
from bot.ratelimit import TelegramRateLimiter
from bot.services.careteam import CareTeamService
from bot.services.checkins import CheckinService
from bot.services.crypto import NoteCipher
from bot.services.digest import DigestService, Rules
from bot.services.enrollment import EnrollmentService
from bot.services.export_page import ExportPageRenderer
from bot.services.flows import FlowService
from bot.services.learn import LearnService
from bot.services.library import Library, load_library
from bot.services.privacy import Decrypt, PrivacyService
from bot.services.reminders import ReminderService
from bot.services.reports import ChartPool, DigestRenderer
from bot.services.retention import RetentionService
from bot.services.safetynet import SafetyNetService
from bot.services.schedules import ScheduleService
from bot.services.watch import AlertWatch
from bot.services.weekly import DigestDeliveries
from bot.storage.db import Database
from bot.storage.repositories import UpdateLog
from bot.storage.schedules import ScheduleRepository
from bot.texts import LOCALES, Texts, content_root, load_texts

log = logging.getLogger(__name__)

SERVICES_KEY = "services"
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


@dataclass(slots=True)
class Services:
    """Everything a handler or job may use, created once per process."""

    settings: Settings
    clock: Clock
    db: Database
    texts: Texts
    enrollment: EnrollmentService
    careteam: CareTeamService
    update_log: UpdateLog
    reminders: ReminderService
    schedules: ScheduleService
    flows: FlowService
    learn: LearnService
    checkins: CheckinService
    privacy: PrivacyService
    digests: DigestService
    renderer: DigestRenderer
    charts: ChartPool
    weekly: DigestDeliveries
    watch: AlertWatch
    safety_net: SafetyNetService
    retention: RetentionService
    export_page: ExportPageRenderer


def build_services(
    settings: Settings,
    clock: Clock | None = None,
    db: Database | None = None,
    *,
    charts: ChartPool | None = None,
) -> Services:
    """Create the services (the database is connected later, in ``post_init``)."""
    clock = clock or SystemClock()
    db = db or Database(settings.database_path)
    root = settings.content_dir or content_root()
    texts, library = load_content(root, tuple(sorted(settings.crisis_context().items())))
    careteam = CareTeamService(
        db, clock, alert_grace=timedelta(minutes=settings.grace_minutes_alert)
    )
    reminders = ReminderService(db, clock, texts, settings, careteam)
    flows = FlowService(db, clock, reminders)
    digests = DigestService(db, clock, Rules.from_settings(settings))
    renderer = DigestRenderer(
        texts,
        root / "reports",
        clinic_name=settings.clinic_name,
        max_photos=settings.digest_max_photos,
    )
    renderer.check()
    export_page = ExportPageRenderer(root / "reports", clinic_name=settings.clinic_name)
    export_page.check()
    charts = charts or ChartPool(settings.chart_workers)
    return Services(
        settings=settings,
        clock=clock,
        db=db,
        texts=texts,
        enrollment=EnrollmentService(
            db,
            clock,
            default_timezone=settings.clinic_timezone,
            consent_version=settings.consent_version,
            default_checkin_time=f"{settings.checkin_default_time:%H:%M}",
        ),
        careteam=careteam,
        update_log=UpdateLog(db),
        reminders=reminders,
        schedules=ScheduleService(db, clock, reminders),
        flows=flows,
        learn=LearnService(library, texts, ScheduleRepository(db), careteam, clock),
        checkins=CheckinService(
            db,
            clock,
            texts,
            flows,
            NoteCipher.from_settings(settings),
            careteam,
            answer_days=settings.checkin_answer_days,
            use_alerts_team=settings.alert_on_use,
        ),
        privacy=PrivacyService(db, clock, decrypt=_note_decryptor(settings)),
        digests=digests,
        renderer=renderer,
        charts=charts,
        weekly=DigestDeliveries(db, clock, settings, careteam, digests, renderer, charts),
        watch=AlertWatch(db, clock, settings, careteam, reminders),
        safety_net=SafetyNetService(db, clock, settings, careteam, reminders),
        retention=RetentionService(db, clock, days=settings.retention_days),
        export_page=export_page,
    )


def _note_decryptor(settings: Settings) -> Decrypt | None:
    """Return what opens encrypted notes for a patient's data export (None without a key)."""
    cipher = NoteCipher.from_settings(settings)
    return cipher.decrypt if cipher is not None else None


@functools.lru_cache(maxsize=4)
def load_content(root: Path, globals_: tuple[tuple[str, str], ...]) -> tuple[Texts, Library]:
    """Load and check every template and article once per process (they are read-only)."""
    texts = load_texts(root, dict(globals_))
    library = load_library(
        root / "articles" / "en",
        medication_footer=texts.render("learn.medication_footer"),
    )
    return texts, library


def get_services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """Return the services stored on the application."""
    services = context.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services


def build_application(
    settings: Settings,
    *,
    clock: Clock | None = None,
    request: BaseRequest | None = None,
    services: Services | None = None,
    start_scheduler: bool = True,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the bot: the only place where handlers are registered, in order."""
    from bot.handlers import register_handlers  # noqa: PLC0415 - handlers import this module

    services = services or build_services(settings, clock)
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(settings.require_token())
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        # Different chats are handled concurrently; one chat's (and one person's) updates
        # stay strictly in order, so flows and check-ins read their answers in sequence.
        .concurrent_updates(ChatOrderedUpdateProcessor(settings.concurrent_updates))
        .rate_limiter(
            TelegramRateLimiter(
                overall_per_second=settings.rate_limit_per_second,
                per_chat_interval=settings.rate_limit_per_chat_seconds,
            )
        )
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


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = application.bot_data[SERVICES_KEY]
    await services.db.connect()
    applied = await services.db.migrate()
    if applied:
        log.info("database migrated versions=%s", applied)
    await set_command_menus(application, services)
    if application.bot_data.get(START_SCHEDULER_KEY, True):
        from scheduler.jobs import start_jobs  # noqa: PLC0415 - scheduler builds on this module

        await start_jobs(application, services)


async def _post_stop(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    from scheduler.jobs import stop_jobs  # noqa: PLC0415 - scheduler builds on this module

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
