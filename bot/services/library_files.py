"""Reading the library's files: articles, topics and the lexicon, checked at start-up.

Articles are Markdown files with YAML front matter, one folder per language under the articles
folder. ``en/`` holds the originals beside ``topics.yaml`` and ``lexicon.yaml``; a translation
folder (``es/``) holds versions of some originals under the same file names, with its own
``topics.yaml``. Everything is checked once at start-up; any problem raises ContentError naming
the file and the problem, so a broken article stops the bot instead of reaching a patient.
Pages are rendered to the HTML subset Telegram accepts and checked against its limits, with the
clinic's numbers filled in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

import yaml

from bot import yamlfile
from bot.markup import check_telegram_html, plain_body, render_pages
from bot.services.lexicon import Lexicon, LexiconError
from bot.services.library import (
    ARTICLE_KINDS,
    CONTACT_IN_PAGE,
    CONTACT_PLACEHOLDERS,
    DTMS,
    SOURCE_LOCALE,
    Article,
    ArticleKind,
    ArticleWording,
    Library,
    Topic,
    fill_contacts,
)
from bot.texts import content_root

TOPICS_FILE = "topics.yaml"
LEXICON_FILE = "lexicon.yaml"
# content/ in a checkout, bot/_content once installed from the wheel.
BUNDLED_ARTICLES_DIR = content_root() / "articles" / SOURCE_LOCALE

_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_REQUIRED_FIELDS = (
    "id",
    "title",
    "topic",
    "kind",
    "summary",
    "keywords",
    "applies_to",
    "sources",
    "version",
    "updated_on",
)
_OPTIONAL_FIELDS = ("related", "reviewed_on", "reviewed_by")
# A translation says which version of the original it translates, so a newer original shows.
_TRANSLATION_FIELD = "translated_from_version"
# What a translation must keep exactly as the original has it.
_SHARED_FIELDS = ("topic", "kind", "applies_to", "sources", "related")
_CONTACT = re.compile(r"\{\{(.*?)\}\}")


class ContentError(Exception):
    """Content on disk is invalid; the message names the file and the problem."""


def load_library(
    root: Path,
    *,
    wording: Mapping[str, ArticleWording],
    contacts: Mapping[str, Mapping[str, str]] | None = None,
    lexicon_path: Path | None = None,
) -> Library:
    """Load, validate and render every article under root; raise ContentError on a fault.

    root holds a folder per language: ``en/`` (the originals) and, optionally, a folder per
    other language in wording, which maps each language the bot speaks to the words the library
    adds to its articles. contacts, when given, maps each language to the value of every
    placeholder; pages are checked against Telegram's limits with those values filled in.
    The lexicon is read from lexicon_path, else from ``en/``, else the bundled one.
    """
    if SOURCE_LOCALE not in wording:
        msg = f"wording must include the source language {SOURCE_LOCALE!r}"
        raise ValueError(msg)
    for locale in wording:
        if contacts is not None and not set(CONTACT_PLACEHOLDERS) <= set(contacts.get(locale, {})):
            msg = f"contacts for {locale!r} must give {', '.join(CONTACT_PLACEHOLDERS)}"
            raise ValueError(msg)
    english_dir = root / SOURCE_LOCALE
    if lexicon_path is None:
        local = english_dir / LEXICON_FILE
        lexicon_path = local if local.exists() else BUNDLED_ARTICLES_DIR / LEXICON_FILE
    lexicon = load_lexicon(lexicon_path)
    _check_language_folders(root, wording)
    originals_topics = _load_topics(english_dir / TOPICS_FILE)
    topic_ids = [topic.id for topic in originals_topics]
    originals = _parse_folder(english_dir, SOURCE_LOCALE, set(topic_ids), lexicon)
    if not originals:
        raise ContentError(f"{english_dir}: no articles (*.md) found")
    by_id = {draft.meta.id: draft for draft in originals}
    topics: dict[str, list[Topic]] = {SOURCE_LOCALE: originals_topics}
    drafts = list(originals)
    for locale in wording:
        if locale == SOURCE_LOCALE:
            continue
        folder = root / locale
        if not folder.is_dir():
            topics[locale] = originals_topics
            continue
        topics[locale] = _load_translated_topics(folder / TOPICS_FILE, topic_ids)
        translations = _parse_folder(folder, locale, set(topic_ids), lexicon)
        for draft in translations:
            _check_translation(draft, by_id.get(draft.meta.id))
        drafts.extend(translations)
    english_titles = {draft.meta.id: draft.meta.title for draft in originals}
    titles = {
        locale: english_titles | {d.meta.id: d.meta.title for d in drafts if d.locale == locale}
        for locale in wording
    }
    articles = [
        draft.finish(
            titles[draft.locale],
            wording[draft.locale],
            None if contacts is None else contacts[draft.locale],
        )
        for draft in drafts
    ]
    return Library(topics, articles, lexicon, contacts=contacts)


def load_lexicon(path: Path) -> Lexicon:
    """Read and validate a lexicon file; raise ContentError naming the file on a fault."""
    data = _read_yaml(path)
    try:
        return Lexicon.from_data(data)
    except LexiconError as error:
        raise ContentError(f"{path}: {error}") from error


@cache
def bundled_lexicon() -> Lexicon:
    """Return the lexicon shipped with the content (read once)."""
    return load_lexicon(BUNDLED_ARTICLES_DIR / LEXICON_FILE)


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else str(problem)


def _check_language_folders(root: Path, languages: Iterable[str]) -> None:
    """Refuse a folder of articles in a language the bot does not speak (it would be ignored)."""
    if not root.is_dir():
        raise ContentError(f"{root}: no such folder of articles")
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and folder.name not in languages and any(folder.glob("*.md")):
            raise ContentError(
                f"{folder}: articles in a language the bot does not speak "
                f"(it speaks {', '.join(languages)})"
            )


def _read_yaml(path: Path) -> object:
    try:
        return yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ContentError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: invalid YAML: {_yaml_problem(error)}") from error


def _load_topics(path: Path) -> list[Topic]:
    data = _read_yaml(path)
    if not isinstance(data, list) or not data:
        raise ContentError(f"{path}: must be a non-empty list of {{id, title, description}}")
    topics: list[Topic] = []
    for number, entry in enumerate(data, start=1):
        where = f"{path}: topic {number}"
        if not isinstance(entry, dict):
            raise ContentError(f"{where}: must be a mapping with id, title, description")
        extra = sorted(set(map(str, entry)) - {"id", "title", "description"})
        if extra:
            raise ContentError(f"{where}: unknown field(s) {', '.join(extra)}")
        values = [entry.get(key) for key in ("id", "title", "description")]
        for key, value in zip(("id", "title", "description"), values, strict=True):
            if not isinstance(value, str) or not value.strip():
                raise ContentError(f"{where}: {key}: a non-empty string is required")
        topic = Topic(*(str(value).strip() for value in values))
        if not _ID.fullmatch(topic.id):
            raise ContentError(f"{where}: id: {topic.id!r} must be lowercase letters, digits, -")
        if any(existing.id == topic.id for existing in topics):
            raise ContentError(f"{where}: id: {topic.id!r} is used twice")
        topics.append(topic)
    return topics


def _load_translated_topics(path: Path, original_ids: Sequence[str]) -> list[Topic]:
    """Read a translation's topics: every original topic once, shown in the original order."""
    translated = {topic.id: topic for topic in _load_topics(path)}
    unknown = sorted(set(translated) - set(original_ids))
    if unknown:
        raise ContentError(
            f"{path}: topic(s) {', '.join(unknown)} not in the original {TOPICS_FILE}"
        )
    missing = [topic_id for topic_id in original_ids if topic_id not in translated]
    if missing:
        raise ContentError(f"{path}: topic(s) {', '.join(missing)} not translated")
    return [translated[topic_id] for topic_id in original_ids]


