"""Search evaluation: top-3 accuracy of library search on the question set, and query time.

Run with `python -m bench.search_eval`. A question counts as answered when one of its expected
articles is among the first three hits; a question that expects no article counts when search
returns nothing. Each question is asked in its language (`lang`, English by default), as a
patient with that language would ask it, and the figures are given per language.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.services.library import ArticleWording, Library
from bot.services.library_files import load_library

ROOT = Path(__file__).resolve().parents[1]
ARTICLES_DIR = ROOT / "content" / "articles"
QUESTIONS_FILE = ROOT / "tests" / "data" / "search_questions.yaml"
# Stands in for the clinic's real footer: it only has to be valid Telegram HTML of similar size.
SAMPLE_FOOTER = (
    "<i>This is general information. Talk to your prescriber before changing anything, "
    "and message your care team with any question.</i>"
)
SAMPLE_WORDING = {
    "en": ArticleWording(medication_footer=SAMPLE_FOOTER, see_also="see"),
    "es": ArticleWording(medication_footer=SAMPLE_FOOTER, see_also="vea"),
}
TOP_K = 3


@dataclass(frozen=True, slots=True)
class Question:
    """A search question and the article ids that answer it (empty: nothing should match)."""

    text: str
    expected: tuple[str, ...]
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Miss:
    """A question whose expected articles were not in the top hits."""

    question: Question
    found: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Top-k accuracy over a question set and the mean time per query."""

    total: int
    misses: tuple[Miss, ...]
    mean_query_seconds: float
    # Questions per language, and the misses among them.
    per_language: tuple[tuple[str, int, int], ...] = ()

    @property
    def accuracy(self) -> float:
        """Return the share of questions answered within the top k."""
        return (self.total - len(self.misses)) / self.total if self.total else 0.0

    def language_accuracy(self, language: str) -> float:
        """Return the share of one language's questions answered within the top k."""
        for name, total, missed in self.per_language:
            if name == language and total:
                return (total - missed) / total
        return 0.0


def load_questions(path: Path = QUESTIONS_FILE) -> list[Question]:
    """Read the question set: a YAML list of {q: text, expect: [article-id, ...], lang: es}."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        message = f"{path}: must be a list of {{q, expect}}"
        raise TypeError(message)
    questions: list[Question] = []
    for number, entry in enumerate(data, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("q"), str):
            message = f"{path}: question {number}: needs q (text) and expect (list of ids)"
            raise TypeError(message)
        expected = entry.get("expect") or []
        if isinstance(expected, str):
            expected = [expected]
        language = str(entry.get("lang", "en"))
        questions.append(Question(entry["q"], tuple(str(item) for item in expected), language))
    return questions


def evaluate(
    library: Library, questions: Sequence[Question], *, k: int = TOP_K, repeats: int = 5
) -> Evaluation:
    """Score library search on the questions; time every query repeats times."""
    misses: list[Miss] = []
    for question in questions:
        hits = library.search(question.text, limit=k, locale=question.language)
        found = tuple(hit.article.id for hit in hits)
        answered = bool(set(found) & set(question.expected)) if question.expected else not found
        if not answered:
            misses.append(Miss(question, found))
    started = time.perf_counter()
    for _ in range(repeats):
        for question in questions:
            library.search(question.text, limit=k, locale=question.language)
    elapsed = time.perf_counter() - started
    mean = elapsed / (repeats * len(questions)) if questions else 0.0
    languages = sorted({q.language for q in questions}, key=lambda name: (name != "en", name))
    per_language = tuple(
        (
            language,
            sum(q.language == language for q in questions),
            sum(m.question.language == language for m in misses),
        )
        for language in languages
    )
    return Evaluation(
        total=len(questions),
        misses=tuple(misses),
        mean_query_seconds=mean,
        per_language=per_language,
    )


def report(evaluation: Evaluation) -> str:
    """Format the accuracy, the misses and the mean query time for a terminal."""
    answered = evaluation.total - len(evaluation.misses)
    lines = [f"top-{TOP_K} accuracy: {evaluation.accuracy:.1%} ({answered}/{evaluation.total})"]
    if len(evaluation.per_language) > 1:
        lines.extend(
            f"  {language}: {evaluation.language_accuracy(language):.1%} ({total - missed}/{total})"
            for language, total, missed in evaluation.per_language
        )
    lines.append(f"mean query time: {evaluation.mean_query_seconds * 1000:.3f} ms")
    if evaluation.misses:
        lines.append(f"misses ({len(evaluation.misses)}):")
        for miss in evaluation.misses:
            expected = ", ".join(miss.question.expected) or "(nothing)"
            found = ", ".join(miss.found) or "(nothing)"
            lines.append(
                f"  [{miss.question.language}] {miss.question.text!r}: "
                f"expected {expected}; got {found}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Load the library and the question set, evaluate search, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.search_eval", description=__doc__)
    parser.add_argument("--articles", type=Path, default=ARTICLES_DIR, help="articles folder")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE, help="question set")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    library = load_library(args.articles, wording=SAMPLE_WORDING)
    load_seconds = time.perf_counter() - started
    questions = load_questions(args.questions)
    print(f"{len(library.all())} articles loaded in {load_seconds * 1000:.0f} ms")
    print(report(evaluate(library, questions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
