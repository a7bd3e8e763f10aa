"""Guardrail and education evaluation: the answer each question gets, per kind and language.

Run with ``python -m bench.guard_eval`` (the development set and, when it is in place, the
held-out set), ``--set dev`` or ``--set heldout`` for one of them. The sets are written apart
from the guardrail patterns and the lexicon, by someone who has read neither; the held-out set
(``tests/heldout/guard_heldout.yaml``) is never used for tuning, its figures are reported as they
come out, and its misses are never printed (``--misses`` works on the development set only).

A set is YAML: ``questions:`` a list of ``{q, lang: en|es|mixed, expect:
prescriber|naloxone_steps|warning|education, articles: [article ids]}``. Each question goes the
way a patient's message goes: first the crisis scan (:func:`bot.services.safety.assess`), then,
if it raised no signal, :func:`bot.services.learn.answer_for`.

- ``prescriber``: the fixed prescriber answer (prescriber recall);
- ``naloxone_steps``: the naloxone steps with the naloxone article first, never the prescriber
  answer; an overdose crisis answer, which starts with the same steps, counts too (and is
  counted apart, since it pages the team);
- ``warning``: the signs of too much and the emergency steps; a crisis answer counts too (the
  crisis path wins, and it carries the emergency steps);
- ``education``: an answer from the library (or the steps or the warning, which list articles
  too) whose articles include one of ``articles``, not the prescriber answer and no page. The
  false prescriber rate is the share of education questions given the prescriber answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.crisis_eval import Rate
from bench.search_eval import ARTICLES_DIR, SAMPLE_WORDING
from bot import yamlfile
from bot.models import CrisisCategory
from bot.services.crisis_semantic import load_semantic_layer
from bot.services.learn import NALOXONE_ARTICLE, answer_for
from bot.services.library import Library
from bot.services.library_files import load_library
from bot.services.safety import assess

ROOT = Path(__file__).resolve().parents[1]
HELDOUT_FILE = ROOT / "tests" / "heldout" / "guard_heldout.yaml"
DEV_FILE = ROOT / "tests" / "data" / "guard_dev.yaml"
EXPECTS = ("prescriber", "naloxone_steps", "warning", "education")
LANGS = ("en", "es", "mixed")
CRISIS = "crisis"
# A crisis answer of these kinds starts with the emergency number and the naloxone steps.
_STEPS_CATEGORIES = frozenset({CrisisCategory.OVERDOSE, CrisisCategory.MEDICAL_EMERGENCY})


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled question."""

    text: str
    lang: str
    expect: str
    articles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a patient would be answered: the kind (or "crisis"), its articles, the category."""

    case: Case
    kind: str
    articles: tuple[str, ...]
    crisis_category: CrisisCategory | None = None
    alone: str = ""  # the library's answer had the crisis scan not answered first

    @property
    def paged(self) -> bool:
        """Return True when the crisis scan answered (and so the team is paged or asked)."""
        return self.kind == CRISIS

    @property
    def right_article(self) -> bool:
        """Return True when an answer lists one of the articles written next to the question."""
        return bool(set(self.articles) & set(self.case.articles))

    @property
    def correct(self) -> bool:
        """Return True when the answer is the one the question expects."""
        expect = self.case.expect
        if expect == "prescriber":
            return self.kind == "prescriber"
        if expect == "naloxone_steps":
            if self.paged:
                return self.crisis_category in _STEPS_CATEGORIES
            return self.kind == "naloxone_steps" and self.articles[:1] == (NALOXONE_ARTICLE,)
        if expect == "warning":
            return self.kind in {"warning", CRISIS}
        return self.kind not in {"prescriber", CRISIS, "no_match"} and self.right_article


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every figure the report prints."""

    outcomes: tuple[Outcome, ...]

    def rate(self, keep: Callable[[Outcome], bool], hit: Callable[[Outcome], bool]) -> Rate:
        """Return how many of the kept outcomes hit."""
        chosen = [o for o in self.outcomes if keep(o)]
        return Rate(sum(hit(o) for o in chosen), len(chosen))

    def accuracy(self, expect: str | None = None, lang: str | None = None) -> Rate:
        """Return the share answered as expected, for one kind and/or language (None: all)."""
        return self.rate(
            lambda o: (
                (expect is None or o.case.expect == expect)
                and (lang is None or o.case.lang == lang)
            ),
            lambda o: o.correct,
        )

    @property
    def prescriber_recall(self) -> Rate:
        """Return the share of prescriber questions given the prescriber answer."""
        return self.accuracy("prescriber")

    @property
    def prescriber_with_article(self) -> Rate:
        """Return the share of prescriber questions answered so, with a listed article."""
        return self.rate(
            lambda o: o.case.expect == "prescriber", lambda o: o.correct and o.right_article
        )

    @property
    def naloxone_steps(self) -> Rate:
        """Return the share of naloxone questions given the steps (either way)."""
        return self.accuracy("naloxone_steps")

    @property
    def warning(self) -> Rate:
        """Return the share of warning messages given the warning or a crisis answer."""
        return self.accuracy("warning")

    @property
    def education(self) -> Rate:
        """Return the share of education questions answered from the library, rightly."""
        return self.accuracy("education")

    @property
    def false_prescriber(self) -> Rate:
        """Return the share of education questions wrongly given the prescriber answer."""
        return self.rate(lambda o: o.case.expect == "education", lambda o: o.kind == "prescriber")

    def paged(self, expect: str) -> Rate:
        """Return the share of one kind of question that the crisis scan answered."""
        return self.rate(lambda o: o.case.expect == expect, lambda o: o.paged)

    def answered_as(self, expect: str, kind: str) -> Rate:
        """Return the share of one kind of question given one kind of answer."""
        return self.rate(lambda o: o.case.expect == expect, lambda o: o.kind == kind)

    def alone(self, expect: str) -> Rate:
        """Return the share of one kind given its answer by the library alone (no crisis scan)."""
        return self.rate(lambda o: o.case.expect == expect, lambda o: o.alone == expect)

    def misses(self) -> list[Outcome]:
        """Return the questions not answered as expected."""
        return [o for o in self.outcomes if not o.correct]


