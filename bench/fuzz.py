"""A long stateful fuzz run of the whole bot: ``python -m bench.fuzz --examples N``.

The suite runs the same state machine (``tests/support/fuzz.py``) for a few examples; this runs
as many as asked, each a fresh copy of the world driven by up to ``--steps`` updates from
patients, clinicians and strangers, and prints what it did. A broken invariant ends the run
with Hypothesis's shortest reproduction of it and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

from bot.config import configure_libraries
from tests.support.fuzz import build_template, machine_for


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzz machine for the examples asked and print its figures."""
    parser = argparse.ArgumentParser(description="A long stateful fuzz run of the whole bot.")
    parser.add_argument("--examples", type=int, default=200, help="examples to run (200)")
    parser.add_argument("--steps", type=int, default=80, help="steps per example at most (80)")
    parser.add_argument(
        "--no-shrink", action="store_true", help="report a failure as found, without shrinking"
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=4096,
        help="address space allowed (4096): a runaway allocation fails the example, not the host",
    )
    args = parser.parse_args(argv)
    limit = args.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    configure_libraries()
    phases = [Phase.explicit, Phase.reuse, Phase.generate]
    if not args.no_shrink:
        phases.append(Phase.shrink)
    failed = False
    with tempfile.TemporaryDirectory(prefix="fuzz-world-") as folder:
        machine = machine_for(asyncio.run(build_template(Path(folder))))
        started = time.perf_counter()
        try:
            run_state_machine_as_test(
                machine,
                settings=settings(
                    max_examples=args.examples,
                    stateful_step_count=args.steps,
                    deadline=None,
                    phases=phases,
                    suppress_health_check=list(HealthCheck),
                ),
            )
        except Exception:  # a broken invariant: printed, then the exit status
            traceback.print_exc()
            failed = True
        elapsed = time.perf_counter() - started
    tally = machine.tally
    print(f"fuzz: {tally.examples} examples, {tally.steps} steps, {tally.updates} updates")
    rate = f" ({tally.updates / elapsed:.0f} updates/s)" if elapsed else ""
    print(f"  {tally.calls} Bot API calls checked in {elapsed:.1f} s{rate}")
    print("  steps by rule: " + ", ".join(f"{n} {c}" for n, c in sorted(tally.rules.items())))
    print(
        f"  flows walked to the end: {tally.flows_saved} schedules saved by clinicians, "
        f"{tally.checkins_done} check-ins answered"
    )
    reached = ", ".join(sorted(tally.features))
    print(f"  feature handlers reached ({len(tally.features)}): {reached}")
    print("  an invariant broke (see above)" if failed else "  every invariant held")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
