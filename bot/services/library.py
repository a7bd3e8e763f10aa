"""The psychoeducation library: loading, validating and rendering articles, and finding them.

Articles are Markdown files with YAML front matter in one directory, beside `topics.yaml` and
`lexicon.yaml`. Everything is checked once at start-up; any problem raises ContentError naming
the file and the problem, so a broken article stops the bot instead of reaching a patient.
Pages are rendered to the HTML subset Telegram accepts and checked against its limits.
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
BUNDLED_ARTICLES_DIR = Path(__file__).resolve().parents[2] / "content" / "articles" / "en"

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
    "reviewed_on",
    "version",
)
_OPTIONAL_FIELDS = ("related",)
_LINK = re.compile(r"\[([^\[\]\n]+)\]\(([^()\s]+)\)")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")
_PLACEHOLDER = re.compile("\x00(\\d+)\x00")
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
    """One psychoeducation article; pages are Telegram HTML, other text fields are plain."""

    id: str
    title: str
    topic: str
    kind: ArticleKind
    summary: str
    keywords: tuple[str, ...]
    applies_to: tuple[str, ...]
    sources: tuple[str, ...]
    reviewed_on: date
    version: str
    related: tuple[str, ...]
    pages: tuple[str, ...]
    path: Path


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An article found for a free-text question, with its relevance score."""

    article: Article
    score: float


class Library:
    """The validated articles and topics, with look-up, personalisation and search."""

    def __init__(
        self,
        topics: Sequence[Topic],
        articles: Sequence[Article],
        lexicon: Lexicon,
        *,
        body_text: Mapping[str, str] | None = None,
    ) -> None:
        """Order topics and articles (topic order, then title) and build the search index.

        body_text maps article ids to the plain body to index; by default the pages are used.
        """
        self._topics = list(topics)
        order = {topic.id: index for index, topic in enumerate(self._topics)}
        self._articles = sorted(
            articles, key=lambda a: (order.get(a.topic, len(order)), a.title.casefold(), a.id)
        )
        self._by_id = {article.id: article for article in self._articles}
        self._lexicon = lexicon
        bodies = body_text or {}
        self._index = SearchIndex(
            {
                article.id: _search_fields(article, bodies.get(article.id))
                for article in self._articles
            },
            lexicon,
        )

    @property
    def lexicon(self) -> Lexicon:
        """Return the lexicon used to normalise medication names and queries."""
        return self._lexicon

    def topics(self) -> list[Topic]:
        """Return the topics in display order."""
        return list(self._topics)

    def articles_in(self, topic_id: str) -> list[Article]:
        """Return the articles of one topic, ordered by title."""
        return [article for article in self._articles if article.topic == topic_id]

    def get(self, article_id: str) -> Article | None:
        """Return the article with this id, or None."""
        return self._by_id.get(article_id)

    def all(self) -> list[Article]:
        """Return every article, by topic order then title."""
        return list(self._articles)

    def normalise_medication(self, name: str) -> str | None:
        """Return the generic name for a medication as typed by a prescriber, or None."""
        return self._lexicon.normalise_medication(name)

    def for_patient(self, medication_names: Iterable[str], in_dtms: bool) -> list[Article]:
        """Return the articles that apply to a patient's medications or dTMS course."""
        wanted = {
            generic
            for generic in (self.normalise_medication(name) for name in medication_names)
            if generic is not None
        }
        if in_dtms:
            wanted.add(DTMS)
        return [a for a in self._articles if wanted.intersection(a.applies_to)]

    def search(self, query: str, limit: int = 3) -> list[SearchHit]:
        """Return up to limit articles relevant to a free-text question, best first."""
        return [
            SearchHit(self._by_id[found.doc_id], found.score)
            for found in self._index.search(query, limit)
        ]


def load_library(
    articles_dir: Path, *, medication_footer: str, lexicon_path: Path | None = None
) -> Library:
    """Load, validate and render every article in articles_dir; raise ContentError on a fault.

    The lexicon is read from lexicon_path, else from articles_dir, else the bundled one.
    """
    if lexicon_path is None:
        local = articles_dir / LEXICON_FILE
        lexicon_path = local if local.exists() else BUNDLED_ARTICLES_DIR / LEXICON_FILE
    lexicon = load_lexicon(lexicon_path)
    topics = _load_topics(articles_dir / TOPICS_FILE)
    topic_ids = {topic.id for topic in topics}
    sources = sorted(articles_dir.glob("*.md"))
    if not sources:
        raise ContentError(f"{articles_dir}: no articles (*.md) found")
    drafts = [_parse_article(path, topic_ids, lexicon) for path in sources]
    titles = {draft.meta.id: draft.meta.title for draft in drafts}
    articles = [draft.finish(titles, medication_footer) for draft in drafts]
    bodies = {draft.meta.id: plain_body(draft.body) for draft in drafts}
    return Library(topics, articles, lexicon, body_text=bodies)


