"""Telegram's text formatting rules: parse modes, entities and UTF-16 lengths.

The Bot API measures text in UTF-16 code units after entity parsing and rejects malformed
markup with "can't parse entities: ...". This module reproduces those rules closely enough that
text which Telegram would refuse is refused here too. Where Telegram's own parser is lenient
about something its documentation forbids (a bare ``&`` in HTML), this module follows the
documentation, so the stricter behaviour catches the bug first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPACES = " \t\r\n\f\v"
_TRIMMED = " \t\r\n"
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_BOT_COMMAND = re.compile(r"(?<![^\s])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class EntityParseError(ValueError):
    """Raised when text is not valid markup for its parse mode."""


class UnsupportedParseModeError(ValueError):
    """Raised for a parse_mode that Telegram does not know."""


@dataclass(frozen=True)
class FormattedText:
    """Plain text plus the entities Telegram would report for it."""

    text: str
    entities: list[JsonDict] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Return the length in UTF-16 code units, the unit of every Telegram limit."""
        return utf16_len(self.text)


def utf16_len(text: str) -> int:
    """Return how many UTF-16 code units Telegram counts for the text."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_html_entity(text: str, start: int) -> tuple[str, int] | None:
    """Decode the entity at text[start] == '&'; return (character, next index) or None."""
    end = text.find(";", start + 1, start + 12)
    if end == -1:
        return None
    body = text[start + 1 : end]
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    code: int | None = None
    if re.fullmatch(r"#[0-9]{1,7}", body):
        code = int(body[1:])
    elif re.fullmatch(r"#[xX][0-9a-fA-F]{1,6}", body):
        code = int(body[2:], 16)
    if code is None or code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), end + 1


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_start: int
    byte_pos: int
    expandable: bool = False


class _Builder:
    """Accumulates output text and its UTF-16 position."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.utf16 = 0
        self.entities: list[JsonDict] = []

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.utf16 += utf16_len(chunk)

    def entity(self, kind: str, start: int, **extra: str) -> None:
        if self.utf16 > start:
            self.entities.append({"type": kind, "offset": start, "length": self.utf16 - start})
            self.entities[-1].update(extra)

    def result(self) -> FormattedText:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return FormattedText("".join(self.parts), ordered)


def _parse_html_attributes(text: str, i: int, tag: _OpenTag) -> int:
    """Parse attributes from text[i] up to the closing '>'; return the index after it."""
    n = len(text)
    begin = tag.byte_pos
    while True:
        while i < n and text[i] in _HTML_SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if text[i] == ">":
            return i + 1
        name_start = i
        while i < n and text[i] not in _HTML_SPACES and text[i] not in "=>":
            i += 1
        attribute = text[name_start:i].lower()
        if not attribute:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag.name}" at byte offset {begin}'
            )
        while i < n and text[i] in _HTML_SPACES:
            i += 1
        if i >= n or text[i] != "=":
            if tag.name == "blockquote" and attribute == "expandable":
                tag.expandable = True
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag.name}" at byte offset {begin}'
            )
        i += 1
        while i < n and text[i] in _HTML_SPACES:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag.name}" at byte offset {begin}')
        value_chars: list[str] = []
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded = _decode_html_entity(text, i)
                    if decoded is not None:
                        value_chars.append(decoded[0])
                        i = decoded[1]
                        continue
                value_chars.append(text[i])
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            i += 1
            value = "".join(value_chars)
        else:
            token_start = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            value = text[token_start:i].lower()
            if i < n and text[i] not in _HTML_SPACES and text[i] != ">":
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, i)}"
                )
        _apply_html_attribute(tag, attribute, value)


def _apply_html_attribute(tag: _OpenTag, attribute: str, value: str) -> None:
    if tag.name == "a" and attribute == "href":
        tag.argument = value
    elif tag.name == "code" and attribute == "class" and value.startswith("language-"):
        tag.argument = value.removeprefix("language-")
    elif tag.name == "span" and attribute == "class" and value.startswith("tg-"):
        tag.argument = value.removeprefix("tg-")
    elif tag.name == "tg-emoji" and attribute == "emoji-id":
        tag.argument = value
    elif tag.name == "blockquote" and attribute == "expandable":
        tag.expandable = True


