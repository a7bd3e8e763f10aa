"""The whole crisis detector simulated on out-of-set scores, and its leave-one-set-out figures.

:mod:`bench.train_crisis_head` gives every labelled message the scores of an n-gram model and
a semantic head trained without the message's set. This module answers each message as
:func:`bot.services.safety.assess` would with those scores (:func:`decide`), chooses thresholds
on some sets only (:func:`choose_model`, :func:`choose_join`) and answers each set with
thresholds chosen without it (:func:`cross_validated`), so that no figure it prints comes from
a model or a threshold fitted on the messages measured. The rules are not retrained: a set the
rules were written on flatters them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bench import train_crisis_model as ngram
from bench.crisis_eval import Rate
from bot.services.crisis_model import MIN_WORDS, word_count
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_semantic import combine
from bot.services.crisis_signal import Tier
from bot.services.crisis_text import forms_of

CATEGORIES = ngram.CATEGORIES
FALSE_ALARM_BUDGET = 0.08
FALSE_ALARM_PER_SET = 0.095
QUESTION_PAGE_BUDGET = 0.15
OVERRULE_CHOICES = (0.9, 0.95, 0.98, 2.0)  # 2.0: a question or a memory is never overruled
FOCUS_CATEGORY = 0.8  # the n-gram category head's confidence that lowers the bar (runtime's)
NEVER = 2.0  # a threshold no probability reaches
_RECALL_FIRST = np.array([c in {"overdose", "suicide"} for c in CATEGORIES])


@dataclass(frozen=True, slots=True)
class Scores:
    """Each message's scores from models that never saw its set."""

    model: np.ndarray  # n-gram crisis probability
    model_categories: np.ndarray  # (N, 7)
    head: np.ndarray  # (N, 4) none, question, possible, clear
    head_categories: np.ndarray  # (N, 7)

    def joined(self, weight: float) -> np.ndarray:
        """The runtime's join of the two crisis probabilities (:func:`combine`)."""
        return np.array(
            [
                combine(float(m), float(h[2] + h[3]), weight)
                for m, h in zip(self.model, self.head, strict=True)
            ]
        )

    def head_reads_question(self) -> np.ndarray:
        crisis = self.head[:, 2] + self.head[:, 3]
        return self.head[:, 1] > np.maximum(crisis, self.head[:, 0])


@dataclass(frozen=True, slots=True)
class Rules:
    """What the rules made of each message."""

    alarmed: np.ndarray
    tier_clear: np.ndarray
    quieted: np.ndarray
    short: np.ndarray
    category: list[str | None]


def read_rules(examples: Sequence[ngram.Example]) -> Rules:
    alarmed, clear, quieted, short, category = [], [], [], [], []
    for e in examples:
        assessment, why = assess_rules(e.text)
        signal = assessment.signal
        alarmed.append(signal is not None)
        clear.append(signal is not None and signal.tier is Tier.CLEAR)
        quieted.append(why is not None)
        short.append(word_count(forms_of(e.text)[0]) < MIN_WORDS)
        category.append(signal.category.value if signal is not None else None)
    return Rules(np.array(alarmed), np.array(clear), np.array(quieted), np.array(short), category)


@dataclass(frozen=True, slots=True)
class Outcome:
    """The simulated detector's answer for each message."""

    alarmed: np.ndarray
    clear: np.ndarray
    category: list[str | None]
    layer: list[str | None]


@dataclass(frozen=True, slots=True)
class Detector:
    """Everything :func:`decide` reads besides the thresholds."""

    rules: Rules
    scores: Scores
    joined: np.ndarray | None  # None: no semantic layer
    question: np.ndarray


