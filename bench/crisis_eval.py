"""Crisis-detector evaluation: recall, tiers, false alarms and pages on a labelled message set.

Run with ``python -m bench.crisis_eval`` (the held-out set, ``tests/heldout/crisis_heldout.yaml``),
``python -m bench.crisis_eval --set dev`` (the development set the detector is tuned on) or
``--set review`` / ``review2`` to ``review30`` (``tests/data/crisis_review_v1.yaml`` to
``_v30.yaml``: the first thirty held-out sets, each measured once and then turned into tuning
data). The held-out set is written apart from the detector's
patterns, by someone who has not read them, and is never used for tuning: its figures are
reported as they come out, and its misses are never printed (``--misses`` works on the other
sets only).

A set is YAML: ``messages:`` a list of ``{text, lang: en|es|mixed, expect:
clear|possible|question|none, category, explicit: true (explicit suicidal intent), who}``.

- recall: a ``clear`` or ``possible`` message raises a signal of either tier;
- tier agreement: a caught crisis gets the tier written next to it;
- false alarms: an ``expect: none`` message raises a signal (of either tier);
- page rate: an ``expect: question`` message raises a signal (a question is answered, and a
  signal would page the team or ask "are you safe?").
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import yamlfile
from bot.services.crisis_semantic import load_semantic_layer
from bot.services.crisis_signal import Assessment
from bot.services.safety import assess

ROOT = Path(__file__).resolve().parents[1]
HELDOUT_FILE = ROOT / "tests" / "heldout" / "crisis_heldout.yaml"
DEV_FILE = ROOT / "tests" / "data" / "crisis_dev.yaml"


def _review_files() -> dict[str, Path]:
    """The review sets, ``--set review`` (the first) and ``review2`` on, as numbered on disk."""
    numbered = {
        int(path.stem.removeprefix("crisis_review_v")): path
        for path in (ROOT / "tests" / "data").glob("crisis_review_v*.yaml")
    }
    return {("review" if n == 1 else f"review{n}"): numbered[n] for n in sorted(numbered)}


REVIEW_FILES = _review_files()
CRISIS = ("clear", "possible")
EXPECTS = (*CRISIS, "question", "none")
LANGS = ("en", "es", "mixed")

# The targets on held-out messages.
TARGET_RECALL = 0.95
TARGET_RECALL_OVERDOSE = 1.0
TARGET_RECALL_EXPLICIT_SUICIDE = 1.0
TARGET_FALSE_ALARMS = 0.10


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message."""

    text: str
    lang: str
    expect: str
    category: str | None = None
    explicit: bool = False
    who: str | None = None


