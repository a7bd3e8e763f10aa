"""The psychoeducation library: loading, validating and rendering articles, and finding them.

Articles are Markdown files with YAML front matter, one folder per language under the articles
folder. ``en/`` holds the originals beside ``topics.yaml`` and ``lexicon.yaml``; a translation
folder (``es/``) holds versions of some originals under the same file names, with its own
``topics.yaml``. A patient sees their language's version where one exists and the original
otherwise. Everything is checked once at start-up; any problem raises ContentError naming the
file and the problem, so a broken article stops the bot instead of reaching a patient. Pages are
rendered to the HTML subset Telegram accepts and checked against its limits. The clinic's numbers
(``{{ emergency_number }}``, ``{{ crisis_line }}``, ``{{ clinic_oncall_phone }}``) stay
placeholders in the pages and are filled in from the settings when a page is shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Literal, get_args

import yaml

from bot.services.search import Lexicon, LexiconError, SearchIndex

ArticleKind = Literal["medication", "dtms", "general"]
ARTICLE_KINDS: tuple[ArticleKind, ...] = get_args(ArticleKind)
DTMS = "dtms"
MAX_MESSAGE_LENGTH = 4096
PAGE_BREAK = "<!-- page -->"
TOPICS_FILE = "topics.yaml"
LEXICON_FILE = "lexicon.yaml"
# The language every article is written in first; translations are checked against it.
SOURCE_LOCALE = "en"
BUNDLED_ARTICLES_DIR = Path(__file__).resolve().parents[2] / "content" / "articles" / SOURCE_LOCALE
# The clinic's numbers an article may name, as {{ name }}: the settings of the same name.
CONTACT_PLACEHOLDERS = ("emergency_number", "crisis_line", "clinic_oncall_phone")

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
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
_CONTACT = re.compile(r"\{\{(.*?)\}\}")
_CONTACT_RENDERED = re.compile(r"\{\{([a-z_]+)\}\}")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_HREF = re.compile(r"""\s+href=(?:"([^"]*)"|'([^']*)')\s*""")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_TELEGRAM_TAGS = frozenset({"b", "i", "u", "s", "a", "code", "pre", "blockquote"})
_LINK_SCHEMES = ("http://", "https://")


class ContentError(Exception):
    """Content on disk is invalid; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Topic:
    """A group of articles shown as one entry of the library menu."""

    id: str
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class Article:
    """One language version of a psychoeducation article.

    Pages are Telegram HTML in which the clinic's numbers are still placeholders (shown through
    Library.page); other text fields are plain. reviewed_on and reviewed_by say when and by whom
    a clinician reviewed this version; both are None when nobody has. updated_on is when its
    text last changed. A translation names the version of the original it translates.
    """

    id: str
    locale: str
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
    pages: tuple[str, ...]
    path: Path
    # The words of the body (link texts kept; markup, targets and the footer left out).
    search_body: str


@dataclass(frozen=True, slots=True)
class ArticleWording:
    """The words the library adds to the articles of one language (from the message templates).

    medication_footer ends every medication article; see_also introduces the title of a linked
    article: "Naloxone (see “Naloxone (Narcan) and how to respond to an overdose”)".
    """

    medication_footer: str
    see_also: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An article found for a free-text question, with its relevance score."""

    article: Article
    score: float


