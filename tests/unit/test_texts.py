"""Message templates as data: loading, checking and rendering in each locale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from bot.texts import ContentError, content_root, load_texts, normalise_locale

GLOBALS = Settings(_env_file=None).crisis_context()  # type: ignore[call-arg]


def copy_messages(tmp_path: Path) -> Path:
    """Copy the real message folder so a test can break one file."""
    shutil.copytree(content_root() / "messages", tmp_path / "messages")
    return tmp_path


def test_every_real_template_renders_in_every_locale() -> None:
    """All shipped templates load, render with their samples and pass the HTML check."""
    texts = load_texts(content_root(), GLOBALS)
    assert "988" in texts.render("sos.resources", "en")
    assert "Emergencias" in texts.render("sos.resources", "es")


def test_variables_are_escaped_but_template_markup_is_kept() -> None:
    """A label cannot inject HTML; the template's own tags stay."""
    texts = load_texts(content_root(), GLOBALS)
    text = texts.render("alert.sos", label="<b>x</b>", at="now")
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>Urgent" in text


def test_missing_spanish_crisis_text_stops_loading(tmp_path: Path) -> None:
    """Crisis replies must exist in every locale; a missing one names the folder and key."""
    root = copy_messages(tmp_path)
    core = root / "messages" / "es" / "core.yaml"
    core.write_text(
        "\n".join(
            line for line in core.read_text().splitlines() if not line.startswith("crisis.visitor")
        )
        + "\n"
    )
    with pytest.raises(ContentError, match=r"es: missing required translations: crisis.visitor"):
        load_texts(root, GLOBALS)


def test_unsupported_html_stops_loading_and_names_the_file(tmp_path: Path) -> None:
    """A template with a tag Telegram does not support is refused, naming file and key."""
    root = copy_messages(tmp_path)
    extra = root / "messages" / "en" / "zz.yaml"
    extra.write_text('broken.tag: "<div>hello</div>"\n')
    with pytest.raises(ContentError, match=r"zz.yaml: broken.tag: tag <div>"):
        load_texts(root, GLOBALS)


def test_undefined_variable_stops_loading(tmp_path: Path) -> None:
    """StrictUndefined: a template using a variable with no sample fails at start-up."""
    root = copy_messages(tmp_path)
    (root / "messages" / "en" / "zz.yaml").write_text('needs.var: "Hi {{ who }}"\n')
    with pytest.raises(ContentError, match=r"needs.var: 'who' is undefined"):
        load_texts(root, GLOBALS)


def test_duplicate_key_across_files_is_refused(tmp_path: Path) -> None:
    """One key may be defined once per locale."""
    root = copy_messages(tmp_path)
    (root / "messages" / "en" / "zz.yaml").write_text('help.patient: "again"\n')
    with pytest.raises(ContentError, match=r"already defined"):
        load_texts(root, GLOBALS)


@pytest.mark.parametrize(
    ("code", "locale"), [("es-MX", "es"), ("es", "es"), ("en-GB", "en"), ("fr", "en"), (None, "en")]
)
def test_telegram_language_codes_map_to_supported_locales(code: str | None, locale: str) -> None:
    """Telegram's language code picks Spanish or falls back to English."""
    assert normalise_locale(code) == locale


@pytest.mark.parametrize("key", ["learn.warning", "learn.naloxone_steps"])
@pytest.mark.parametrize("locale", ["en", "es"])
def test_warning_and_naloxone_answers_use_the_clinics_emergency_number(
    key: str, locale: str
) -> None:
    """The warning and the naloxone steps name the configured emergency number, in each locale."""
    texts = load_texts(content_root(), {**GLOBALS, "emergency_number": "112"})
    text = texts.render(key, locale)
    assert "112" in text
    assert "911" not in text
    assert ("naloxone" if locale == "en" else "naloxona") in text.lower()