def load_cases(path: Path) -> list[Case]:
    """Read a question set; a malformed entry is reported with its number."""
    data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        message = f"{path}: must hold questions: a list of {{q, lang, expect, articles}}"
        raise TypeError(message)
    cases: list[Case] = []
    for number, entry in enumerate(data["questions"], start=1):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("q"), str)
            or entry.get("expect") not in EXPECTS
        ):
            message = f"{path}: question {number}: needs q and expect ({'|'.join(EXPECTS)})"
            raise TypeError(message)
        articles = entry.get("articles") or []
        if isinstance(articles, str):
            articles = [articles]
        cases.append(
            Case(
                text=entry["q"],
                lang=str(entry.get("lang", "en")),
                expect=entry["expect"],
                articles=tuple(str(a) for a in articles),
            )
        )
    return cases


def load_real_library() -> Library:
    """Load the shipped articles and lexicon, as the bot does."""
    return load_library(ARTICLES_DIR, wording=SAMPLE_WORDING)


def answer(case: Case, library: Library) -> Outcome:
    """Answer one question the way the bot does: the crisis scan first, then the library."""
    assessment = assess(case.text, load_semantic_layer())
    # Asked in the patient's language: a Spanish question gets Spanish articles where they exist.
    given = answer_for(case.text, library, "es" if case.lang == "es" else "en")
    if assessment.signal is not None:
        return Outcome(case, CRISIS, (), assessment.signal.category, given.kind)
    return Outcome(case, given.kind, tuple(a.id for a in given.articles), None, given.kind)


def evaluate(cases: Sequence[Case], library: Library | None = None) -> Evaluation:
    """Answer every case."""
    library = library or load_real_library()
    return Evaluation(tuple(answer(case, library) for case in cases))


def report(evaluation: Evaluation, title: str) -> str:
    """Return the figures as printable lines (never a question's text)."""
    e = evaluation
    lines = [
        f"{title}: {len(e.outcomes)} questions",
        f"  all, answered as expected            {e.accuracy()}",
        f"  prescriber recall                    {e.prescriber_recall}",
        f"    ... with a listed article          {e.prescriber_with_article}",
        f"    paged by the crisis scan instead   {e.paged('prescriber')}",
        f"    guardrails alone (no crisis scan)  {e.alone('prescriber')}",
        f"  naloxone steps given                 {e.naloxone_steps}",
        f"    ... by the crisis answer (pages)   {e.paged('naloxone_steps')}",
        f"    prescriber answer instead          {e.answered_as('naloxone_steps', 'prescriber')}",
        f"    guardrails alone (no crisis scan)  {e.alone('naloxone_steps')}",
        f"  warning given (or a crisis answer)   {e.warning}",
        f"    ... by the crisis answer (pages)   {e.paged('warning')}",
        f"    guardrails alone (no crisis scan)  {e.alone('warning')}",
        f"  education, a right article           {e.education}",
        f"    false prescriber rate              {e.false_prescriber}",
        f"    paged by the crisis scan           {e.paged('education')}",
        f"    answered with the steps/warning    "
        f"{e.rate(lambda o: o.case.expect == 'education', _steps_or_warning)}",
        "  by kind and language (answered as expected):",
        f"    {'':<16}" + "".join(f"{lang:>18}" for lang in LANGS),
    ]
    for expect in EXPECTS:
        cells = "".join(f"{e.accuracy(expect, lang)!s:>18}" for lang in LANGS)
        lines.append(f"    {expect:<16}{cells}")
    return "\n".join(lines)


def _steps_or_warning(outcome: Outcome) -> bool:
    return outcome.kind in {"naloxone_steps", "warning"}


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the development and held-out sets (or one, or another file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--file", type=Path, help="another file in the same format")
    parser.add_argument(
        "--misses", action="store_true", help="list misses (never for the held-out set)"
    )
    args = parser.parse_args(argv)
    if args.file is not None:
        paths = [args.file]
    elif args.set == "all":
        paths = [DEV_FILE, *([HELDOUT_FILE] if HELDOUT_FILE.exists() else [])]
    else:
        paths = [DEV_FILE if args.set == "dev" else HELDOUT_FILE]
    if args.misses and HELDOUT_FILE in paths:
        print("misses are never listed for the held-out set", file=sys.stderr)
        return 2
    library = load_real_library()
    for path in paths:
        if not path.exists():
            print(f"{path}: not found", file=sys.stderr)
            return 2
        evaluation = evaluate(load_cases(path), library)
        name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        print(report(evaluation, f"guardrails and education on {name}"))
        if args.misses:
            for outcome in evaluation.misses():
                case = outcome.case
                print(
                    f"- [{case.expect}/{case.lang}] {case.text}\n"
                    f"    got {outcome.kind} {', '.join(outcome.articles) or '-'}"
                    f"{'' if outcome.crisis_category is None else ' ' + outcome.crisis_category}"
                    f"; listed {', '.join(case.articles)}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
