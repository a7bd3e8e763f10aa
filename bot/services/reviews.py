"""Clinical review of the library: which article versions a clinician has reviewed, and what is due.

A version is due for review when no clinician has reviewed it, when its text changed after the
review, when the review is older than the clinic's review interval, or, for a translation, when
it translates an older version of the original than the one in use.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Literal

from bot.services.library import Article, Library

DueReason = Literal[
    "never_reviewed", "changed_since_review", "review_expired", "translation_behind"
]


@dataclass(frozen=True, slots=True)
class ReviewStatus:
    """One article version's review state: why a review is due (empty: current) and until when."""

    article: Article
    due: tuple[DueReason, ...]
    # The day the current review runs out; None when no clinician has reviewed the version.
    review_until: date | None
    # The version of the original a translation should translate (None for an original).
    original_version: str | None

    @property
    def is_due(self) -> bool:
        """Tell whether the version needs a clinician's review."""
        return bool(self.due)


def add_months(day: date, months: int) -> date:
    """Return the same day months later, or the month's last day when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_status(article: Article, original: Article, today: date, months: int) -> ReviewStatus:
    """Return the review state of one version on a given day, with reviews valid for months."""
    due: list[DueReason] = []
    until = None
    if article.reviewed_on is None:
        due.append("never_reviewed")
    else:
        until = add_months(article.reviewed_on, months)
        if article.updated_on > article.reviewed_on:
            due.append("changed_since_review")
        if until <= today:
            due.append("review_expired")
    translation = article.translated_from_version is not None
    if translation and article.translated_from_version != original.version:
        due.append("translation_behind")
    return ReviewStatus(
        article=article,
        due=tuple(due),
        review_until=until,
        original_version=original.version if translation else None,
    )


def review_statuses(library: Library, today: date, months: int) -> list[ReviewStatus]:
    """Return the review state of every version of every article, by id, the original first."""
    return [
        review_status(article, library.original(article), today, months)
        for article in library.versions()
    ]
