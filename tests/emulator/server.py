"""A Telegram Bot API emulator that owns bots, users, chats, updates and injected faults.

The bot under test talks to it exactly as to Telegram (``base_url=f"{root}/bot"``); tests act as
patients and clinicians through the JSON client API under ``{root}/_emu/``. Results are shaped
as the Bot API documents them and errors carry Telegram's own texts, so python-telegram-bot
raises the same exceptions here as in production.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import hashlib
import itertools
import json
import logging
import math
import mimetypes
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from tests.emulator.formatting import (
    EntityParseError,
    FormattedText,
    UnsupportedParseModeError,
    bot_command_entities,
    format_text,
    utf16_len,
)
from tests.emulator.media import image_size, photo_sizes

JsonDict = dict[str, Any]
# A parsed caption: (formatted text, parse mode, source as sent), Nones when absent.
Caption = tuple[FormattedText | None, str | None, str | None]
T = TypeVar("T")

LOGGER = logging.getLogger(__name__)
# Webhooks, as Telegram runs them: the secret token's alphabet, how long a post may take, and
# the pauses before an update that got no 2xx is posted again.
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_RETRY_FIRST = 0.2
WEBHOOK_RETRY_MAX = 2.0

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_BUTTONS = 100
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
FAULT_KINDS = ("429", "5xx", "timeout")
DEFAULT_FAULT_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageReplyMarkup"}
)
DEFAULT_RATE_LIMITED_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"}
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
UPDATE_TYPES_OFF_BY_DEFAULT = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_URL = re.compile(r"(https?|tg|ton)://\S+", re.IGNORECASE)


class ApiError(Exception):
    """A Bot API error reply: HTTP status, Telegram's description and optional parameters."""

    def __init__(self, code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JsonDict:
        """Return the JSON body Telegram sends for this error."""
        body: JsonDict = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ClientApiError(Exception):
    """A refusal of the test-facing client API (e.g. pressing a button that is not there)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


def _dumps(payload: object) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _api_reply(payload: JsonDict, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(payload), status=status, content_type="application/json")


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


class _Signal:
    """Wakes every waiter when something new happens (new update, new chat event, stop)."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(seconds, 0.0))


class _Args:
    """Typed access to request parameters that arrive as JSON values or as form strings."""

    def __init__(self, values: JsonDict) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, Upload):
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return str(value)
        return _dumps(value)

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        raise _bad_request(f"invalid {name} specified")

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str, *, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"true", "1", "yes"}

    def json(self, name: str, error: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad_request(error) from None
        if isinstance(value, Upload):
            raise _bad_request(error)
        return value

    def upload(self, name: str) -> Upload | str | None:
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            attached = self.values.get(value.removeprefix("attach://"))
            if not isinstance(attached, Upload):
                raise _bad_request(f"file {value} not found in the request")
            return attached
        if isinstance(value, Upload | str):
            return value
        return None


@dataclass
class _User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_premium: bool = False
    starts_chats: bool = True
    group_title: str | None = None  # set for a group chat the bot was added to (negative id)

    def api(self) -> JsonDict:
        body: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            body["last_name"] = self.last_name
        if self.username:
            body["username"] = self.username
        if self.language_code:
            body["language_code"] = self.language_code
        if self.is_premium:
            body["is_premium"] = True
        return body

    def chat_api(self) -> JsonDict:
        if self.group_title is not None:
            return {"id": self.id, "type": "group", "title": self.group_title}
        body: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            body["last_name"] = self.last_name
        if self.username:
            body["username"] = self.username
        return body


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str


@dataclass
class _Message:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    seq: int
    method: str
    text: str | None = None
    entities: list[JsonDict] = field(default_factory=list)
    source_text: str | None = None
    parse_mode: str | None = None
    caption: str | None = None
    caption_entities: list[JsonDict] = field(default_factory=list)
    source_caption: str | None = None
    reply_markup: JsonDict | None = None
    keyboard: JsonDict | None = None
    photo: list[JsonDict] | None = None
    document: JsonDict | None = None
    media_group_id: str | None = None
    media: JsonDict = field(default_factory=dict)  # what a user sent: voice, sticker, location...
    sender_id: int | None = None  # in a group: the member who wrote it
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    version: int = 0
    deleted: bool = False
    history: list[JsonDict] = field(default_factory=list)
    options: JsonDict = field(default_factory=dict)

    def snapshot(self) -> JsonDict:
        """Return this version's content, for the edit history."""
        return {
            "version": self.version,
            "text": self.text,
            "entities": self.entities,
            "source_text": self.source_text,
            "parse_mode": self.parse_mode,
            "caption": self.caption,
            "caption_entities": self.caption_entities,
            "source_caption": self.source_caption,
            "reply_markup": self.reply_markup,
            "date": self.edit_date if self.edit_date is not None else self.date,
        }

    def record(self) -> JsonDict:
        """Return the client-API view of the message with its history."""
        body = self.snapshot()
        body.update(
            {
                "message_id": self.message_id,
                "chat_id": self.chat_id,
                "from_bot": self.from_bot,
                "date": self.date,
                "edit_date": self.edit_date,
                "seq": self.seq,
                "method": self.method,
                "keyboard": self.keyboard,
                "photo": self.photo,
                "document": self.document,
                "media_group_id": self.media_group_id,
                "reply_to_message_id": self.reply_to_message_id,
                "deleted": self.deleted,
                "history": list(self.history),
                "options": self.options,
            }
        )
        return body

    def find_button(self, text: str | None, data: str | None) -> JsonDict | None:
        if self.reply_markup is None:
            return None
        for row in self.reply_markup.get("inline_keyboard", []):
            for button in row:
                if text is not None and button.get("text") != text:
                    continue
                if data is not None and button.get("callback_data") != data:
                    continue
                return dict(button)
        return None


@dataclass
class _Feed:
    """Every chat event of one bot in order, with its chat and when it happened.

    A load test follows hundreds of chats at once through this one log instead of one wait per
    chat, and the times give the delay from a user's update to the bot's answer as the server
    saw them.
    """

    clock: Callable[[], float]
    events: list[tuple[int, int, str, int, float]] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    signal: _Signal = field(default_factory=_Signal)

    def add(self, seq: int, chat_id: int, kind: str, message_id: int) -> None:
        self.events.append((seq, chat_id, kind, message_id, self.clock()))
        self.seqs.append(seq)
        self.signal.fire()

    def after(
        self, after_seq: int, kinds: frozenset[str] | None, limit: int
    ) -> tuple[list[tuple[int, int, str, int, float]], int]:
        """Return matching events after a sequence number and the last sequence scanned."""
        found: list[tuple[int, int, str, int, float]] = []
        scanned = after_seq
        for event in itertools.islice(self.events, bisect.bisect_right(self.seqs, after_seq), None):
            scanned = event[0]
            if kinds is None or event[2] in kinds:
                found.append(event)
                if len(found) >= limit:
                    break
        return found, scanned

    def clear(self) -> None:
        self.events.clear()
        self.seqs.clear()


@dataclass
class _Chat:
    user: _User
    chat_instance: str
    feed: _Feed | None = None
    started: bool = True
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, _Message] = field(default_factory=dict)
    bot_message_ids: list[int] = field(default_factory=list)
    events: list[tuple[int, str, int]] = field(default_factory=list)
    event_seqs: list[int] = field(default_factory=list)
    actions: list[JsonDict] = field(default_factory=list)
    signal: _Signal = field(default_factory=_Signal)

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def add_event(self, seq: int, kind: str, message_id: int) -> None:
        self.events.append((seq, kind, message_id))
        self.event_seqs.append(seq)
        self.signal.fire()
        if self.feed is not None:
            self.feed.add(seq, self.user.id, kind, message_id)

    def events_after(
        self, after_seq: int, kinds: frozenset[str] | None, message_id: int | None, limit: int
    ) -> tuple[list[tuple[int, str, int]], int]:
        """Return matching events after a sequence number and the last sequence scanned."""
        found: list[tuple[int, str, int]] = []
        scanned = after_seq
        for event in itertools.islice(
            self.events, bisect.bisect_right(self.event_seqs, after_seq), None
        ):
            scanned = event[0]
            if (kinds is None or event[1] in kinds) and (
                message_id is None or event[2] == message_id
            ):
                found.append(event)
                if len(found) >= limit:
                    break
        return found, scanned


@dataclass
class _Query:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False


@dataclass
class _Poll:
    conflicted: bool = False


@dataclass
class _Bot:
    token: str
    id: int
    username: str
    first_name: str
    feed: _Feed
    updates: collections.deque[tuple[int, str, JsonDict]] = field(default_factory=collections.deque)
    allowed_updates: list[str] | None = None
    poll: _Poll | None = None
    signal: _Signal = field(default_factory=_Signal)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_task: asyncio.Task[None] | None = None
    # What the webhook was sent: (update_id, HTTP status or 0 for no answer), in order.
    webhook_posts: list[tuple[int, int]] = field(default_factory=list)
    webhook_delivered: dict[int, JsonDict] = field(default_factory=dict)
    webhook_last_error: str = ""
    webhook_last_error_date: int = 0
    commands: dict[str, JsonDict] = field(default_factory=dict)
    chats: dict[int, _Chat] = field(default_factory=dict)
    queries: dict[str, _Query] = field(default_factory=dict)
    answers: list[JsonDict] = field(default_factory=list)
    profile: JsonDict = field(default_factory=dict)
    updates_delivered: int = 0
    updates_dropped: int = 0

    def user_api(self) -> JsonDict:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def info(self) -> JsonDict:
        return {"id": self.id, "username": self.username, "first_name": self.first_name}


