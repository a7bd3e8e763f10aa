"""Train the crisis model (bot/services/crisis_model.json.gz) from the labelled sets in tests/data.

Run with ``python -m bench.train_crisis_model`` (needs numpy and scipy, which the runtime does
not).

Data: every labelled message in ``tests/data/crisis_*.yaml`` (corpus positives and negatives,
development set, probes, the thirty review sets) and the medication questions of
``tests/data/guard_dev.yaml``. clear/possible = crisis, none and question = not a crisis (a
question is answered, never paged). The held-out set in ``tests/heldout/`` is never read. The
fourth to thirtieth review sets were each measured once as the held-out set; they are read
only while their files are the ones that were measured (:data:`MEASURED_SETS`).

The thresholds are chosen honestly: 5-fold cross-validation, grouped so that near-duplicate
messages stay in one fold, gives every message an out-of-fold score; the whole detector
(rules first, then the model with the candidate thresholds) is simulated on those scores and
the thresholds that give the highest out-of-fold recall with false alarms on everyday talk at
most ``FALSE_ALARM_BUDGET`` are kept. Among them, only thresholds at which the final weights
(trained on all the data) leave quiet every everyday message the suite holds quiet one by one
(the corpus's negatives that are not accepted false alarms, the probes' quiet messages).
Everything is deterministic (fixed seed, fixed order); ``--check`` prints the out-of-fold
figures without writing the model.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from bot import yamlfile
from bot.services.crisis_model import MIN_WORDS, MODEL_FILE, features, word_count
from bot.services.crisis_rules import assess_rules
from bot.services.crisis_text import forms_of

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
OUT = ROOT / "bot" / "services" / MODEL_FILE
BITS = 18
SEED = 20261130
FOLDS = 5
JACCARD = 0.6  # near-duplicates at or above this word-set overlap share a fold
FALSE_ALARM_BUDGET = 0.08
# The lowered bar for a message the category head reads as overdose or suicide still asks for
# an even chance of a crisis: the category head is trained on crisis messages only, so it is as
# sure of "suicide" for "i love my life right now" as for a farewell, and a bar under 0.5
# (0.25 was the out-of-fold optimum once the eighth set was added) pages on such talk.
FOCUS_FLOOR = 0.5
L2 = 1e-5
NEGATIVE_WEIGHT = 1.0
# Sets that were measured once as the held-out set, with the digest of the file as measured
# (plus the header line saying so): a changed file stops training rather than teach the models
# labels no one measured, and a new held-out set is never read from tests/heldout/.
MEASURED_SETS = {
    "review_v4": "e35fa6341816264b829194e2439756402b5d410a10cb5d4abfa3db13dc04fef7",
    "review_v5": "58168800d1772f66aae2a682d9f2f151b60b5e52284ea430b757e3058c35c788",
    "review_v6": "efe4965973b0b9ce523aa858dc8975d98693dcdad5d99e2581d5cf3f4af4eca6",
    "review_v7": "da5b214414732a2c94fffb73e200cf90f05b3b6b3210d02bc396ad3af292f92b",
    "review_v8": "887ec2b93f871ae3e668d90e3363dbc269000c2ba10102254bd3d78e619b9918",
    "review_v9": "a2d9a8ff84bb3d57fe26982a2508b8e8e493b2e6cfba69fa9dbefd097100a038",
    "review_v10": "8cf5cc71a07b848f7849e0cfa0547b007d80d1a4797eebab9d2fd19258fcd3ce",
    "review_v11": "fda868ddc9059469efd55883b39423e58ea5c9f868cb1948b6ce24d355ebdb6f",
    "review_v12": "02d6a301a2f4b0b97b83c79d7a6cb8c6601884a70fdd00edc2fe99827bd3f287",
    "review_v13": "23a836e8c947b6e9f89bbe044dfa810a2d3107332c0f5b3b11219bf33dc189c4",
    "review_v14": "e3a679708faac46b0ba017fecbf0ee8ceb0756cb95842d5cd3d43adc3b0b5425",
    "review_v15": "53b2145a483107ab40377dcda4a09ab6ed662adf300b4bc6bd9cc766ebaac8bf",
    "review_v16": "30b7865881d979333fa73978182551b5a22267dd044006834d93e9c169373c46",
    "review_v17": "0dc0a674bdd2372f5200d7b79b3eeea17a93df7ffc0a534aa7b41374d287b328",
    "review_v18": "e450f47dcc7ea4b12c6bc3d3f8c60886f8166ac636ce35153d53eaaa6a3f536d",
    "review_v19": "378153910d4b86bc45f9134d08b7fee0e91a9b150bb5f0acdaff1932e86c1511",
    "review_v20": "21a01ca52d399de22e266845330552e4e8dbd7f356bbc3b829fabb0b627e8bb1",
    "review_v21": "8133fe3ff2bf1e958e6a109cf62fe83ae95ccd189df94069b99799f7ee9d318c",
    "review_v22": "65f460850774cd5bf3d74c826b5a05f3068cec5e00ba9c45064eab2a22cd95b8",
    "review_v23": "98b84abd3a914ab6964d0164135bd02023e224b1d25e753dd2a17a3c5d9a5196",
    "review_v24": "657f50003281a404fd9742cba6a73cea5cde0147ce3bd5fd291dbe06913cf795",
    "review_v25": "63cd1c3b4b92f1aa9825c7ac7e82d5caa08b8cca3da209309e607a1389cfa5b4",
    "review_v26": "27694c681731055bc037ea63210ce2a343987d4c5de09f0f4cb1e6178ad69ca7",
    "review_v27": "53a861e505c7a83a38066765faf6ce6c0d2972e9f85511b6e3626bb02adfdcd6",
    "review_v28": "ff09b754a4b828ea29e0c13eecea1057819dafa5c07eb66f78c972bf2d5b4a7a",
    "review_v29": "9fcbb544a459c8a77de0d82e7958a2b7e99a18aa8b3b6382c9176c652044fa92",
    "review_v30": "4a951bb32200eab99242709ba8e226330aa57ee2f4485c48d73499da75888ab9",
}
# The sets read, in order: every review set from the fourth on was measured once and is pinned
# above, so a new one is one digest line there.
REVIEW_SETS = ("dev", "review_v1", "review_v2", "review_v3", *MEASURED_SETS)
CATEGORIES = (
    "overdose",
    "suicide",
    "self_harm",
    "medical_emergency",
    "harm_to_others",
    "abuse_or_danger",
    "relapse_danger",
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    expect: str  # clear | possible | question | none
    category: str | None
    explicit: bool
    source: str
    lang: str = "en"
    # Everyday talk the suite holds quiet, message by message (the corpus's negatives that are
    # not accepted false alarms, the probes' quiet ones): the shipped model must leave each
    # quiet, however few they are beside the review sets' everyday talk.
    guard: bool = False

    @property
    def crisis(self) -> bool:
        return self.expect in {"clear", "possible"}


def load_examples() -> list[Example]:
    """Every labelled message in tests/data (never the held-out set)."""
    examples: list[Example] = []
    corpus = yamlfile.safe_load((DATA / "crisis_corpus.yaml").read_text("utf-8"))
    for entry in corpus["positives"]:
        category = entry.get("category")
        if isinstance(category, list):
            category = category[0]
        locale = entry.get("locale", "en")
        examples.append(Example(entry["text"], "clear", category, False, "corpus", locale))
    examples.extend(
        Example(entry["text"], "none", None, False, "corpus", guard=not entry["alarm"])
        for entry in corpus["negatives"]
    )
    probes = yamlfile.safe_load((DATA / "crisis_probes.yaml").read_text("utf-8"))
    examples.extend(Example(text, "clear", None, False, "probes") for text in probes["crisis"])
    examples.extend(
        Example(text, "none", None, False, "probes", guard=True) for text in probes["quiet"]
    )
    for name in REVIEW_SETS:
        data = yamlfile.safe_load(read_set(name).decode("utf-8"))
        examples.extend(
            Example(
                m["text"],
                m["expect"],
                m.get("category"),
                bool(m.get("explicit", False)),
                name,
                str(m.get("lang", "en")),
            )
            for m in data["messages"]
        )
    # Medication questions (the guardrails' development set) are answered, never paged: they
    # teach the model that "thinking about cutting my strips in half" is not a crisis. Warning
    # signs and naloxone questions are left out: the crisis path may rightly take them.
    guard = yamlfile.safe_load((DATA / "guard_dev.yaml").read_text("utf-8"))
    examples.extend(
        Example(q["q"], "question", None, False, "guard_dev", str(q.get("lang", "en")))
        for q in guard["questions"]
        if q["expect"] in {"prescriber", "education"}
    )
    return examples


def read_set(name: str) -> bytes:
    """Return a review set's bytes, after checking a measured set is the file that was measured."""
    path = DATA / f"crisis_{name}.yaml"
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if name in MEASURED_SETS and digest != MEASURED_SETS[name]:
        message = (
            f"{path.relative_to(ROOT)} is not the set that was measured (digest {digest[:12]});"
            " the held-out set in tests/heldout/ is never trained on."
        )
        raise SystemExit(message)
    return raw


