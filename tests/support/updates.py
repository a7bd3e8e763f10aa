"""Factories for incoming updates, shaped as Telegram sends them."""

from __future__ import annotations

import itertools
import time
from typing import Any

from telegram import Bot, Update

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def _user(user_id: int, language_code: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": f"User{user_id}",
        "language_code": language_code,
    }


def text_update(
    bot: Bot, user_id: int, text: str, *, language_code: str = "en", update_id: int | None = None
) -> Update:
    """Build a private-chat text message update (commands get their bot_command entity)."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": _user(user_id, language_code),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [
            {"type": "bot_command", "offset": 0, "length": len(text.split(maxsplit=1)[0])}
        ]
    data = {"update_id": update_id or next(_update_ids), "message": message}
    return Update.de_json(data, bot)


def callback_update(
    bot: Bot,
    user_id: int,
    data: str,
    *,
    message_id: int = 1,
    language_code: str = "en",
    text: str = "…",
) -> Update:
    """Build a button press on one of the bot's messages."""
    payload = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": _user(user_id, language_code),
            "chat_instance": f"ci{user_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": 1, "is_bot": True, "first_name": "Bot"},
                "text": text,
            },
        },
    }
    return Update.de_json(payload, bot)


_MEDIA: dict[str, Any] = {
    "voice": {"file_id": "voice-1", "file_unique_id": "uv1", "duration": 4},
    "photo": [{"file_id": "photo-1", "file_unique_id": "up1", "width": 90, "height": 90}],
    "sticker": {
        "file_id": "sticker-1",
        "file_unique_id": "us1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    },
    "video_note": {"file_id": "vn-1", "file_unique_id": "uvn1", "length": 240, "duration": 3},
    "document": {"file_id": "doc-1", "file_unique_id": "ud1", "file_name": "note.pdf"},
    "location": {"latitude": 40.7, "longitude": -74.0},
}


def media_update(
    bot: Bot, user_id: int, kind: str, *, caption: str | None = None, language_code: str = "en"
) -> Update:
    """Build a private-chat message carrying a voice note, photo, sticker, file or location."""
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private"},
        "from": _user(user_id, language_code),
        kind: _MEDIA[kind],
    }
    if caption is not None:
        message["caption"] = caption
    return Update.de_json({"update_id": next(_update_ids), "message": message}, bot)
