"""Test-side client of the Bot API emulator: act as Telegram users and inspect what the bot did.

Every operation is written once as a generator of HTTP calls (sans-I/O) and run by either the
synchronous ``EmulatorClient`` or the asynchronous ``AsyncEmulatorClient``, so both behave the
same. Waiting helpers only match what happened after a marker (the user's last send or press,
``mark()``, or an explicit ``since=`` message id), so earlier messages never satisfy a wait.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import ssl
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

JsonDict = dict[str, Any]
T = TypeVar("T")

DEFAULT_WAIT = 10.0
_SERVER_WAIT_CHUNK = 10.0
_HTTP_TIMEOUT = 30.0
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")


class EmulatorError(Exception):
    """The emulator refused a client-API request (e.g. pressing a button that is not there)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class WaitTimeoutError(AssertionError):
    """Nothing matching arrived in time; an AssertionError so pytest reports it as a failure."""


@dataclass(frozen=True)
class _Call:
    method: str
    path: str
    params: JsonDict | None = None
    body: Any = None
    raw: bool = False
    wait: float = 0.0


Op = Generator[_Call, Any, T]


def _request(
    method: str,
    path: str,
    *,
    params: JsonDict | None = None,
    body: Any = None,
    raw: bool = False,
    wait: float = 0.0,
) -> Op[Any]:
    """Describe one HTTP call and return what the driver answers."""
    return (yield _Call(method, path, params, body, raw, wait))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Return one shared default TLS context: building one per client costs ~40 ms."""
    return ssl.create_default_context()


def _decode(call: _Call, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            message = str(response.json().get("error", response.text))
        except ValueError:
            message = response.text
        raise EmulatorError(response.status_code, message)
    if call.raw:
        return response.content
    return response.json()["result"]


def _clean(values: JsonDict) -> JsonDict:
    return {key: value for key, value in values.items() if value is not None}


# ------------------------------------------------------------------- value objects


@dataclass(frozen=True)
class Button:
    """One inline keyboard button."""

    text: str
    callback_data: str | None
    url: str | None


@dataclass(frozen=True)
class ChatMessage:
    """A message in a private chat as the emulator recorded it (bot's or user's)."""

    record: JsonDict

    @property
    def message_id(self) -> int:
        """Return the message id (increasing per chat)."""
        return int(self.record["message_id"])

    @property
    def chat_id(self) -> int:
        """Return the chat id (the user's id in a private chat)."""
        return int(self.record["chat_id"])

    @property
    def from_bot(self) -> bool:
        """Return whether the bot sent it."""
        return bool(self.record["from_bot"])

    @property
    def text(self) -> str:
        """Return the visible text (the caption for a photo or document, else '')."""
        return str(self.record.get("text") or self.record.get("caption") or "")

    @property
    def caption(self) -> str | None:
        """Return the caption of a photo or document."""
        caption = self.record.get("caption")
        return None if caption is None else str(caption)

    @property
    def source(self) -> str | None:
        """Return the text as the bot sent it, before entity parsing (e.g. with HTML tags)."""
        source = self.record.get("source_text") or self.record.get("source_caption")
        return None if source is None else str(source)

    @property
    def parse_mode(self) -> str | None:
        """Return the parse_mode the bot used."""
        mode = self.record.get("parse_mode")
        return None if mode is None else str(mode)

    @property
    def entities(self) -> list[JsonDict]:
        """Return the parsed entities of the text or caption."""
        return list(self.record.get("entities") or self.record.get("caption_entities") or [])

    @property
    def reply_markup(self) -> JsonDict | None:
        """Return the inline keyboard currently attached, if any."""
        markup = self.record.get("reply_markup")
        return None if markup is None else dict(markup)

    @property
    def keyboard(self) -> JsonDict | None:
        """Return a reply keyboard, keyboard removal or force-reply sent with the message."""
        keyboard = self.record.get("keyboard")
        return None if keyboard is None else dict(keyboard)

    @property
    def inline_buttons(self) -> list[list[Button]]:
        """Return the inline keyboard as rows of Button."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [
            [Button(str(b["text"]), b.get("callback_data"), b.get("url")) for b in row]
            for row in rows
        ]

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Return the inline keyboard as rows of (text, callback_data)."""
        return [[(b.text, b.callback_data) for b in row] for row in self.inline_buttons]

    @property
    def button_texts(self) -> list[str]:
        """Return every button label, row by row."""
        return [b.text for row in self.inline_buttons for b in row]

    def has_button(self, text: str) -> bool:
        """Return whether a button with this label is attached now."""
        return text in self.button_texts

    def contains(self, fragment: str) -> bool:
        """Return whether the visible text contains the fragment, ignoring case."""
        return fragment.casefold() in self.text.casefold()

    @property
    def date(self) -> dt.datetime:
        """Return when it was sent."""
        return dt.datetime.fromtimestamp(int(self.record["date"]), tz=dt.UTC)

    @property
    def edit_date(self) -> dt.datetime | None:
        """Return when it was last edited."""
        stamp = self.record.get("edit_date")
        return None if stamp is None else dt.datetime.fromtimestamp(int(stamp), tz=dt.UTC)

    @property
    def version(self) -> int:
        """Return how many times it was edited."""
        return int(self.record.get("version", 0))

    @property
    def history(self) -> list[JsonDict]:
        """Return earlier versions, oldest first (text, entities, reply_markup, date...)."""
        return list(self.record.get("history") or [])

    @property
    def deleted(self) -> bool:
        """Return whether the bot deleted it."""
        return bool(self.record.get("deleted"))

    @property
    def document(self) -> JsonDict | None:
        """Return the document's metadata (file_id, file_name, mime_type, file_size)."""
        document = self.record.get("document")
        return None if document is None else dict(document)

    @property
    def photo(self) -> JsonDict | None:
        """Return the largest size of a photo (file_id, width, height, file_size)."""
        sizes = self.record.get("photo")
        return dict(sizes[-1]) if sizes else None

    @property
    def file_id(self) -> str | None:
        """Return the file id of the document or photo."""
        attachment = self.document or self.photo
        return None if attachment is None else str(attachment["file_id"])

    def versions(self) -> list[ChatMessage]:
        """Return this message as it looks now followed by each earlier version."""
        return [self, *(ChatMessage({**self.record, **old}) for old in reversed(self.history))]

    def _require_file_id(self) -> str:
        file_id = self.file_id
        if file_id is None:
            raise EmulatorError(404, f"message {self.message_id} carries no file")
        return file_id

    def summary(self) -> str:
        """Return a short one-line description for failure messages."""
        text = self.text.replace("\n", " ")
        shown = text if len(text) <= 60 else f"{text[:57]}..."
        extra = f" buttons={self.button_texts}" if self.button_texts else ""
        return f"#{self.message_id} {shown!r}{extra}"


@dataclass(frozen=True)
class SyncMessage(ChatMessage):
    """A chat message with blocking helpers."""

    client: EmulatorClient = field(repr=False, compare=False)

    def document_bytes(self) -> bytes:
        """Return the bytes of the document (or photo) the bot uploaded."""
        return self.client.file_bytes(self._require_file_id())

    def photo_bytes(self) -> bytes:
        """Return the bytes of the photo the bot uploaded."""
        return self.client.file_bytes(self._require_file_id())

    def refresh(self) -> SyncMessage:
        """Return the message as it is now."""
        return self.client.message(self.chat_id, self.message_id)


@dataclass(frozen=True)
class AsyncMessage(ChatMessage):
    """A chat message with awaitable helpers."""

    client: AsyncEmulatorClient = field(repr=False, compare=False)

    async def document_bytes(self) -> bytes:
        """Return the bytes of the document (or photo) the bot uploaded."""
        return await self.client.file_bytes(self._require_file_id())

    async def photo_bytes(self) -> bytes:
        """Return the bytes of the photo the bot uploaded."""
        return await self.client.file_bytes(self._require_file_id())

    async def refresh(self) -> AsyncMessage:
        """Return the message as it is now."""
        return await self.client.message(self.chat_id, self.message_id)


@dataclass(frozen=True)
class Press:
    """The callback query a button press created."""

    callback_query_id: str
    message_id: int
    data: str
    button_text: str


@dataclass(frozen=True)
class SendRecord:
    """One accepted send-type call."""

    method: str
    chat_id: int
    message_id: int
    t: float


@dataclass(frozen=True)
class ChatEvent:
    """One event in any chat of the bot, from the emulator's log of them all."""

    seq: int
    chat_id: int
    kind: str  # user_message, press, bot_message, edit, delete or callback_answer
    t: float  # when the emulator recorded it (its clock, seconds since the epoch)
    message: ChatMessage  # the message concerned, as it was when the log was read


@dataclass(frozen=True)
class EventPage:
    """Events after a sequence number, and where to continue from."""

    events: list[ChatEvent]
    next_after_seq: int


@dataclass(frozen=True)
class Stats:
    """What the emulator counted."""

    calls: dict[str, int]
    first_calls: dict[str, float]  # method -> emulator time of its first call
    sends: list[SendRecord]
    faults_served: dict[str, int]
    fault_log: list[JsonDict]
    rate_limited: int
    internal_errors: int
    updates: dict[str, JsonDict]

    @classmethod
    def from_json(cls, data: JsonDict) -> Stats:
        """Build from the emulator's JSON."""
        return cls(
            calls=dict(data["calls"]),
            first_calls=dict(data["first_calls"]),
            sends=[SendRecord(**send) for send in data["sends"]],
            faults_served=dict(data["faults_served"]),
            fault_log=list(data["fault_log"]),
            rate_limited=int(data["rate_limited"]),
            internal_errors=int(data["internal_errors"]),
            updates=dict(data["updates"]),
        )

    def sends_to(self, chat_id: int, methods: Sequence[str] = SEND_METHODS) -> list[SendRecord]:
        """Return accepted sends to one chat."""
        return [s for s in self.sends if s.chat_id == chat_id and s.method in methods]

    def max_sends_within(
        self,
        window: float = 1.0,
        *,
        chat_id: int | None = None,
        methods: Sequence[str] = SEND_METHODS,
    ) -> int:
        """Return the most accepted sends that fell inside any window of this many seconds."""
        times = sorted(
            s.t
            for s in self.sends
            if s.method in methods and (chat_id is None or s.chat_id == chat_id)
        )
        best = 0
        start = 0
        for end, stamp in enumerate(times):
            while stamp - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best


# ------------------------------------------------------------------- operations


def _matcher(
    contains: str | None,
    pattern: str | re.Pattern[str] | None,
    where: Callable[[ChatMessage], bool] | None,
) -> Callable[[ChatMessage], bool]:
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern

    def accept(message: ChatMessage) -> bool:
        if contains is not None and not message.contains(contains):
            return False
        if regex is not None and not regex.search(message.text):
            return False
        return where is None or where(message)

    return accept


def _describe(
    contains: str | None, pattern: str | re.Pattern[str] | None, where: object | None
) -> str:
    parts = []
    if contains is not None:
        parts.append(f"containing {contains!r}")
    if pattern is not None:
        parts.append(f"matching /{getattr(pattern, 'pattern', pattern)}/")
    if where is not None:
        parts.append("accepted by the where= predicate")
    return " and ".join(parts) or "of any kind"


def _wait_op(
    chat_id: int,
    bot: str | None,
    *,
    kinds: str,
    after_seq: int,
    after_message_id: int | None,
    message_id: int | None,
    accept: Callable[[JsonDict], bool],
    timeout: float,
    what: str,
) -> Op[JsonDict]:
    """Wait until an event of the given kinds is accepted; return its message record."""
    deadline = time.monotonic() + timeout
    cursor = after_seq
    anchor = after_message_id
    seen: list[str] = []
    while True:
        chunk = min(max(deadline - time.monotonic(), 0.0), _SERVER_WAIT_CHUNK)
        params = _clean(
            {
                "after_seq": cursor,
                "after_message_id": anchor,
                "message_id": message_id,
                "kinds": kinds,
                "timeout": round(chunk, 3),
                "bot": bot,
            }
        )
        reply = yield from _request(
            "GET", f"/_emu/chats/{chat_id}/events", params=params, wait=chunk
        )
        anchor = None
        for event in reply["events"]:
            record = event["message"]
            if accept(record):
                return dict(record)
            seen.append(ChatMessage(record).summary())
        cursor = int(reply["next_after_seq"])
        if time.monotonic() >= deadline:
            arrived = "; ".join(seen[-5:]) or "nothing"
            raise WaitTimeoutError(
                f"no {what} in chat {chat_id} within {timeout}s (saw: {arrived})"
            )


def _events_op(
    bot: str | None, after_seq: int, kinds: Iterable[str] | None, timeout: float, limit: int
) -> Op[EventPage]:
    """Return the events of every chat after a sequence number, waiting up to ``timeout``."""
    params = _clean(
        {
            "after_seq": after_seq,
            "kinds": ",".join(kinds) if kinds is not None else None,
            "timeout": round(timeout, 3),
            "limit": limit,
            "bot": bot,
        }
    )
    reply = yield from _request("GET", "/_emu/events", params=params, wait=timeout)
    return EventPage(
        events=[
            ChatEvent(
                seq=int(event["seq"]),
                chat_id=int(event["chat_id"]),
                kind=str(event["kind"]),
                t=float(event["t"]),
                message=ChatMessage(event["message"]),
            )
            for event in reply["events"]
        ],
        next_after_seq=int(reply["next_after_seq"]),
    )


def _silence_op(
    chat_id: int,
    bot: str | None,
    *,
    after_seq: int,
    accept: Callable[[JsonDict], bool],
    within: float,
) -> Op[None]:
    """Fail if a matching bot message arrives within the given time."""
    deadline = time.monotonic() + within
    cursor = after_seq
    while True:
        chunk = min(max(deadline - time.monotonic(), 0.0), _SERVER_WAIT_CHUNK)
        params = _clean(
            {
                "after_seq": cursor,
                "kinds": "bot_message",
                "timeout": round(chunk, 3),
                "bot": bot,
            }
        )
        reply = yield from _request(
            "GET", f"/_emu/chats/{chat_id}/events", params=params, wait=chunk
        )
        for event in reply["events"]:
            if accept(event["message"]):
                found = ChatMessage(event["message"]).summary()
                raise AssertionError(f"chat {chat_id} got an unexpected bot message: {found}")
        cursor = int(reply["next_after_seq"])
        if time.monotonic() >= deadline:
            return


class _UserCore:
    """State and operations shared by the sync and async user handles."""

    def __init__(self, info: JsonDict, bot: str | None) -> None:
        self.id = int(info["id"])
        self.first_name = str(info["first_name"])
        self.username: str | None = info.get("username")
        self.language_code: str | None = info.get("language_code")
        self.marker = int(info.get("seq", 0))
        self._bot = bot

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.first_name!r}>"

    def _send_op(
        self, text: str, reply_to: int | None, group_id: int | None = None
    ) -> Op[JsonDict]:
        body = _clean(
            {
                "text": text,
                "reply_to_message_id": reply_to,
                "bot": self._bot,
                "group_id": group_id,
            }
        )
        result = yield from _request("POST", f"/_emu/users/{self.id}/messages", body=body)
        self.marker = int(result["seq"])
        return dict(result["message"])

    def _send_media_op(self, kind: str, caption: str | None) -> Op[JsonDict]:
        body = _clean({"kind": kind, "caption": caption, "bot": self._bot})
        result = yield from _request("POST", f"/_emu/users/{self.id}/media", body=body)
        self.marker = int(result["seq"])
        return dict(result["message"])

    def _press_op(self, text: str | None, data: str | None, message_id: int | None) -> Op[Press]:
        body = _clean(
            {"text": text, "callback_data": data, "message_id": message_id, "bot": self._bot}
        )
        result = yield from _request("POST", f"/_emu/users/{self.id}/press", body=body)
        self.marker = int(result["seq"])
        return Press(
            callback_query_id=str(result["callback_query_id"]),
            message_id=int(result["message_id"]),
            data=str(result["data"]),
            button_text=str(result["button_text"]),
        )

    def _mark_op(self) -> Op[int]:
        info = yield from _request(
            "GET", f"/_emu/users/{self.id}", params=_clean({"bot": self._bot})
        )
        self.marker = int(info["seq"])
        return self.marker

    def _wait_message_op(
        self,
        contains: str | None,
        pattern: str | re.Pattern[str] | None,
        where: Callable[[ChatMessage], bool] | None,
        since: int | None,
        timeout: float,
    ) -> Op[JsonDict]:
        accept = _matcher(contains, pattern, where)

        def accept_any_version(record: JsonDict) -> bool:
            return any(accept(version) for version in ChatMessage(record).versions())

        return _wait_op(
            self.id,
            self._bot,
            kinds="bot_message",
            after_seq=0 if since is not None else self.marker,
            after_message_id=since,
            message_id=None,
            accept=accept_any_version,
            timeout=timeout,
            what=f"bot message {_describe(contains, pattern, where)}",
        )

    def _wait_edit_op(
        self,
        message_id: int,
        contains: str | None,
        where: Callable[[ChatMessage], bool] | None,
        timeout: float,
    ) -> Op[JsonDict]:
        accept = _matcher(contains, None, where)
        return _wait_op(
            self.id,
            self._bot,
            kinds="edit",
            after_seq=self.marker,
            after_message_id=None,
            message_id=message_id,
            accept=lambda record: accept(ChatMessage(record)),
            timeout=timeout,
            what=f"edit of message {message_id} {_describe(contains, None, where)}",
        )

    def _quiet_op(
        self, within: float, contains: str | None, where: Callable[[ChatMessage], bool] | None
    ) -> Op[None]:
        accept = _matcher(contains, None, where)
        return _silence_op(
            self.id,
            self._bot,
            after_seq=self.marker,
            accept=lambda record: accept(ChatMessage(record)),
            within=within,
        )

    def _messages_op(self, include_deleted: bool) -> Op[list[JsonDict]]:
        params = _clean(
            {"sender": "bot", "include_deleted": "1" if include_deleted else "0", "bot": self._bot}
        )
        result = yield from _request("GET", f"/_emu/chats/{self.id}/messages", params=params)
        return list(result)

    def _blocked_op(self, blocked: bool, notify: bool = True) -> Op[JsonDict]:
        action = "block" if blocked else "unblock"
        body: JsonDict = {"bot": self._bot}
        if not notify:
            body["notify"] = False
        result = yield from _request("POST", f"/_emu/users/{self.id}/{action}", body=_clean(body))
        return dict(result)

    def _answers_op(self) -> Op[list[JsonDict]]:
        params = _clean({"user_id": self.id, "bot": self._bot})
        result = yield from _request("GET", "/_emu/callback_answers", params=params)
        return list(result)

    def _actions_op(self) -> Op[list[JsonDict]]:
        params = _clean({"bot": self._bot})
        result = yield from _request("GET", f"/_emu/chats/{self.id}/actions", params=params)
        return list(result)


