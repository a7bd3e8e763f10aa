"""The send budget shared by workers on one PostgreSQL database holds across them together.

Two ``PostgresDatabase`` objects with a rate limiter each stand for two ``companion run``
workers: each has its own pool and its own in-process budget, as two processes would. Their
sends go through the limiters' real code to a stand-in for the Bot API that records when each
request started (one process, so one monotonic clock) and which shared slot it was given.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.ratelimit import SHARED_TRIES, TELEGRAM_PER_SECOND, ChatKey, TelegramRateLimiter
from bot.storage.postgres_engine import PostgresDatabase
from bot.storage.send_budget import SendBudget, chat_spacing

PER_SECOND = 29  # the default budget, one under Telegram's 30
INTERVAL = 1.0
HOT_CHAT = 4242  # a patient both workers write to at once
EPSILON = 1e-6
# The shared slots one send took, in order: a send woken late for its slot gives it up for a
# new one (at most ``SHARED_TRIES``), so a busy machine may take more slots than sends.
_SEND_SLOTS: contextvars.ContextVar[list[int]] = contextvars.ContextVar("send_slots")


@dataclass
class Worker:
    """One worker's pool, shared budget and limiter, and the log of what it sent."""

    db: PostgresDatabase
    budget: SendBudget
    limiter: TelegramRateLimiter
    sent: list[tuple[float, ChatKey]] = field(default_factory=list)
    slots: list[tuple[int, ChatKey]] = field(default_factory=list)
    taken_per_send: list[list[int]] = field(default_factory=list)

    async def send(self, chat: ChatKey) -> None:
        """Send one message to ``chat`` as the bot would."""
        taken: list[int] = []
        _SEND_SLOTS.set(taken)  # each gathered send runs in a task of its own, with its own copy

        async def call(**kwargs: Any) -> dict[str, Any]:
            self.sent.append((time.monotonic(), chat))
            return {"message_id": len(self.sent)}

        data = {"chat_id": chat}
        await self.limiter.process_request(call, (), data, "sendMessage", data, None)
        self.taken_per_send.append(taken)


