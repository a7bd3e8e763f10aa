"""The psychoeducation library: the articles in every language, looked up and searched.

A patient sees their language's version of an article where one exists and the original
otherwise. The articles are read and checked once at start-up (``library_files``); pages are
Telegram HTML in which the clinic's numbers (``{{ emergency_number }}``, ``{{ crisis_line }}``,
``{{ clinic_oncall_phone }}``) stay placeholders, filled in from the settings when a page is
shown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, get_args

from bot.services.lexicon import Lexicon
from bot.services.search import SearchIndex

ArticleKind = Literal["medication", "dtms", "general"]
ARTICLE_KINDS: tuple[ArticleKind, ...] = get_args(ArticleKind)
DTMS = "dtms"
# The language every article is written in first; translations are checked against it.
SOURCE_LOCALE = "en"
# The clinic's numbers an article may name, as {{ name }}: the settings of the same name.
CONTACT_PLACEHOLDERS = ("emergency_number", "crisis_line", "clinic_oncall_phone")
# A placeholder as a checked page holds it: {{name}}, no spaces.
CONTACT_IN_PAGE = re.compile(r"\{\{([a-z_]+)\}\}")


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
    return CONTACT_IN_PAGE.sub(lambda m: html.escape(values[m.group(1)], quote=False), page)


def _search_fields(article: Article) -> dict[str, str]:
    # Indexing the Markdown source rather than the pages keeps the medication footer (the
    # same on every medication article) and the titles of linked articles out of the index.
    return {
        "title": article.title,
        "keywords": "\n".join((*article.keywords, *article.applies_to)),
        "summary": article.summary,
        "body": article.search_body,
    }
