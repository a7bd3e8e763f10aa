"""Run every benchmark and print its figures: ``python -m bench`` (or ``make bench``)."""

from __future__ import annotations

import asyncio

from bench import search_eval
from bench.dispatch import measure_cost, measure_paced
from bot.config import configure_libraries


def main() -> None:
    """Print the search evaluation, the dispatcher's cost and the rate-limited delivery time."""
    configure_libraries()
    search_eval.main([])
    asyncio.run(measure_cost(10_000))
    asyncio.run(measure_paced(1_000))


if __name__ == "__main__":
    main()
