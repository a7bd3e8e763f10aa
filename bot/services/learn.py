"""The psychoeducation library as patients meet it: topics, pages, questions and guardrails.

Composes views (Telegram HTML and rows of buttons) without knowing Telegram. A question that
asks for a personal medication decision never reaches search: it gets the fixed guardrail
answer, the articles that educate on it, and an offer to tell the care team. A question about
giving naloxone gets the overdose steps first; a report of the signs of too much of an opioid
medicine gets those signs and the emergency steps (it pages nobody: the patient may tell the
team with a button). Every such answer ends with at least one article.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from bot.clock import Clock
from bot.models import Patient
from bot.services.careteam import AlertNotice, CareTeamService
from bot.services.guardrails import GuardrailMatch, route_question
from bot.services.lexicon import words
from bot.services.library import Article, Library
from bot.storage.schedules import ScheduleRepository
from bot.texts import Texts

log = logging.getLogger(__name__)

Buttons = tuple[tuple[tuple[str, str], ...], ...]

# Callback data: l:<view>[:<id>[:<page>]]; article and topic ids are [a-z0-9-], under 40 bytes.
LEARN = "l"
TOPICS = "l:top"
TOPIC = "l:t:"
PAGE = "l:p:"
SOURCES = "l:s:"
ASK_TEAM = "l:team"
FOR_YOU = "l:you"
# An article's first page as a new message, under a message that must stay in the chat (a
# safety message): the other views replace the message whose button was pressed.
OPEN = "l:o:"


AnswerKind = Literal["prescriber", "naloxone_steps", "warning", "education", "no_match"]
NALOXONE_ARTICLE = "naloxone-overdose"
MIXING_ARTICLE = "mixing-risks"
MISSED_ARTICLE = "missed-doses"
FALLBACK_ARTICLE = "how-medications-help"
GUARD_ARTICLES = 3
_MISSED = re.compile(
    r"\b(?:miss|missed|missing|forgot|forget|forgotten|skip|skipped|skipping|late|olvid\w*|"
    r"salt(?:o|e|ar|arme)|no tome)\b"
)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a free-text question is answered with: the kind of answer and its articles."""

    kind: AnswerKind
    articles: tuple[Article, ...]
    guard: GuardrailMatch | None = None


def answer_for(text: str, library: Library, locale: str = "en") -> Answer:
    """Decide the answer to a free-text question (the crisis scan has already run).

    Articles come in the patient's language where a version exists, else in English.
    """
    route = route_question(text, lexicon=library.lexicon)
    if route.kind == "naloxone_steps":
        return Answer("naloxone_steps", _with_first(library, NALOXONE_ARTICLE, text, locale))
    if route.kind == "warning":
        # The medicine's own article (its early-weeks risk), then what to do in an overdose.
        own = _articles_for(library, route.medications, locale)
        articles = _unique([*own[:1], *_ids(library, locale, NALOXONE_ARTICLE), *own[1:]])
        return Answer("warning", articles[:GUARD_ARTICLES])
    if route.kind == "prescriber" and route.guard is not None:
        articles = _guard_articles(library, route.guard, text, locale)
        return Answer("prescriber", articles, route.guard)
    hits = tuple(hit.article for hit in library.search(text, limit=3, locale=locale))
    return Answer("education" if hits else "no_match", hits)


def _guard_articles(
    library: Library, guard: GuardrailMatch, text: str, locale: str
) -> tuple[Article, ...]:
    """The articles that educate on a guardrail question: never none."""
    articles = list(_articles_for(library, guard.medications, locale)[:2])
    if guard.kind == "dose_change" and _MISSED.search(" ".join(words(text))):
        articles[:0] = _ids(library, locale, MISSED_ARTICLE)
    if guard.kind == "mixing" or (guard.kind == "not_prescribed" and len(guard.medications) > 1):
        articles.extend(_ids(library, locale, MIXING_ARTICLE))
    if not articles:
        articles.extend(hit.article for hit in library.search(text, limit=2, locale=locale))
    if not articles:
        articles.extend(_ids(library, locale, FALLBACK_ARTICLE))
    return _unique(articles)[:GUARD_ARTICLES]