@dataclass(frozen=True, slots=True)
class Rate:
    """A count out of a total."""

    hits: int
    total: int

    @property
    def value(self) -> float:
        """Return the share (1.0 for an empty total: nothing to miss)."""
        return self.hits / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.value:6.1%} ({self.hits}/{self.total})"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the detector made of one case."""

    case: Case
    assessment: Assessment

    @property
    def alarmed(self) -> bool:
        """Return True when the message raised a crisis signal (either tier)."""
        return self.assessment.signal is not None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every figure the report prints."""

    outcomes: tuple[Outcome, ...]

    def _rate(self, keep: Callable[[Outcome], bool], hit: Callable[[Outcome], bool]) -> Rate:
        chosen = [o for o in self.outcomes if keep(o)]
        return Rate(sum(hit(o) for o in chosen), len(chosen))

    @property
    def recall(self) -> Rate:
        """Return the share of crisis messages (clear or possible) that raised a signal."""
        return self._rate(lambda o: o.case.expect in CRISIS, lambda o: o.alarmed)

    def recall_for_category(self, category: str) -> Rate:
        """Return recall on the crisis messages of one category."""
        return self._rate(
            lambda o: o.case.expect in CRISIS and o.case.category == category,
            lambda o: o.alarmed,
        )

    def recall_for_lang(self, lang: str) -> Rate:
        """Return recall on the crisis messages of one language."""
        return self._rate(
            lambda o: o.case.expect in CRISIS and o.case.lang == lang, lambda o: o.alarmed
        )

    def recall_for_tier(self, tier: str) -> Rate:
        """Return recall on the crisis messages labelled with one tier."""
        return self._rate(lambda o: o.case.expect == tier, lambda o: o.alarmed)

    @property
    def recall_overdose(self) -> Rate:
        """Return recall on overdose messages (the writer's or a bystander's)."""
        return self.recall_for_category("overdose")

    @property
    def recall_explicit_suicide(self) -> Rate:
        """Return recall on messages that state suicidal intent or a plan."""
        return self._rate(
            lambda o: o.case.expect in CRISIS and o.case.explicit, lambda o: o.alarmed
        )

    @property
    def tier_agreement(self) -> Rate:
        """Return the share of caught crisis messages that got their labelled tier."""
        return self._rate(
            lambda o: o.case.expect in CRISIS and o.alarmed,
            lambda o: o.assessment.signal is not None and o.assessment.signal.tier == o.case.expect,
        )

    @property
    def category_agreement(self) -> Rate:
        """Return the share of caught crisis messages reported with their labelled category."""
        return self._rate(
            lambda o: o.case.expect in CRISIS and o.alarmed and o.case.category is not None,
            lambda o: (
                o.assessment.signal is not None and o.assessment.signal.category == o.case.category
            ),
        )

    @property
    def false_alarms(self) -> Rate:
        """Return the share of everyday messages that raised a signal."""
        return self._rate(lambda o: o.case.expect == "none", lambda o: o.alarmed)

    @property
    def page_rate(self) -> Rate:
        """Return the share of educational questions that raised a signal (and so a page)."""
        return self._rate(lambda o: o.case.expect == "question", lambda o: o.alarmed)

    @property
    def questions_recognised(self) -> Rate:
        """Return the share of educational questions the detector read as questions."""
        return self._rate(lambda o: o.case.expect == "question", lambda o: o.assessment.question)

    def misses(self) -> list[Outcome]:
        """Return the crisis messages that raised no signal, and the quiet ones that did."""
        return [
            o
            for o in self.outcomes
            if (o.case.expect in CRISIS and not o.alarmed)
            or (o.case.expect in {"none", "question"} and o.alarmed)
            or (o.case.expect in CRISIS and o.alarmed and not _same_tier(o))
        ]


def _same_tier(outcome: Outcome) -> bool:
    signal = outcome.assessment.signal
    return signal is not None and signal.tier == outcome.case.expect


def load_cases(path: Path) -> list[Case]:
    """Read a message set; a malformed entry is reported with its number."""
    data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        message = f"{path}: must hold messages: a list of {{text, lang, expect, ...}}"
        raise TypeError(message)
    cases: list[Case] = []
    for number, entry in enumerate(data["messages"], start=1):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("text"), str)
            or entry.get("expect") not in EXPECTS
        ):
            message = f"{path}: message {number}: needs text and expect ({'|'.join(EXPECTS)})"
            raise TypeError(message)
        cases.append(
            Case(
                text=entry["text"],
                lang=str(entry.get("lang", "en")),
                expect=entry["expect"],
                category=entry.get("category"),
                explicit=bool(entry.get("explicit", False)),
                who=entry.get("who"),
            )
        )
    return cases


def evaluate(cases: Sequence[Case], *, semantic: bool = True) -> Evaluation:
    """Run the detector on every case, as the bot runs it: with the semantic layer when it
    loads here (``semantic=False``: the rules and the n-gram model alone)."""
    layer = load_semantic_layer() if semantic else None
    return Evaluation(tuple(Outcome(case, assess(case.text, layer)) for case in cases))


def report(evaluation: Evaluation, title: str) -> str:
    """Return the figures as printable lines (never a message's text)."""
    lines = [
        f"{title}: {len(evaluation.outcomes)} messages",
        f"  recall, all crisis messages          {evaluation.recall}  (target >= 95%)",
        f"    labelled clear                     {evaluation.recall_for_tier('clear')}",
        f"    labelled possible                  {evaluation.recall_for_tier('possible')}",
        f"  recall, overdose                     {evaluation.recall_overdose}  (target 100%)",
        f"  recall, explicit suicidal intent     {evaluation.recall_explicit_suicide}"
        "  (target 100%)",
        f"  false alarms on everyday talk        {evaluation.false_alarms}  (target < 10%)",
        f"  questions that would page            {evaluation.page_rate}",
        f"  questions read as questions          {evaluation.questions_recognised}",
        f"  tier agreement (caught crisis)       {evaluation.tier_agreement}",
        f"  category agreement (caught crisis)   {evaluation.category_agreement}",
        "  recall by category:",
    ]
    categories = sorted({o.case.category for o in evaluation.outcomes if o.case.category})
    lines.extend(
        f"    {category:<20} {evaluation.recall_for_category(category)}" for category in categories
    )
    lines.append("  recall by language:")
    lines.extend(f"    {lang:<20} {evaluation.recall_for_lang(lang)}" for lang in LANGS)
    return "\n".join(lines)


def targets_met(evaluation: Evaluation) -> dict[str, bool]:
    """Return each of the issue's targets and whether this evaluation meets it."""
    return {
        "recall >= 95%": evaluation.recall.value >= TARGET_RECALL,
        "overdose recall 100%": evaluation.recall_overdose.value >= TARGET_RECALL_OVERDOSE,
        "explicit suicide recall 100%": evaluation.recall_explicit_suicide.value
        >= TARGET_RECALL_EXPLICIT_SUICIDE,
        "false alarms < 10%": evaluation.false_alarms.value < TARGET_FALSE_ALARMS,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Print the evaluation of the held-out set (or of another set with --set or --file)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--set",
        choices=("heldout", "dev", *REVIEW_FILES),
        default="heldout",
    )
    parser.add_argument("--file", type=Path, help="another file in the same format")
    parser.add_argument(
        "--misses", action="store_true", help="list misses (never for the held-out set)"
    )
    parser.add_argument(
        "--no-semantic",
        action="store_true",
        help="the rules and the n-gram model alone, as when the semantic layer cannot load",
    )
    args = parser.parse_args(argv)
    sets = {"heldout": HELDOUT_FILE, "dev": DEV_FILE, **REVIEW_FILES}
    path = args.file or sets[args.set]
    if not path.exists():
        print(f"{path}: not found", file=sys.stderr)
        return 2
    if args.misses and path == HELDOUT_FILE:
        print("misses are never listed for the held-out set", file=sys.stderr)
        return 2
    evaluation = evaluate(load_cases(path), semantic=not args.no_semantic)
    shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    print(report(evaluation, f"crisis detector on {shown}"))
    for target, met in targets_met(evaluation).items():
        print(f"  target {target:<30} {'met' if met else 'NOT met'}")
    if args.misses:
        for outcome in evaluation.misses():
            case = outcome.case
            print(f"- [{case.expect}/{case.category}/{case.lang}] {case.text}")
            print(f"    {outcome.assessment.explain()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