def _close_html_tag(out: _Builder, tag: _OpenTag) -> None:
    if tag.name == "a":
        if tag.argument:
            out.entity("text_link", tag.utf16_start, url=tag.argument)
    elif tag.name == "blockquote":
        kind = "expandable_blockquote" if tag.expandable else "blockquote"
        out.entity(kind, tag.utf16_start)
    elif tag.name == "tg-emoji":
        if tag.argument:
            out.entity("custom_emoji", tag.utf16_start, custom_emoji_id=tag.argument)
    elif tag.name == "pre":
        language = ""
        last = out.entities[-1] if out.entities else None
        if (
            last is not None
            and last["type"] == "code"
            and last["offset"] == tag.utf16_start
            and last["offset"] + last["length"] == out.utf16
        ):
            out.entities.pop()
            language = str(last.get("language", ""))
        if language:
            out.entity("pre", tag.utf16_start, language=language)
        else:
            out.entity("pre", tag.utf16_start)
    elif tag.name == "code" and tag.argument:
        out.entity("code", tag.utf16_start, language=tag.argument)
    else:
        out.entity(_HTML_ENTITY_TYPES[tag.name], tag.utf16_start)


def parse_html(text: str) -> FormattedText:
    """Parse Telegram HTML into plain text and entities, or raise EntityParseError."""
    out = _Builder()
    stack: list[_OpenTag] = []
    n = len(text)
    i = 0
    plain_start = 0
    while i < n:
        char = text[i]
        if char not in "&<":
            i += 1
            continue
        if i > plain_start:
            out.add(text[plain_start:i])
        if char == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is None:
                raise EntityParseError(
                    f'Unsupported HTML entity at byte offset {_byte_offset(text, i)}: write "&" '
                    'as "&amp;"'
                )
            out.add(decoded[0])
            i = plain_start = decoded[1]
            continue
        begin = _byte_offset(text, i)
        if i + 1 < n and text[i + 1] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
            j = i + 2
            while j < n and text[j] not in _HTML_SPACES and text[j] != ">":
                j += 1
            end_name = text[i + 2 : j].lower()
            while j < n and text[j] in _HTML_SPACES:
                j += 1
            if j >= n or text[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
                    f'found "</{end_name}>"'
                )
            _close_html_tag(out, tag)
            i = plain_start = j + 1
            continue
        j = i + 1
        while j < n and text[j] not in _HTML_SPACES and text[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        name = text[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
        tag = _OpenTag(name, "", out.utf16, begin)
        i = plain_start = _parse_html_attributes(text, j, tag)
        if name == "span" and tag.argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
            )
        stack.append(tag)
    if n > plain_start:
        out.add(text[plain_start:n])
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


@dataclass
class _MdOpen:
    kind: str
    utf16_start: int
    byte_pos: int
    argument: str = ""


def _mdv2_reserved(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _mdv2_is_end(kind: str, text: str, i: int) -> bool:
    char = text[i]
    following = text[i + 1] if i + 1 < len(text) else ""
    ends = {
        "bold": char == "*",
        "italic": char == "_" and following != "_",
        "underline": char == "_" and following == "_",
        "strikethrough": char == "~",
        "spoiler": char == "|" and following == "|",
        "code": char == "`",
        "pre": text.startswith("```", i),
        "text_link": char == "]",
        "custom_emoji": char == "]",
    }
    return ends[kind]


def _mdv2_url(text: str, i: int) -> tuple[str, int] | None:
    """Read '(url)' at text[i]; return (url, index after ')') or None if absent."""
    if i >= len(text) or text[i] != "(":
        return None
    chars: list[str] = []
    j = i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text) and text[j + 1] in ")\\":
            j += 1
        chars.append(text[j])
        j += 1
    if j >= len(text):
        raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, i)}")
    return "".join(chars), j + 1


def _mdv2_open(text: str, i: int, out: _Builder) -> tuple[_MdOpen, int]:
    """Open the entity whose marker starts at text[i]; return it and the next index."""
    char = text[i]
    following = text[i + 1] if i + 1 < len(text) else ""
    begin = _byte_offset(text, i)
    simple = {"*": "bold", "~": "strikethrough", "[": "text_link"}
    if char in simple:
        return _MdOpen(simple[char], out.utf16, begin), i + 1
    if char == "_":
        if following == "_":
            return _MdOpen("underline", out.utf16, begin), i + 2
        return _MdOpen("italic", out.utf16, begin), i + 1
    if char == "|" and following == "|":
        return _MdOpen("spoiler", out.utf16, begin), i + 2
    if char == "!" and following == "[":
        return _MdOpen("custom_emoji", out.utf16, begin), i + 2
    if char == "`":
        if text.startswith("```", i):
            j = i + 3
            newline = text.find("\n", j)
            language = ""
            if newline != -1 and text[j:newline].strip() and " " not in text[j:newline].strip():
                language = text[j:newline].strip()
                j = newline + 1
            return _MdOpen("pre", out.utf16, begin, language), j
        return _MdOpen("code", out.utf16, begin), i + 1
    raise _mdv2_reserved(char)


