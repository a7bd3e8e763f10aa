"""The crisis detector on the held-out set: figures printed.

The held-out set sits at one path, :data:`bench.crisis_eval.HELDOUT_FILE`
(``tests/heldout/crisis_heldout.yaml``), and is written apart from the detector's patterns, by
someone who has not read them; the test skips while no file is there. Each held-out set is
measured once and then used for tuning (the first thirty were moved to
``tests/data/crisis_review_vN.yaml``); a new one, written apart in the same way, is dropped in
at that path and this test measures it with no other change. It prints the figures, with
floors so that a later change cannot lower them unnoticed. Its misses are never listed.
"""

from __future__ import annotations

import pytest

from bench.crisis_eval import HELDOUT_FILE, evaluate, load_cases, report, targets_met

# The floors are the figures the detector gave on the set at HELDOUT_FILE, the thirty-first, when
# it was measured once: recall 397/400, overdose 171/171, explicit suicide 51/51, false alarms
# 12/221 (the README keeps them). A later change that lowers any of them on this set fails
# here; a change tuned on this set would burn it, and needs a thirty-second set.
HELDOUT_FLOORS = {
    "recall": 397 / 400,
    "recall_overdose": 171 / 171,
    "recall_explicit_suicide": 51 / 51,
}
HELDOUT_FALSE_ALARM_CEILING = 12 / 221


@pytest.mark.skipif(
    not HELDOUT_FILE.exists(),
    reason=f"no held-out set at {HELDOUT_FILE.name}: the next one, written apart, goes there",
)
def test_heldout_figures_are_printed_and_hold_their_floors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Recall per category and language, tiers and false alarms on the held-out set are shown."""
    evaluation = evaluate(load_cases(HELDOUT_FILE))
    with capsys.disabled():
        print("\n" + report(evaluation, "crisis detector on the held-out set"))
        for target, met in targets_met(evaluation).items():
            print(f"  target {target:<30} {'met' if met else 'NOT met'}")
    assert evaluation.recall.value >= HELDOUT_FLOORS["recall"]
    assert evaluation.recall_overdose.value >= HELDOUT_FLOORS["recall_overdose"]
    assert evaluation.recall_explicit_suicide.value >= HELDOUT_FLOORS["recall_explicit_suicide"]
    assert evaluation.false_alarms.value <= HELDOUT_FALSE_ALARM_CEILING