@dataclass(frozen=True, slots=True)
class _Meta:
    id: str
    title: str
    topic: str
    kind: ArticleKind
    summary: str
    keywords: tuple[str, ...]
    applies_to: tuple[str, ...]
    sources: tuple[str, ...]
    version: str
    updated_on: date
    reviewed_on: date | None
    reviewed_by: str | None
    translated_from_version: str | None
    related: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Draft:
    path: Path
    locale: str
    meta: _Meta
    body: str

    def finish(
        self,
        titles: Mapping[str, str],
        wording: ArticleWording,
        contacts: Mapping[str, str] | None,
    ) -> Article:
        meta = self.meta
        for other in meta.related:
            if other not in titles:
                raise ContentError(f"{self.path}: related: no article with id {other!r}")
            if other == meta.id:
                raise ContentError(f"{self.path}: related: an article cannot relate to itself")
        try:
            pages = render_pages(self.body, titles, see_also=wording.see_also)
            footer = wording.medication_footer.strip()
            if meta.kind == "medication" and footer:
                pages[-1] = f"{pages[-1]}\n\n{footer}"
            for number, page in enumerate(pages, start=1):
                shown = page if contacts is None else fill_contacts(page, contacts)
                check_telegram_html(shown, where=f"page {number}")
        except ValueError as error:
            raise ContentError(f"{self.path}: {error}") from error
        return Article(
            id=meta.id,
            locale=self.locale,
            title=meta.title,
            topic=meta.topic,
            kind=meta.kind,
            summary=meta.summary,
            keywords=meta.keywords,
            applies_to=meta.applies_to,
            sources=meta.sources,
            version=meta.version,
            updated_on=meta.updated_on,
            reviewed_on=meta.reviewed_on,
            reviewed_by=meta.reviewed_by,
            translated_from_version=meta.translated_from_version,
            related=meta.related,
            pages=tuple(pages),
            path=self.path,
            search_body=plain_body(self.body),
        )


