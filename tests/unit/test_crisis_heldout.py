"""The crisis detector on the held-out set: figures printed.

The held-out set (``tests/heldout/crisis_heldout.yaml``) is written apart from the detector's
patterns, by someone who has not read them; the test skips while the file is absent. Each
held-out set is measured once and then used for tuning (the first three were moved to
``tests/data/crisis_review_vN.yaml``); a new one, written apart in the same way, takes its
place. The set there now is the fourth, already measured and trained on (see below). This
test prints its figures, with floors so that a later change cannot lower them unnoticed. Its
misses are never listed.
"""

from __future__ import annotations

import pytest

from bench.crisis_eval import HELDOUT_FILE, evaluate, load_cases, report, targets_met

# The fourth held-out set was measured once (recall 355/390, overdose 83/86, explicit suicide
# 43/46, false alarms 21/200: the README keeps those figures) and is TRAINING DATA since: the
# semantic head has learnt from it and its thresholds were chosen on it (the n-gram model that
# ships predates it). The floors below are the figures it gives now, with the semantic layer;
# being partly in sample, they only guard against a regression and measure nothing unseen. The
# README has the cross-validated figures; a fifth set, written apart, measures the detector next.
HELDOUT_FLOORS = {
    "recall": 360 / 390,
    "recall_overdose": 83 / 86,
    "recall_explicit_suicide": 43 / 46,
}
HELDOUT_FALSE_ALARM_CEILING = 16 / 200


@pytest.mark.skipif(not HELDOUT_FILE.exists(), reason="the held-out set is not in this checkout")
def test_heldout_figures_are_printed_and_hold_their_floors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Recall per category and language, tiers and false alarms on the held-out set are shown."""
    evaluation = evaluate(load_cases(HELDOUT_FILE))
    with capsys.disabled():
        print("\n" + report(evaluation, "crisis detector on the fourth set (trained on)"))
        for target, met in targets_met(evaluation).items():
            print(f"  target {target:<30} {'met' if met else 'NOT met'}")
    assert evaluation.recall.value >= HELDOUT_FLOORS["recall"]
    assert evaluation.recall_overdose.value >= HELDOUT_FLOORS["recall_overdose"]
    assert evaluation.recall_explicit_suicide.value >= HELDOUT_FLOORS["recall_explicit_suicide"]
    assert evaluation.false_alarms.value <= HELDOUT_FALSE_ALARM_CEILING
