"""An in-process Bot API peer: python-telegram-bot's own ``BaseRequest`` seam, answered locally.

Every call the bot makes is recorded; sends and edits return realistic Message objects so the
library's de-serialisation runs as it does against Telegram. No socket is opened, so a test
that would reach the network cannot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 7_000_000_001
BOT_USERNAME = "companion_test_bot"


@dataclass
class Call:
    """One Bot API call the bot made."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)  # uploads by part name


def _uploads(request_data: RequestData | None) -> dict[str, bytes]:
    """Return the bytes of every file uploaded with a call (documents, photos)."""
    if request_data is None:
        return {}
    files: dict[str, bytes] = {}
    for part, (_, content, _) in request_data.multipart_data.items():
        files[part] = content if isinstance(content, bytes) else content.read()
    return files


@dataclass
class LocalBotApi(BaseRequest):
    """Answers Bot API calls in process and records them."""

    calls: list[Call] = field(default_factory=list)
    fail_with: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    raise_on: dict[str, list[Exception]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        """No network, no read timeout."""
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Record the call and answer as Telegram would."""
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        self.calls.append(Call(name, params, _uploads(request_data)))
        if self.raise_on.get(name):
            raise self.raise_on[name].pop(0)
        if name in self.fail_with:
            status, body = self.fail_with.pop(name)
            return status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Recovery Companion",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if name.startswith("edit") and "inline_message_id" in params:
            return True  # an edit of a message sent in inline mode returns True, not a Message
        if name in {
            "sendMessage",
            "sendPhoto",
            "sendDocument",
            "editMessageText",
            "editMessageReplyMarkup",
        }:
            chat_id = int(params["chat_id"])
            message = {
                "message_id": int(params.get("message_id") or next(self._ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Recovery Companion"},
            }
            if "text" in params:
                message["text"] = params["text"]
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        if name == "sendMediaGroup":
            chat_id = int(params["chat_id"])
            media = params["media"]
            items = json.loads(media) if isinstance(media, str) else media
            return [
                {
                    "message_id": next(self._ids),
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "Recovery Companion"},
                    "media_group_id": "1",
                }
                for _ in items
            ]
        if name == "getUpdates":
            return []
        return True

    # Views used by assertions -------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Return the parameters of every sendMessage, optionally to one chat."""
        return [
            c.params
            for c in self.calls
            if c.method == "sendMessage"
            and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Return the texts sent, in order."""
        return [str(p["text"]) for p in self.sent(chat_id)]

    def last_text(self, chat_id: int) -> str:
        """Return the last text sent to a chat."""
        texts = self.texts(chat_id)
        assert texts, f"nothing was sent to chat {chat_id}"
        return texts[-1]

    def of(self, method: str) -> list[dict[str, Any]]:
        """Return the parameters of every call of a method."""
        return [c.params for c in self.calls if c.method == method]

    def buttons(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """Return (text, callback data) of every inline button in a sent message."""
        markup = params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [
            (button["text"], button.get("callback_data", ""))
            for row in markup.get("inline_keyboard", [])
            for button in row
        ]

    def clear(self) -> None:
        """Forget the calls made so far."""
        self.calls.clear()


class GatedBotApi(LocalBotApi):
    """The in-process Bot API, where sends to some chats wait until the test opens a gate.

    A held send stands for a slow or hanging request to Telegram: the call is recorded only
    once its gate opens, as Telegram would only then have received it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[int, asyncio.Event] = {}
        self.arrived: dict[int, asyncio.Event] = {}
        self.answered: dict[int, asyncio.Event] = {}

    def hold(self, chat_id: int) -> asyncio.Event:
        """Hold every send to ``chat_id`` from now on until the returned event is set."""
        self.arrived[chat_id] = asyncio.Event()
        return self.gates.setdefault(chat_id, asyncio.Event())

    def arrived_at(self, chat_id: int) -> asyncio.Event:
        """Return an event set once a send to ``chat_id`` arrived (since it was held, if it is)."""
        return self.arrived.setdefault(chat_id, asyncio.Event())

    def answered_in(self, chat_id: int) -> asyncio.Event:
        """Return an event set once something was sent to ``chat_id``."""
        return self.answered.setdefault(chat_id, asyncio.Event())

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Wait at the chat's gate, if it has one, then answer as Telegram would."""
        params = request_data.parameters if request_data is not None else {}
        chat_id = int(params.get("chat_id") or 0)
        self.arrived_at(chat_id).set()
        gate = self.gates.get(chat_id)
        if gate is not None:
            await gate.wait()
        answer = await super().do_request(url, method, request_data)
        self.answered_in(chat_id).set()
        return answer
