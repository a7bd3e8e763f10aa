"""``companion content status``: every article's clinical review, and what is due."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from bot.cli.errors import EXIT_REVIEWS_DUE
from bot.clock import SystemClock
from bot.config import Settings

if TYPE_CHECKING:
    from bot.services.reviews import ReviewStatus


DUE_TEXT = {
    "never_reviewed": "never reviewed by a clinician",
    "changed_since_review": "changed after its review",
    "review_expired": "review older than {months} months",
    "translation_behind": "translates original v{translated}; the original is now v{original}",
}


def content_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print every article version's clinical review state; exit 3 when any review is due."""
    from bot.container import load_content  # noqa: PLC0415 - only this command needs the content
    from bot.services.reviews import review_statuses  # noqa: PLC0415
    from bot.texts import content_root  # noqa: PLC0415

    root = settings.content_dir or content_root()
    _, library = load_content(root, tuple(sorted(settings.crisis_context().items())))
    today = SystemClock().now().astimezone(settings.zone).date()
    months = settings.content_review_months
    statuses = review_statuses(library, today, months)
    due = [status for status in statuses if status.is_due]
    if args.json:
        print(json.dumps([_status_record(status) for status in statuses], indent=2))
        return EXIT_REVIEWS_DUE if due else 0
    per_language = ", ".join(
        f"{locale} {sum(s.article.locale == locale for s in statuses)}"
        for locale in library.locales
    )
    print(
        f"articles in {root / 'articles'}: {len(library.all())} ({per_language}); "
        f"a review stays current for {months} months (CONTENT_REVIEW_MONTHS); today {today}"
    )
    rows = [("ARTICLE", "LANG", "VERSION", "CHANGED", "REVIEWED", "DUE")]
    for status in statuses:
        article = status.article
        reviewed = (
            f"{article.reviewed_on} by {article.reviewed_by}" if article.reviewed_on else "never"
        )
        if status.is_due:
            what = "review: " + "; ".join(
                _due_text(status, reason, months) for reason in status.due
            )
        else:
            what = f"next review by {status.review_until}"
        rows.append(
            (article.id, article.locale, article.version, str(article.updated_on), reviewed, what)
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*padded, row[-1]]))
    counts = {reason: sum(reason in s.due for s in statuses) for reason in DUE_TEXT}
    print(
        f"{len(due)} of {len(statuses)} article versions need a clinician's review: "
        f"{counts['never_reviewed']} never reviewed, "
        f"{counts['changed_since_review']} changed after their review, "
        f"{counts['review_expired']} reviewed over {months} months ago, "
        f"{counts['translation_behind']} translations behind their original"
        if due
        else f"all {len(statuses)} article versions have a current clinical review"
    )
    return EXIT_REVIEWS_DUE if due else 0


def _due_text(status: ReviewStatus, reason: str, months: int) -> str:
    return DUE_TEXT[reason].format(
        months=months,
        translated=status.article.translated_from_version,
        original=status.original_version,
    )


def _status_record(status: ReviewStatus) -> dict[str, Any]:
    article = status.article
    return {
        "id": article.id,
        "language": article.locale,
        "title": article.title,
        "version": article.version,
        "updated_on": article.updated_on.isoformat(),
        "reviewed_on": article.reviewed_on.isoformat() if article.reviewed_on else None,
        "reviewed_by": article.reviewed_by,
        "translated_from_version": article.translated_from_version,
        "original_version": status.original_version,
        "review_until": status.review_until.isoformat() if status.review_until else None,
        "due": list(status.due),
        "file": str(article.path),
    }
