"""User-facing text: Jinja2 templates kept as data in ``content/messages/<locale>/*.yaml``.

Each YAML file maps dotted keys (``consent.screen``, ``button.agree``) to Jinja2 templates.
Message templates render to Telegram HTML with autoescaping, so a label or a name can never
inject markup; keys under ``button.`` render as plain text, since Telegram shows button labels
verbatim. Everything renders under ``StrictUndefined``: a missing variable is a bug, not a blank.

At start-up ``load_texts`` parses every template and renders each one with the sample context in
``content/messages/samples.yaml``; any problem stops start-up with a message naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, StrictUndefined, Template, TemplateError
from markupsafe import Markup

from bot import yamlfile
from bot.markup import check_telegram_html

DEFAULT_LOCALE = "en"
LOCALES = ("en", "es")
# Onboarding, consent, help and every crisis reply must exist in each locale: a patient in
# distress must never be answered in a language they did not choose.
REQUIRED_IN_EVERY_LOCALE = (
    "start.",
    "consent.",
    "help.",
    "sos.",
    "crisis.",
    "not_enrolled",
    "error.generic",
    "button.agree",
    "button.decline",
    "button.sos",
    # Safety messages (the first days of methadone, stopping naltrexone, disulfiram) and the
    # buttons under them reach every patient in their own language.
    "jit.",
    "button.article.",
)


# Button labels and command-menu descriptions are shown verbatim by Telegram, not as HTML; the
# digest's sentences, chart labels and CSV headers go into a report, a chart or a spreadsheet.
PLAIN_PREFIXES = ("button.", "menu.", "text.", "chart.", "csv.")
PLAIN_LIMIT = 64


class ContentError(Exception):
    """A content file is broken; the message names the file and the problem."""


def content_root() -> Path:
    """Return the folder holding articles and message templates."""
    packaged = Path(__file__).parent / "_content"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "content"


def normalise_locale(language_code: str | None) -> str:
    """Map a Telegram language code ("es-MX") to a supported locale."""
    if language_code:
        base = language_code.split("-")[0].lower()
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


class Texts:
    """Renders message and button templates in a locale, falling back to English."""

    def __init__(
        self,
        templates: Mapping[str, Mapping[str, tuple[str, Template]]],
        globals_: Mapping[str, Any],
    ) -> None:
        self._templates = templates
        self._globals = dict(globals_)

    def render(self, key: str, locale: str = DEFAULT_LOCALE, **context: Any) -> str:
        """Render a template to Telegram HTML (or plain text for ``button.`` keys)."""
        table = self._templates.get(locale, {})
        entry = table.get(key) or self._templates[DEFAULT_LOCALE].get(key)
        if entry is None:
            msg = f"no message template {key!r}"
            raise KeyError(msg)
        _, template = entry

        def part(other: str) -> Markup:
            # One template may embed another of the same locale (the crisis list, say).
            return Markup(self.render(other, locale, **context))  # noqa: S704 - our own template

        text = template.render({**self._globals, "part": part, **context})
        return text.strip()

    def button(self, key: str, locale: str = DEFAULT_LOCALE, **context: Any) -> str:
        """Render a button label."""
        return self.render(f"button.{key}", locale, **context)


def _environment(*, autoescape: bool) -> Environment:
    env = Environment(
        undefined=StrictUndefined,
        autoescape=autoescape,  # noqa: S701 - off only for button and menu labels (plain text)
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["html"] = Markup
    return env


def load_texts(root: Path, globals_: Mapping[str, Any]) -> Texts:
    """Load, compile and check every message template under ``root/messages``."""
    messages = root / "messages"
    html_env = _environment(autoescape=True)
    plain_env = _environment(autoescape=False)
    templates: dict[str, dict[str, tuple[str, Template]]] = {}
    for locale in LOCALES:
        folder = messages / locale
        if not folder.is_dir():
            msg = f"{folder}: missing message folder for locale {locale!r}"
            raise ContentError(msg)
        table: dict[str, tuple[str, Template]] = {}
        for path in sorted(folder.glob("*.yaml")):
            for key, source in _read_catalogue(path).items():
                if key in table:
                    msg = f"{path}: key {key!r} is already defined in {table[key][0]}"
                    raise ContentError(msg)
                env = plain_env if key.startswith(PLAIN_PREFIXES) else html_env
                try:
                    table[key] = (path.name, env.from_string(source))
                except TemplateError as exc:
                    msg = f"{path}: {key}: {exc}"
                    raise ContentError(msg) from exc
        templates[locale] = table
    _check_required(messages, templates)
    texts = Texts(templates, globals_)
    _check_renders(messages, texts, templates)
    return texts


def _read_catalogue(path: Path) -> dict[str, str]:
    try:
        data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        msg = f"{path}: not valid YAML: {exc}"
        raise ContentError(msg) from exc
    if not isinstance(data, dict):
        msg = f"{path}: must map message keys to templates"
        raise ContentError(msg)
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            msg = f"{path}: {key!r}: every key and template must be text"
            raise ContentError(msg)
    return data


def _check_required(
    messages: Path, templates: Mapping[str, Mapping[str, tuple[str, Template]]]
) -> None:
    english = templates[DEFAULT_LOCALE]
    for locale, table in templates.items():
        for key in table:
            if key not in english:
                msg = f"{messages / locale}: {key!r} has no English original"
                raise ContentError(msg)
        missing = [
            key for key in english if key.startswith(REQUIRED_IN_EVERY_LOCALE) and key not in table
        ]
        if missing:
            msg = f"{messages / locale}: missing required translations: {', '.join(missing)}"
            raise ContentError(msg)


def _check_renders(
    messages: Path, texts: Texts, templates: Mapping[str, Mapping[str, tuple[str, Template]]]
) -> None:
    samples_path = messages / "samples.yaml"
    samples: dict[str, dict[str, Any]] = {}
    if samples_path.exists():
        loaded = yamlfile.safe_load(samples_path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            msg = f"{samples_path}: must map message keys to sample variables"
            raise ContentError(msg)
        samples = loaded
    for locale, table in templates.items():
        for key, (filename, _) in table.items():
            try:
                text = texts.render(key, locale, **samples.get(key, {}))
            except TemplateError as exc:
                msg = f"{messages / locale / filename}: {key}: {exc} (see samples.yaml)"
                raise ContentError(msg) from exc
            if not text:
                msg = f"{messages / locale / filename}: {key}: renders to nothing"
                raise ContentError(msg)
            if key.startswith(PLAIN_PREFIXES):
                if len(text) > PLAIN_LIMIT:
                    msg = f"{messages / locale / filename}: {key}: longer than {PLAIN_LIMIT}"
                    raise ContentError(msg)
                continue
            try:
                # The same check the articles get: only Telegram's HTML, properly nested,
                # 1..4096 characters as Telegram counts them.
                check_telegram_html(text, where=f"{messages / locale / filename}: {key}")
            except ValueError as exc:
                raise ContentError(str(exc)) from exc
