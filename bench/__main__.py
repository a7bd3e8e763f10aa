"""Run every benchmark and print its figures: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

import asyncio

from bench import (
    charts,
    crisis_eval,
    crisis_semantic,
    fuzz,
    guard_eval,
    load,
    planner,
    reply_delay,
    scale,
    search_eval,
    shared_budget,
    startup,
    updates,
)
from bench.digest import measure_build, measure_crisis_delay
from bench.dispatch import measure_cost, measure_paced
from bot.config import configure_libraries


def main() -> None:
    """Print the evaluations, then the update cost's, dispatcher's, planner's, crisis reply
    delay's, shared send budget's, scaling's, charts', digest's, load run's and start-up's
    figures, and a fuzz run."""
    configure_libraries()
    search_eval.main([])
    guard_eval.main([])  # the development set, and the held-out set when it is in place
    # The crisis detector on its held-out set when it is in place, else on the development set.
    crisis_eval.main([] if crisis_eval.HELDOUT_FILE.exists() else ["--set", "dev"])
    crisis_semantic.main([])
    updates.main([])  # a full check-in update against a bare echo bot
    asyncio.run(measure_cost(10_000))
    asyncio.run(measure_paced(1_000))
    planner.main([])
    reply_delay.main([])
    shared_budget.main([])  # PostgreSQL: the budget workers share
    scale.main([])  # SQLite with one worker beside PostgreSQL with one and two
    charts.main([])
    asyncio.run(measure_build())
    asyncio.run(measure_crisis_delay())
    load.main([])  # 500 patients within 150 s, the bot as its own process
    startup.main([])
    fuzz.main(["--examples", "100"])  # last: it caps the process's address space


if __name__ == "__main__":
    main()