def _create_user_op(
    user_id: int,
    first_name: str,
    username: str | None,
    last_name: str | None,
    language_code: str | None,
    started: bool,
) -> Op[JsonDict]:
    body = {
        "id": user_id,
        "first_name": first_name,
        "username": username,
        "last_name": last_name,
        "language_code": language_code,
        "started": started,
    }
    result = yield from _request("POST", "/_emu/users", body=body)
    return dict(result)


def _fault_body(
    kind: str,
    retry_after: int,
    hold: float | None,
    delivered: bool,
    methods: Iterable[str] | None,
    chat_id: int | None,
) -> JsonDict:
    return _clean(
        {
            "kind": kind,
            "retry_after": retry_after,
            "hold_seconds": hold,
            "delivered": delivered,
            "methods": None if methods is None else list(methods),
            "chat_id": chat_id,
        }
    )


# ------------------------------------------------------------------- synchronous client


class SyncUser(_UserCore):
    """A Telegram user driven by blocking calls."""

    def __init__(self, client: EmulatorClient, info: JsonDict, bot: str | None) -> None:
        super().__init__(info, bot)
        self._client = client

    def send(self, text: str, *, reply_to: int | None = None) -> SyncMessage:
        """Send text to the bot (a leading /command gets a bot_command entity)."""
        return self._client.wrap(self._client.run(self._send_op(text, reply_to)))

    def send_media(self, kind: str, *, caption: str | None = None) -> SyncMessage:
        """Send a voice note, photo, sticker, video, video_note, document, location or contact."""
        return self._client.wrap(self._client.run(self._send_media_op(kind, caption)))

    def press(
        self, text: str | None = None, *, data: str | None = None, message_id: int | None = None
    ) -> Press:
        """Press an inline button by label or callback_data (default: latest message with it)."""
        return self._client.run(self._press_op(text, data, message_id))

    def mark(self) -> int:
        """Make later waits ignore everything that happened until now."""
        return self._client.run(self._mark_op())

    def wait_for_message(
        self,
        contains: str | None = None,
        *,
        pattern: str | re.Pattern[str] | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
        since: int | None = None,
        timeout: float = DEFAULT_WAIT,
    ) -> SyncMessage:
        """Wait for a bot message after the marker (or after message `since`) that matches."""
        op = self._wait_message_op(contains, pattern, where, since, timeout)
        return self._client.wrap(self._client.run(op))

    def wait_for_edit(
        self,
        message_id: int,
        *,
        contains: str | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
        timeout: float = DEFAULT_WAIT,
    ) -> SyncMessage:
        """Wait for an edit of the message after the marker; return the message as it is now."""
        op = self._wait_edit_op(message_id, contains, where, timeout)
        return self._client.wrap(self._client.run(op))

    def expect_no_message(
        self,
        within: float = 1.0,
        *,
        contains: str | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
    ) -> None:
        """Fail if the bot sends a (matching) message after the marker within the time."""
        self._client.run(self._quiet_op(within, contains, where))

    def messages(self, *, include_deleted: bool = False) -> list[SyncMessage]:
        """Return every message the bot sent to this user, oldest first."""
        return [self._client.wrap(r) for r in self._client.run(self._messages_op(include_deleted))]

    def last_message(self) -> SyncMessage | None:
        """Return the latest message the bot sent to this user."""
        messages = self.messages()
        return messages[-1] if messages else None

    def block(self, *, notify: bool = True) -> None:
        """Block the bot: its sends to this user now fail with Forbidden."""
        self._client.run(self._blocked_op(blocked=True, notify=notify))

    def unblock(self) -> None:
        """Unblock the bot."""
        self._client.run(self._blocked_op(blocked=False))

    def callback_answers(self) -> list[JsonDict]:
        """Return the bot's answers to this user's button presses."""
        return self._client.run(self._answers_op())

    def chat_actions(self) -> list[JsonDict]:
        """Return the chat actions (typing...) the bot sent to this user."""
        return self._client.run(self._actions_op())