def _articles_for(
    library: Library, medications: tuple[str, ...], locale: str
) -> tuple[Article, ...]:
    """The articles about the named medicines, in the order they were named."""
    return _unique(
        article
        for name in medications
        for article in library.all(locale)
        if name in article.applies_to
    )


def _with_first(library: Library, article_id: str, text: str, locale: str) -> tuple[Article, ...]:
    hits = [hit.article for hit in library.search(text, limit=3, locale=locale)]
    return _unique([*_ids(library, locale, article_id), *hits])[:3]


def _ids(library: Library, locale: str, *article_ids: str) -> list[Article]:
    return [a for a in (library.get(i, locale) for i in article_ids) if a is not None]


def _unique(articles: Iterable[Article]) -> tuple[Article, ...]:
    seen: dict[str, Article] = {}
    for article in articles:
        seen.setdefault(article.id, article)
    return tuple(seen.values())


@dataclass(frozen=True, slots=True)
class View:
    """A message to show: HTML text and button rows."""

    text: str
    buttons: Buttons = ()


class LearnService:
    """Browsing, search and guardrails over the validated library."""

    def __init__(
        self,
        library: Library,
        texts: Texts,
        schedules: ScheduleRepository,
        careteam: CareTeamService,
        clock: Clock,
    ) -> None:
        self.library = library
        self._texts = texts
        self._schedules = schedules
        self._careteam = careteam
        self._clock = clock

    async def for_patient(self, patient: Patient) -> list[Article]:
        """Return the articles about the patient's own medications and dTMS course."""
        meds = await self._schedules.medications_of(patient.id)
        courses = await self._schedules.courses_of(patient.id)
        now = self._clock.now()
        dtms_booked = any(
            a.kind == "dtms"
            for a in await self._schedules.appointments_of(
                patient.id, since=now - timedelta(days=60), until=now + timedelta(days=60)
            )
        )
        return self.library.for_patient(
            [m.name for m in meds], bool(courses) or dtms_booked, patient.locale
        )

    async def topics_view(self, patient: Patient) -> View:
        """Return the library menu: "For you" first, then every topic."""
        locale = patient.locale
        rows: list[tuple[tuple[str, str], ...]] = []
        if await self.for_patient(patient):
            rows.append(((self._texts.button("learn_for_you", locale), FOR_YOU),))
        library_topics = self.library.topics(locale)
        rows.extend(((topic.title, f"{TOPIC}{topic.id}"),) for topic in library_topics)
        topics = [{"title": t.title, "description": t.description} for t in library_topics]
        return View(self._texts.render("learn.topics", locale, topics=topics), tuple(rows))

    async def for_you_view(self, patient: Patient) -> View:
        """Return the articles that match the patient's own treatment."""
        articles = await self.for_patient(patient)
        return View(
            self._texts.render("learn.for_you", patient.locale, count=len(articles)),
            self._article_rows(articles, patient.locale),
        )

    def topic_view(self, topic_id: str, locale: str) -> View | None:
        """Return one topic's articles, or None for an unknown topic."""
        topic = next((t for t in self.library.topics(locale) if t.id == topic_id), None)
        if topic is None:
            return None
        return View(
            self._texts.render(
                "learn.topic", locale, title=topic.title, description=topic.description
            ),
            self._article_rows(self.library.articles_in(topic_id, locale), locale),
        )

    def page_view(self, article_id: str, page: int, locale: str) -> View | None:
        """Return one page of an article with Back / Next / Topics; None if it does not exist.

        The patient's language version is shown where there is one, else the original, which
        the first page says. The last page offers the article's sources and review state.
        """
        article = self.library.get(article_id, locale)
        if article is None or not 0 <= page < len(article.pages):
            return None
        last = page + 1 == len(article.pages)
        nav: list[tuple[str, str]] = []
        if page > 0:
            nav.append((self._texts.button("learn_back", locale), f"{PAGE}{article.id}:{page - 1}"))
        if not last:
            nav.append((self._texts.button("learn_next", locale), f"{PAGE}{article.id}:{page + 1}"))
        else:
            nav.append((self._texts.button("learn_sources", locale), f"{SOURCES}{article.id}"))
        rows: list[tuple[tuple[str, str], ...]] = [tuple(nav)]
        if last and article.kind == "medication":
            rows.append(((self._texts.button("tell_team", locale), ASK_TEAM),))
        rows.append(self._topic_row(article, locale))
        header = self._texts.render(
            "learn.page_header",
            locale,
            title=article.title,
            page=page + 1,
            pages=len(article.pages),
            untranslated=page == 0 and article.locale != locale,
        )
        return View(f"{header}\n\n{self.library.page(article, page)}", tuple(rows))

    def sources_view(self, article_id: str, locale: str) -> View | None:
        """Return an article's sources, version and who reviewed it (or that nobody has yet)."""
        article = self.library.get(article_id, locale)
        if article is None:
            return None
        text = self._texts.render(
            "learn.sources",
            locale,
            title=article.title,
            sources=article.sources,
            version=article.version,
            updated_on=article.updated_on.isoformat(),
            reviewed_by=article.reviewed_by,
            reviewed_on=article.reviewed_on.isoformat() if article.reviewed_on else None,
            translated_from=article.translated_from_version,
        )
        back = (
            self._texts.button("learn_back", locale),
            f"{PAGE}{article.id}:{len(article.pages) - 1}",
        )
        return View(text, ((back,), self._topic_row(article, locale)))

    def _topic_row(self, article: Article, locale: str) -> tuple[tuple[str, str], ...]:
        return (
            (self._texts.button("learn_topic", locale), f"{TOPIC}{article.topic}"),
            (self._texts.button("learn_topics", locale), TOPICS),
        )

    def answer_question(self, text: str, locale: str) -> View:
        """Answer free text: the guardrail for decisions, naloxone steps, warning signs, else
        the best articles, else help."""
        answer = answer_for(text, self.library, locale)
        log.info("question answered kind=%s articles=%s", answer.kind, len(answer.articles))
        team = ((self._texts.button("tell_team", locale), ASK_TEAM),)
        articles = list(answer.articles)
        if answer.kind == "prescriber" and answer.guard is not None:
            text_html = self._texts.render(f"guard.{answer.guard.kind}", locale)
            return View(text_html, (*self._article_rows(articles, locale), team))
        if answer.kind == "warning":
            text_html = self._texts.render("learn.warning", locale)
            return View(text_html, (*self._article_rows(articles, locale), team))
        if answer.kind == "naloxone_steps":
            text_html = self._texts.render("learn.naloxone_steps", locale)
            return View(text_html, self._article_rows(articles, locale))
        if answer.kind == "no_match":
            return View(
                self._texts.render("learn.no_match", locale),
                (((self._texts.button("learn_topics", locale), TOPICS),), team),
            )
        return View(
            self._texts.render(
                "learn.found",
                locale,
                articles=[
                    {
                        "title": a.title,
                        "summary": a.summary,
                        "untranslated": a.locale != locale,
                    }
                    for a in articles
                ],
            ),
            self._article_rows(articles, locale),
        )

    async def tell_team(self, patient: Patient) -> tuple[View, AlertNotice]:
        """Tell the care team the patient has a question about their treatment."""
        notice = await self._careteam.raise_alert(
            patient, kind="question", severity="routine", category=None
        )
        return View(self._texts.render("learn.team_told", patient.locale)), notice

    def _article_rows(self, articles: list[Article], locale: str) -> Buttons:
        return tuple(((self._article_label(a, locale), f"{PAGE}{a.id}:0"),) for a in articles)

    def _article_label(self, article: Article, locale: str) -> str:
        """Return an article's title, saying so when it is not in the patient's language."""
        if article.locale == locale:
            return article.title
        return self._texts.button("learn_article_untranslated", locale, title=article.title)