async def _worker(url: str, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Worker:
    db = PostgresDatabase(url, pool_size=4)
    await db.connect()
    budget = SendBudget(db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL)
    worker: Worker

    async def shared(chat: ChatKey) -> float:
        reservation = await budget.reserve(chat)
        worker.slots.append((reservation.slot, chat))
        _SEND_SLOTS.get().append(reservation.slot)
        return reservation.wait

    limiter = TelegramRateLimiter(
        overall_per_second=PER_SECOND, per_chat_interval=INTERVAL, shared=shared, sleep=sleep
    )
    worker = Worker(db, budget, limiter)
    return worker


async def _sometimes_late(seconds: float, wake_ups: itertools.count[int]) -> None:
    """Sleep, and now and then wake 60 ms late, as a busy machine's event loop does."""
    await asyncio.sleep(seconds + (0.06 if next(wake_ups) % 9 == 4 else 0.0))


@pytest.fixture
async def workers(
    request: pytest.FixtureRequest, postgres_url: str
) -> AsyncIterator[tuple[Worker, Worker]]:
    """Two workers on one migrated database, whose sleeps end on time or sometimes late."""
    sleeps: list[Callable[[float], Awaitable[None]]] = [asyncio.sleep, asyncio.sleep]
    if getattr(request, "param", "punctual") == "late":
        sleeps = [functools.partial(_sometimes_late, wake_ups=itertools.count()) for _ in range(2)]
    first, second = await _worker(postgres_url, sleeps[0]), await _worker(postgres_url, sleeps[1])
    yield first, second
    await first.db.close()
    await second.db.close()


def _most_in_one_second(times: list[float]) -> int:
    ordered = sorted(times)
    most = 0
    for index, start in enumerate(ordered):
        inside = [moment for moment in ordered[index:] if moment < start + 1.0 - EPSILON]
        most = max(most, len(inside))
    return most


def _closest_in_one_chat(log: list[tuple[float, ChatKey]]) -> float:
    by_chat: dict[ChatKey, list[float]] = defaultdict(list)
    for moment, chat in log:
        by_chat[chat].append(moment)
    gaps = [
        later - earlier
        for times in by_chat.values()
        for earlier, later in itertools.pairwise(sorted(times))
    ]
    return min(gaps, default=float("inf"))


@pytest.mark.parametrize("workers", ["punctual", "late"], indirect=True)
async def test_two_workers_together_stay_within_the_overall_and_per_chat_budgets(
    workers: tuple[Worker, Worker], request: pytest.FixtureRequest
) -> None:
    """Each worker alone may send 29 a second; together they still never put more than the
    budget's slots into one second, nor two sends into one chat within the interval, even when
    their event loops wake late now and then."""
    first, second = workers
    chats = list(range(1001, 1061))  # both workers write to every one of these chats
    started = time.monotonic()
    await asyncio.gather(
        *(worker.send(chat) for worker in workers for chat in chats),
        *(worker.send(HOT_CHAT) for worker in workers for _ in range(3)),
    )
    elapsed = time.monotonic() - started
    sent = first.sent + second.sent
    slots = first.slots + second.slots
    taken_per_send = first.taken_per_send + second.taken_per_send
    assert len(sent) == len(taken_per_send) == 2 * (len(chats) + 3)
    # Every send took a shared slot, and gave one up only when woken too late for it.
    assert all(1 <= len(taken) <= SHARED_TRIES for taken in taken_per_send)
    assert len(slots) == sum(len(taken) for taken in taken_per_send)
    if request.node.callspec.params["workers"] == "late":
        assert len(slots) > len(sent)  # the late wake-ups gave slots up
    # On the shared grid: every slot taken once, a chat's slots an interval and a slot apart.
    assert len({slot for slot, _ in slots}) == len(slots)
    spacing = round(chat_spacing(PER_SECOND, INTERVAL) * PER_SECOND)
    by_chat: dict[ChatKey, list[int]] = defaultdict(list)
    for slot, chat in slots:
        by_chat[chat].append(slot)
    for chat_slots in by_chat.values():
        ordered = sorted(chat_slots)
        assert all(b - a >= spacing for a, b in itertools.pairwise(ordered))
    # As the sends started: within Telegram's limits (the budget is one under them, room for a
    # send that starts a little after its slot), and never two into one chat within a second.
    assert _most_in_one_second([moment for moment, _ in sent]) <= TELEGRAM_PER_SECOND
    assert _closest_in_one_chat(sent) >= INTERVAL
    # Together at the budget's pace, not each at its own.
    assert elapsed >= (len(sent) - PER_SECOND) / PER_SECOND


async def test_two_workers_without_the_shared_budget_would_exceed_it(postgres_url: str) -> None:
    """The control: each worker's own limiter alone lets the two of them send twice the budget."""
    limiters = [TelegramRateLimiter(overall_per_second=PER_SECOND) for _ in range(2)]
    sent: list[float] = []

    async def call(**kwargs: Any) -> dict[str, Any]:
        sent.append(time.monotonic())
        return {"message_id": len(sent)}

    async def send(limiter: TelegramRateLimiter, chat: int) -> None:
        data = {"chat_id": chat}
        await limiter.process_request(call, (), data, "sendMessage", data, None)

    await asyncio.gather(*(send(limiter, chat) for limiter in limiters for chat in range(40)))
    assert _most_in_one_second(sent) > TELEGRAM_PER_SECOND


async def test_a_reservation_outlives_the_pool_of_the_worker_that_made_it(
    workers: tuple[Worker, Worker],
) -> None:
    """Reservations live in the database: a worker that stops leaves its slots and its chats'
    next moments taken, and the other worker keeps to them."""
    first, second = workers
    taken = [await first.budget.reserve(HOT_CHAT)] + [
        await first.budget.reserve(chat) for chat in range(1, 6)
    ]
    await first.db.close()
    after = await second.budget.reserve(HOT_CHAT)
    assert after.slot > max(reservation.slot for reservation in taken)
    assert after.slot - taken[0].slot >= round(chat_spacing(PER_SECOND, INTERVAL) * PER_SECOND)
    assert after.wait >= INTERVAL - 0.2  # less the time this test took since the first


async def test_slots_follow_the_grid_and_a_chat_waits_its_interval(
    workers: tuple[Worker, Worker],
) -> None:
    """With the server's clock set by hand: a free slot at once, the next free one for another
    chat, and a chat's second send an interval and one slot after its first."""
    first, second = workers
    at = 1_767_225_600.0
    one = await first.budget.reserve(1, at=at)
    assert one.wait == 0.0
    other = await second.budget.reserve(2, at=at)
    assert other.wait == pytest.approx(1 / PER_SECOND, abs=1e-6)
    again = await second.budget.reserve(1, at=at)
    assert again.slot - one.slot == PER_SECOND + 1
    assert again.wait == pytest.approx(chat_spacing(PER_SECOND, INTERVAL), abs=1e-6)
    unlimited = await first.budget.reserve(None, at=at)
    assert unlimited.wait == pytest.approx(2 / PER_SECOND, abs=1e-6)  # the first slot not yet taken


async def test_old_slots_and_chats_are_pruned(postgres_url: str) -> None:
    """The tables hold only the last few seconds, however long the bot runs."""
    db = PostgresDatabase(postgres_url, pool_size=1)
    await db.connect()
    try:
        early = SendBudget(db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL)
        for chat in range(20):
            await early.reserve(chat, at=1_767_225_600.0)
        later = SendBudget(db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL)
        await later.reserve(99, at=1_767_225_700.0)
        counts = await db.fetchone(
            "SELECT (SELECT COUNT(*) FROM send_budget_slots) AS slots, "
            "(SELECT COUNT(*) FROM send_budget_chats) AS chats"
        )
        assert counts is not None
        assert (counts["slots"], counts["chats"]) == (1, 1)
    finally:
        await db.close()


async def test_a_send_goes_on_its_own_limits_when_the_database_is_away(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A crisis reply is never held back for the shared budget: a failed reservation waits for
    nothing, and says so once in the log."""
    db = PostgresDatabase(postgres_url)  # never connected
    budget = SendBudget(db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL)
    with caplog.at_level(logging.WARNING, logger="bot.storage.send_budget"):
        assert await budget.delay_for(HOT_CHAT) == 0.0
        assert await budget.delay_for(HOT_CHAT) == 0.0
    warnings = [record for record in caplog.records if "shared send budget" in record.message]
    assert len(warnings) == 1


async def test_a_postgresql_bot_sends_within_the_shared_budget(app: Any, engine: str) -> None:
    """The bot's limiter takes shared slots on PostgreSQL only."""
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, TelegramRateLimiter)
    assert (limiter._shared is not None) == (engine == "postgresql")
