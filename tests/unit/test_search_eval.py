"""Search quality on the real articles and the real question set (top-3 accuracy >= 90%).

The floor holds for every language of the set on its own, so the Spanish questions cannot hide
behind the larger English share.
"""

from __future__ import annotations

from bench.search_eval import (
    ARTICLES_DIR,
    SAMPLE_WORDING,
    evaluate,
    load_questions,
    report,
)
from bot.services.library_files import load_library


def test_real_questions_find_an_expected_article_in_the_top_three() -> None:
    """At least 90% of the question set has an expected article among the first three hits."""
    library = load_library(ARTICLES_DIR, wording=SAMPLE_WORDING)
    evaluation = evaluate(library, load_questions(), repeats=1)
    print(report(evaluation))
    assert evaluation.total > 0
    assert evaluation.accuracy >= 0.90, report(evaluation)
    assert [language for language, _, _ in evaluation.per_language] == ["en", "es"]
    for language, _, _ in evaluation.per_language:
        assert evaluation.language_accuracy(language) >= 0.90, report(evaluation)


def test_spanish_questions_are_shown_the_spanish_version_where_there_is_one() -> None:
    """A Spanish question answered by a translated article is answered in Spanish."""
    library = load_library(ARTICLES_DIR, wording=SAMPLE_WORDING)
    translated = {a.id for a in library.versions() if a.locale == "es"}
    for question in load_questions():
        if question.language != "es":
            continue
        for hit in library.search(question.text, limit=3, locale="es"):
            assert hit.article.locale == ("es" if hit.article.id in translated else "en")
