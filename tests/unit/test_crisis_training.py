"""The crisis trainers read the measured sets they may, and simulate the detector as it runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import crisis_loso as loso
from bench import train_crisis_model as ngram


def test_the_trainers_read_every_review_set_and_never_the_held_out_one() -> None:
    """Every review set trains (the fourth on were each measured once); no held-out set does."""
    sources = {example.source for example in ngram.load_examples()}
    assert set(ngram.REVIEW_SETS) <= sources
    assert not any("heldout" in source for source in sources)


def test_a_measured_set_that_changed_stops_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A measured set is read only while its file is the one measured: a new set put in its
    place (or an edited label) is never trained on."""
    changed = ngram.DATA.joinpath("crisis_review_v5.yaml").read_text("utf-8") + "\n# edited\n"
    tmp_path.joinpath("crisis_review_v5.yaml").write_text(changed, encoding="utf-8")
    monkeypatch.setattr(ngram, "DATA", tmp_path)
    monkeypatch.setattr(ngram, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="not the set that was measured"):
        ngram.read_set("review_v5")


def _detector(model: float, joined: float, *, question: bool = False) -> loso.Detector:
    flat = np.full((1, len(loso.CATEGORIES)), 1.0 / len(loso.CATEGORIES))
    rules = loso.Rules(
        alarmed=np.array([False]),
        tier_clear=np.array([False]),
        quieted=np.array([False]),
        short=np.array([False]),
        category=[None],
    )
    scores = loso.Scores(np.array([model]), flat, np.zeros((1, 4)), flat)
    return loso.Detector(rules, scores, np.array([joined]), np.array([question]))


THRESHOLDS = {
    "m_possible": 0.8,
    "m_focus": 0.8,
    "m_overrule": 0.9,
    "m_clear": 0.95,
    "possible": 0.85,
    "overrule": 0.9,
    "clear": 0.95,
}


def test_the_simulated_join_only_adds_catches() -> None:
    """As at run time, the n-gram model's own catch stands when the join is below its bar."""
    outcome = loso.decide(_detector(model=0.82, joined=0.3), THRESHOLDS)
    assert outcome.alarmed.tolist() == [True]
    assert outcome.layer == ["model"]


def test_the_simulated_join_catches_what_the_model_alone_misses() -> None:
    """A joined score over its bar raises a signal the n-gram model alone would not."""
    outcome = loso.decide(_detector(model=0.5, joined=0.9), THRESHOLDS)
    assert outcome.alarmed.tolist() == [True]
    assert outcome.layer == ["semantic"]


def test_the_simulated_join_is_silent_on_a_message_the_head_reads_as_a_question() -> None:
    """A question raises nothing from the join, and the model alone still needs its own bar."""
    outcome = loso.decide(_detector(model=0.5, joined=0.99, question=True), THRESHOLDS)
    assert outcome.alarmed.tolist() == [False]