def groups(forms: Sequence[str]) -> list[int]:
    """Union near-duplicates (word-set Jaccard >= 0.6) into one group.

    Two sets that close share a word among the first ``len - ceil(0.6 * len) + 1`` of each
    (words ordered rarest first), so only pairs sharing such a word are compared: the same
    unions, in the same order, as comparing every pair, in under a second instead of minutes.
    """
    parent = list(range(len(forms)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    sets = [frozenset(form.split()) for form in forms]
    frequency: dict[str, int] = {}
    for words in sets:
        for word in words:
            frequency[word] = frequency.get(word, 0) + 1
    holders: dict[str, list[int]] = {}
    prefixes: list[list[str]] = []
    for i, words in enumerate(sets):
        ordered = sorted(words, key=lambda word: (frequency[word], word))
        prefix = ordered[: len(ordered) - math.ceil(JACCARD * len(ordered) - 1e-9) + 1]
        prefixes.append(prefix)
        for word in prefix:
            holders.setdefault(word, []).append(i)
    for i, a in enumerate(sets):
        if not a:
            continue
        candidates = sorted({j for word in prefixes[i] for j in holders[word] if j > i})
        for j in candidates:
            b = sets[j]
            if b and len(a & b) / len(a | b) >= JACCARD:
                parent[find(i)] = find(j)
    return [find(i) for i in range(len(forms))]


@dataclass(frozen=True, slots=True)
class Matrix:
    """A sparse matrix in CSR form (scipy's, whose products run in C: with nineteen thousand
    messages, numpy's cumulative sums took minutes per training)."""

    csr: sparse.csr_matrix

    @property
    def rows(self) -> int:
        return int(self.csr.shape[0])

    def take(self, rows: Sequence[int]) -> Matrix:
        return Matrix(self.csr[np.asarray(rows, dtype=np.int64)])

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X @ w for w of shape (D,) or (D, K)."""
        return np.asarray(self.csr @ w)

    def tdot(self, g: np.ndarray, size: int) -> np.ndarray:
        """X.T @ g for g of shape (N,) or (N, K)."""
        assert self.csr.shape[1] == size
        return np.asarray(self.csr.T @ g)


def build_matrix(forms: Sequence[str]) -> tuple[Matrix, list[int]]:
    """Hash every form; columns are compacted to the features seen, returned with their keys."""
    rows = [features(form, BITS) for form in forms]
    keys = sorted({key for row in rows for key in row})
    column = {key: i for i, key in enumerate(keys)}
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for row in rows:
        for key in sorted(row):
            indices.append(column[key])
            data.append(row[key])
        indptr.append(len(indices))
    matrix = sparse.csr_matrix(
        (np.array(data, dtype=np.float64), np.array(indices), np.array(indptr)),
        shape=(len(rows), len(keys)),
    )
    return Matrix(matrix), keys


def adam(grad: Any, w: np.ndarray, steps: int = 300, rate: float = 0.05) -> np.ndarray:
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t in range(1, steps + 1):
        g = grad(w)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        w = w - rate * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return w


def train_binary(
    x: Matrix, y: np.ndarray, size: int, l2: float, negative_weight: float = 1.0
) -> tuple[np.ndarray, float]:
    """Logistic regression (balanced class weights, L2), weights then bias."""
    pos = y.mean()
    sample = np.where(y == 1, 0.5 / pos, negative_weight * 0.5 / (1 - pos)) / len(y)

    def grad(params: np.ndarray) -> np.ndarray:
        w, b = params[:-1], params[-1]
        p = 1 / (1 + np.exp(-(x.dot(w) + b)))
        err = (p - y) * sample
        return np.concatenate([x.tdot(err, size) + l2 * w, [err.sum()]])

    params = adam(grad, np.zeros(size + 1))
    return params[:-1], float(params[-1])


def train_softmax(x: Matrix, y: np.ndarray, size: int, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression over CATEGORIES, weights (D, K) then biases (K)."""
    k = len(CATEGORIES)
    onehot = np.eye(k)[y]

    def grad(params: np.ndarray) -> np.ndarray:
        w = params[:-k].reshape(size, k)
        b = params[-k:]
        z = x.dot(w) + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        err = (p - onehot) / len(y)
        return np.concatenate([(x.tdot(err, size) + l2 * w).ravel(), err.sum(axis=0)])

    params = adam(grad, np.zeros(size * k + k))
    return params[:-k].reshape(size, k), params[-k:]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


@dataclass(frozen=True, slots=True)
class RuleReading:
    alarmed: bool
    quieted: bool
    short: bool  # too few words for the model to be asked


def simulate(
    examples: Sequence[Example],
    rules: Sequence[RuleReading],
    score: np.ndarray,
    category: Sequence[str],
    category_p: np.ndarray,
    t: dict[str, float],
) -> dict[str, tuple[int, int]]:
    """The detector's figures with rules first, then the model at thresholds ``t``."""
    alarms = []
    for rule, s, c, cp in zip(rules, score, category, category_p, strict=True):
        if rule.alarmed:
            alarms.append(True)
        elif rule.short:
            alarms.append(False)
        elif rule.quieted:
            alarms.append(bool(s >= t["overrule"]))
        else:
            alarms.append(
                bool(
                    s >= t["possible"]
                    or (
                        c in {"overdose", "suicide"}
                        and cp >= t["focus_category"]
                        and s >= t["focus"]
                    )
                )
            )

    def rate(keep: Any) -> tuple[int, int]:
        chosen = [a for e, a in zip(examples, alarms, strict=True) if keep(e)]
        return sum(chosen), len(chosen)

    return {
        "recall": rate(lambda e: e.crisis),
        "recall_possible": rate(lambda e: e.expect == "possible"),
        "recall_overdose": rate(lambda e: e.crisis and e.category == "overdose"),
        "recall_explicit_suicide": rate(lambda e: e.crisis and e.explicit),
        "false_alarms": rate(lambda e: e.expect == "none"),
        "false_alarms_review": rate(lambda e: e.expect == "none" and e.source.startswith("review")),
        "recall_review": rate(lambda e: e.crisis and e.source.startswith("review")),
        "recall_overdose_review": rate(
            lambda e: e.crisis and e.category == "overdose" and e.source.startswith("review")
        ),
        "recall_explicit_review": rate(
            lambda e: e.crisis and e.explicit and e.source.startswith("review")
        ),
        "questions_paging_review": rate(
            lambda e: e.expect == "question" and e.source.startswith("review")
        ),
        "questions_paging": rate(lambda e: e.expect == "question"),
    }


def fmt(figures: dict[str, tuple[int, int]]) -> str:
    return "\n".join(
        f"  {name:<26} {h / n if n else 1:6.1%} ({h}/{n})" for name, (h, n) in figures.items()
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="print figures, write nothing")
    parser.add_argument("--l2", type=float, default=L2)
    parser.add_argument("--negative-weight", type=float, default=NEGATIVE_WEIGHT)
    parser.add_argument("--dump", type=Path, help="write out-of-fold scores (JSON lines) here")
    args = parser.parse_args(argv)
    examples = load_examples()
    forms = [forms_of(e.text)[0] for e in examples]
    x, keys = build_matrix(forms)
    size = len(keys)
    y = np.array([1.0 if e.crisis else 0.0 for e in examples])
    group = groups(forms)
    unique = sorted(set(group))
    random.Random(SEED).shuffle(unique)
    fold_of_group = {g: i % FOLDS for i, g in enumerate(unique)}
    fold = np.array([fold_of_group[g] for g in group])
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}

    score = np.zeros(len(examples))
    category_p = np.zeros((len(examples), len(CATEGORIES)))
    for f in range(FOLDS):
        train = [i for i in range(len(examples)) if fold[i] != f]
        test = [i for i in range(len(examples)) if fold[i] == f]
        w, b = train_binary(x.take(train), y[train], size, args.l2, args.negative_weight)
        score[test] = 1 / (1 + np.exp(-(x.take(test).dot(w) + b)))
        labelled = [i for i in train if examples[i].crisis and examples[i].category in cat_index]
        cy = np.array([cat_index[examples[i].category or ""] for i in labelled])
        cw, cb = train_softmax(x.take(labelled), cy, size, args.l2)
        category_p[test] = softmax(x.take(test).dot(cw) + cb)
        print(f"fold {f + 1}/{FOLDS}: {len(test)} messages", file=sys.stderr)
    category = [CATEGORIES[i] for i in category_p.argmax(axis=1)]
    top_p = category_p.max(axis=1)

    rules = []
    for e in examples:
        assessment, quieted = assess_rules(e.text)
        short = word_count(forms_of(e.text)[0]) < MIN_WORDS
        rules.append(RuleReading(assessment.signal is not None, quieted is not None, short))

    if args.dump:
        with args.dump.open("w", encoding="utf-8") as out:
            for e, r, sc, c, cp in zip(examples, rules, score, category, top_p, strict=True):
                row = {
                    "text": e.text,
                    "expect": e.expect,
                    "category": e.category,
                    "source": e.source,
                    "rule": r.alarmed,
                    "quieted": r.quieted,
                    "score": round(float(sc), 3),
                    "model_category": c,
                    "cp": round(float(cp), 2),
                }
                out.write(json.dumps(row) + "\n")
    print("rules alone:")
    never = {"possible": 2.0, "overrule": 2.0, "focus": 2.0, "focus_category": 2.0}
    print(fmt(simulate(examples, rules, score, category, top_p, never)))

    # The weights that ship, trained on everything: the everyday messages the suite holds quiet
    # are read with them, since those are the scores the bot will give.
    w, b = train_binary(x, y, size, args.l2, args.negative_weight)
    labelled = [i for i, e in enumerate(examples) if e.crisis and e.category in cat_index]
    cy = np.array([cat_index[examples[i].category or ""] for i in labelled])
    cw, cb = train_softmax(x.take(labelled), cy, size, args.l2)
    guarded = [i for i, e in enumerate(examples) if e.guard]
    guard_x = x.take(guarded)
    guard_score = 1 / (1 + np.exp(-(guard_x.dot(w) + b)))
    guard_p = softmax(guard_x.dot(cw) + cb)
    guard_category = [CATEGORIES[i] for i in guard_p.argmax(axis=1)]
    guard_examples = [examples[i] for i in guarded]
    guard_rules = [rules[i] for i in guarded]

    best: tuple[tuple[float, ...], dict[str, float]] | None = None
    grid = [round(0.05 * i, 2) for i in range(2, 20)]
    for possible in grid:
        for focus in [g for g in grid if FOCUS_FLOOR <= g <= possible]:
            for focus_category in (0.5, 0.6, 0.7, 0.8):
                # A question, a memory or an idiom is overruled only above the possible bar.
                for overrule in [o for o in (0.9, 0.95, 0.98, 2.0) if o >= possible]:
                    t = {
                        "possible": possible,
                        "focus": focus,
                        "focus_category": focus_category,
                        "overrule": overrule,
                    }
                    fig = simulate(examples, rules, score, category, top_p, t)
                    fa = fig["false_alarms"][0] / fig["false_alarms"][1]
                    far = fig["false_alarms_review"][0] / fig["false_alarms_review"][1]
                    pages = fig["questions_paging"][0] / fig["questions_paging"][1]
                    if fa > FALSE_ALARM_BUDGET or far > FALSE_ALARM_BUDGET or pages > 0.15:
                        continue
                    guard = simulate(
                        guard_examples,
                        guard_rules,
                        guard_score,
                        guard_category,
                        guard_p.max(axis=1),
                        t,
                    )
                    if guard["false_alarms"][0]:
                        continue
                    key = (
                        fig["recall_overdose"][0] + fig["recall_explicit_suicide"][0],
                        fig["recall"][0],
                        -fig["false_alarms"][0],
                        -fig["questions_paging"][0],
                        possible,
                        overrule,
                    )
                    if best is None or key > best[0]:
                        best = (key, t)
    assert best is not None
    thresholds = dict(best[1])
    # The clear tier: a score the out-of-fold data rarely reach on everyday talk.
    negatives = np.sort(score[[i for i, e in enumerate(examples) if e.expect == "none"]])
    thresholds["clear"] = float(max(0.9, np.quantile(negatives, 0.99)))
    print("rules, then the model (out of fold):", thresholds)
    print(fmt(simulate(examples, rules, score, category, top_p, thresholds)))
    if args.check:
        return 0

    model = {
        "bits": BITS,
        "bias": round(b, 5),
        "weights": {str(k): round(float(w[i]), 4) for i, k in enumerate(keys) if abs(w[i]) >= 1e-3},
        "categories": list(CATEGORIES),
        "category_bias": [round(float(v), 5) for v in cb],
        "category_weights": {
            str(k): [round(float(v), 3) for v in cw[i]]
            for i, k in enumerate(keys)
            if np.abs(cw[i]).max() >= 5e-3
        },
        "thresholds": {k: round(v, 4) for k, v in sorted(thresholds.items())},
        "trained_on": len(examples),
    }
    payload = json.dumps(model, sort_keys=True, separators=(",", ":")).encode()
    OUT.write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