class SyncFaults:
    """Fault injection through a blocking client."""

    def __init__(self, client: EmulatorClient) -> None:
        self._client = client

    def add(
        self,
        kind: str,
        *,
        retry_after: int = 1,
        hold: float | None = None,
        delivered: bool = True,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
        count: int = 1,
    ) -> JsonDict:
        """Queue one-shot faults: "429", "5xx" (or "500"/"502"/"503"/"504") or "timeout"."""
        body = _fault_body(kind, retry_after, hold, delivered, methods, chat_id)
        return self._client.run(_request("POST", "/_emu/faults", body={**body, "count": count}))

    def set_rate(
        self,
        rate: float,
        *,
        kinds: Sequence[str] = ("429", "5xx", "timeout"),
        seed: int | None = None,
        retry_after: int = 1,
        hold: float | None = None,
        delivered: bool = True,
    ) -> JsonDict:
        """Make this fraction of send-type calls fail with a random kind (reproducible seed)."""
        body = _fault_body("429", retry_after, hold, delivered, None, None)
        body.update(_clean({"rate": rate, "kinds": list(kinds), "seed": seed}))
        return self._client.run(_request("POST", "/_emu/faults/rate", body=body))

    def set_methods(self, methods: Iterable[str]) -> JsonDict:
        """Choose the Bot API methods faults apply to."""
        body = {"methods": list(methods)}
        return self._client.run(_request("POST", "/_emu/faults/methods", body=body))

    def set_hold(self, seconds: float) -> JsonDict:
        """Set how long a timeout fault holds its reply by default."""
        return self._client.run(_request("POST", "/_emu/faults/hold", body={"seconds": seconds}))

    def clear(self) -> JsonDict:
        """Drop queued faults and switch the random rate off."""
        return self._client.run(_request("DELETE", "/_emu/faults"))

    def state(self) -> JsonDict:
        """Return the fault configuration and queue."""
        return self._client.run(_request("GET", "/_emu/faults"))


