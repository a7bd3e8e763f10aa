"""The crisis detector on the held-out set: figures printed, never tuned on.

The held-out set (``tests/heldout/crisis_heldout.yaml``) is written apart from the detector's
patterns, by someone who has not read them, and is never used for tuning; the test skips while
the file is absent. (Each held-out set is measured once and then moved to
``tests/data/crisis_review_vN.yaml`` to be used for tuning; a new one, written apart in the
same way, takes its place.) This
test prints its figures; the floors below are set once, after the first run, to the figures it
reported, so that a later change cannot lower them unnoticed. Its misses are never listed.
"""

from __future__ import annotations

import pytest

from bench.crisis_eval import HELDOUT_FILE, evaluate, load_cases, report, targets_met

# Set after the one evaluation run of the fourth held-out set, to the figures it reported.
HELDOUT_FLOORS = {
    "recall": 355 / 390,  # as measured once on the fourth held-out set; a change may not lower
    "recall_overdose": 83 / 86,
    "recall_explicit_suicide": 43 / 46,
}
# False alarms on everyday talk above this fail the test: measured 21/200 (10.5%), which misses
# the target of under 10%; the ceiling is the measured figure, not the target.
HELDOUT_FALSE_ALARM_CEILING = 21 / 200


@pytest.mark.skipif(not HELDOUT_FILE.exists(), reason="the held-out set is not in this checkout")
def test_heldout_figures_are_printed_and_hold_their_floors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Recall per category and language, tiers and false alarms on the held-out set are shown."""
    evaluation = evaluate(load_cases(HELDOUT_FILE))
    with capsys.disabled():
        print("\n" + report(evaluation, "crisis detector on the HELD-OUT set"))
        for target, met in targets_met(evaluation).items():
            print(f"  target {target:<30} {'met' if met else 'NOT met'}")
    assert evaluation.recall.value >= HELDOUT_FLOORS["recall"]
    assert evaluation.recall_overdose.value >= HELDOUT_FLOORS["recall_overdose"]
    assert evaluation.recall_explicit_suicide.value >= HELDOUT_FLOORS["recall_explicit_suicide"]
    assert evaluation.false_alarms.value <= HELDOUT_FALSE_ALARM_CEILING
