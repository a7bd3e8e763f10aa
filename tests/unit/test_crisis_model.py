"""Tests for the statistical crisis model that backs up the rules on unseen wording."""

from __future__ import annotations

import ast
import inspect

import pytest

from bot.models import CrisisCategory
from bot.services import crisis_judgement, crisis_model
from bot.services.crisis_model import MODEL, features
from bot.services.crisis_signal import Tier
from bot.services.crisis_text import normalize
from bot.services.safety import assess, detect_crisis


def test_the_model_ships_in_the_package_and_loads() -> None:
    """The weights load at import, with every threshold the detector reads."""
    assert MODEL.weights
    assert set(MODEL.categories) == {category.value for category in CrisisCategory}
    assert {"clear", "possible", "focus", "focus_category", "overrule"} <= set(MODEL.thresholds)
    assert MODEL.thresholds["clear"] >= MODEL.thresholds["possible"]


def test_the_runtime_needs_no_numpy_or_scikit_learn() -> None:
    """Scoring is pure Python: the module imports nothing from the training stack."""
    tree = ast.parse(inspect.getsource(crisis_model))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"numpy", "sklearn", "scipy", "telegram"}


def test_features_are_deterministic_and_bounded() -> None:
    """The same text always hashes to the same features, inside the feature space."""
    first = features("i want to die", MODEL.bits)
    assert first == features("i want to die", MODEL.bits)
    assert all(0 <= key < (1 << MODEL.bits) for key in first)
    assert features("", MODEL.bits) == {}


@pytest.mark.parametrize(
    "text",
    [
        "i took way too many of my pills and my breathing feels slow",
        "I'm going to kill myself tonight",
        "my friend is not breathing after using",
    ],
)
def test_crisis_messages_score_high(text: str) -> None:
    """Known crises score above the possible threshold."""
    assert MODEL.score(normalize(text)).crisis >= MODEL.thresholds["possible"]


@pytest.mark.parametrize(
    "text",
    [
        "good morning, checked in for today",
        "can I move my appointment to Friday",
        "gracias por todo, nos vemos mañana",
    ],
)
def test_everyday_messages_score_low(text: str) -> None:
    """Everyday talk scores under the focus threshold, the lowest that can raise a signal."""
    assert MODEL.score(normalize(text)).crisis < MODEL.thresholds["focus"]


def test_the_category_head_names_the_kind_of_crisis() -> None:
    """The category head reads overdose and suicide wording as such."""
    overdose = MODEL.score(normalize("took too many pills and now i cant stay awake"))
    suicide = MODEL.score(normalize("nobody would miss me if i was gone"))
    assert overdose.category == "overdose"
    assert suicide.category == "suicide"


def test_a_model_signal_says_it_came_from_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the rules are silent and the model fires, the reasons carry its score and n-grams."""
    text = "the walls are closing in and i keep staring at the ceiling fan"
    limits = dict(MODEL.thresholds, possible=0.0, clear=2.0)
    monkeypatch.setattr(MODEL, "thresholds", limits)
    assessment = assess(text)
    assert assessment.signal is not None
    assert assessment.signal.tier is Tier.POSSIBLE
    line = assessment.explain()
    assert "model:" in line
    assert "model_category:" in line
    assert "ngram:" in line


def test_the_model_never_overrules_a_question_below_its_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A question the rules recognise stays a question unless the score passes "overrule"."""
    limits = dict(MODEL.thresholds, possible=0.0, focus=0.0, clear=2.0, overrule=2.0)
    monkeypatch.setattr(MODEL, "thresholds", limits)
    assessment = assess("what does an overdose look like")
    assert assessment.signal is None
    assert assessment.question


def test_rules_still_decide_when_they_fire() -> None:
    """A message the rules catch keeps the rules' reading (no model reason is added)."""
    signal = detect_crisis("my buddy is blue and wont wake up")
    assert signal is not None
    assert not any(reason.startswith("model:") for reason in signal.reasons)


def test_the_detector_imports_the_model_once() -> None:
    """The detector scores with the module-level model loaded at import."""
    assert crisis_judgement.crisis_model.MODEL is MODEL


@pytest.mark.parametrize("text", ["no", "No", "yes", "Room 2", "9:30", "2026-03-09", "20", "hi"])
def test_short_replies_are_left_to_the_rules(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Button texts, times, dates and one-word answers are never read by the model."""
    limits = dict(MODEL.thresholds, possible=0.0, focus=0.0, clear=0.0)
    monkeypatch.setattr(MODEL, "thresholds", limits)
    assert detect_crisis(text) is None
