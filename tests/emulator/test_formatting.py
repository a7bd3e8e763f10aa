"""Telegram's formatting rules as the emulator applies them, checked without a server."""

from __future__ import annotations

import pytest

from tests.emulator.formatting import (
    EntityParseError,
    bot_command_entities,
    format_text,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)
from tests.emulator.media import image_size, photo_sizes


def test_utf16_length_counts_astral_characters_twice() -> None:
    """An emoji outside the BMP counts as two code units, as Telegram's limits do."""
    assert utf16_len("abc") == 3
    assert utf16_len("\N{PILL}") == 2
    assert utf16_len("\N{LATIN SMALL LETTER E WITH ACUTE}") == 1


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("a<br>b", 'Unsupported start tag "br" at byte offset 1'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href=https://x.org>x</a>", "Unexpected end of name token at byte offset 13"),
        ("\N{PILL}<br>", 'Unsupported start tag "br" at byte offset 4'),
    ],
)
def test_html_errors_name_the_problem_and_its_byte_offset(html: str, error: str) -> None:
    """Malformed HTML is reported with tdlib's wording and a UTF-8 byte offset."""
    with pytest.raises(EntityParseError) as failure:
        parse_html(html)
    assert str(failure.value) == error


def test_html_entities_are_decoded_and_bare_ampersands_refused() -> None:
    """Named and numeric entities decode; a bare '&' must be written as '&amp;'."""
    assert parse_html("&lt;&gt;&amp;&quot;&#65;&#x42;").text == '<>&"AB'
    with pytest.raises(EntityParseError):
        parse_html("R&D")


def test_pre_with_code_language_becomes_one_pre_entity() -> None:
    """<pre><code class="language-x"> is a single pre entity carrying the language."""
    parsed = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert parsed.entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


def test_leading_and_trailing_whitespace_is_trimmed_with_entities_shifted() -> None:
    """Telegram strips surrounding whitespace, so entity offsets move with the text."""
    formatted = format_text("\n  <b>hi</b> \n", "HTML")
    assert formatted.text == "hi"
    assert formatted.entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_markdown_v2_parses_nested_entities_and_links() -> None:
    """MarkdownV2 bold, italic, underline, code and links become entities."""
    parsed = parse_markdown_v2(r"*bold _it_* __u__ `c\`` [site](https://example.org/a\)b)")
    assert parsed.text == "bold it u c` site"
    kinds = [(e["type"], e["offset"], e["length"]) for e in parsed.entities]
    assert kinds == [
        ("bold", 0, 7),
        ("italic", 5, 2),
        ("underline", 8, 1),
        ("code", 10, 2),
        ("text_link", 13, 4),
    ]
    assert parsed.entities[-1]["url"] == "https://example.org/a)b"


def test_markdown_v2_reports_an_unclosed_entity() -> None:
    """An unclosed MarkdownV2 entity is an error naming its type and offset."""
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity at byte offset 0"):
        parse_markdown_v2("*never closed")


def test_legacy_markdown_needs_closed_entities() -> None:
    """Legacy Markdown parses *bold* and fails on an unmatched underscore."""
    assert parse_markdown("*a* b").entities == [{"type": "bold", "offset": 0, "length": 1}]
    with pytest.raises(EntityParseError, match="byte offset 5"):
        parse_markdown("snake_case")


def test_bot_commands_are_found_where_telegram_finds_them() -> None:
    """Commands at the start or after whitespace get bot_command entities with @username."""
    assert bot_command_entities("/start abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert bot_command_entities("hi /help@companion_bot") == [
        {"type": "bot_command", "offset": 3, "length": 19}
    ]
    assert bot_command_entities("a/b and http://x/y") == []


def test_image_sniffing_reads_png_gif_and_jpeg_sizes() -> None:
    """Image headers yield their size; anything else is not an image."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x02\x80\x00\x00\x01\xe0" + b"\0" * 8
    gif = b"GIF89a\x10\x00\x20\x00" + b"\0" * 8
    jpeg = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x40\x00\x80" + b"\0" * 12
    assert image_size(png) == (640, 480)
    assert image_size(gif) == (16, 32)
    assert image_size(jpeg) == (128, 64)
    assert image_size(b"<svg/>") is None
    assert photo_sizes(640, 480) == [(90, 68), (320, 240), (640, 480)]
