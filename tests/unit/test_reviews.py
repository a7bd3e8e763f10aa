"""What is due for clinical review: never reviewed, changed since, too old, translation behind."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from bench.search_eval import ARTICLES_DIR, SAMPLE_WORDING
from bot.services.library import Article
from bot.services.library_files import load_library
from bot.services.reviews import add_months, review_status, review_statuses

TODAY = date(2026, 12, 15)


def article(**changes: object) -> Article:
    """Return an English article version with the given metadata."""
    base = Article(
        id="methadone",
        locale="en",
        title="Methadone",
        topic="opioid-medicines",
        kind="medication",
        summary="About methadone.",
        keywords=(),
        applies_to=("methadone",),
        sources=("SAMHSA TIP 63",),
        version="2",
        updated_on=date(2026, 11, 30),
        reviewed_on=None,
        reviewed_by=None,
        translated_from_version=None,
        related=(),
        pages=("Methadone.",),
        path=Path("methadone.md"),
        search_body="Methadone.",
    )
    return replace(base, **changes)


def test_an_article_nobody_reviewed_is_due_and_has_no_end_date() -> None:
    """No reviewer: due because it was never reviewed; nothing to expire."""
    status = review_status(article(), article(), TODAY, 12)
    assert status.due == ("never_reviewed",)
    assert status.is_due
    assert status.review_until is None


def test_a_recent_review_is_current_until_its_months_run_out() -> None:
    """Reviewed after the last change and within the interval: current, with its end date."""
    reviewed = article(reviewed_on=date(2026, 12, 1), reviewed_by="Dr. Ana Rivera")
    status = review_status(reviewed, reviewed, TODAY, 12)
    assert status.due == ()
    assert status.review_until == date(2027, 12, 1)
    assert review_status(reviewed, reviewed, date(2027, 12, 1), 12).due == ("review_expired",)


def test_a_change_after_the_review_makes_it_due_again() -> None:
    """updated_on after reviewed_on: the reviewed text is not the text shown."""
    changed = article(
        reviewed_on=date(2026, 11, 1), reviewed_by="Dr. Ana Rivera", updated_on=date(2026, 11, 30)
    )
    assert review_status(changed, changed, TODAY, 12).due == ("changed_since_review",)


def test_a_translation_of_an_older_original_is_due() -> None:
    """A Spanish version of v1 while the original is v2 is due, with both versions named."""
    original = article(reviewed_on=date(2026, 12, 1), reviewed_by="Dr. Ana Rivera")
    spanish = replace(
        original, locale="es", version="1", translated_from_version="1", title="Metadona"
    )
    status = review_status(spanish, original, TODAY, 12)
    assert status.due == ("translation_behind",)
    assert status.original_version == "2"
    current = replace(spanish, translated_from_version="2")
    assert review_status(current, original, TODAY, 12).due == ()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 5, 15), 24, date(2028, 5, 15)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(
    day: date, months: int, expected: date
) -> None:
    """Month arithmetic clamps to the last day of a shorter month."""
    assert add_months(day, months) == expected


def test_the_shipped_articles_claim_no_review_that_was_not_done() -> None:
    """Every shipped version, both languages, says it awaits a clinician's first review."""
    library = load_library(ARTICLES_DIR, wording=SAMPLE_WORDING)
    statuses = review_statuses(library, TODAY, 12)
    assert {s.article.locale for s in statuses} == {"en", "es"}
    assert len(statuses) == len(library.versions()) > len(library.all())
    assert all(s.due == ("never_reviewed",) for s in statuses), [
        (s.article.id, s.article.locale, s.due) for s in statuses if s.due != ("never_reviewed",)
    ]
