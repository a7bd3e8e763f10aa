"""A small linear text classifier that backs up the crisis rules on wording they never saw.

The rules in :mod:`bot.services.safety` are precise and explainable but only know the phrases
they were written for. This model reads the same normalised text as hashed features (character
3- to 5-grams with word-boundary markers, word unigrams and bigrams) and scores it with two
linear heads trained at build time by ``bench/train_crisis_model.py``:

- ``crisis``: the probability that the message is a crisis (clear or possible) rather than
  everyday talk or an educational question;
- ``category``: which kind of crisis it most resembles (softmax over the crisis categories).

The weights ship inside the package as gzipped JSON and are loaded once, at import. Scoring is
pure Python (one CRC-32 per feature, dict look-ups and a sum): no numpy, no network, no clock.
Like the rules, it never keeps or logs the text.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

__all__ = ["MIN_WORDS", "MODEL", "CrisisModel", "Score", "features", "word_count"]

MODEL_FILE: Final = "crisis_model.json.gz"
# Shorter messages ("no", "Room 2", "9:30", a button's text) are left to the rules: a couple of
# words give n-grams too little context, and "no" alone resembles "no puedo más".
MIN_WORDS: Final = 3


def word_count(form: str) -> int:
    """Return the number of words with a letter in them (a date or a time counts for none)."""
    return sum(1 for word in form.split() if not word.isdigit())


def features(form: str, bits: int, names: dict[int, str] | None = None) -> dict[int, float]:
    """Return the hashed features of one normalised text (counts, ``l2``-normalised per group).

    ``names``, when given, receives each feature's n-gram, for explanations.
    """
    mask = (1 << bits) - 1
    counts: dict[int, float] = {}
    words = form.split()
    padded = " " + " ".join(words) + " "
    chars: dict[int, float] = {}
    for size in (3, 4, 5):
        for start in range(len(padded) - size + 1):
            gram = padded[start : start + size]
            key = zlib.crc32(("c" + gram).encode()) & mask
            chars[key] = chars.get(key, 0.0) + 1.0
            if names is not None:
                names[key] = gram.replace(" ", "_")
    tokens: dict[int, float] = {}
    for index, word in enumerate(words):
        key = zlib.crc32(("w" + word).encode()) & mask
        tokens[key] = tokens.get(key, 0.0) + 1.0
        if names is not None:
            names[key] = word
        if index:
            pair = words[index - 1] + " " + word
            key = zlib.crc32(("b" + pair).encode()) & mask
            tokens[key] = tokens.get(key, 0.0) + 1.0
            if names is not None:
                names[key] = pair
    for group in (chars, tokens):
        norm = math.sqrt(sum(v * v for v in group.values())) or 1.0
        for key, value in group.items():
            counts[key] = counts.get(key, 0.0) + value / norm
    return counts


@dataclass(frozen=True, slots=True)
class Score:
    """What the model made of one message."""

    crisis: float  # probability of a crisis (either tier)
    category: str  # the most likely crisis category
    category_probability: float
    category_probabilities: tuple[float, ...] = ()  # every category, in the model's order


class CrisisModel:
    """Linear heads over hashed n-grams, with the thresholds chosen out of fold."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.bits: int = int(data["bits"])
        self.bias: float = float(data["bias"])
        self.weights: dict[int, float] = {int(k): float(v) for k, v in data["weights"].items()}
        self.categories: tuple[str, ...] = tuple(data["categories"])
        self.category_bias: tuple[float, ...] = tuple(float(b) for b in data["category_bias"])
        self.category_weights: dict[int, tuple[float, ...]] = {
            int(k): tuple(float(x) for x in v) for k, v in data["category_weights"].items()
        }
        self.thresholds: dict[str, float] = {k: float(v) for k, v in data["thresholds"].items()}

    def score(self, form: str) -> Score:
        """Score one normalised text."""
        feats = features(form, self.bits)
        total = self.bias
        weights = self.weights
        for key, value in feats.items():
            weight = weights.get(key)
            if weight is not None:
                total += weight * value
        crisis = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, total))))
        logits = list(self.category_bias)
        for key, value in feats.items():
            row = self.category_weights.get(key)
            if row is not None:
                for index, weight in enumerate(row):
                    logits[index] += weight * value
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        best = max(range(len(exps)), key=exps.__getitem__)
        total = sum(exps)
        return Score(
            crisis=crisis,
            category=self.categories[best],
            category_probability=exps[best] / total,
            category_probabilities=tuple(e / total for e in exps),
        )

    def top_ngrams(self, form: str, count: int = 3) -> tuple[str, ...]:
        """Return the n-grams that pushed the crisis score up most (for explanations)."""
        names: dict[int, str] = {}
        feats = features(form, self.bits, names)
        pushes = sorted(
            ((self.weights.get(key, 0.0) * value, names[key]) for key, value in feats.items()),
            reverse=True,
        )
        return tuple(name for push, name in pushes[:count] if push > 0)


def _load() -> CrisisModel:
    raw = resources.files("bot.services").joinpath(MODEL_FILE).read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return CrisisModel(data)


MODEL: Final = _load()