def _split_front_matter(path: Path) -> tuple[object, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ContentError(f"{path}: cannot read: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise ContentError(f"{path}: not valid UTF-8") from error
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        raise ContentError(f"{path}: front matter: the file must start with a '---' line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise ContentError(f"{path}: front matter: no closing '---' line") from None
    try:
        meta = yamlfile.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: front matter: invalid YAML: {_yaml_problem(error)}") from error
    return meta, "\n".join(lines[end + 1 :])


def _text(data: Mapping[str, object], key: str, where: Path) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ContentError(f"{where}: {key}: a non-empty string is required")
    text = " ".join(value.split())
    if "{{" in text or "}}" in text:
        raise ContentError(f"{where}: {key}: placeholders are allowed in the body only")
    return text


def _strings(data: Mapping[str, object], key: str, where: Path) -> tuple[str, ...]:
    value = data.get(key)
    if value is None and key in _OPTIONAL_FIELDS:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContentError(f"{where}: {key}: a list of non-empty strings is required")
    return tuple(" ".join(v.split()) for v in value)


def _parse_folder(folder: Path, locale: str, topic_ids: set[str], lexicon: Lexicon) -> list[_Draft]:
    return [
        _parse_article(path, locale, topic_ids, lexicon) for path in sorted(folder.glob("*.md"))
    ]


def _parse_article(path: Path, locale: str, topic_ids: set[str], lexicon: Lexicon) -> _Draft:
    data, body = _split_front_matter(path)
    if not isinstance(data, dict):
        raise ContentError(f"{path}: front matter: must be a YAML mapping")
    translation = locale != SOURCE_LOCALE
    required = _REQUIRED_FIELDS + ((_TRANSLATION_FIELD,) if translation else ())
    missing = [key for key in required if key not in data]
    if missing:
        raise ContentError(f"{path}: missing field(s): {', '.join(missing)}")
    unknown = sorted(str(k) for k in data if k not in required + _OPTIONAL_FIELDS)
    if unknown:
        raise ContentError(f"{path}: unknown field(s): {', '.join(unknown)}")

    article_id = _text(data, "id", path)
    if not _ID.fullmatch(article_id):
        raise ContentError(f"{path}: id: {article_id!r} must be lowercase letters, digits and -")
    if article_id != path.stem:
        raise ContentError(f"{path}: id: {article_id!r} must equal the file name {path.stem!r}")
    topic = _text(data, "topic", path)
    if topic not in topic_ids:
        raise ContentError(f"{path}: topic: {topic!r} is not defined in {TOPICS_FILE}")
    kind_text = _text(data, "kind", path)
    kind = next((k for k in ARTICLE_KINDS if k == kind_text), None)
    if kind is None:
        choices = ", ".join(ARTICLE_KINDS)
        raise ContentError(f"{path}: kind: {kind_text!r} must be one of {choices}")

    sources = _strings(data, "sources", path)
    if not sources:
        raise ContentError(f"{path}: sources: at least one source is required")
    applies_to = tuple(value.lower() for value in _strings(data, "applies_to", path))
    known = lexicon.terms("medications") | {DTMS}
    for value in applies_to:
        if value not in known:
            raise ContentError(
                f"{path}: applies_to: {value!r} is neither dtms nor a generic name in "
                f"{LEXICON_FILE}"
            )

    reviewed_on, reviewed_by = _review(data, path)
    related = _strings(data, "related", path)
    if not body.strip():
        raise ContentError(f"{path}: the article has no body text")
    if "\x00" in body:
        raise ContentError(f"{path}: the body contains a NUL character")
    meta = _Meta(
        id=article_id,
        title=_text(data, "title", path),
        topic=topic,
        kind=kind,
        summary=_text(data, "summary", path),
        keywords=_strings(data, "keywords", path),
        applies_to=applies_to,
        sources=sources,
        version=_version(data["version"], "version", path),
        updated_on=_date(data["updated_on"], "updated_on", path),
        reviewed_on=reviewed_on,
        reviewed_by=reviewed_by,
        translated_from_version=(
            _version(data[_TRANSLATION_FIELD], _TRANSLATION_FIELD, path) if translation else None
        ),
        related=related,
    )
    return _Draft(path=path, locale=locale, meta=meta, body=_canonical_contacts(body, path))


def _review(data: Mapping[str, object], path: Path) -> tuple[date | None, str | None]:
    """Read who reviewed the article and when: both, or neither (nobody has reviewed it)."""
    has_date, has_reviewer = "reviewed_on" in data, "reviewed_by" in data
    if has_date and not has_reviewer:
        raise ContentError(
            f"{path}: reviewed_on needs reviewed_by (the clinician who reviewed it); "
            "an article no clinician has reviewed has neither, and updated_on for its last change"
        )
    if has_reviewer and not has_date:
        raise ContentError(f"{path}: reviewed_by needs reviewed_on (when they reviewed it)")
    if not has_date:
        return None, None
    return _date(data["reviewed_on"], "reviewed_on", path), _text(data, "reviewed_by", path)


def _check_translation(draft: _Draft, original: _Draft | None) -> None:
    """Check a translation against its original: same id, topic, kind, sources and links."""
    if original is None:
        raise ContentError(
            f"{draft.path}: no original with the id {draft.meta.id!r} in "
            f"{SOURCE_LOCALE}/; a translation keeps the original's file name"
        )
    for field in _SHARED_FIELDS:
        mine, theirs = getattr(draft.meta, field), getattr(original.meta, field)
        if mine != theirs:
            raise ContentError(
                f"{draft.path}: {field}: must be as in the original {original.path.name} "
                f"({_shown(theirs)}), not {_shown(mine)}"
            )


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return repr(value)


def _canonical_contacts(body: str, path: Path) -> str:
    """Check every {{ placeholder }} of a body and write it as {{name}}; refuse stray braces."""

    def canonical(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in CONTACT_PLACEHOLDERS:
            known = ", ".join(CONTACT_PLACEHOLDERS)
            raise ContentError(
                f"{path}: unknown placeholder {{{{ {name[:40]} }}}}; the known ones are {known}"
            )
        return f"{{{{{name}}}}}"

    result = _CONTACT.sub(canonical, body)
    stray = CONTACT_IN_PAGE.sub("", result)
    if "{{" in stray or "}}" in stray:
        raise ContentError(
            f"{path}: a '{{{{' or '}}}}' that is not a placeholder; "
            f"write placeholders on one line, like {{{{ {CONTACT_PLACEHOLDERS[0]} }}}}"
        )
    return result


def _date(value: object, key: str, path: Path) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ContentError(f"{path}: {key}: {value!r} is not a date") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ContentError(f"{path}: {key}: a date (YYYY-MM-DD) is required")
    return value


def _version(value: object, key: str, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ContentError(f"{path}: {key}: a version number or string is required")
    text = str(value).strip()
    if not text:
        raise ContentError(f"{path}: {key}: must not be empty")
    return text