class EmulatorClient:
    """Blocking client of the emulator's client API."""

    def __init__(self, root_url: str, *, bot: str | None = None) -> None:
        self._http = httpx.Client(
            base_url=root_url, timeout=_HTTP_TIMEOUT, trust_env=False, verify=_tls_context()
        )
        self._bot = bot
        self.faults = SyncFaults(self)

    def run(self, op: Op[T]) -> T:
        """Drive an operation to completion with blocking HTTP calls."""
        try:
            call = next(op)
            while True:
                response = self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.body,
                    timeout=_HTTP_TIMEOUT + call.wait,
                )
                call = op.send(_decode(call, response))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            op.close()

    def wrap(self, record: JsonDict) -> SyncMessage:
        """Turn a message record into a SyncMessage."""
        return SyncMessage(record, self)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> EmulatorClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def add_bot(
        self, token: str, username: str = "companion_bot", first_name: str = "Recovery Companion"
    ) -> int:
        """Register a bot token; return its id."""
        body = {"token": token, "username": username, "first_name": first_name}
        return int(self.run(_request("POST", "/_emu/bots", body=body))["id"])

    def create_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> SyncUser:
        """Create a Telegram user; started=False means they never opened the bot."""
        info = self.run(
            _create_user_op(user_id, first_name, username, last_name, language_code, started)
        )
        return SyncUser(self, info, self._bot)

    def user(self, user_id: int) -> SyncUser:
        """Return a handle on an existing user, marked at the present moment."""
        path = f"/_emu/users/{user_id}"
        info = self.run(_request("GET", path, params=_clean({"bot": self._bot})))
        return SyncUser(self, info, self._bot)

    def block(self, user_id: int) -> None:
        """Make the user block the bot."""
        self.user(user_id).block()

    def unblock(self, user_id: int) -> None:
        """Make the user unblock the bot."""
        self.user(user_id).unblock()

    def messages(
        self, chat_id: int, *, sender: str = "bot", include_deleted: bool = False
    ) -> list[SyncMessage]:
        """Return a chat's messages (sender: bot, user or all), oldest first."""
        params = _clean(
            {"sender": sender, "include_deleted": "1" if include_deleted else "0", "bot": self._bot}
        )
        records = self.run(_request("GET", f"/_emu/chats/{chat_id}/messages", params=params))
        return [self.wrap(r) for r in records]

    def message(self, chat_id: int, message_id: int) -> SyncMessage:
        """Return one message as it is now."""
        path = f"/_emu/chats/{chat_id}/messages/{message_id}"
        return self.wrap(self.run(_request("GET", path, params=_clean({"bot": self._bot}))))

    def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes of a file the bot uploaded."""
        data: bytes = self.run(_request("GET", f"/_emu/files/{file_id}", raw=True))
        return data

    def callback_answers(self, user_id: int | None = None) -> list[JsonDict]:
        """Return the bot's answerCallbackQuery calls, optionally for one user."""
        params = _clean({"user_id": user_id, "bot": self._bot})
        return list(self.run(_request("GET", "/_emu/callback_answers", params=params)))

    def commands(self) -> list[JsonDict]:
        """Return the command lists set with setMyCommands (per scope and language)."""
        params = _clean({"bot": self._bot})
        return list(self.run(_request("GET", "/_emu/commands", params=params)))

    def pending_updates(self) -> list[JsonDict]:
        """Return updates the bot has not confirmed yet."""
        params = _clean({"bot": self._bot})
        return list(self.run(_request("GET", "/_emu/updates", params=params)))

    def webhook(self) -> JsonDict:
        """Return the webhook's address, the posts made to it and its last error."""
        params = _clean({"bot": self._bot})
        return dict(self.run(_request("GET", "/_emu/webhook", params=params)))

    def repost_update(self, update_id: int) -> int:
        """Post a delivered update to the webhook again; return the HTTP status."""
        body = _clean({"bot": self._bot, "update_id": update_id})
        return int(self.run(_request("POST", "/_emu/webhook/repost", body=body))["status"])

    def events(
        self,
        *,
        after_seq: int = 0,
        kinds: Iterable[str] | None = None,
        timeout: float = 0.0,
        limit: int = 1000,
    ) -> EventPage:
        """Return events of every chat after ``after_seq``, waiting up to ``timeout`` for one."""
        return self.run(_events_op(self._bot, after_seq, kinds, timeout, limit))

    def set_rate_limit(
        self,
        *,
        enabled: bool = True,
        per_chat_per_second: int = 1,
        overall_per_second: int = 30,
    ) -> JsonDict:
        """Switch Telegram's flood limits on (429 with retry_after) or off."""
        body = {
            "enabled": enabled,
            "per_chat_per_second": per_chat_per_second,
            "overall_per_second": overall_per_second,
        }
        return dict(self.run(_request("POST", "/_emu/rate_limit", body=body)))

    def stats(self) -> Stats:
        """Return calls per method, accepted sends with times and faults served."""
        return Stats.from_json(self.run(_request("GET", "/_emu/stats")))

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.run(_request("POST", "/_emu/stats/reset"))

    def reset(self, *, keep_bots: bool = True) -> None:
        """Forget users, chats, files, updates, faults and stats."""
        self.run(_request("POST", "/_emu/reset", body={"keep_bots": keep_bots}))


