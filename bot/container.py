"""The services container: everything a handler or a job may use, created once per process.

It sits below the handlers and the scheduler, which reach it through :func:`get_services`;
``bot.app`` only wires it into the Application with the handlers and jobs.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from telegram.ext import ContextTypes

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.services.careteam import CareTeamService
from bot.services.checkins import CheckinService
from bot.services.crisis_semantic import SemanticLayer, load_semantic_layer
from bot.services.crypto import NoteCipher
from bot.services.digest import DigestService
from bot.services.digest_model import Rules
from bot.services.enrollment import EnrollmentService
from bot.services.export_page import ExportPageRenderer
from bot.services.flows import FlowService
from bot.services.jit import SafetyMessages
from bot.services.learn import LearnService
from bot.services.library import CONTACT_PLACEHOLDERS, ArticleWording, Library
from bot.services.library_files import load_library
from bot.services.privacy import Decrypt, PrivacyService
from bot.services.reminders import ReminderService
from bot.services.reports import ChartPool, DigestRenderer
from bot.services.retention import RetentionService
from bot.services.safetynet import SafetyNetService
from bot.services.schedules import ScheduleService
from bot.services.watch import AlertWatch
from bot.services.weekly import DigestDeliveries
from bot.services.workers import Worker
from bot.storage.db import Database
from bot.storage.engines import open_database
from bot.storage.repositories import UpdateLog
from bot.storage.schedules import ScheduleRepository
from bot.texts import LOCALES, Texts, content_root, load_texts

SERVICES_KEY = "services"


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
    safety_messages: SafetyMessages
    # This process among the workers sharing the database: its id, heartbeat and leases.
    worker: Worker
    # The crisis detector's semantic layer; None when its encoder cannot run here (the rules
    # and the n-gram model then read every message alone, and a warning said why at start-up).
    crisis_semantic: SemanticLayer | None


def build_services(
    settings: Settings,
    clock: Clock | None = None,
    db: Database | None = None,
    *,
    charts: ChartPool | None = None,
) -> Services:
    """Create the services (the database is connected later, in ``post_init``)."""
    clock = clock or SystemClock()
    db = db or open_database(settings)
    root = settings.content_dir or content_root()
    texts, library = load_content(root, tuple(sorted(settings.crisis_context().items())))
    careteam = CareTeamService(
        db, clock, alert_grace=timedelta(minutes=settings.grace_minutes_alert)
    )
    safety_messages = SafetyMessages(db, texts, settings, library)
    safety_messages.check()
    reminders = ReminderService(db, clock, texts, settings, careteam, safety_messages)
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
        worker=Worker(db, clock, lease=timedelta(seconds=settings.worker_lease_seconds)),
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
        safety_messages=safety_messages,
        crisis_semantic=load_semantic_layer(),
    )


def _note_decryptor(settings: Settings) -> Decrypt | None:
    """Return what opens encrypted notes for a patient's data export (None without a key)."""
    cipher = NoteCipher.from_settings(settings)
    return cipher.decrypt if cipher is not None else None


@functools.lru_cache(maxsize=4)
def load_content(root: Path, globals_: tuple[tuple[str, str], ...]) -> tuple[Texts, Library]:
    """Load and check every template and article once per process (they are read-only)."""
    context = dict(globals_)
    texts = load_texts(root, context)
    library = load_library(
        root / "articles",
        wording={
            locale: ArticleWording(
                medication_footer=texts.render("learn.medication_footer", locale),
                see_also=texts.render("text.article_see_also", locale),
            )
            for locale in LOCALES
        },
        contacts={locale: _article_contacts(texts, context, locale) for locale in LOCALES},
    )
    return texts, library


def _article_contacts(texts: Texts, context: Mapping[str, str], locale: str) -> dict[str, str]:
    """Return what each placeholder of an article reads in a language, from the settings.

    An unset on-call line reads as a phrase ("your clinic's on-call number"), so a sentence
    written around it still reads well.
    """
    contacts = {name: context[name] for name in CONTACT_PLACEHOLDERS}
    if not contacts["clinic_oncall_phone"].strip():
        contacts["clinic_oncall_phone"] = texts.render("text.article_oncall_unset", locale)
    return contacts


def get_services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    """Return the services stored on the application."""
    services = context.bot_data[SERVICES_KEY]
    assert isinstance(services, Services)
    return services
