"""The chart pool starts its worker processes off the event loop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ClassVar

import pytest

from bot.services import reports
from bot.services.charts import ChartJob
from bot.services.reports import ChartPool


class RecordingPool(ThreadPoolExecutor):
    """Stands in for the process pool and notes the thread of each ``submit``.

    A process pool with the forkserver context starts all its workers inside the first
    ``submit``: that takes tens of milliseconds, which must not be spent on the event loop.
    """

    submits: ClassVar[list[int]] = []
    batches: ClassVar[list[int]] = []

    def __init__(self, workers: int, mp_context: Any = None) -> None:
        super().__init__(workers)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        RecordingPool.submits.append(threading.get_ident())
        if args and isinstance(args[0], list):
            RecordingPool.batches.append(len(args[0]))
        return super().submit(fn, *args, **kwargs)


def fake_render(jobs: list[ChartJob]) -> list[bytes]:
    return [b"png" for _ in jobs]


async def test_the_workers_start_in_a_thread_not_on_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reports, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(reports, "render_many", fake_render)
    RecordingPool.submits = []
    pool = ChartPool(workers=2)
    jobs: list[Any] = [object(), object(), object()]
    try:
        assert await pool.render(jobs) == [b"png", b"png", b"png"]
        assert await pool.render(jobs[:1]) == [b"png"]
    finally:
        pool.close()
    loop_thread = threading.get_ident()
    assert RecordingPool.submits, "the pool was used"
    assert RecordingPool.submits[0] != loop_thread, "the first submit starts the workers"


async def test_charts_go_to_the_workers_in_small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each batch is pickled in one call that holds the interpreter lock: a few hundred charts
    at once would stall the event loop, so they go a few at a time."""
    monkeypatch.setattr(reports, "ProcessPoolExecutor", RecordingPool)
    monkeypatch.setattr(reports, "render_many", fake_render)
    RecordingPool.batches = []
    pool = ChartPool(workers=2)
    jobs: list[Any] = [object() for _ in range(333)]
    try:
        assert len(await pool.render(jobs)) == 333
    finally:
        pool.close()
    drawn = RecordingPool.batches[1:]  # the first is the empty warm-up job
    assert sum(drawn) == 333
    assert max(drawn) <= reports.CHART_BATCH