@dataclass
class Fault:
    """One injected failure for a send-type call."""

    kind: str
    retry_after: int = 1
    status: int = 502
    hold_seconds: float | None = None
    delivered: bool = True
    methods: frozenset[str] | None = None
    chat_id: int | None = None

    def describe(self) -> JsonDict:
        """Return the fault as JSON."""
        return {
            "kind": self.kind,
            "retry_after": self.retry_after,
            "status": self.status,
            "hold_seconds": self.hold_seconds,
            "delivered": self.delivered,
            "methods": sorted(self.methods) if self.methods else None,
            "chat_id": self.chat_id,
        }


def make_fault(spec: JsonDict) -> Fault:
    """Build a Fault from its JSON description, checking the kind and numbers."""
    kind = str(spec.get("kind", ""))
    status = 502
    if kind.isdigit() and kind.startswith("5") and len(kind) == 3:
        kind, status = "5xx", int(kind)
    if kind not in FAULT_KINDS:
        raise ClientApiError(400, f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
    methods = spec.get("methods")
    chat_id = spec.get("chat_id")
    hold = spec.get("hold_seconds")
    return Fault(
        kind=kind,
        retry_after=max(1, int(spec.get("retry_after", 1))),
        status=int(spec.get("status", status)),
        hold_seconds=None if hold is None else float(hold),
        delivered=bool(spec.get("delivered", True)),
        methods=_canonical_methods(methods) if methods else None,
        chat_id=None if chat_id is None else int(chat_id),
    )


def _canonical_methods(names: Iterable[str]) -> frozenset[str]:
    result: set[str] = set()
    for name in names:
        canonical = _METHOD_NAMES.get(str(name).lower())
        if canonical is None:
            raise ClientApiError(400, f"unknown Bot API method {name!r}")
        result.add(canonical)
    return frozenset(result)


@dataclass
class _FaultPlan:
    queue: collections.deque[Fault] = field(default_factory=collections.deque)
    methods: frozenset[str] = DEFAULT_FAULT_METHODS
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    rng: random.Random = field(default_factory=random.Random)
    template: Fault = field(default_factory=lambda: Fault(kind="429"))
    hold_seconds: float = 6.0

    def take(self, method: str, chat_id: int | None) -> Fault | None:
        if method not in self.methods:
            return None
        for index, fault in enumerate(self.queue):
            if fault.methods is not None and method not in fault.methods:
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            del self.queue[index]
            return fault
        if self.rate > 0 and self.rng.random() < self.rate:
            template = self.template
            return make_fault(
                {
                    "kind": self.rng.choice(self.kinds),
                    "retry_after": template.retry_after,
                    "hold_seconds": template.hold_seconds,
                    "delivered": template.delivered,
                }
            )
        return None

    def describe(self) -> JsonDict:
        return {
            "queue": [fault.describe() for fault in self.queue],
            "methods": sorted(self.methods),
            "rate": self.rate,
            "kinds": list(self.kinds),
            "random_fault": self.template.describe(),
            "hold_seconds": self.hold_seconds,
        }


@dataclass
class _RateLimiter:
    enabled: bool = False
    per_chat: int = 1
    overall: int = 30
    window: float = 1.0
    methods: frozenset[str] = DEFAULT_RATE_LIMITED_METHODS
    chat_times: dict[tuple[int, int], collections.deque[float]] = field(default_factory=dict)
    bot_times: dict[int, collections.deque[float]] = field(default_factory=dict)

    def _prune(self, times: collections.deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def check(self, bot_id: int, chat_id: int, method: str, now: float) -> int | None:
        """Return retry_after seconds when this send would break the limits, else None."""
        if not self.enabled or method not in self.methods:
            return None
        chat = self.chat_times.setdefault((bot_id, chat_id), collections.deque())
        overall = self.bot_times.setdefault(bot_id, collections.deque())
        self._prune(chat, now)
        self._prune(overall, now)
        waits = []
        if len(chat) >= self.per_chat:
            waits.append(chat[-self.per_chat] + self.window - now)
        if len(overall) >= self.overall:
            waits.append(overall[-self.overall] + self.window - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def record(self, bot_id: int, chat_id: int, method: str, now: float) -> None:
        if method not in self.methods:
            return
        self.chat_times.setdefault((bot_id, chat_id), collections.deque()).append(now)
        self.bot_times.setdefault(bot_id, collections.deque()).append(now)

    def describe(self) -> JsonDict:
        return {
            "enabled": self.enabled,
            "per_chat_per_second": self.per_chat,
            "overall_per_second": self.overall,
            "methods": sorted(self.methods),
        }


@dataclass
class _Stats:
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    first_calls: dict[str, float] = field(default_factory=dict)
    sends: list[JsonDict] = field(default_factory=list)
    faults_served: collections.Counter[str] = field(default_factory=collections.Counter)
    fault_log: list[JsonDict] = field(default_factory=list)
    rate_limited: int = 0
    internal_errors: int = 0


Handler = Callable[[_Bot, _Args], Awaitable[Any]]
_METHOD_NAMES: dict[str, str] = {}


def _api_method(name: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Any]]:
    """Register a Bot API method under its canonical name (lookups are case-insensitive)."""

    def register(func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        _METHOD_NAMES[name.lower()] = name
        func.__dict__["api_method"] = name
        return func

    return register


class BotApiEmulator:
    """An in-process Telegram Bot API server for end-to-end tests."""

    def __init__(
        self,
        *,
        timeout_hold_seconds: float = 6.0,
        callback_query_ttl: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._bots: dict[str, _Bot] = {}
        self._users: dict[int, _User] = {}
        self._files: dict[str, _File] = {}
        self._seq = itertools.count(1)
        self._update_ids = itertools.count(100_001)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._callback_query_ttl = callback_query_ttl
        self._faults = _FaultPlan(hold_seconds=timeout_hold_seconds)
        self._rate = _RateLimiter()
        self._stats = _Stats()
        self._stop_signal = _Signal()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._handlers: dict[str, Handler] = {}
        for attribute, member in vars(type(self)).items():
            name = getattr(member, "api_method", None)
            if isinstance(name, str):
                self._handlers[name.lower()] = getattr(self, attribute)

    # ----------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """Return the root URL; only valid after start()."""
        if self._url is None:
            raise RuntimeError("the emulator is not running")
        return self._url

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving on host:port (0 picks a free port) and return the root URL."""
        app = web.Application(client_max_size=MAX_DOCUMENT_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file_download)
        self._add_client_routes(app)
        self._stopping = False
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_port = runner.addresses[0][1]
        self._url = f"http://{host}:{bound_port}"
        LOGGER.info("bot api emulator listening on port %s", bound_port)
        return self._url

    async def stop(self) -> None:
        """Wake every waiting request and stop serving."""
        self._stopping = True
        self._stop_signal.fire()
        for bot in self._bots.values():
            bot.signal.fire()
            bot.feed.signal.fire()
            for chat in bot.chats.values():
                chat.signal.fire()
        tasks = [bot.webhook_task for bot in self._bots.values() if bot.webhook_task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._url = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- registry

    def add_bot(
        self, token: str, username: str = "companion_bot", first_name: str = "Recovery Companion"
    ) -> int:
        """Register a bot token and return the bot's user id."""
        existing = self._bots.get(token)
        if existing is not None:
            return existing.id
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self._bots) + 1
        self._bots[token] = _Bot(
            token=token,
            id=bot_id,
            username=username,
            first_name=first_name,
            feed=_Feed(self._clock),
        )
        return bot_id

    def bots(self) -> list[JsonDict]:
        """Return the registered bots (without their tokens)."""
        return [bot.info() for bot in self._bots.values()]

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> JsonDict:
        """Create (or update) a Telegram user; their private chat with every bot now exists."""
        if user_id <= 0:
            raise ClientApiError(400, "user ids are positive integers")
        user = self._users.get(user_id)
        if user is None:
            user = _User(user_id, first_name, last_name, username, language_code)
            user.starts_chats = started
            self._users[user_id] = user
        else:
            user.first_name, user.last_name = first_name, last_name
            user.username, user.language_code = username, language_code
        for bot in self._bots.values():
            chat = self._chat(bot, user_id)
            chat.started = chat.started and started
        return self.user_info(user_id)

    def create_group(self, group_id: int, title: str) -> JsonDict:
        """Create a group chat (a negative id) that the bot is a member of."""
        if group_id >= 0:
            raise ClientApiError(400, "group ids are negative integers")
        self._users[group_id] = _User(group_id, title, group_title=title)
        for bot in self._bots.values():
            self._chat(bot, group_id)
        return self.user_info(group_id)

    def user_info(self, user_id: int, bot_ref: str | None = None) -> JsonDict:
        """Return a user's profile and chat state with the bot."""
        user = self._require_user(user_id)
        body = user.api()
        if self._bots:
            chat = self._chat(self._select_bot(bot_ref), user_id)
            body.update(
                {
                    "blocked": chat.blocked,
                    "started": chat.started,
                    "seq": chat.event_seqs[-1] if chat.event_seqs else 0,
                }
            )
        return body

    def _require_user(self, user_id: int) -> _User:
        user = self._users.get(user_id)
        if user is None:
            raise ClientApiError(404, f"no user {user_id}; create it first")
        return user

    def _select_bot(self, ref: str | None) -> _Bot:
        if not self._bots:
            raise ClientApiError(409, "no bot registered; call add_bot first")
        if ref is None or ref == "":
            return next(iter(self._bots.values()))
        bot = self._bots.get(ref)
        if bot is not None:
            return bot
        for candidate in self._bots.values():
            if ref.lstrip("@") == candidate.username or ref == str(candidate.id):
                return candidate
        raise ClientApiError(404, f"no bot {ref!r}")

    def _chat(self, bot: _Bot, chat_id: int) -> _Chat:
        chat = bot.chats.get(chat_id)
        if chat is None:
            user = self._users[chat_id]
            digest = hashlib.sha256(f"{bot.id}:{chat_id}".encode()).hexdigest()
            chat = _Chat(
                user=user,
                chat_instance=str(int(digest[:15], 16)),
                feed=bot.feed,
                started=user.starts_chats,
            )
            bot.chats[chat_id] = chat
        return chat

    def _client_chat(self, bot: _Bot, chat_id: int) -> _Chat:
        self._require_user(chat_id)
        return self._chat(bot, chat_id)

    def reset(self, *, keep_bots: bool = True) -> None:
        """Forget users, chats, files, updates, faults and stats (ids keep increasing)."""
        self._users.clear()
        self._files.clear()
        self._faults = _FaultPlan(hold_seconds=self._faults.hold_seconds)
        self._rate = _RateLimiter()
        self._stats = _Stats()
        if not keep_bots:
            for bot in self._bots.values():
                bot.signal.fire()
            self._bots.clear()
            return
        for bot in self._bots.values():
            for chat in bot.chats.values():
                chat.signal.fire()
            bot.updates.clear()
            bot.chats.clear()
            bot.feed.clear()
            bot.queries.clear()
            bot.answers.clear()
            bot.commands.clear()
            bot.updates_delivered = bot.updates_dropped = 0
            bot.webhook_posts.clear()
            bot.webhook_delivered.clear()
            bot.webhook_last_error = ""

    # ----------------------------------------------------------------- updates

    def _push_update(self, bot: _Bot, kind: str, payload: JsonDict) -> int | None:
        allowed = bot.allowed_updates
        wanted = kind in allowed if allowed else kind not in UPDATE_TYPES_OFF_BY_DEFAULT
        if not wanted:
            bot.updates_dropped += 1
            return None
        update_id = next(self._update_ids)
        bot.updates.append((update_id, kind, {"update_id": update_id, kind: payload}))
        bot.signal.fire()
        return update_id

    def pending_updates(self, bot_ref: str | None = None) -> list[JsonDict]:
        """Return the updates the bot has not confirmed yet."""
        return [update for _, _, update in self._select_bot(bot_ref).updates]

    # ----------------------------------------------------------------- acting as users

    def user_send(
        self,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        bot_ref: str | None = None,
        group_id: int | None = None,
    ) -> JsonDict:
        """Send a text message from the user to the bot (or in a group the bot is in)."""
        bot = self._select_bot(bot_ref)
        sender_id = None
        if group_id is not None:
            self._require_user(user_id)
            group = self._users.get(group_id)
            if group is None or group.group_title is None:
                raise ClientApiError(404, f"no group {group_id}")
            sender_id, user_id = user_id, group_id
        chat = self._client_chat(bot, user_id)
        if chat.blocked:
            raise ClientApiError(409, "the user has blocked the bot; unblock first")
        if not text.strip():
            raise ClientApiError(400, "a Telegram client cannot send an empty message")
        if utf16_len(text) > MAX_TEXT:
            raise ClientApiError(400, "a Telegram client splits text over 4096 characters")
        reply_to = None
        if reply_to_message_id is not None:
            reply_to = chat.messages.get(reply_to_message_id)
            if reply_to is None or reply_to.deleted:
                raise ClientApiError(404, f"no message {reply_to_message_id} to reply to")
        chat.started = True
        message = _Message(
            message_id=chat.take_message_id(),
            chat_id=user_id,
            from_bot=False,
            date=int(self._clock()),
            seq=next(self._seq),
            method="user",
            text=text,
            entities=bot_command_entities(text),
            source_text=text,
            reply_to_message_id=reply_to_message_id,
            sender_id=sender_id,
        )
        chat.messages[message.message_id] = message
        chat.add_event(message.seq, "user_message", message.message_id)
        update_id = self._push_update(bot, "message", self._message_api(bot, chat, message))
        return {"message": message.record(), "update_id": update_id, "seq": message.seq}

    def user_send_media(
        self, user_id: int, kind: str, *, caption: str | None = None, bot_ref: str | None = None
    ) -> JsonDict:
        """Send a voice note, photo, sticker, video, file, location or contact to the bot."""
        bot = self._select_bot(bot_ref)
        chat = self._client_chat(bot, user_id)
        if chat.blocked:
            raise ClientApiError(409, "the user has blocked the bot; unblock first")
        payload = _user_media(kind, next(self._seq))
        if payload is None:
            raise ClientApiError(400, f"unknown media kind {kind!r}")
        if caption is not None and kind in {
            "voice",
            "location",
            "sticker",
            "video_note",
            "contact",
        }:
            raise ClientApiError(400, f"a Telegram client sends no caption with a {kind}")
        if caption is not None and utf16_len(caption) > MAX_CAPTION:
            raise ClientApiError(400, "a caption is at most 1024 characters")
        chat.started = True
        message = _Message(
            message_id=chat.take_message_id(),
            chat_id=user_id,
            from_bot=False,
            date=int(self._clock()),
            seq=next(self._seq),
            method="user",
            caption=caption,
            source_caption=caption,
            media={kind: payload},
        )
        chat.messages[message.message_id] = message
        chat.add_event(message.seq, "user_message", message.message_id)
        update_id = self._push_update(bot, "message", self._message_api(bot, chat, message))
        return {"message": message.record(), "update_id": update_id, "seq": message.seq}

    def press_button(
        self,
        user_id: int,
        *,
        text: str | None = None,
        callback_data: str | None = None,
        message_id: int | None = None,
        bot_ref: str | None = None,
    ) -> JsonDict:
        """Press an inline button the user can see; return the callback query it created."""
        if text is None and callback_data is None:
            raise ClientApiError(400, "say which button: its text or its callback_data")
        bot = self._select_bot(bot_ref)
        chat = self._client_chat(bot, user_id)
        if chat.blocked:
            raise ClientApiError(409, "the user has blocked the bot; unblock first")
        wanted = f"text={text!r}" if text is not None else f"callback_data={callback_data!r}"
        message: _Message | None = None
        button: JsonDict | None = None
        if message_id is not None:
            message = chat.messages.get(message_id)
            if message is None or message.deleted or not message.from_bot:
                raise ClientApiError(404, f"no bot message {message_id} in chat {user_id}")
            button = message.find_button(text, callback_data)
            if button is None:
                raise ClientApiError(404, f"message {message_id} has no button with {wanted}")
        else:
            for candidate_id in reversed(chat.bot_message_ids):
                candidate = chat.messages[candidate_id]
                if candidate.deleted:
                    continue
                button = candidate.find_button(text, callback_data)
                if button is not None:
                    message = candidate
                    break
            if message is None or button is None:
                raise ClientApiError(404, f"no bot message in chat {user_id} has a button {wanted}")
        data = button.get("callback_data")
        if not isinstance(data, str):
            raise ClientApiError(409, f"button {button.get('text')!r} sends no callback_data")
        query = _Query(
            id=str(4_000_000_000_000_000 + next(self._query_ids)),
            user_id=user_id,
            chat_id=user_id,
            message_id=message.message_id,
            data=data,
            created=time.monotonic(),
        )
        bot.queries[query.id] = query
        seq = next(self._seq)
        chat.add_event(seq, "press", message.message_id)
        payload = {
            "id": query.id,
            "from": chat.user.api(),
            "message": self._message_api(bot, chat, message),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        update_id = self._push_update(bot, "callback_query", payload)
        return {
            "callback_query_id": query.id,
            "message_id": message.message_id,
            "data": data,
            "button_text": button.get("text"),
            "update_id": update_id,
            "seq": seq,
        }

    def set_blocked(
        self, user_id: int, *, blocked: bool, bot_ref: str | None = None, notify: bool = True
    ) -> JsonDict:
        """Block or unblock the bot as the user; the bot gets a my_chat_member update.

        ``notify=False`` withholds that update, as when a bot never hears of a block (the
        update expired while it was down): the bot then learns of it from a refused send.
        """
        bot = self._select_bot(bot_ref)
        chat = self._client_chat(bot, user_id)
        if chat.blocked != blocked:
            chat.blocked = blocked
            if not notify:
                return self.user_info(user_id, bot.token)
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            old_member: JsonDict = {"status": old, "user": bot.user_api()}
            new_member: JsonDict = {"status": new, "user": bot.user_api()}
            for member in (old_member, new_member):
                if member["status"] == "kicked":
                    member["until_date"] = 0
            self._push_update(
                bot,
                "my_chat_member",
                {
                    "chat": chat.user.chat_api(),
                    "from": chat.user.api(),
                    "date": int(self._clock()),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                },
            )
        return self.user_info(user_id, bot.token)

    # ----------------------------------------------------------------- inspection

    def messages(
        self,
        chat_id: int,
        *,
        sender: str = "bot",
        include_deleted: bool = True,
        after_message_id: int | None = None,
        bot_ref: str | None = None,
    ) -> list[JsonDict]:
        """Return the chat's messages (by default those the bot sent) in order."""
        chat = self._client_chat(self._select_bot(bot_ref), chat_id)
        result = []
        for message_id, message in chat.messages.items():
            if after_message_id is not None and message_id <= after_message_id:
                continue
            if sender == "bot" and not message.from_bot:
                continue
            if sender == "user" and message.from_bot:
                continue
            if message.deleted and not include_deleted:
                continue
            result.append(message.record())
        return result

    def stats(self) -> JsonDict:
        """Return counters: calls per method, accepted sends with times, faults served."""
        stats = self._stats
        return {
            "calls": dict(stats.calls),
            "first_calls": dict(stats.first_calls),
            "sends": list(stats.sends),
            "faults_served": dict(stats.faults_served),
            "fault_log": list(stats.fault_log),
            "rate_limited": stats.rate_limited,
            "internal_errors": stats.internal_errors,
            "updates": {
                bot.username: {
                    "pending": len(bot.updates),
                    "delivered": bot.updates_delivered,
                    "dropped": bot.updates_dropped,
                }
                for bot in self._bots.values()
            },
        }

    def reset_stats(self) -> None:
        """Zero the counters without touching chats."""
        self._stats = _Stats()

    # ----------------------------------------------------------------- faults and limits

    def add_fault(self, fault: Fault) -> None:
        """Queue a one-shot fault for the next matching send-type call."""
        self._faults.queue.append(fault)

    def set_fault_rate(
        self,
        rate: float,
        *,
        kinds: Iterable[str] = FAULT_KINDS,
        seed: int | None = None,
        template: Fault | None = None,
    ) -> None:
        """Make a fraction of send-type calls fail with a random kind of fault."""
        chosen = tuple(kinds)
        if not 0.0 <= rate <= 1.0:
            raise ClientApiError(400, "the fault rate is a fraction between 0 and 1")
        for kind in chosen:
            make_fault({"kind": kind})
        if rate > 0 and not chosen:
            raise ClientApiError(400, "a fault rate needs at least one kind")
        self._faults.rate = rate
        self._faults.kinds = chosen
        self._faults.rng = random.Random(seed)
        self._faults.template = template or Fault(kind="429")

    def set_fault_methods(self, methods: Iterable[str]) -> None:
        """Choose which Bot API methods faults apply to."""
        self._faults.methods = _canonical_methods(methods)

    def set_timeout_hold(self, seconds: float) -> None:
        """Set how long a timeout fault holds its response by default."""
        self._faults.hold_seconds = seconds

    def clear_faults(self) -> None:
        """Drop queued faults and switch the random fault rate off."""
        self._faults.queue.clear()
        self._faults.rate = 0.0

    def faults(self) -> JsonDict:
        """Return the fault configuration."""
        return self._faults.describe()

    def set_rate_limit(
        self,
        *,
        enabled: bool = True,
        per_chat_per_second: int = 1,
        overall_per_second: int = 30,
        methods: Iterable[str] | None = None,
    ) -> JsonDict:
        """Switch Telegram's flood limits on or off."""
        self._rate.enabled = enabled
        self._rate.per_chat = per_chat_per_second
        self._rate.overall = overall_per_second
        if methods is not None:
            self._rate.methods = _canonical_methods(methods)
        return self._rate.describe()

    # ----------------------------------------------------------------- Bot API plumbing

    async def _read_params(self, request: web.Request) -> JsonDict:
        params: JsonDict = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad_request("can't parse JSON encoded request") from None
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    params[key] = value
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        bot = self._bots.get(request.match_info["token"])
        if bot is None:
            return _api_reply(ApiError(401, "Unauthorized").payload(), 401)
        handler = self._handlers.get(request.match_info["method"].lower())
        if handler is None:
            return _api_reply(ApiError(404, "Not Found").payload(), 404)
        method = str(getattr(handler, "api_method", ""))
        self._stats.calls[method] += 1
        self._stats.first_calls.setdefault(method, self._clock())
        try:
            args = _Args(await self._read_params(request))
        except ApiError as error:
            return _api_reply(error.payload(), error.code)
        try:
            chat_id = args.integer("chat_id")
        except ApiError:
            chat_id = None
        fault = self._faults.take(method, chat_id)
        if fault is None:
            return await self._invoke(bot, method, handler, args)
        self._stats.faults_served[fault.kind] += 1
        self._stats.fault_log.append(
            {"kind": fault.kind, "method": method, "chat_id": chat_id, "t": self._clock()}
        )
        LOGGER.debug("serving %s fault to %s", fault.kind, method)
        if fault.kind == "429":
            throttled = ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
            return _api_reply(throttled.payload(), 429)
        if fault.kind == "5xx":
            phrase = _HTTP_PHRASES.get(fault.status, "Internal Server Error")
            return _api_reply(ApiError(fault.status, phrase).payload(), fault.status)
        if fault.delivered:
            response = await self._invoke(bot, method, handler, args)
        else:
            response = _api_reply(ApiError(504, "Gateway Timeout").payload(), 504)
        hold = fault.hold_seconds if fault.hold_seconds is not None else self._faults.hold_seconds
        await self._stop_signal.wait(hold)
        return response

    async def _invoke(self, bot: _Bot, method: str, handler: Handler, args: _Args) -> web.Response:
        try:
            result = await handler(bot, args)
        except ApiError as error:
            return _api_reply(error.payload(), error.code)
        except Exception:
            self._stats.internal_errors += 1
            LOGGER.exception("emulator failed inside %s", method)
            return _api_reply(ApiError(500, "Internal Server Error").payload(), 500)
        return _api_reply({"ok": True, "result": result})

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] not in self._bots:
            return _api_reply(ApiError(401, "Unauthorized").payload(), 401)
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path:
                return web.Response(
                    body=stored.data, content_type=stored.mime_type or "application/octet-stream"
                )
        return _api_reply(ApiError(404, "Not Found").payload(), 404)

    def _target_chat(self, bot: _Bot, args: _Args) -> _Chat:
        if not args.has("chat_id"):
            raise _bad_request("chat_id is empty")
        try:
            chat_id = args.integer("chat_id")
        except ApiError:
            raise _bad_request("chat not found") from None
        if chat_id is None or chat_id not in self._users:
            raise _bad_request("chat not found")
        return self._chat(bot, chat_id)

    def _check_reachable(self, chat: _Chat) -> None:
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")

    def _check_rate(self, bot: _Bot, chat: _Chat, method: str) -> None:
        retry_after = self._rate.check(bot.id, chat.user.id, method, time.monotonic())
        if retry_after is not None:
            self._stats.rate_limited += 1
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _accept_send(self, bot: _Bot, chat: _Chat, method: str, message_id: int) -> None:
        self._rate.record(bot.id, chat.user.id, method, time.monotonic())
        self._stats.sends.append(
            {
                "method": method,
                "chat_id": chat.user.id,
                "message_id": message_id,
                "t": self._clock(),
            }
        )

    def _format(
        self,
        args: _Args,
        text_field: str,
        entities_field: str,
        *,
        limit: int,
        too_long: str,
        required: bool,
    ) -> Caption:
        """Parse a text or caption; return (formatted, parse_mode, source) or Nones if absent."""
        source = args.text(text_field)
        parse_mode = args.text("parse_mode") or None
        if source is None:
            if required:
                raise _bad_request("message text is empty")
            return None, None, None
        entities = args.json(entities_field, "can't parse entities JSON object")
        try:
            formatted = format_text(
                source, parse_mode, entities if isinstance(entities, list) else None
            )
        except EntityParseError as error:
            raise _bad_request(f"can't parse entities: {error}") from None
        except UnsupportedParseModeError:
            raise _bad_request("unsupported parse_mode") from None
        if required and not formatted.text:
            raise _bad_request("message text is empty")
        if formatted.length > limit:
            raise _bad_request(too_long)
        return formatted, parse_mode, source

    def _reply_markup(
        self, args: _Args, *, inline_only: bool = False
    ) -> tuple[JsonDict | None, JsonDict | None]:
        """Return (inline keyboard, other keyboard) from reply_markup, validated like Telegram."""
        markup = args.json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None, None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return _validate_inline_keyboard(markup), None
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad_request(
                    'Field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            return None, markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return None, markup
        raise _bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: _Chat, args: _Args) -> int | None:
        parameters = args.json("reply_parameters", "can't parse reply parameters JSON object")
        allow = args.flag("allow_sending_without_reply")
        target: int | None = None
        if isinstance(parameters, dict) and parameters.get("message_id") is not None:
            target = int(parameters["message_id"])
            allow = bool(parameters.get("allow_sending_without_reply", allow))
        elif args.has("reply_to_message_id"):
            target = args.integer("reply_to_message_id")
        if target is None:
            return None
        message = chat.messages.get(target)
        if message is None or message.deleted:
            if allow:
                return None
            raise _bad_request("message to be replied not found")
        return target

    def _message_api(
        self, bot: _Bot, chat: _Chat, message: _Message, *, nested: bool = False
    ) -> JsonDict:
        body: JsonDict = {
            "message_id": message.message_id,
            "from": bot.user_api()
            if message.from_bot
            else (self._users[message.sender_id] if message.sender_id else chat.user).api(),
            "chat": chat.user.chat_api(),
            "date": message.date,
        }
        if message.edit_date is not None:
            body["edit_date"] = message.edit_date
        if message.text is not None:
            body["text"] = message.text
            if message.entities:
                body["entities"] = message.entities
        if message.photo is not None:
            body["photo"] = message.photo
        if message.document is not None:
            body["document"] = message.document
        if message.media_group_id is not None:
            body["media_group_id"] = message.media_group_id
        body.update(message.media)
        if message.caption:
            body["caption"] = message.caption
            if message.caption_entities:
                body["caption_entities"] = message.caption_entities
        if message.reply_markup is not None:
            body["reply_markup"] = message.reply_markup
        if message.reply_to_message_id is not None and not nested:
            replied = chat.messages.get(message.reply_to_message_id)
            if replied is not None:
                body["reply_to_message"] = self._message_api(bot, chat, replied, nested=True)
        return body

    def _new_bot_message(
        self, bot: _Bot, chat: _Chat, method: str, args: _Args, **content: Any
    ) -> _Message:
        message = _Message(
            message_id=chat.take_message_id(),
            chat_id=chat.user.id,
            from_bot=True,
            date=int(self._clock()),
            seq=next(self._seq),
            method=method,
            options={
                key: args.values[key]
                for key in ("disable_notification", "protect_content", "link_preview_options")
                if key in args.values
            },
            **content,
        )
        chat.messages[message.message_id] = message
        chat.bot_message_ids.append(message.message_id)
        self._accept_send(bot, chat, method, message.message_id)
        chat.add_event(message.seq, "bot_message", message.message_id)
        return message

    def _bot_message_to_edit(self, bot: _Bot, args: _Args) -> tuple[_Chat, _Message]:
        if args.has("inline_message_id"):
            raise _bad_request("message to edit not found")
        chat = self._target_chat(bot, args)
        message_id = args.integer("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise _bad_request("message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    def _apply_edit(
        self, bot: _Bot, chat: _Chat, message: _Message, method: str, **changes: Any
    ) -> JsonDict:
        message.history.append(message.snapshot())
        for key, value in changes.items():
            setattr(message, key, value)
        message.version += 1
        message.edit_date = int(self._clock())
        self._accept_send(bot, chat, method, message.message_id)
        chat.add_event(next(self._seq), "edit", message.message_id)
        return self._message_api(bot, chat, message)

    def _store_file(self, kind: str, upload: Upload, file_name: str | None) -> _File:
        number = next(self._file_ids)
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            guessed = mimetypes.guess_type(file_name or "")[0]
            mime = guessed or mime or "application/octet-stream"
        extension = mimetypes.guess_extension(mime or "") or ""
        prefix = "AgAC" if kind == "photo" else "BQAC"
        stored = _File(
            file_id=f"{prefix}{number:08d}emu",
            file_unique_id=f"AQAD{number:08d}",
            kind=kind,
            data=upload.data,
            file_name=file_name,
            mime_type=mime,
            file_path=f"{kind}s/file_{number}{extension}",
        )
        self._files[stored.file_id] = stored
        return stored

    def _existing_file(self, reference: str, kind: str) -> _File:
        stored = self._files.get(reference)
        if stored is None:
            if reference.startswith(("http://", "https://")):
                raise _bad_request("failed to get HTTP URL content")
            raise _bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise _bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    # ----------------------------------------------------------------- Bot API methods

    @_api_method("getMe")
    async def _get_me(self, bot: _Bot, args: _Args) -> JsonDict:
        return {
            **bot.user_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @_api_method("getUpdates")
    async def _get_updates(self, bot: _Bot, args: _Args) -> list[JsonDict]:
        if bot.webhook_url:
            raise ApiError(409, CONFLICT_WEBHOOK)
        offset = args.integer("offset") or 0
        limit = min(max(args.integer("limit") or 100, 1), 100)
        timeout = max(args.number("timeout") or 0.0, 0.0)
        allowed = args.json("allowed_updates", "can't parse allowed updates JSON object")
        if isinstance(allowed, list):
            bot.allowed_updates = [str(kind) for kind in allowed]
        if offset > 0:
            while bot.updates and bot.updates[0][0] < offset:
                bot.updates.popleft()
        elif offset < 0:
            while len(bot.updates) > -offset:
                bot.updates.popleft()
        if bot.poll is not None:
            bot.poll.conflicted = True
            bot.signal.fire()
        poll = _Poll()
        bot.poll = poll
        deadline = time.monotonic() + timeout
        try:
            while True:
                if poll.conflicted:
                    raise ApiError(409, CONFLICT_POLL)
                batch = [update for _, _, update in itertools.islice(bot.updates, limit)]
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or self._stopping:
                    break
                await bot.signal.wait(remaining)
        finally:
            if bot.poll is poll:
                bot.poll = None
        bot.updates_delivered += len(batch)
        return batch

    @_api_method("setWebhook")
    async def _set_webhook(self, bot: _Bot, args: _Args) -> bool:
        url = args.text("url") or ""
        secret = args.text("secret_token") or ""
        if url and not url.startswith(("https://", "http://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret and not WEBHOOK_SECRET.fullmatch(secret):
            raise _bad_request("secret token contains unallowed characters")
        allowed = args.json("allowed_updates", "can't parse allowed updates JSON object")
        if isinstance(allowed, list):
            bot.allowed_updates = [str(kind) for kind in allowed]
        if args.flag("drop_pending_updates"):
            bot.updates.clear()
        bot.webhook_url, bot.webhook_secret = url, secret
        if bot.poll is not None:
            bot.poll.conflicted = True
        bot.signal.fire()
        if url and (bot.webhook_task is None or bot.webhook_task.done()):
            bot.webhook_task = asyncio.create_task(self._post_updates(bot))
        return True

    @_api_method("deleteWebhook")
    async def _delete_webhook(self, bot: _Bot, args: _Args) -> bool:
        bot.webhook_url = bot.webhook_secret = ""
        bot.signal.fire()
        if args.flag("drop_pending_updates"):
            bot.updates.clear()
        return True

    @_api_method("getWebhookInfo")
    async def _get_webhook_info(self, bot: _Bot, args: _Args) -> JsonDict:
        info: JsonDict = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook_last_error:
            info["last_error_date"] = bot.webhook_last_error_date
            info["last_error_message"] = bot.webhook_last_error
        if bot.allowed_updates:
            info["allowed_updates"] = bot.allowed_updates
        return info

    async def _post_updates(self, bot: _Bot) -> None:
        """Post each pending update to the bot's webhook, in order, until it answers 2xx.

        As Telegram does: the secret token goes in a header, an update that gets no 2xx is
        posted again after a pause, and an update is dropped from the queue once answered.
        One update is in flight at a time, so the bot sees them in order.
        """
        pause = WEBHOOK_RETRY_FIRST
        async with aiohttp.ClientSession() as session:
            while bot.webhook_url and not self._stopping:
                if not bot.updates:
                    await bot.signal.wait(1.0)
                    continue
                update_id, _, update = bot.updates[0]
                status, error = await self._post_update(session, bot, update)
                bot.webhook_posts.append((update_id, status))
                if 200 <= status < 300:
                    pause = WEBHOOK_RETRY_FIRST
                    if bot.updates and bot.updates[0][0] == update_id:
                        bot.updates.popleft()
                        bot.updates_delivered += 1
                        bot.webhook_delivered[update_id] = update
                    continue
                bot.webhook_last_error, bot.webhook_last_error_date = error, int(self._clock())
                await bot.signal.wait(pause)
                pause = min(pause * 2, WEBHOOK_RETRY_MAX)

    async def _post_update(
        self, session: aiohttp.ClientSession, bot: _Bot, update: JsonDict
    ) -> tuple[int, str]:
        """Post one update to the webhook; return the status (0: no answer) and an error."""
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret} if bot.webhook_secret else {}
        )
        try:
            async with session.post(
                bot.webhook_url,
                json=update,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT),
            ) as response:
                await response.read()
                return response.status, f"Wrong response from the webhook: {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return 0, f"Connection failed: {type(exc).__name__}"

    async def repost_update(self, update_id: int, bot_ref: str | None = None) -> int:
        """Post an update that the webhook already answered once more; return the status.

        Telegram does so when the bot's answer is lost on the way back: the bot must not act
        on it twice.
        """
        bot = self._select_bot(bot_ref)
        update = bot.webhook_delivered.get(update_id)
        if update is None or not bot.webhook_url:
            raise ClientApiError(404, f"no update {update_id} was delivered to a webhook")
        async with aiohttp.ClientSession() as session:
            status, _ = await self._post_update(session, bot, update)
        bot.webhook_posts.append((update_id, status))
        return status

    def webhook_state(self, bot_ref: str | None = None) -> JsonDict:
        """Return the webhook's address, what was posted to it and its last error."""
        bot = self._select_bot(bot_ref)
        return {
            "url": bot.webhook_url,
            "has_secret": bool(bot.webhook_secret),
            "posts": [list(post) for post in bot.webhook_posts],
            "pending": len(bot.updates),
            "last_error": bot.webhook_last_error,
        }

    def _commands_key(self, args: _Args) -> tuple[str, JsonDict, str]:
        scope = args.json("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad_request("can't parse BotCommandScope JSON object")
        language = args.text("language_code") or ""
        return f"{_dumps(dict(sorted(scope.items())))}|{language}", scope, language

    @_api_method("setMyCommands")
    async def _set_my_commands(self, bot: _Bot, args: _Args) -> bool:
        commands = args.json("commands", "can't parse commands JSON object") or []
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict) or "description" not in command:
                raise _bad_request("can't parse BotCommand: Can't find field \"description\"")
            name = str(command.get("command", ""))
            description = str(command["description"])
            if not _COMMAND_NAME.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not description.strip():
                raise _bad_request("command description must be non-empty")
            if len(description) > 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key, scope, language = self._commands_key(args)
        bot.commands[key] = {"scope": scope, "language_code": language, "commands": cleaned}
        return True

    @_api_method("getMyCommands")
    async def _get_my_commands(self, bot: _Bot, args: _Args) -> list[JsonDict]:
        key, _, _ = self._commands_key(args)
        stored = bot.commands.get(key)
        return list(stored["commands"]) if stored else []

    @_api_method("deleteMyCommands")
    async def _delete_my_commands(self, bot: _Bot, args: _Args) -> bool:
        key, _, _ = self._commands_key(args)
        bot.commands.pop(key, None)
        return True

    async def _set_profile(self, bot: _Bot, args: _Args, name: str) -> bool:
        language = args.text("language_code") or ""
        bot.profile[f"{name}|{language}"] = args.text(name) or ""
        return True

    @_api_method("setMyDescription")
    async def _set_my_description(self, bot: _Bot, args: _Args) -> bool:
        return await self._set_profile(bot, args, "description")

    @_api_method("setMyShortDescription")
    async def _set_my_short_description(self, bot: _Bot, args: _Args) -> bool:
        return await self._set_profile(bot, args, "short_description")

    @_api_method("setChatMenuButton")
    async def _set_chat_menu_button(self, bot: _Bot, args: _Args) -> bool:
        bot.profile["menu_button"] = args.json("menu_button", "can't parse menu button")
        return True

    @_api_method("sendMessage")
    async def _send_message(self, bot: _Bot, args: _Args) -> JsonDict:
        chat = self._target_chat(bot, args)
        self._check_reachable(chat)
        formatted, parse_mode, source = self._format(
            args, "text", "entities", limit=MAX_TEXT, too_long="message is too long", required=True
        )
        assert formatted is not None
        inline, keyboard = self._reply_markup(args)
        reply_to = self._reply_target(chat, args)
        self._check_rate(bot, chat, "sendMessage")
        message = self._new_bot_message(
            bot,
            chat,
            "sendMessage",
            args,
            text=formatted.text,
            entities=formatted.entities,
            source_text=source,
            parse_mode=parse_mode,
            reply_markup=inline,
            keyboard=keyboard,
            reply_to_message_id=reply_to,
        )
        return self._message_api(bot, chat, message)

    async def _send_media(self, bot: _Bot, args: _Args, method: str, kind: str) -> JsonDict:
        chat = self._target_chat(bot, args)
        self._check_reachable(chat)
        media = args.upload(kind)
        if media is None:
            raise _bad_request(f"there is no {kind} in the request")
        caption = self._caption(args)
        inline, keyboard = self._reply_markup(args)
        reply_to = self._reply_target(chat, args)
        stored = self._stored_media(kind, media)
        self._check_rate(bot, chat, method)
        content = self._media_content(kind, stored, caption)
        content.update(
            {"reply_markup": inline, "keyboard": keyboard, "reply_to_message_id": reply_to}
        )
        message = self._new_bot_message(bot, chat, method, args, **content)
        return self._message_api(bot, chat, message)

    def _caption(self, args: _Args) -> Caption:
        """Return a media message's caption as (formatted, parse mode, source)."""
        return self._format(
            args,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
            required=False,
        )

    def _stored_media(self, kind: str, media: Upload | str) -> _File:
        """Return the file a send refers to: one stored before (by id), or the upload checked."""
        if isinstance(media, str):
            return self._existing_file(media, kind)
        return self._check_and_store(kind, media)

    def _media_content(self, kind: str, stored: _File, caption: Caption) -> JsonDict:
        """Return a media message's caption fields and its photo sizes or document."""
        formatted, parse_mode, source = caption
        content: JsonDict = {
            "caption": formatted.text if formatted else None,
            "caption_entities": formatted.entities if formatted else [],
            "source_caption": source,
            "parse_mode": parse_mode,
        }
        if kind == "photo":
            content["photo"] = self._photo_sizes(stored)
        else:
            content["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": stored.file_name,
                "mime_type": stored.mime_type,
                "file_size": len(stored.data),
            }
        return content

    def _check_and_store(self, kind: str, upload: Upload) -> _File:
        if not upload.data:
            raise _bad_request("file must be non-empty")
        if kind == "photo":
            if len(upload.data) > MAX_PHOTO_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            size = image_size(upload.data)
            if size is None:
                raise _bad_request("IMAGE_PROCESS_FAILED")
            width, height = size
            if width + height > 10_000 or max(width, height) > 20 * min(width, height):
                raise _bad_request("PHOTO_INVALID_DIMENSIONS")
            return self._store_file(kind, upload, upload.filename)
        if len(upload.data) > MAX_DOCUMENT_BYTES:
            raise ApiError(413, "Request Entity Too Large")
        return self._store_file(kind, upload, upload.filename)

    def _photo_sizes(self, stored: _File) -> list[JsonDict]:
        size = image_size(stored.data) or (1, 1)
        ladder = photo_sizes(*size)
        result = []
        for index, (width, height) in enumerate(ladder):
            file_id = stored.file_id if index == len(ladder) - 1 else f"{stored.file_id}_{width}"
            if file_id not in self._files:
                self._files[file_id] = stored
            result.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"{stored.file_unique_id}{index}",
                    "width": width,
                    "height": height,
                    "file_size": len(stored.data),
                }
            )
        return result

    @_api_method("sendPhoto")
    async def _send_photo(self, bot: _Bot, args: _Args) -> JsonDict:
        return await self._send_media(bot, args, "sendPhoto", "photo")

    @_api_method("sendDocument")
    async def _send_document(self, bot: _Bot, args: _Args) -> JsonDict:
        return await self._send_media(bot, args, "sendDocument", "document")

    @_api_method("sendMediaGroup")
    async def _send_media_group(self, bot: _Bot, args: _Args) -> list[JsonDict]:
        # Telegram: 2-10 items, all photos/videos or all documents (or all audio); each item's
        # file is a file_id, a URL or "attach://<name>"; one message per item, sharing one
        # media_group_id; only the items carry captions.
        chat = self._target_chat(bot, args)
        self._check_reachable(chat)
        raw = args.values.get("media")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            raise _bad_request("media must be a non-empty array")
        if not 2 <= len(items) <= 10:
            raise _bad_request("wrong number of media items (2-10 allowed)")
        kinds = {item.get("type") if isinstance(item, dict) else None for item in items}
        if not kinds <= {"photo", "document"} or len(kinds) != 1:
            raise _bad_request("media group items must be all photos or all documents")
        kind = str(kinds.pop())  # checked above: "photo" or "document"
        prepared = []
        for item in items:
            item_args = _Args({**args.values, **item, "caption": item.get("caption")})
            media = item_args.upload("media")
            if media is None:
                raise _bad_request("there is no media in the request item")
            caption = self._caption(item_args)
            prepared.append((item_args, self._stored_media(kind, media), caption))
        reply_to = self._reply_target(chat, args)
        self._check_rate(bot, chat, "sendMediaGroup")
        group_id = f"{next(self._seq)}{chat.user.id}"
        result = []
        for item_args, stored, caption in prepared:
            content = self._media_content(kind, stored, caption)
            content.update({"media_group_id": group_id, "reply_to_message_id": reply_to})
            message = self._new_bot_message(bot, chat, "sendMediaGroup", item_args, **content)
            result.append(self._message_api(bot, chat, message))
        return result

    @_api_method("getFile")
    async def _get_file(self, bot: _Bot, args: _Args) -> JsonDict:
        stored = self._files.get(args.text("file_id") or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    @_api_method("editMessageText")
    async def _edit_message_text(self, bot: _Bot, args: _Args) -> JsonDict:
        chat, message = self._bot_message_to_edit(bot, args)
        if message.text is None:
            raise _bad_request("there is no text in the message to edit")
        formatted, parse_mode, source = self._format(
            args, "text", "entities", limit=MAX_TEXT, too_long="MESSAGE_TOO_LONG", required=True
        )
        assert formatted is not None
        inline, _ = self._reply_markup(args, inline_only=True)
        if (
            formatted.text == message.text
            and formatted.entities == message.entities
            and inline == message.reply_markup
        ):
            raise _bad_request(NOT_MODIFIED)
        return self._apply_edit(
            bot,
            chat,
            message,
            "editMessageText",
            text=formatted.text,
            entities=formatted.entities,
            source_text=source,
            parse_mode=parse_mode,
            reply_markup=inline,
        )

    @_api_method("editMessageCaption")
    async def _edit_message_caption(self, bot: _Bot, args: _Args) -> JsonDict:
        chat, message = self._bot_message_to_edit(bot, args)
        if message.text is not None:
            raise _bad_request("there is no caption in the message to edit")
        caption, parse_mode, source = self._format(
            args,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION,
            too_long="message caption is too long",
            required=False,
        )
        inline, _ = self._reply_markup(args, inline_only=True)
        new_caption = caption.text if caption else None
        new_entities = caption.entities if caption else []
        if (
            (new_caption or None) == (message.caption or None)
            and new_entities == message.caption_entities
            and inline == message.reply_markup
        ):
            raise _bad_request(NOT_MODIFIED)
        return self._apply_edit(
            bot,
            chat,
            message,
            "editMessageCaption",
            caption=new_caption,
            caption_entities=new_entities,
            source_caption=source,
            parse_mode=parse_mode,
            reply_markup=inline,
        )

    @_api_method("editMessageReplyMarkup")
    async def _edit_message_reply_markup(self, bot: _Bot, args: _Args) -> JsonDict:
        chat, message = self._bot_message_to_edit(bot, args)
        inline, _ = self._reply_markup(args, inline_only=True)
        if inline == message.reply_markup:
            raise _bad_request(NOT_MODIFIED)
        return self._apply_edit(bot, chat, message, "editMessageReplyMarkup", reply_markup=inline)

    @_api_method("deleteMessage")
    async def _delete_message(self, bot: _Bot, args: _Args) -> bool:
        chat = self._target_chat(bot, args)
        message_id = args.integer("message_id")
        message = chat.messages.get(message_id) if message_id is not None else None
        if message is None or message.deleted:
            raise _bad_request("message to delete not found")
        message.deleted = True
        chat.add_event(next(self._seq), "delete", message.message_id)
        return True

    @_api_method("answerCallbackQuery")
    async def _answer_callback_query(self, bot: _Bot, args: _Args) -> bool:
        query = bot.queries.get(args.text("callback_query_id") or "")
        ttl = self._callback_query_ttl
        if (
            query is None
            or query.answered
            or (ttl is not None and time.monotonic() - query.created > ttl)
        ):
            raise _bad_request(QUERY_INVALID)
        text = args.text("text")
        if text is not None and utf16_len(text) > MAX_CALLBACK_ANSWER:
            raise _bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        bot.answers.append(
            {
                "callback_query_id": query.id,
                "user_id": query.user_id,
                "chat_id": query.chat_id,
                "message_id": query.message_id,
                "data": query.data,
                "text": text,
                "show_alert": args.flag("show_alert"),
                "url": args.text("url"),
                "cache_time": args.integer("cache_time"),
                "t": self._clock(),
            }
        )
        chat = bot.chats.get(query.chat_id)
        if chat is not None:
            chat.add_event(next(self._seq), "callback_answer", query.message_id)
        return True

    @_api_method("sendChatAction")
    async def _send_chat_action(self, bot: _Bot, args: _Args) -> bool:
        chat = self._target_chat(bot, args)
        self._check_reachable(chat)
        action = args.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        chat.actions.append({"action": action, "t": self._clock()})
        return True

    @_api_method("close")
    async def _close(self, bot: _Bot, args: _Args) -> bool:
        return True

    @_api_method("logOut")
    async def _log_out(self, bot: _Bot, args: _Args) -> bool:
        return True

    # ----------------------------------------------------------------- client API (HTTP)

    def _add_client_routes(self, app: web.Application) -> None:
        routes = [
            ("GET", "/_emu/health", self._c_health),
            ("POST", "/_emu/reset", self._c_reset),
            ("GET", "/_emu/bots", self._c_bots),
            ("POST", "/_emu/bots", self._c_add_bot),
            ("POST", "/_emu/users", self._c_add_user),
            ("POST", "/_emu/groups", self._c_add_group),
            ("GET", "/_emu/users/{user_id}", self._c_user),
            ("POST", "/_emu/users/{user_id}/messages", self._c_user_send),
            ("POST", "/_emu/users/{user_id}/press", self._c_press),
            ("POST", "/_emu/users/{user_id}/media", self._c_user_media),
            ("POST", "/_emu/users/{user_id}/block", self._c_block),
            ("POST", "/_emu/users/{user_id}/unblock", self._c_unblock),
            ("GET", "/_emu/chats/{chat_id}/messages", self._c_messages),
            ("GET", "/_emu/chats/{chat_id}/messages/{message_id}", self._c_message),
            ("GET", "/_emu/chats/{chat_id}/events", self._c_events),
            ("GET", "/_emu/chats/{chat_id}/actions", self._c_actions),
            ("GET", "/_emu/files/{file_id}", self._c_file),
            ("GET", "/_emu/callback_answers", self._c_callback_answers),
            ("GET", "/_emu/commands", self._c_commands),
            ("GET", "/_emu/updates", self._c_updates),
            ("GET", "/_emu/events", self._c_feed),
            ("GET", "/_emu/faults", self._c_faults),
            ("POST", "/_emu/faults", self._c_add_fault),
            ("DELETE", "/_emu/faults", self._c_clear_faults),
            ("POST", "/_emu/faults/rate", self._c_fault_rate),
            ("POST", "/_emu/faults/methods", self._c_fault_methods),
            ("POST", "/_emu/faults/hold", self._c_fault_hold),
            ("GET", "/_emu/rate_limit", self._c_rate_limit_state),
            ("POST", "/_emu/rate_limit", self._c_rate_limit),
            ("GET", "/_emu/webhook", self._c_webhook),
            ("POST", "/_emu/webhook/repost", self._c_webhook_repost),
            ("GET", "/_emu/stats", self._c_stats),
            ("POST", "/_emu/stats/reset", self._c_stats_reset),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, _client_route(handler))

    async def _c_webhook(self, request: web.Request, body: JsonDict) -> Any:
        return self.webhook_state(request.query.get("bot"))

    async def _c_webhook_repost(self, request: web.Request, body: JsonDict) -> Any:
        status = await self.repost_update(int(body["update_id"]), body.get("bot"))
        return {"status": status}

    async def _c_health(self, request: web.Request, body: JsonDict) -> Any:
        return {"ok": True, "bots": len(self._bots)}

    async def _c_reset(self, request: web.Request, body: JsonDict) -> Any:
        self.reset(keep_bots=bool(body.get("keep_bots", True)))
        return {"ok": True}

    async def _c_bots(self, request: web.Request, body: JsonDict) -> Any:
        return self.bots()

    async def _c_add_bot(self, request: web.Request, body: JsonDict) -> Any:
        bot_id = self.add_bot(
            str(body["token"]),
            str(body.get("username", "companion_bot")),
            str(body.get("first_name", "Recovery Companion")),
        )
        return {"id": bot_id}

    async def _c_add_user(self, request: web.Request, body: JsonDict) -> Any:
        return self.add_user(
            int(body["id"]),
            str(body.get("first_name") or f"User{body['id']}"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code", "en"),
            started=bool(body.get("started", True)),
        )

    async def _c_user(self, request: web.Request, body: JsonDict) -> Any:
        return self.user_info(int(request.match_info["user_id"]), _bot_ref(request, body))

    async def _c_user_send(self, request: web.Request, body: JsonDict) -> Any:
        reply_to = body.get("reply_to_message_id")
        group = body.get("group_id")
        return self.user_send(
            int(request.match_info["user_id"]),
            str(body.get("text", "")),
            reply_to_message_id=None if reply_to is None else int(reply_to),
            bot_ref=_bot_ref(request, body),
            group_id=None if group is None else int(group),
        )

    async def _c_add_group(self, request: web.Request, body: JsonDict) -> Any:
        return self.create_group(int(body["id"]), str(body.get("title", "Group")))

    async def _c_user_media(self, request: web.Request, body: JsonDict) -> Any:
        caption = body.get("caption")
        return self.user_send_media(
            int(request.match_info["user_id"]),
            str(body.get("kind", "")),
            caption=None if caption is None else str(caption),
            bot_ref=_bot_ref(request, body),
        )

    async def _c_press(self, request: web.Request, body: JsonDict) -> Any:
        message_id = body.get("message_id")
        return self.press_button(
            int(request.match_info["user_id"]),
            text=body.get("text"),
            callback_data=body.get("callback_data"),
            message_id=None if message_id is None else int(message_id),
            bot_ref=_bot_ref(request, body),
        )

    async def _c_block(self, request: web.Request, body: JsonDict) -> Any:
        user_id = int(request.match_info["user_id"])
        return self.set_blocked(
            user_id,
            blocked=True,
            bot_ref=_bot_ref(request, body),
            notify=bool(body.get("notify", True)),
        )

    async def _c_unblock(self, request: web.Request, body: JsonDict) -> Any:
        user_id = int(request.match_info["user_id"])
        return self.set_blocked(user_id, blocked=False, bot_ref=_bot_ref(request, body))

    async def _c_messages(self, request: web.Request, body: JsonDict) -> Any:
        query = request.query
        after = query.get("after_message_id")
        return self.messages(
            int(request.match_info["chat_id"]),
            sender=query.get("sender", "bot"),
            include_deleted=query.get("include_deleted", "1") not in {"0", "false"},
            after_message_id=None if after is None else int(after),
            bot_ref=_bot_ref(request, body),
        )

    async def _c_message(self, request: web.Request, body: JsonDict) -> Any:
        bot = self._select_bot(_bot_ref(request, body))
        chat = self._client_chat(bot, int(request.match_info["chat_id"]))
        message = chat.messages.get(int(request.match_info["message_id"]))
        if message is None:
            raise ClientApiError(404, "no such message")
        return message.record()

    async def _c_events(self, request: web.Request, body: JsonDict) -> Any:
        query = request.query
        bot = self._select_bot(_bot_ref(request, body))
        chat = self._client_chat(bot, int(request.match_info["chat_id"]))
        after_seq = int(query.get("after_seq", 0))
        if "after_message_id" in query:
            anchor = chat.messages.get(int(query["after_message_id"]))
            if anchor is None:
                raise ClientApiError(404, "no such message to wait after")
            after_seq = max(after_seq, anchor.seq)
        kinds = frozenset(query["kinds"].split(",")) if query.get("kinds") else None
        message_id = int(query["message_id"]) if "message_id" in query else None
        limit = min(int(query.get("limit", 200)), 1000)
        deadline = time.monotonic() + min(float(query.get("timeout", 0)), 60.0)
        while True:
            found, scanned = chat.events_after(after_seq, kinds, message_id, limit)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or self._stopping:
                break
            after_seq = scanned
            await chat.signal.wait(remaining)
        return {
            "events": [
                {"seq": seq, "kind": kind, "message": chat.messages[mid].record()}
                for seq, kind, mid in found
            ],
            "next_after_seq": scanned,
        }

    async def _c_feed(self, request: web.Request, body: JsonDict) -> Any:
        query = request.query
        bot = self._select_bot(_bot_ref(request, body))
        feed = bot.feed
        after_seq = int(query.get("after_seq", 0))
        kinds = frozenset(query["kinds"].split(",")) if query.get("kinds") else None
        limit = min(int(query.get("limit", 1000)), 5000)
        deadline = time.monotonic() + min(float(query.get("timeout", 0)), 60.0)
        while True:
            found, scanned = feed.after(after_seq, kinds, limit)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or self._stopping:
                break
            after_seq = scanned
            await feed.signal.wait(remaining)
        events = [
            {
                "seq": seq,
                "chat_id": chat_id,
                "kind": kind,
                "t": moment,
                "message": bot.chats[chat_id].messages[message_id].record(),
            }
            for seq, chat_id, kind, message_id, moment in found
        ]
        return {"events": events, "next_after_seq": scanned}

    async def _c_actions(self, request: web.Request, body: JsonDict) -> Any:
        bot = self._select_bot(_bot_ref(request, body))
        return list(self._client_chat(bot, int(request.match_info["chat_id"])).actions)

    async def _c_file(self, request: web.Request, body: JsonDict) -> Any:
        stored = self._files.get(request.match_info["file_id"])
        if stored is None:
            raise ClientApiError(404, "no such file")
        headers = {"X-File-Name": stored.file_name or ""}
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type or "application/octet-stream",
            headers=headers,
        )

    async def _c_callback_answers(self, request: web.Request, body: JsonDict) -> Any:
        answers = self._select_bot(_bot_ref(request, body)).answers
        user = request.query.get("user_id")
        return [a for a in answers if user is None or a["user_id"] == int(user)]

    async def _c_commands(self, request: web.Request, body: JsonDict) -> Any:
        return list(self._select_bot(_bot_ref(request, body)).commands.values())

    async def _c_updates(self, request: web.Request, body: JsonDict) -> Any:
        return self.pending_updates(_bot_ref(request, body))

    async def _c_faults(self, request: web.Request, body: JsonDict) -> Any:
        return self.faults()

    async def _c_add_fault(self, request: web.Request, body: JsonDict) -> Any:
        count = int(body.get("count", 1))
        for _ in range(count):
            self.add_fault(make_fault(body))
        return self.faults()

    async def _c_clear_faults(self, request: web.Request, body: JsonDict) -> Any:
        self.clear_faults()
        return self.faults()

    async def _c_fault_rate(self, request: web.Request, body: JsonDict) -> Any:
        kinds = body.get("kinds") or list(FAULT_KINDS)
        template = make_fault({**body, "kind": "429"})
        seed = body.get("seed")
        self.set_fault_rate(
            float(body.get("rate", 0.0)),
            kinds=[str(kind) for kind in kinds],
            seed=None if seed is None else int(seed),
            template=template,
        )
        return self.faults()

    async def _c_fault_methods(self, request: web.Request, body: JsonDict) -> Any:
        self.set_fault_methods(body.get("methods") or [])
        return self.faults()

    async def _c_fault_hold(self, request: web.Request, body: JsonDict) -> Any:
        self.set_timeout_hold(float(body["seconds"]))
        return self.faults()

    async def _c_rate_limit_state(self, request: web.Request, body: JsonDict) -> Any:
        return self._rate.describe()

    async def _c_rate_limit(self, request: web.Request, body: JsonDict) -> Any:
        return self.set_rate_limit(
            enabled=bool(body.get("enabled", True)),
            per_chat_per_second=int(body.get("per_chat_per_second", 1)),
            overall_per_second=int(body.get("overall_per_second", 30)),
            methods=body.get("methods"),
        )

    async def _c_stats(self, request: web.Request, body: JsonDict) -> Any:
        return self.stats()

    async def _c_stats_reset(self, request: web.Request, body: JsonDict) -> Any:
        self.reset_stats()
        return {"ok": True}


_HTTP_PHRASES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

ClientHandler = Callable[[web.Request, JsonDict], Awaitable[Any]]


def _bot_ref(request: web.Request, body: JsonDict) -> str | None:
    ref = body.get("bot") or request.query.get("bot")
    return None if ref is None else str(ref)


def _client_route(handler: ClientHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Wrap a client-API handler: JSON in, JSON out, refusals as {"error": ...}."""

    async def route(request: web.Request) -> web.StreamResponse:
        body: JsonDict = {}
        if request.can_read_body:
            try:
                loaded = await request.json()
            except ValueError:
                return _api_reply({"error": "the body must be JSON"}, 400)
            if isinstance(loaded, dict):
                body = loaded
        try:
            result = await handler(request, body)
        except ClientApiError as error:
            return _api_reply({"error": error.message}, error.status)
        except (KeyError, TypeError, ValueError) as error:
            return _api_reply({"error": f"bad client request: {error!r}"}, 400)
        if isinstance(result, web.StreamResponse):
            return result
        return _api_reply({"result": result})

    return route


def _validate_inline_keyboard(markup: JsonDict) -> JsonDict:
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request(
            'Field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    count = 0
    cleaned_rows = []
    for row in rows:
        cleaned_row = []
        for button in row:
            if not isinstance(button, dict):
                raise _bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton should be an Object"
                )
            text = button.get("text")
            if not isinstance(text, str):
                raise _bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not text.strip():
                raise _bad_request("BUTTON_TEXT_INVALID")
            actions = [key for key in BUTTON_ACTIONS if key in button]
            if not actions:
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise _bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not _URL.fullmatch(str(button["url"])):
                raise _bad_request("BUTTON_URL_INVALID")
            count += 1
            cleaned_row.append(dict(button))
        if cleaned_row:
            cleaned_rows.append(cleaned_row)
    if count > MAX_BUTTONS:
        raise _bad_request("reply markup is too long")
    return {"inline_keyboard": cleaned_rows}


class EmulatorThread:
    """Runs a BotApiEmulator on its own event loop in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self._host = host
        self._port = port
        self._options = options
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._emulator: BotApiEmulator | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """Return the root URL of the running emulator."""
        if self._url is None:
            raise RuntimeError("the emulator thread is not running")
        return self._url

    @property
    def emulator(self) -> BotApiEmulator:
        """Return the emulator; touch it only through call() from other threads."""
        if self._emulator is None:
            raise RuntimeError("the emulator thread is not running")
        return self._emulator

    def start(self) -> str:
        """Start the thread and the server; return the root URL."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._emulator = BotApiEmulator(**self._options)
                self._url = loop.run_until_complete(self._emulator.start(self._host, self._port))
            except BaseException as error:
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=serve, name="bot-api-emulator", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the emulator thread did not start within 10 seconds")
        if failure:
            raise failure[0]
        return self.url

    def call(self, func: Callable[[BotApiEmulator], T], timeout: float = 10.0) -> T:
        """Run func(emulator) on the emulator's loop and return its result."""
        loop, emulator = self._loop, self.emulator
        assert loop is not None

        async def run() -> T:
            return func(emulator)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def add_bot(
        self, token: str, username: str = "companion_bot", first_name: str = "Recovery Companion"
    ) -> int:
        """Register a bot token and return the bot's user id."""
        return self.call(lambda emulator: emulator.add_bot(token, username, first_name))

    def stop(self) -> None:
        """Stop the server and the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._emulator is None:
            return
        asyncio.run_coroutine_threadsafe(self._emulator.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = self._emulator = None
        self._url = None

    def __enter__(self) -> EmulatorThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> EmulatorThread:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self.stop)


def _user_media(kind: str, number: int) -> JsonDict | None:
    """Return the Bot API object a user's media message carries, as Telegram shapes it."""
    file = {"file_id": f"user-{kind}-{number}", "file_unique_id": f"u{kind[:2]}{number}"}
    shapes: dict[str, Any] = {
        "voice": {**file, "duration": 4, "mime_type": "audio/ogg"},
        "audio": {**file, "duration": 60, "mime_type": "audio/mpeg"},
        "photo": [{**file, "width": 90, "height": 90, "file_size": 1200}],
        "sticker": {
            **file,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        },
        "video": {**file, "width": 640, "height": 360, "duration": 5},
        "video_note": {**file, "length": 240, "duration": 3},
        "document": {**file, "file_name": "scan.pdf", "mime_type": "application/pdf"},
        "location": {"latitude": 40.7128, "longitude": -74.006},
        "contact": {"phone_number": "+15550100", "first_name": "Sam"},
    }
    return shapes.get(kind)