# ------------------------------------------------------------------- asynchronous client


class AsyncUser(_UserCore):
    """A Telegram user driven by awaitable calls."""

    def __init__(self, client: AsyncEmulatorClient, info: JsonDict, bot: str | None) -> None:
        super().__init__(info, bot)
        self._client = client

    async def send(
        self, text: str, *, reply_to: int | None = None, group: int | None = None
    ) -> AsyncMessage:
        """Send text to the bot (a leading /command gets a bot_command entity), or write it in
        a group the bot is in (``group``: the group's id)."""
        return self._client.wrap(await self._client.run(self._send_op(text, reply_to, group)))

    async def send_media(self, kind: str, *, caption: str | None = None) -> AsyncMessage:
        """Send a voice note, photo, sticker, video, video_note, document, location or contact."""
        return self._client.wrap(await self._client.run(self._send_media_op(kind, caption)))

    async def press(
        self, text: str | None = None, *, data: str | None = None, message_id: int | None = None
    ) -> Press:
        """Press an inline button by label or callback_data (default: latest message with it)."""
        return await self._client.run(self._press_op(text, data, message_id))

    async def mark(self) -> int:
        """Make later waits ignore everything that happened until now."""
        return await self._client.run(self._mark_op())

    async def wait_for_message(
        self,
        contains: str | None = None,
        *,
        pattern: str | re.Pattern[str] | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
        since: int | None = None,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109 - same signature as the sync client
    ) -> AsyncMessage:
        """Wait for a bot message after the marker (or after message `since`) that matches."""
        op = self._wait_message_op(contains, pattern, where, since, timeout)
        return self._client.wrap(await self._client.run(op))

    async def wait_for_edit(
        self,
        message_id: int,
        *,
        contains: str | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109 - same signature as the sync client
    ) -> AsyncMessage:
        """Wait for an edit of the message after the marker; return the message as it is now."""
        op = self._wait_edit_op(message_id, contains, where, timeout)
        return self._client.wrap(await self._client.run(op))

    async def expect_no_message(
        self,
        within: float = 1.0,
        *,
        contains: str | None = None,
        where: Callable[[ChatMessage], bool] | None = None,
    ) -> None:
        """Fail if the bot sends a (matching) message after the marker within the time."""
        await self._client.run(self._quiet_op(within, contains, where))

    async def messages(self, *, include_deleted: bool = False) -> list[AsyncMessage]:
        """Return every message the bot sent to this user, oldest first."""
        records = await self._client.run(self._messages_op(include_deleted))
        return [self._client.wrap(r) for r in records]

    async def last_message(self) -> AsyncMessage | None:
        """Return the latest message the bot sent to this user."""
        messages = await self.messages()
        return messages[-1] if messages else None

    async def block(self, *, notify: bool = True) -> None:
        """Block the bot: its sends to this user now fail with Forbidden.

        ``notify=False``: the bot is not sent the my_chat_member update about it.
        """
        await self._client.run(self._blocked_op(blocked=True, notify=notify))

    async def unblock(self) -> None:
        """Unblock the bot."""
        await self._client.run(self._blocked_op(blocked=False))

    async def callback_answers(self) -> list[JsonDict]:
        """Return the bot's answers to this user's button presses."""
        return await self._client.run(self._answers_op())

    async def chat_actions(self) -> list[JsonDict]:
        """Return the chat actions (typing...) the bot sent to this user."""
        return await self._client.run(self._actions_op())


