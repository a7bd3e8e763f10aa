"""Telegram's rules for what a bot may send, applied to the calls the in-process peer recorded.

The emulator enforces the same rules on the wire; this module applies them to
``LocalBotApi.calls`` so that in-process tests (the fuzz run, the authorization sweep) can
check every reply without a socket: HTML that Telegram would refuse, texts and captions over
their limits, empty texts, keyboards Telegram would reject, and callback answers too long.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from tests.emulator.formatting import (
    EntityParseError,
    UnsupportedParseModeError,
    format_text,
    utf16_len,
)
from tests.emulator.server import (
    BUTTON_ACTIONS,
    MAX_BUTTONS,
    MAX_CALLBACK_ANSWER,
    MAX_CALLBACK_DATA,
    MAX_CAPTION,
    MAX_TEXT,
)
from tests.support.botapi import Call

MAX_MEDIA_GROUP = 10
TEXT_METHODS = frozenset({"sendMessage", "editMessageText"})
CAPTION_METHODS = frozenset({"sendPhoto", "sendDocument", "editMessageCaption"})
MARKUP_METHODS = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendPhoto", "sendDocument"}
)


def problems(calls: Iterable[Call]) -> list[str]:
    """Return what Telegram would refuse in these calls, one line each (empty when all pass)."""
    found: list[str] = []
    calls = list(calls)
    for call in calls:
        found.extend(f"{call.method}: {problem}" for problem in call_problems(call))
    answered = Counter(
        str(c.params.get("callback_query_id")) for c in calls if c.method == "answerCallbackQuery"
    )
    found.extend(
        f"answerCallbackQuery: query {query} answered {count} times (Telegram refuses a second)"
        for query, count in answered.items()
        if count > 1
    )
    return found


def call_problems(call: Call) -> list[str]:
    """Return what Telegram would refuse in one call."""
    params = call.params
    found: list[str] = []
    if call.method in TEXT_METHODS:
        found.extend(_formatted_problems(params, "text", MAX_TEXT, required=True))
    if call.method in CAPTION_METHODS:
        found.extend(_formatted_problems(params, "caption", MAX_CAPTION, required=False))
    if call.method in MARKUP_METHODS and params.get("reply_markup") is not None:
        found.extend(markup_problems(_json(params["reply_markup"])))
    if call.method == "sendMediaGroup":
        media = _json(params.get("media"))
        if not isinstance(media, list) or not 2 <= len(media) <= MAX_MEDIA_GROUP:
            found.append("an album has 2 to 10 items")
        else:
            for item in media:
                found.extend(_formatted_problems(item, "caption", MAX_CAPTION, required=False))
    if call.method == "answerCallbackQuery":
        text = params.get("text")
        if text is not None and utf16_len(str(text)) > MAX_CALLBACK_ANSWER:
            found.append(f"callback answer of {utf16_len(str(text))} characters")
    if call.method in TEXT_METHODS | CAPTION_METHODS | {"sendMediaGroup"} and not (
        "chat_id" in params or "inline_message_id" in params
    ):
        found.append("no chat_id")
    return found


def markup_problems(markup: Any) -> list[str]:
    """Return what Telegram would refuse in an inline keyboard."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return []  # a reply keyboard or its removal: not used by this bot, nothing to check
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        return ["inline_keyboard is not an array of arrays"]
    found: list[str] = []
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_BUTTONS:
        found.append(f"{len(buttons)} buttons (at most {MAX_BUTTONS})")
    for button in buttons:
        text = button.get("text") if isinstance(button, dict) else None
        if not isinstance(text, str) or not text.strip():
            found.append(f"a button without text: {button!r}")
            continue
        if not any(key in button for key in BUTTON_ACTIONS):
            found.append(f"button {text!r} does nothing")
        data = button.get("callback_data")
        if data is not None and not (
            isinstance(data, str) and 1 <= len(data.encode()) <= MAX_CALLBACK_DATA
        ):
            found.append(f"button {text!r} has callback data of {len(str(data).encode())} bytes")
    return found


def _formatted_problems(
    params: dict[str, Any], field: str, limit: int, *, required: bool
) -> list[str]:
    source = params.get(field)
    if source is None:
        return ["no text"] if required else []
    entities = params.get(f"{field}_entities") or params.get("entities")
    try:
        formatted = format_text(
            str(source),
            params.get("parse_mode"),
            _json(entities) if entities is not None else None,
        )
    except EntityParseError as error:
        return [f"can't parse entities: {error}"]
    except UnsupportedParseModeError:
        return [f"unsupported parse_mode {params.get('parse_mode')!r}"]
    if required and not formatted.text:
        return ["message text is empty"]
    if formatted.length > limit:
        return [f"{field} of {formatted.length} characters (limit {limit})"]
    return []


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