def load_lexicon(path: Path) -> Lexicon:
    """Read and validate a lexicon file; raise ContentError naming the file on a fault."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ContentError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: invalid YAML: {_yaml_problem(error)}") from error
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


def _load_topics(path: Path) -> list[Topic]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ContentError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path}: invalid YAML: {_yaml_problem(error)}") from error
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
    reviewed_on: date
    version: str
    related: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Draft:
    path: Path
    meta: _Meta
    body: str

    def finish(self, titles: Mapping[str, str], medication_footer: str) -> Article:
        meta = self.meta
        for other in meta.related:
            if other not in titles:
                raise ContentError(f"{self.path}: related: no article with id {other!r}")
            if other == meta.id:
                raise ContentError(f"{self.path}: related: an article cannot relate to itself")
        try:
            pages = render_pages(self.body, titles)
            if meta.kind == "medication" and medication_footer.strip():
                pages[-1] = f"{pages[-1]}\n\n{medication_footer.strip()}"
            for number, page in enumerate(pages, start=1):
                check_telegram_html(page, where=f"page {number}")
        except ValueError as error:
            raise ContentError(f"{self.path}: {error}") from error
        return Article(
            id=meta.id,
            title=meta.title,
            topic=meta.topic,
            kind=meta.kind,
            summary=meta.summary,
            keywords=meta.keywords,
            applies_to=meta.applies_to,
            sources=meta.sources,
            reviewed_on=meta.reviewed_on,
            version=meta.version,
            related=meta.related,
            pages=tuple(pages),
            path=self.path,
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
    return " ".join(value.split())


def _strings(data: Mapping[str, object], key: str, where: Path) -> tuple[str, ...]:
    value = data.get(key)
    if value is None and key in _OPTIONAL_FIELDS:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ContentError(f"{where}: {key}: a list of non-empty strings is required")
    return tuple(" ".join(v.split()) for v in value)


def _parse_article(path: Path, topic_ids: set[str], lexicon: Lexicon) -> _Draft:
    data, body = _split_front_matter(path)
    if not isinstance(data, dict):
        raise ContentError(f"{path}: front matter: must be a YAML mapping")
    missing = [key for key in _REQUIRED_FIELDS if key not in data]
    if missing:
        raise ContentError(f"{path}: missing field(s): {', '.join(missing)}")
    unknown = sorted(str(k) for k in data if k not in _REQUIRED_FIELDS + _OPTIONAL_FIELDS)
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

    reviewed_on = _review_date(data["reviewed_on"], path)
    version_text = _version(data["version"], path)
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
        reviewed_on=reviewed_on,
        version=version_text,
        related=related,
    )
    return _Draft(path=path, meta=meta, body=body)


def _review_date(value: object, path: Path) -> date:
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise ContentError(f"{path}: reviewed_on: {value!r} is not a date") from None
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ContentError(f"{path}: reviewed_on: a date (YYYY-MM-DD) is required")
    return value


def _version(value: object, path: Path) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ContentError(f"{path}: version: a version number or string is required")
    text = str(value).strip()
    if not text:
        raise ContentError(f"{path}: version: must not be empty")
    return text


def render_pages(body: str, titles: Mapping[str, str]) -> list[str]:
    """Render the Markdown subset of an article body to Telegram HTML, one string per page.

    titles maps article ids to titles for `article:` links; raise ValueError on a fault.
    """
    chunks = re.split(rf"^[ \t]*{re.escape(PAGE_BREAK)}[ \t]*$", body, flags=re.MULTILINE)
    pages: list[str] = []
    for number, chunk in enumerate(chunks, start=1):
        if not chunk.strip():
            raise ValueError(f"page {number}: the page is empty")
        try:
            pages.append(_render_page(chunk, titles))
        except ValueError as error:
            raise ValueError(f"page {number}: {error}") from error
    return pages


def _render_page(text: str, titles: Mapping[str, str]) -> str:
    blocks: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines: list[str] = []
        paragraph: list[str] = []

        def flush(paragraph: list[str] = paragraph, lines: list[str] = lines) -> None:
            if paragraph:
                lines.append(render_inline(" ".join(paragraph), titles))
                paragraph.clear()

        for raw in block.splitlines():
            line = raw.strip()
            if line.startswith("## "):
                flush()
                lines.append(f"<b>{render_inline(line[3:].strip(), titles)}</b>")
            elif line.startswith("#"):
                raise ValueError(f"only '## ' subheadings are supported: {line[:40]!r}")
            elif line.startswith(("- ", "* ")):
                flush()
                lines.append(f"• {render_inline(line[2:].strip(), titles)}")
            elif raw[:1].isspace() and lines and lines[-1].startswith("• ") and not paragraph:
                # An indented line continues the bullet above it.
                lines[-1] = f"{lines[-1]} {render_inline(line, titles)}"
            else:
                paragraph.append(line)
        flush()
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def render_inline(text: str, titles: Mapping[str, str]) -> str:
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
            links.append(f"{label} (see “{html.escape(titles[other], quote=False)}”)")
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
    """Return the words of a Markdown body: link texts kept, targets and markup dropped."""
    without_links = _LINK.sub(lambda m: m.group(1), body.replace(PAGE_BREAK, "\n"))
    return re.sub(r"[*_#]+", " ", without_links)


def _search_fields(article: Article, body: str | None) -> dict[str, str]:
    # Indexing the Markdown source rather than the pages keeps the medication footer (the
    # same on every medication article) and the titles of linked articles out of the index.
    if body is None:
        body = html.unescape(_TAG.sub("", "\n".join(article.pages)))
    return {
        "title": article.title,
        "keywords": "\n".join((*article.keywords, *article.applies_to)),
        "summary": article.summary,
        "body": body,
    }