class AsyncFaults:
    """Fault injection through an async client."""

    def __init__(self, client: AsyncEmulatorClient) -> None:
        self._client = client

    async def add(
        self,
        kind: str,
        *,
        retry_after: int = 1,
        hold: float | None = None,
        delivered: bool = True,
        methods: Iterable[str] | None = None,
        chat_id: int | None = None,
        count: int = 1,
    ) -> JsonDict:
        """Queue one-shot faults: "429", "5xx" (or "500"/"502"/"503"/"504") or "timeout"."""
        body = _fault_body(kind, retry_after, hold, delivered, methods, chat_id)
        op = _request("POST", "/_emu/faults", body={**body, "count": count})
        return dict(await self._client.run(op))

    async def set_rate(
        self,
        rate: float,
        *,
        kinds: Sequence[str] = ("429", "5xx", "timeout"),
        seed: int | None = None,
        retry_after: int = 1,
        hold: float | None = None,
        delivered: bool = True,
    ) -> JsonDict:
        """Make this fraction of send-type calls fail with a random kind (reproducible seed)."""
        body = _fault_body("429", retry_after, hold, delivered, None, None)
        body.update(_clean({"rate": rate, "kinds": list(kinds), "seed": seed}))
        return dict(await self._client.run(_request("POST", "/_emu/faults/rate", body=body)))

    async def set_methods(self, methods: Iterable[str]) -> JsonDict:
        """Choose the Bot API methods faults apply to."""
        op = _request("POST", "/_emu/faults/methods", body={"methods": list(methods)})
        return dict(await self._client.run(op))

    async def set_hold(self, seconds: float) -> JsonDict:
        """Set how long a timeout fault holds its reply by default."""
        op = _request("POST", "/_emu/faults/hold", body={"seconds": seconds})
        return dict(await self._client.run(op))

    async def clear(self) -> JsonDict:
        """Drop queued faults and switch the random rate off."""
        return dict(await self._client.run(_request("DELETE", "/_emu/faults")))

    async def state(self) -> JsonDict:
        """Return the fault configuration and queue."""
        return dict(await self._client.run(_request("GET", "/_emu/faults")))