class Library:
    """The validated articles and topics in every language, with look-up and search."""

    def __init__(
        self,
        topics: Mapping[str, Sequence[Topic]],
        articles: Sequence[Article],
        lexicon: Lexicon,
        *,
        contacts: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Index the articles (originals and translations) and build one search index.

        topics maps each language to its topics, the source language first; contacts maps
        each language to the value of every placeholder (None: pages are shown as stored).
        """
        self._topics = {locale: list(entries) for locale, entries in topics.items()}
        self._versions: dict[str, dict[str, Article]] = {locale: {} for locale in self._topics}
        for article in articles:
            self._versions[article.locale][article.id] = article
        self._lexicon = lexicon
        self._contacts = contacts
        order = {topic.id: index for index, topic in enumerate(self._topics[SOURCE_LOCALE])}
        self._shown = {
            locale: sorted(
                (self._version(article_id, locale) for article_id in self._originals),
                key=lambda a: (order.get(a.topic, len(order)), a.title.casefold(), a.id),
            )
            for locale in self._topics
        }
        # One document per language version: a question finds an article in whichever
        # language it is asked, and the patient is shown the version in their own language.
        documents = {f"{a.locale}:{a.id}": _search_fields(a) for a in articles}
        groups = {f"{a.locale}:{a.id}": a.id for a in articles}
        self._index = SearchIndex(documents, lexicon, groups=groups)

    @property
    def _originals(self) -> dict[str, Article]:
        return self._versions[SOURCE_LOCALE]

    def _version(self, article_id: str, locale: str) -> Article:
        return self._versions.get(locale, {}).get(article_id) or self._originals[article_id]

    @property
    def lexicon(self) -> Lexicon:
        """Return the lexicon used to normalise medication names and queries."""
        return self._lexicon

    @property
    def locales(self) -> tuple[str, ...]:
        """Return the languages the library has topics for, the source language first."""
        return tuple(self._topics)

    def topics(self, locale: str = SOURCE_LOCALE) -> list[Topic]:
        """Return the topics in display order, in a language (the original if unknown)."""
        return list(self._topics.get(locale, self._topics[SOURCE_LOCALE]))

    def articles_in(self, topic_id: str, locale: str = SOURCE_LOCALE) -> list[Article]:
        """Return the articles of one topic as a patient in locale sees them, by title."""
        return [article for article in self.all(locale) if article.topic == topic_id]

    def get(self, article_id: str, locale: str = SOURCE_LOCALE) -> Article | None:
        """Return the article in locale, else its original; None if there is no such article."""
        if article_id not in self._originals:
            return None
        return self._version(article_id, locale)

    def all(self, locale: str = SOURCE_LOCALE) -> list[Article]:
        """Return every article as a patient in locale sees it, by topic order then title."""
        return list(self._shown.get(locale, self._shown[SOURCE_LOCALE]))

    def versions(self) -> list[Article]:
        """Return every language version of every article: by id, the original first."""
        return [
            self._versions[locale][article_id]
            for article_id in sorted(self._originals)
            for locale in self._topics
            if article_id in self._versions[locale]
        ]

    def original(self, article: Article) -> Article:
        """Return the version a translation was made from (the article itself if original)."""
        return self._originals[article.id]

    def page(self, article: Article, number: int) -> str:
        """Return one page of an article with the clinic's numbers filled in."""
        page = article.pages[number]
        if self._contacts is None:
            return page
        return fill_contacts(page, self._contacts[article.locale])

    def normalise_medication(self, name: str) -> str | None:
        """Return the generic name for a medication as typed by a prescriber, or None."""
        return self._lexicon.normalise_medication(name)

    def for_patient(
        self, medication_names: Iterable[str], in_dtms: bool, locale: str = SOURCE_LOCALE
    ) -> list[Article]:
        """Return the articles that apply to a patient's medications or dTMS course."""
        wanted = {
            generic
            for generic in (self.normalise_medication(name) for name in medication_names)
            if generic is not None
        }
        if in_dtms:
            wanted.add(DTMS)
        return [a for a in self.all(locale) if wanted.intersection(a.applies_to)]

    def search(self, query: str, limit: int = 3, locale: str = SOURCE_LOCALE) -> list[SearchHit]:
        """Return up to limit articles relevant to a free-text question, best first.

        Each article counts once, with the score of its best-matching version, and is
        returned as a patient in locale sees it.
        """
        return [
            SearchHit(self._version(found.doc_id.partition(":")[2], locale), found.score)
            for found in self._index.search(query, limit)
        ]


def fill_contacts(page: str, values: Mapping[str, str]) -> str:
    """Replace the placeholders of a rendered page with the clinic's numbers (escaped)."""
    return _CONTACT_RENDERED.sub(lambda m: html.escape(values[m.group(1)], quote=False), page)


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
        return yaml.safe_load(path.read_text(encoding="utf-8"))
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
        meta = yaml.safe_load("\n".join(lines[1:end]))
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
    stray = _CONTACT_RENDERED.sub("", result)
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


def _search_fields(article: Article) -> dict[str, str]:
    # Indexing the Markdown source rather than the pages keeps the medication footer (the
    # same on every medication article) and the titles of linked articles out of the index.
    return {
        "title": article.title,
        "keywords": "\n".join((*article.keywords, *article.applies_to)),
        "summary": article.summary,
        "body": article.search_body,
    }
