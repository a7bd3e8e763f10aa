"""Group commit of send outcomes: one transaction for sends that finish together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.storage.deliveries import SentOutcome
from scheduler.dispatch import GroupCommit

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)


class RecordingDeliveries:
    """Stands in for the repository: records each batch, slowly, like a real commit."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def record_sent_many(self, outcomes: Sequence[SentOutcome]) -> None:
        self.batches.append([o.delivery_id for o in outcomes])
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("disk full")


async def test_outcomes_that_finish_together_share_one_commit() -> None:
    """Fifty sends finishing in the same moment are written in one transaction."""
    repo = RecordingDeliveries()
    writer = GroupCommit(repo)  # type: ignore[arg-type]
    await asyncio.gather(*(writer.record(SentOutcome(i, i, NOW, None)) for i in range(1, 51)))
    assert repo.batches == [list(range(1, 51))]


async def test_outcomes_arriving_during_a_commit_go_into_the_next_one() -> None:
    """While one batch is being written, new outcomes wait together for the next batch."""
    repo = RecordingDeliveries()
    writer = GroupCommit(repo)  # type: ignore[arg-type]
    first = asyncio.ensure_future(writer.record(SentOutcome(1, 1, NOW, None)))
    await asyncio.sleep(0.001)  # the first commit is under way
    await asyncio.gather(first, *(writer.record(SentOutcome(i, i, NOW, None)) for i in (2, 3, 4)))
    assert repo.batches == [[1], [2, 3, 4]]


async def test_each_caller_returns_only_after_its_own_outcome_is_stored() -> None:
    """No caller is released before the batch holding its outcome has committed."""
    repo = RecordingDeliveries()
    writer = GroupCommit(repo)  # type: ignore[arg-type]
    done: list[int] = []

    async def one(i: int) -> None:
        await writer.record(SentOutcome(i, i, NOW, None))
        assert any(i in batch for batch in repo.batches)
        done.append(i)

    await asyncio.gather(*(one(i) for i in range(10)))
    assert sorted(done) == list(range(10))


async def test_a_failed_commit_reaches_every_caller_in_the_batch() -> None:
    """If the write fails, every caller of that batch sees the error (nothing is lost silently)."""
    writer = GroupCommit(RecordingDeliveries(fail=True))  # type: ignore[arg-type]
    results: list[Any] = await asyncio.gather(
        *(writer.record(SentOutcome(i, i, NOW, None)) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    with pytest.raises(RuntimeError):
        await writer.record(SentOutcome(9, 9, NOW, None))
