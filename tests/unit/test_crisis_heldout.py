"""The crisis detector on the held-out set: figures printed.

The held-out set (``tests/heldout/crisis_heldout.yaml``) is written apart from the detector's
patterns, by someone who has not read them; the test skips while the file is absent. Each
held-out set is measured once and then used for tuning (the first four were moved to
``tests/data/crisis_review_vN.yaml``); a new one, written apart in the same way, takes its
place. The set there now is the fifth (see below); the fourth is in ``tests/data/``. This
test prints its figures, with floors so that a later change cannot lower them unnoticed. Its
misses are never listed.
"""

from __future__ import annotations

import pytest

from bench.crisis_eval import HELDOUT_FILE, evaluate, load_cases, report, targets_met

# The fifth held-out set (640 messages, by two new writers) was measured once, on the detector
# with the semantic layer as it was merged: recall 342/360, overdose 80/82, explicit suicide
# 40/41, false alarms 26/220 (the README keeps those figures). That run showed the layer's
# join silencing a catch of the n-gram model; the join was then made additive (the model's own
# catch stands), a change made on the recall-first principle but after seeing these figures.
# So the floors below, the figures it gives now, are not a clean held-out measure: they guard
# against a regression, and a sixth set, written apart, measures the detector next.
HELDOUT_FLOORS = {
    "recall": 344 / 360,
    "recall_overdose": 80 / 82,
    "recall_explicit_suicide": 41 / 41,
}
HELDOUT_FALSE_ALARM_CEILING = 32 / 220


@pytest.mark.skipif(not HELDOUT_FILE.exists(), reason="the held-out set is not in this checkout")
def test_heldout_figures_are_printed_and_hold_their_floors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Recall per category and language, tiers and false alarms on the held-out set are shown."""
    evaluation = evaluate(load_cases(HELDOUT_FILE))
    with capsys.disabled():
        print("\n" + report(evaluation, "crisis detector on the fifth held-out set"))
        for target, met in targets_met(evaluation).items():
            print(f"  target {target:<30} {'met' if met else 'NOT met'}")
    assert evaluation.recall.value >= HELDOUT_FLOORS["recall"]
    assert evaluation.recall_overdose.value >= HELDOUT_FLOORS["recall_overdose"]
    assert evaluation.recall_explicit_suicide.value >= HELDOUT_FLOORS["recall_explicit_suicide"]
    assert evaluation.false_alarms.value <= HELDOUT_FALSE_ALARM_CEILING