class AsyncEmulatorClient:
    """Async client of the emulator's client API (use with `async with` or call aclose())."""

    def __init__(self, root_url: str, *, bot: str | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=root_url, timeout=_HTTP_TIMEOUT, trust_env=False, verify=_tls_context()
        )
        self._bot = bot
        self.faults = AsyncFaults(self)

    async def run(self, op: Op[T]) -> T:
        """Drive an operation to completion with async HTTP calls."""
        try:
            call = next(op)
            while True:
                response = await self._http.request(
                    call.method,
                    call.path,
                    params=call.params,
                    json=call.body,
                    timeout=_HTTP_TIMEOUT + call.wait,
                )
                call = op.send(_decode(call, response))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            op.close()

    def wrap(self, record: JsonDict) -> AsyncMessage:
        """Turn a message record into an AsyncMessage."""
        return AsyncMessage(record, self)

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncEmulatorClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def add_bot(
        self, token: str, username: str = "companion_bot", first_name: str = "Recovery Companion"
    ) -> int:
        """Register a bot token; return its id."""
        body = {"token": token, "username": username, "first_name": first_name}
        return int((await self.run(_request("POST", "/_emu/bots", body=body)))["id"])

    async def create_user(
        self,
        user_id: int,
        first_name: str,
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        started: bool = True,
    ) -> AsyncUser:
        """Create a Telegram user; started=False means they never opened the bot."""
        info = await self.run(
            _create_user_op(user_id, first_name, username, last_name, language_code, started)
        )
        return AsyncUser(self, info, self._bot)

    async def create_group(self, group_id: int, title: str) -> AsyncUser:
        """Create a group chat (negative id) with the bot in it; read it like a user's chat."""
        info = await self.run(
            _request("POST", "/_emu/groups", body={"id": group_id, "title": title})
        )
        return AsyncUser(self, info, self._bot)

    async def user(self, user_id: int) -> AsyncUser:
        """Return a handle on an existing user, marked at the present moment."""
        path = f"/_emu/users/{user_id}"
        info = await self.run(_request("GET", path, params=_clean({"bot": self._bot})))
        return AsyncUser(self, info, self._bot)

    async def block(self, user_id: int) -> None:
        """Make the user block the bot."""
        await (await self.user(user_id)).block()

    async def unblock(self, user_id: int) -> None:
        """Make the user unblock the bot."""
        await (await self.user(user_id)).unblock()

    async def messages(
        self, chat_id: int, *, sender: str = "bot", include_deleted: bool = False
    ) -> list[AsyncMessage]:
        """Return a chat's messages (sender: bot, user or all), oldest first."""
        params = _clean(
            {"sender": sender, "include_deleted": "1" if include_deleted else "0", "bot": self._bot}
        )
        path = f"/_emu/chats/{chat_id}/messages"
        records = await self.run(_request("GET", path, params=params))
        return [self.wrap(r) for r in records]

    async def message(self, chat_id: int, message_id: int) -> AsyncMessage:
        """Return one message as it is now."""
        path = f"/_emu/chats/{chat_id}/messages/{message_id}"
        record = await self.run(_request("GET", path, params=_clean({"bot": self._bot})))
        return self.wrap(record)

    async def file_bytes(self, file_id: str) -> bytes:
        """Return the bytes of a file the bot uploaded."""
        data: bytes = await self.run(_request("GET", f"/_emu/files/{file_id}", raw=True))
        return data

    async def callback_answers(self, user_id: int | None = None) -> list[JsonDict]:
        """Return the bot's answerCallbackQuery calls, optionally for one user."""
        params = _clean({"user_id": user_id, "bot": self._bot})
        return list(await self.run(_request("GET", "/_emu/callback_answers", params=params)))

    async def commands(self) -> list[JsonDict]:
        """Return the command lists set with setMyCommands (per scope and language)."""
        params = _clean({"bot": self._bot})
        return list(await self.run(_request("GET", "/_emu/commands", params=params)))

    async def pending_updates(self) -> list[JsonDict]:
        """Return updates the bot has not confirmed yet."""
        params = _clean({"bot": self._bot})
        return list(await self.run(_request("GET", "/_emu/updates", params=params)))

    async def webhook(self) -> JsonDict:
        """Return the webhook's address, the posts made to it and its last error."""
        params = _clean({"bot": self._bot})
        return dict(await self.run(_request("GET", "/_emu/webhook", params=params)))

    async def repost_update(self, update_id: int) -> int:
        """Post a delivered update to the webhook again; return the HTTP status."""
        body = _clean({"bot": self._bot, "update_id": update_id})
        return int((await self.run(_request("POST", "/_emu/webhook/repost", body=body)))["status"])

    async def events(
        self,
        *,
        after_seq: int = 0,
        kinds: Iterable[str] | None = None,
        timeout: float = 0.0,  # noqa: ASYNC109 - the server holds the request, as for waits
        limit: int = 1000,
    ) -> EventPage:
        """Return events of every chat after ``after_seq``, waiting up to ``timeout`` for one."""
        return await self.run(_events_op(self._bot, after_seq, kinds, timeout, limit))

    async def set_rate_limit(
        self,
        *,
        enabled: bool = True,
        per_chat_per_second: int = 1,
        overall_per_second: int = 30,
    ) -> JsonDict:
        """Switch Telegram's flood limits on (429 with retry_after) or off."""
        body = {
            "enabled": enabled,
            "per_chat_per_second": per_chat_per_second,
            "overall_per_second": overall_per_second,
        }
        return dict(await self.run(_request("POST", "/_emu/rate_limit", body=body)))

    async def stats(self) -> Stats:
        """Return calls per method, accepted sends with times and faults served."""
        return Stats.from_json(await self.run(_request("GET", "/_emu/stats")))

    async def reset_stats(self) -> None:
        """Zero the counters."""
        await self.run(_request("POST", "/_emu/stats/reset"))

    async def reset(self, *, keep_bots: bool = True) -> None:
        """Forget users, chats, files, updates, faults and stats."""
        await self.run(_request("POST", "/_emu/reset", body={"keep_bots": keep_bots}))
