"""Settings: the only module that reads the environment.

Every setting comes from the process environment or an optional ``.env`` file. A missing or
malformed value is reported as one line naming the variable (``SettingsError``), never as a
pydantic traceback, because clinic IT reads that line in a service log.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


# A Fernet key: 32 bytes in urlsafe base64, which is always 43 characters and one "=".
_FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")
MIN_RETENTION_DAYS = 30
# Telegram takes 1 to 256 of these characters as a webhook's secret token; fewer than 16 would
# be guessable.
MIN_WEBHOOK_SECRET = 16
_WEBHOOK_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{MIN_WEBHOOK_SECRET},256}}")
_POSTGRES_URL = re.compile(r"postgres(?:ql)?://\S+")
# Settings whose value must never be echoed in an error line (a database URL holds a password).
_SECRET_NAMES = ("TOKEN", "KEY", "DATABASE_URL")
# How much of a bad value an error line quotes.
_SHOWN_LIMIT = 60


def _shown(value: str) -> str:
    """Return a value short enough to quote in a one-line error."""
    return value if len(value) <= _SHOWN_LIMIT else value[: _SHOWN_LIMIT - 3] + "..."


def _secret_shaped(value: object, shape: re.Pattern[str], problem: str) -> str | None:
    """Return a secret setting stripped, None when empty, or raise ``problem`` if misshapen."""
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str) or not shape.fullmatch(raw.strip()):
        raise ValueError(problem)
    return raw.strip()


def _validate_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        # OSError: the zone is looked up as a file, and a long name is "file name too long".
        msg = f"unknown IANA time zone {_shown(value)!r} (e.g. America/New_York)"
        raise ValueError(msg) from exc
    return value


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """What webhook mode needs, checked: see ``Settings.require_webhook``."""

    url: str
    listen: str
    port: int
    path: str
    secret_token: str = field(repr=False)


class Settings(BaseSettings):
    """Every deployment setting, with safe defaults where one exists."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str | None = None
    telegram_bot_username: str | None = None
    database_path: Path = Path("data/companion.sqlite3")
    # PostgreSQL instead of the SQLite file, for several workers on one managed server:
    # postgresql://USER:PASSWORD@HOST:5432/DBNAME. Unset: the SQLite file at DATABASE_PATH.
    database_url: SecretStr | None = None
    # Connections each worker keeps open to PostgreSQL at most.
    database_pool_size: Annotated[int, Field(ge=1, le=100)] = 10
    # On PostgreSQL: how long a worker may be silent before the others take over its leased
    # duties and resend what it was sending.
    worker_lease_seconds: Annotated[float, Field(ge=1, le=600)] = 30
    # A clinic's own copy of content/ (articles and message templates); default: the shipped one.
    content_dir: Path | None = None
    # How many months a clinician's review of an article stays current (companion content status).
    content_review_months: Annotated[int, Field(ge=1, le=120)] = 12
    clinic_name: str = "Your clinic"
    clinic_timezone: str = "America/New_York"

    # Crisis resources: US defaults, each overridable for a clinic elsewhere.
    crisis_line: str = "988"
    crisis_line_name: str = "988 Suicide & Crisis Lifeline (call or text)"
    emergency_number: str = "911"
    clinic_oncall_phone: str = ""
    samhsa_helpline: str = "1-800-662-4357"
    crisis_text_line: str = "Text HOME to 741741"
    # Each line has a name per language: the Spanish answer names the Spanish-speaking options.
    crisis_line_name_es: str = (
        "988 Línea de Prevención del Suicidio y Crisis (llame y oprima 2 para español, "
        "o envíe AYUDA por texto al 988)"
    )
    crisis_text_line_es: str = ""
    samhsa_helpline_name: str = "SAMHSA National Helpline (free, 24/7)"
    samhsa_helpline_name_es: str = "Línea Nacional de Ayuda de SAMHSA (gratuita, 24/7, en español)"
    domestic_violence_line: str = "1-800-799-7233"
    domestic_violence_text_line: str = "Text START to 88788"
    domestic_violence_line_name: str = "National Domestic Violence Hotline (24/7)"
    domestic_violence_line_name_es: str = (
        "Línea Nacional sobre la Violencia Doméstica (24/7, con intercesores que hablan español)"
    )
    domestic_violence_text_line_es: str = "Envíe START por texto al 88788"
    # A possible crisis asks "Are you safe right now?"; with no answer within this many minutes
    # the care team is alerted. A crisis answer is followed, after this many minutes, by "are
    # you safe now?", and silence or "not safe" alerts the team again.
    safety_check_timeout_minutes: Annotated[float, Field(gt=0, le=240)] = 10
    crisis_followup_minutes: Annotated[float, Field(gt=0, le=1440)] = 15

    # Reminders. Repeats: how often and how many times an unanswered dose reminder is repeated
    # before the dose is recorded as missed. Grace: how late a reminder may still be sent after
    # downtime; past it, the reminder is recorded as missed instead.
    reminder_repeat_minutes: Annotated[float, Field(gt=0, le=240)] = 15
    reminder_repeats: Annotated[int, Field(ge=0, le=10)] = 3
    grace_minutes_dose: Annotated[int, Field(ge=1, le=720)] = 120
    grace_minutes_appointment: Annotated[int, Field(ge=1, le=720)] = 60
    grace_minutes_alert: Annotated[int, Field(ge=1, le=10080)] = 1440
    appointment_evening_time: time = time(19, 0)
    appointment_lead_minutes: Annotated[int, Field(ge=5, le=1440)] = 60
    plan_horizon_hours: Annotated[int, Field(ge=2, le=336)] = 48
    planner_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 30
    dispatch_interval_seconds: Annotated[float, Field(gt=0, le=60)] = 1
    # Telegram allows about 30 messages a second; 29 leaves room for network jitter, so that no
    # one-second window at Telegram's end ever sees more than 30 (measured in bench/).
    rate_limit_per_second: Annotated[int, Field(ge=1, le=30)] = 29
    rate_limit_per_chat_seconds: Annotated[float, Field(ge=0, le=60)] = 1.0
    # Updates of different chats handled at the same time (each chat's stay in order): a
    # patient's reply never waits behind another chat's slow send. 1 handles one at a time.
    concurrent_updates: Annotated[int, Field(ge=1, le=256)] = 16

    # Daily check-in. Grace: how late the daily prompt may still be sent after downtime; past
    # it the prompt is recorded as missed (a missing check-in is never filled in). Answer days:
    # how many days after its date a check-in may still be answered or changed (0 = only the
    # day itself), so a press on yesterday's prompt counts for yesterday.
    grace_minutes_checkin: Annotated[int, Field(ge=1, le=720)] = 120
    checkin_answer_days: Annotated[int, Field(ge=0, le=60)] = 7
    # The key that encrypts free text patients type (check-in notes) at rest: a Fernet key.
    # Unset, the bot never offers a note, so no note is ever stored in plaintext.
    data_encryption_key: SecretStr | None = None

    invite_valid_days: Annotated[int, Field(ge=1, le=90)] = 7
    consent_version: str = "2026-11-30"
    checkin_default_time: time = time(20, 0)
    log_level: str = "INFO"

    # The weekly digest: the weekday (0 = Monday) and time, in the clinic's zone, when each
    # clinician gets the digest of the seven local days before; how late it may still go out
    # after downtime; at most how many per-patient charts go in the Telegram album (the HTML
    # report has every flagged patient's chart).
    digest_weekday: Annotated[int, Field(ge=0, le=6)] = 0
    digest_time: time = time(8, 0)
    grace_minutes_digest: Annotated[int, Field(ge=1, le=10080)] = 1440
    digest_max_photos: Annotated[int, Field(ge=0, le=10)] = 10
    # Worker processes that draw charts, so a large digest never holds the event loop that
    # answers patients; 0 draws them in one thread instead (small clinics, tests).
    chart_workers: Annotated[int, Field(ge=0, le=16)] = 2
    # What puts a patient under "needs attention" in the digest (each rule shown as a sentence).
    digest_use_days: Annotated[int, Field(ge=1, le=7)] = 1
    digest_craving_high: Annotated[int, Field(ge=1, le=10)] = 8
    digest_craving_high_days: Annotated[int, Field(ge=1, le=7)] = 2
    digest_craving_rise: Annotated[float, Field(gt=0, le=10)] = 2.0
    digest_mood_drop: Annotated[float, Field(gt=0, le=10)] = 2.0
    digest_missed_doses: Annotated[int, Field(ge=1, le=50)] = 2
    digest_no_checkin_days: Annotated[int, Field(ge=1, le=7)] = 3

    # Alerts raised from the data as it comes in (each can be switched off: 0 or false).
    alert_on_use: bool = True
    alert_craving_at: Annotated[int, Field(ge=0, le=10)] = 9
    alert_missed_doses_in_row: Annotated[int, Field(ge=0, le=50)] = 3
    alert_no_checkin_days: Annotated[int, Field(ge=0, le=60)] = 3
    alert_on_ran_out: bool = True
    # An urgent alert nobody acknowledged within this many minutes goes to every active
    # clinician (0: never escalate).
    alert_escalate_minutes: Annotated[float, Field(ge=0, le=1440)] = 15
    # How often the data is read for new alerts and unacknowledged ones are escalated.
    watch_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 60
    # Just-in-time safety messages, each switchable per clinic: the first two weeks of
    # methadone, a naltrexone course that ends or a dose skipped as "stopped", the start of
    # disulfiram. Each is sent once, between these local times in the patient's zone.
    just_in_time_methadone: bool = True
    just_in_time_naltrexone: bool = True
    just_in_time_disulfiram: bool = True
    just_in_time_earliest: time = time(9, 0)
    just_in_time_latest: time = time(20, 0)
    # Days that reminders with their answers, and check-ins, are kept (0: keep everything).
    # Audit rows are always kept.
    retention_days: Annotated[int, Field(ge=0, le=36500)] = 0

    # Webhook mode (`companion run --webhook`), instead of long polling: Telegram posts each
    # update to WEBHOOK_URL, the public HTTPS address of the clinic's reverse proxy, which
    # passes it on to WEBHOOK_LISTEN:WEBHOOK_PORT at WEBHOOK_PATH (default: the path of
    # WEBHOOK_URL). A request without WEBHOOK_SECRET_TOKEN in its header is refused.
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: Annotated[int, Field(ge=1, le=65535)] = 8443
    webhook_path: str | None = None
    webhook_secret_token: SecretStr | None = None

    @field_validator("clinic_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _validate_zone(value)

    @field_validator("content_dir", mode="before")
    @classmethod
    def _content_dir(cls, value: object) -> object:
        if value in (None, ""):
            return None
        folder = Path(str(value))
        if not (folder / "messages").is_dir() or not (folder / "articles").is_dir():
            msg = "must be a folder holding messages/ and articles/ (a copy of content/)"
            raise ValueError(msg)
        return folder

    @field_validator("telegram_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            msg = "must start with http:// or https://"
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("data_encryption_key", mode="before")
    @classmethod
    def _encryption_key(cls, value: object) -> object:
        return _secret_shaped(
            value,
            _FERNET_KEY,
            "must be a Fernet key (44 characters of urlsafe base64); generate one with "
            'python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"',
        )

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        return _secret_shaped(
            value,
            _POSTGRES_URL,
            "must be a PostgreSQL address, postgresql://USER:PASSWORD@HOST:5432/DBNAME "
            "(leave it unset for the SQLite file at DATABASE_PATH)",
        )

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if 0 < value < MIN_RETENTION_DAYS:
            # Digests compare two weeks and charts show four: shorter would empty them.
            msg = f"must be 0 (keep everything) or at least {MIN_RETENTION_DAYS} days"
            raise ValueError(msg)
        return value

    @field_validator("just_in_time_latest")
    @classmethod
    def _jit_window(cls, value: time, info: ValidationInfo) -> time:
        earliest = info.data.get("just_in_time_earliest")
        if isinstance(earliest, time) and value <= earliest:
            msg = "must be later than JUST_IN_TIME_EARLIEST"
            raise ValueError(msg)
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            msg = "must be the bot's public address, e.g. https://bot.example.org/telegram"
            raise ValueError(msg)
        return value

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith("/") or any(c.isspace() or c in "?#" for c in value):
            msg = "must be a path that starts with / (e.g. /telegram)"
            raise ValueError(msg)
        return value

    @field_validator("webhook_secret_token", mode="before")
    @classmethod
    def _webhook_secret(cls, value: object) -> object:
        return _secret_shaped(
            value,
            _WEBHOOK_SECRET,
            f"must be {MIN_WEBHOOK_SECRET} to 256 letters, digits, _ or -; generate one "
            'with python -c "import secrets; print(secrets.token_urlsafe(32))"',
        )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            msg = "must be DEBUG, INFO, WARNING or ERROR"
            raise ValueError(msg)
        return upper

    @property
    def zone(self) -> ZoneInfo:
        """Return the clinic's time zone."""
        return ZoneInfo(self.clinic_timezone)

    def require_token(self) -> str:
        """Return the bot token or raise a SettingsError naming the variable."""
        if self.telegram_bot_token is None or not self.telegram_bot_token.get_secret_value():
            msg = "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and set it"
            raise SettingsError(msg)
        return self.telegram_bot_token.get_secret_value()

    def require_webhook(self) -> WebhookSettings:
        """Return what webhook mode needs, or raise a SettingsError naming what is missing."""
        if self.webhook_url is None:
            msg = (
                "WEBHOOK_URL is not set: webhook mode needs the bot's public HTTPS address "
                "(e.g. https://bot.example.org/telegram), which your reverse proxy passes on "
                "to WEBHOOK_LISTEN:WEBHOOK_PORT"
            )
            raise SettingsError(msg)
        if self.webhook_secret_token is None:
            msg = (
                "WEBHOOK_SECRET_TOKEN is not set: without it anyone who finds the address "
                "could post made-up updates; generate one with "
                'python -c "import secrets; print(secrets.token_urlsafe(32))"'
            )
            raise SettingsError(msg)
        return WebhookSettings(
            url=self.webhook_url,
            listen=self.webhook_listen,
            port=self.webhook_port,
            path=self.webhook_path or urlsplit(self.webhook_url).path or "/",
            secret_token=self.webhook_secret_token.get_secret_value(),
        )

    def crisis_context(self) -> dict[str, str]:
        """Return the crisis resources as template variables."""
        return {
            "crisis_line": self.crisis_line,
            "crisis_line_name": self.crisis_line_name,
            "emergency_number": self.emergency_number,
            "clinic_oncall_phone": self.clinic_oncall_phone,
            "samhsa_helpline": self.samhsa_helpline,
            "crisis_text_line": self.crisis_text_line,
            "crisis_line_name_es": self.crisis_line_name_es,
            "crisis_text_line_es": self.crisis_text_line_es,
            "samhsa_helpline_name": self.samhsa_helpline_name,
            "samhsa_helpline_name_es": self.samhsa_helpline_name_es,
            "domestic_violence_line": self.domestic_violence_line,
            "domestic_violence_text_line": self.domestic_violence_text_line,
            "domestic_violence_line_name": self.domestic_violence_line_name,
            "domestic_violence_line_name_es": self.domestic_violence_line_name_es,
            "domestic_violence_text_line_es": self.domestic_violence_text_line_es,
            "clinic_name": self.clinic_name,
        }


def configure_libraries() -> None:
    """Opt in to python-telegram-bot's timedelta durations (silences its deprecation notice)."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(part) for part in first["loc"]).upper() or "SETTINGS"
        message = first["msg"].removeprefix("Value error, ")
        raw = first.get("input")
        secret = any(part in name for part in _SECRET_NAMES)
        shown = f" (got {_shown(str(raw))!r})" if isinstance(raw, str | int) and not secret else ""
        error = f"{name}: {message}{shown}"
        raise SettingsError(error) from None
