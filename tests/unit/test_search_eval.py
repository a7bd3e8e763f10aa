"""Search quality on the real articles and the real question set (top-3 accuracy >= 90%)."""

from __future__ import annotations

from bench.search_eval import (
    ARTICLES_DIR,
    SAMPLE_WORDING,
    evaluate,
    load_questions,
    report,
)
from bot.services.library import load_library


def test_real_questions_find_an_expected_article_in_the_top_three() -> None:
    """At least 90% of the question set has an expected article among the first three hits."""
    library = load_library(ARTICLES_DIR, wording=SAMPLE_WORDING)
    evaluation = evaluate(library, load_questions(), repeats=1)
    print(report(evaluation))
    assert evaluation.total > 0
    assert evaluation.accuracy >= 0.90, report(evaluation)