def decide(d: Detector, t: dict[str, float], *, named: bool = True) -> Outcome:
    """Rules first; then the join (when there is one), then the n-gram model alone.

    As :func:`bot.services.crisis_judgement.model_signal` does: the join adds catches, and
    whatever it says the n-gram model's own reading at its own thresholds (``m_*``) stands.
    ``named=False`` leaves the categories and layers out (the threshold search needs only
    which messages raise a signal).
    """
    rules, scores = d.rules, d.scores
    asked = ~rules.alarmed & ~rules.short
    m = scores.model
    top = scores.model_categories.argmax(axis=1)
    focus = (
        _RECALL_FIRST[top]
        & (scores.model_categories.max(axis=1) >= FOCUS_CATEGORY)
        & (m >= t["m_focus"])
    )
    alone_raise = asked & ~rules.quieted & ((m >= t["m_possible"]) | focus)
    alone = alone_raise | (asked & rules.quieted & (m >= t["m_overrule"]))
    join = np.zeros_like(asked)
    join_clear = np.zeros_like(asked)
    if d.joined is not None:
        by_join = asked & ~d.question
        raised = by_join & ~rules.quieted & (d.joined >= t["possible"])
        join = raised | (by_join & rules.quieted & (d.joined >= t["overrule"]))
        join_clear = raised & (d.joined >= t["clear"])
    alarmed = rules.alarmed | alone | join
    model_clear = ~join & alone_raise & (m >= t["m_clear"])
    clear = np.where(rules.alarmed, rules.tier_clear, join_clear | model_clear)
    if not named:
        return Outcome(alarmed, clear, [], [])
    both = np.log(scores.model_categories + 1e-12) + np.log(scores.head_categories + 1e-12)
    category: list[str | None] = []
    layer: list[str | None] = []
    for i, rule in enumerate(rules.category):
        if rule is not None:
            category.append(rule)
            layer.append("rules")
        elif join[i]:
            category.append(CATEGORIES[int(both[i].argmax())])
            layer.append("semantic")
        elif alone[i]:
            category.append(CATEGORIES[int(top[i])])
            layer.append("model")
        else:
            category.append(None)
            layer.append(None)
    return Outcome(alarmed, clear, category, layer)


def _key(
    examples: Sequence[ngram.Example], keep: np.ndarray, sets: np.ndarray
) -> Callable[[np.ndarray, float], tuple[int, ...] | None]:
    """Rank an answer: None past a budget, else the most urgent, then all crises caught."""
    expect = np.array([e.expect for e in examples])
    crisis = np.isin(expect, ["clear", "possible"]) & keep
    urgent = crisis & np.array([e.category == "overdose" or e.explicit for e in examples])
    none = (expect == "none") & keep
    questions = (expect == "question") & keep
    review = [none & (sets == n) for n in ngram.REVIEW_SETS if (none & (sets == n)).any()]

    def key(alarmed: np.ndarray, bar: float) -> tuple[int, ...] | None:
        if alarmed[none].mean() > FALSE_ALARM_BUDGET:
            return None
        if any(alarmed[r].mean() > FALSE_ALARM_PER_SET for r in review):
            return None
        if questions.any() and alarmed[questions].mean() > QUESTION_PAGE_BUDGET:
            return None
        return (
            int(alarmed[urgent].sum()),
            int(alarmed[crisis].sum()),
            -int(alarmed[none].sum()),
            -int(alarmed[questions].sum()),
            -round(bar * 100),
        )

    return key


def _clear_bar(score: np.ndarray, examples: Sequence[ngram.Example], keep: np.ndarray) -> float:
    """A score that 99% of the kept everyday messages stay under (at least 0.9)."""
    none = np.array([e.expect == "none" for e in examples]) & keep
    return float(max(0.9, np.quantile(score[none], 0.99)))


def choose_model(
    examples: Sequence[ngram.Example], keep: np.ndarray, sets: np.ndarray, d: Detector
) -> dict[str, float]:
    """The n-gram model's own thresholds, the rules and that model alone, on the kept sets."""
    alone = Detector(d.rules, d.scores, None, d.question)
    key = _key(examples, keep, sets)
    best: tuple[tuple[int, ...], dict[str, float]] | None = None
    for possible in np.round(np.arange(0.30, 0.99, 0.02), 2):
        for focus in np.round(np.arange(0.30, possible + 0.001, 0.05), 2):
            for overrule in (o for o in OVERRULE_CHOICES if o >= possible):
                t = {
                    "m_possible": float(possible),
                    "m_focus": float(focus),
                    "m_overrule": overrule,
                    "m_clear": NEVER,
                }
                ranked = key(decide(alone, t, named=False).alarmed, float(possible))
                if ranked is not None and (best is None or ranked > best[0]):
                    best = (ranked, t)
    if best is None:
        message = "no n-gram thresholds keep false alarms within the budget"
        raise SystemExit(message)
    t = best[1]
    t["m_clear"] = max(t["m_possible"], _clear_bar(d.scores.model, examples, keep))
    return t


