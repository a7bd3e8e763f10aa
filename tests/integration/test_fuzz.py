"""A bounded stateful fuzz run of the whole bot in the suite (the long run: ``bench.fuzz``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.support.fuzz import build_template, machine_for

EXAMPLES = 8
STEPS = 40


def test_no_update_from_anyone_breaks_an_invariant(tmp_path: Path) -> None:
    """Patients, clinicians and strangers, any update in any flow: every invariant holds."""
    machine = machine_for(asyncio.run(build_template(tmp_path)))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    assert machine.tally.examples >= EXAMPLES
    assert machine.tally.updates > EXAMPLES * STEPS // 4, "the run hardly ran"