def parse_markdown_v2(text: str) -> FormattedText:
    """Parse MarkdownV2 into plain text and entities, or raise EntityParseError."""
    out = _Builder()
    stack: list[_MdOpen] = []
    quote_start: int | None = None
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        top = stack[-1] if stack else None
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            continue
        if top is not None and top.kind in {"code", "pre"} and char != "`":
            out.add(char)
            i += 1
            continue
        if char == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        if char == ">" and (i == 0 or text[i - 1] == "\n") and not stack:
            if quote_start is None:
                quote_start = out.utf16
            i += 1
            continue
        if char not in _MDV2_RESERVED:
            out.add(char)
            i += 1
            continue
        if top is not None and _mdv2_is_end(top.kind, text, i):
            stack.pop()
            i += {"pre": 3, "underline": 2, "spoiler": 2}.get(top.kind, 1)
            if top.kind in {"text_link", "custom_emoji"}:
                link = _mdv2_url(text, i)
                if link is None:
                    raise _mdv2_reserved("]")
                target, i = link
                if top.kind == "text_link":
                    out.entity("text_link", top.utf16_start, url=target)
                else:
                    emoji_id = target.removeprefix("tg://emoji?id=")
                    out.entity("custom_emoji", top.utf16_start, custom_emoji_id=emoji_id)
            elif top.kind == "pre" and top.argument:
                out.entity("pre", top.utf16_start, language=top.argument)
            else:
                out.entity(top.kind, top.utf16_start)
            continue
        opened, i = _mdv2_open(text, i, out)
        stack.append(opened)
    if stack:
        kind = _MDV2_TYPE_NAMES[stack[-1].kind]
        raise EntityParseError(
            f"Can't find end of {kind} entity at byte offset {stack[-1].byte_pos}"
        )
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    return out.result()


def parse_markdown(text: str) -> FormattedText:
    """Parse legacy Markdown into plain text and entities, or raise EntityParseError."""
    out = _Builder()
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        begin = _byte_offset(text, i)
        start = out.utf16
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            body = text[i + 3 : end]
            language = ""
            first, sep, rest = body.partition("\n")
            if sep and first.strip() and " " not in first.strip():
                language, body = first.strip(), rest
            out.add(body)
            if language:
                out.entity("pre", start, language=language)
            else:
                out.entity("pre", start)
            i = end + 3
            continue
        closing = "]" if char == "[" else char
        end = text.find(closing, i + 1)
        if end == -1:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        out.add(text[i + 1 : end])
        i = end + 1
        if char == "[":
            if i < n and text[i] == "(":
                url_end = text.find(")", i + 1)
                if url_end == -1:
                    raise EntityParseError(
                        f"Can't find end of the entity starting at byte offset {begin}"
                    )
                out.entity("text_link", start, url=text[i + 1 : url_end])
                i = url_end + 1
            continue
        kind = {"_": "italic", "*": "bold", "`": "code"}[char]
        out.entity(kind, start)
    return out.result()


def trim(formatted: FormattedText) -> FormattedText:
    """Strip leading and trailing whitespace as Telegram does, keeping entities aligned."""
    text = formatted.text
    stripped = text.strip(_TRIMMED)
    if stripped == text:
        return formatted
    left = utf16_len(text[: len(text) - len(text.lstrip(_TRIMMED))])
    new_length = utf16_len(stripped)
    entities: list[JsonDict] = []
    for entity in formatted.entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, new_length)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return FormattedText(stripped, entities)


def format_text(
    text: str, parse_mode: str | None, entities: list[JsonDict] | None = None
) -> FormattedText:
    """Apply a parse mode (or explicit entities) and trim, as Telegram does before storing."""
    mode = (parse_mode or "").strip().lower()
    if entities is not None and isinstance(entities, list):
        formatted = FormattedText(text, [dict(e) for e in entities if isinstance(e, dict)])
    elif mode == "":
        formatted = FormattedText(text)
    elif mode == "html":
        formatted = parse_html(text)
    elif mode == "markdownv2":
        formatted = parse_markdown_v2(text)
    elif mode == "markdown":
        formatted = parse_markdown(text)
    else:
        raise UnsupportedParseModeError(parse_mode)
    return trim(formatted)


def bot_command_entities(text: str) -> list[JsonDict]:
    """Return the bot_command entities Telegram attaches to a user's text."""
    entities: list[JsonDict] = []
    for match in _BOT_COMMAND.finditer(text):
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    return entities