def choose_join(
    examples: Sequence[ngram.Example],
    keep: np.ndarray,
    sets: np.ndarray,
    d: Detector,
    model_t: dict[str, float],
    guard: Detector | None = None,
) -> dict[str, float]:
    """The join's thresholds on the kept sets, the n-gram model's own reading standing.

    ``guard``, when given, is the shipped models' reading of the everyday messages the suite
    holds quiet one by one: only thresholds that leave every one of them quiet are kept.
    """
    assert d.joined is not None
    key = _key(examples, keep, sets)
    best: tuple[tuple[int, ...], dict[str, float]] | None = None
    for possible in (*np.round(np.arange(0.30, 0.99, 0.01), 2), NEVER):
        for overrule in (o for o in OVERRULE_CHOICES if o >= possible):
            t = {**model_t, "possible": float(possible), "overrule": overrule, "clear": NEVER}
            if guard is not None and decide(guard, t, named=False).alarmed.any():
                continue
            ranked = key(decide(d, t, named=False).alarmed, float(possible))
            if ranked is not None and (best is None or ranked > best[0]):
                best = (ranked, t)
    if best is None:
        message = "no join thresholds keep false alarms within the budget"
        raise SystemExit(message)
    t = best[1]
    t["clear"] = max(t["possible"], _clear_bar(d.joined, examples, keep))
    return t


def cross_validated(
    examples: Sequence[ngram.Example], sets: np.ndarray, d: Detector
) -> tuple[Outcome, dict[str, dict[str, float]]]:
    """Answer each set with thresholds chosen on the other sets' scores (never its own)."""
    n = len(examples)
    alarmed = np.zeros(n, dtype=bool)
    clear = np.zeros(n, dtype=bool)
    category: list[str | None] = [None] * n
    layer: list[str | None] = [None] * n
    chosen: dict[str, dict[str, float]] = {}
    for name in sorted(set(sets)):
        others = sets != name
        t = choose_model(examples, others, sets, d)
        if d.joined is not None:
            t = choose_join(examples, others, sets, d, t)
        chosen[name] = t
        outcome = decide(d, t)
        for i in np.flatnonzero(sets == name):
            alarmed[i] = outcome.alarmed[i]
            clear[i] = outcome.clear[i]
            category[i] = outcome.category[i]
            layer[i] = outcome.layer[i]
    return Outcome(alarmed, clear, category, layer), chosen


def figures(
    examples: Sequence[ngram.Example], outcome: Outcome, keep: np.ndarray
) -> dict[str, Rate]:
    """Recall by tier, category and language, false alarms, pages, on the kept messages."""

    def rate(chosen: Callable[[ngram.Example], bool], hit: np.ndarray) -> Rate:
        picked = [i for i, e in enumerate(examples) if keep[i] and chosen(e)]
        return Rate(int(hit[picked].sum()), len(picked))

    alarmed = outcome.alarmed
    caught = np.array([keep[i] and e.crisis and alarmed[i] for i, e in enumerate(examples)])
    category_ok = np.array(
        [a and c == e.category for e, a, c in zip(examples, alarmed, outcome.category, strict=True)]
    )
    rows: dict[str, Rate] = {
        "recall, all crisis messages": rate(lambda e: e.crisis, alarmed),
        "  labelled clear": rate(lambda e: e.expect == "clear", alarmed),
        "  labelled possible": rate(lambda e: e.expect == "possible", alarmed),
        "recall, overdose": rate(lambda e: e.crisis and e.category == "overdose", alarmed),
        "recall, explicit suicidal intent": rate(lambda e: e.crisis and e.explicit, alarmed),
        "false alarms on everyday talk": rate(lambda e: e.expect == "none", alarmed),
        "questions that would page": rate(lambda e: e.expect == "question", alarmed),
        "category agreement (caught)": Rate(int(category_ok[caught].sum()), int(caught.sum())),
    }
    for category in CATEGORIES:
        rows[f"  {category}"] = rate(lambda e, c=category: e.crisis and e.category == c, alarmed)
    for lang in ("en", "es", "mixed"):
        rows[f"  language {lang}"] = rate(lambda e, g=lang: e.crisis and e.lang == g, alarmed)
    return rows


def table(columns: dict[str, dict[str, Rate]]) -> str:
    names = list(columns)
    rows = list(next(iter(columns.values())))
    width = max(len(r) for r in rows) + 2
    lines = [" " * width + "".join(f"{n:>22}" for n in names)]
    for row in rows:
        cells = "".join(f"{str(columns[n][row]).strip():>22}" for n in names)
        lines.append(f"{row:<{width}}{cells}")
    return "\n".join(lines)
