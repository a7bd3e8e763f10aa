"""Telegram's HTML subset: the Markdown our content is written in, rendered to it and checked.

Articles are written in a small Markdown subset (``## `` subheadings, bullets, bold, italic,
links to web pages and to other articles, ``<!-- page -->`` page breaks); ``render_pages``
turns a body into Telegram HTML, one string per page. ``check_telegram_html`` checks any
message, an article page or a message template, against the tags Telegram accepts and its
4,096-character limit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

MAX_MESSAGE_LENGTH = 4096
PAGE_BREAK = "<!-- page -->"

_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_HREF = re.compile(r"""\s+href=(?:"([^"]*)"|'([^']*)')\s*""")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_TELEGRAM_TAGS = frozenset({"b", "i", "u", "s", "a", "code", "pre", "blockquote"})
_LINK_SCHEMES = ("http://", "https://")


def render_pages(body: str, titles: Mapping[str, str], *, see_also: str = "see") -> list[str]:
    """Render the Markdown subset of an article body to Telegram HTML, one string per page.

    titles maps article ids to titles for `article:` links; raise ValueError on a fault.
    """
    chunks = re.split(rf"^[ \t]*{re.escape(PAGE_BREAK)}[ \t]*$", body, flags=re.MULTILINE)
    pages: list[str] = []
    for number, chunk in enumerate(chunks, start=1):
        if not chunk.strip():
            raise ValueError(f"page {number}: the page is empty")
        try:
            pages.append(_render_page(chunk, titles, see_also))
        except ValueError as error:
            raise ValueError(f"page {number}: {error}") from error
    return pages


def _render_page(text: str, titles: Mapping[str, str], see_also: str) -> str:
    blocks: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines: list[str] = []
        paragraph: list[str] = []

        def flush(paragraph: list[str] = paragraph, lines: list[str] = lines) -> None:
            if paragraph:
                lines.append(render_inline(" ".join(paragraph), titles, see_also=see_also))
                paragraph.clear()

        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("## "):
                flush()
                lines.append(f"<b>{render_inline(line[3:].strip(), titles, see_also=see_also)}</b>")
            elif line.startswith("#"):
                raise ValueError(f"only '## ' subheadings are supported: {line[:40]!r}")
            elif line.startswith(("- ", "* ")):
                flush()
                lines.append(f"• {render_inline(line[2:].strip(), titles, see_also=see_also)}")
            elif raw[:1].isspace() and lines and lines[-1].startswith("• ") and not paragraph:
                # An indented line continues the bullet above it.
                lines[-1] = f"{lines[-1]} {render_inline(line, titles, see_also=see_also)}"
            else:
                paragraph.append(line)
        flush()
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_inline(text: str, titles: Mapping[str, str], *, see_also: str = "see") -> str:
    """Render bold, italic and links in one line of escaped text to Telegram HTML."""
    escaped = html.escape(text, quote=False)
    links: list[str] = []

    def link(match: re.Match[str]) -> str:
        label = _emphasis(match.group(1))
        target = match.group(2)
        if target.startswith("article:"):
            other = target.removeprefix("article:")
            if other not in titles:
                raise ValueError(f"link to article:{other}: no article with that id")
            title = html.escape(titles[other], quote=False)
            links.append(f"{label} ({html.escape(see_also, quote=False)} “{title}”)")
        elif target.startswith(_LINK_SCHEMES) and len(target) > len("https://"):
            links.append(f'<a href="{target.replace(chr(34), "&quot;")}">{label}</a>')
        else:
            raise ValueError(f"link target {target!r} must be http(s):// or article:<id>")
        return f"\x00{len(links) - 1}\x00"

    with_placeholders = _LINK.sub(link, escaped)
    if "](" in with_placeholders:
        raise ValueError(
            f"malformed link in {_shorten(with_placeholders)!r}; write [text](https://...) "
            "with no spaces or parentheses in the address (use %28 and %29)"
        )
    rendered = _emphasis(with_placeholders)
    return _PLACEHOLDER.sub(lambda m: links[int(m.group(1))], rendered)


def _emphasis(text: str) -> str:
    bold = _BOLD.sub(r"<b>\1</b>", text)
    if "**" in bold:
        raise ValueError(f"unbalanced '**' in {_shorten(text)!r}")
    return _ITALIC.sub(r"<i>\1</i>", bold)


def _shorten(text: str) -> str:
    plain = _PLACEHOLDER.sub("[link]", text)
    return plain if len(plain) <= 50 else f"{plain[:47]}..."


def telegram_length(text: str) -> int:
    """Return the length Telegram counts (UTF-16 code units) for a plain text."""
    return len(text.encode("utf-16-le")) // 2


def check_telegram_html(message: str, *, where: str = "message") -> str:
    """Check a message uses only Telegram's HTML subset, properly nested, within 1..4096.

    Return the plain text Telegram would show; raise ValueError naming the problem.
    """
    stack: list[str] = []
    plain: list[str] = []
    position = 0
    for match in _TAG.finditer(message):
        plain.append(_check_text(message[position : match.start()], where))
        position = match.end()
        closing, tag, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if tag not in _TELEGRAM_TAGS:
            raise ValueError(f"{where}: tag <{tag}> is not supported by Telegram")
        if closing:
            if attributes.strip():
                raise ValueError(f"{where}: closing tag </{tag}> has attributes")
            if not stack or stack[-1] != tag:
                expected = f"</{stack[-1]}>" if stack else "no closing tag"
                raise ValueError(f"{where}: </{tag}> found where {expected} was expected")
            stack.pop()
            continue
        if tag == "a":
            href = _HREF.fullmatch(attributes)
            url = html.unescape((href.group(1) or href.group(2) or "") if href else "")
            if not url.startswith((*_LINK_SCHEMES, "tg://")):
                raise ValueError(f"{where}: <a> needs one http(s) href attribute")
            if "a" in stack:
                raise ValueError(f"{where}: links cannot be nested")
        elif attributes.strip() and tag not in {"code", "pre", "blockquote"}:
            raise ValueError(f"{where}: tag <{tag}> cannot have attributes")
        stack.append(tag)
    plain.append(_check_text(message[position:], where))
    if stack:
        raise ValueError(f"{where}: <{stack[-1]}> is never closed")
    text = "".join(plain)
    length = telegram_length(text.strip())
    if length == 0:
        raise ValueError(f"{where}: the page has no visible text")
    if length > MAX_MESSAGE_LENGTH:
        raise ValueError(
            f"{where}: {length} characters after formatting; the Telegram limit is "
            f"{MAX_MESSAGE_LENGTH}"
        )
    return text


def _check_text(segment: str, where: str) -> str:
    if "<" in segment or ">" in segment:
        raise ValueError(f"{where}: a bare '<' or '>' must be written &lt; or &gt;")
    bare = _ENTITY.sub("", segment)
    if "&" in bare:
        raise ValueError(f"{where}: a bare '&' or an unsupported entity; write &amp;")
    return html.unescape(segment)


def plain_body(body: str) -> str:
    """Return the words of a Markdown body: link texts kept, targets and markup dropped.

    A placeholder such as {{emergency_number}} is left as its words ("emergency number"): the
    index holds what the article is about, not one clinic's numbers.
    """
    without_links = _LINK.sub(lambda m: m.group(1), body.replace(PAGE_BREAK, "\n"))
    return re.sub(r"[*_#{}]+", " ", without_links)
