"""Tests for the shared send budget's arithmetic and for how the rate limiter waits for it.

The reservations themselves run on PostgreSQL: tests/integration/test_send_budget.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bot.ratelimit import ChatKey, Queued, TelegramRateLimiter
from bot.storage.send_budget import SendBudget, chat_spacing, slot_time
from bot.storage.sqlite_engine import SqliteDatabase
from tests.unit.test_ratelimit import START, Result, VirtualClock


def _limiter_with_shared(
    clock: VirtualClock, delays: dict[ChatKey, float], asked: list[ChatKey]
) -> TelegramRateLimiter:
    """A limiter on the virtual clock whose shared budget answers ``delays`` per chat."""

    async def shared(chat: ChatKey) -> float:
        asked.append(chat)
        return delays.get(chat, 0.0)

    return TelegramRateLimiter(
        overall_per_second=30, monotonic=clock.monotonic, sleep=clock.sleep, shared=shared
    )


def test_a_chats_slots_are_an_interval_and_one_slot_apart() -> None:
    """The extra slot is room for a send that starts a little after its slot."""
    assert chat_spacing(29, 1.0) == pytest.approx(1.0 + 1 / 29)
    assert chat_spacing(10, 2.5) == pytest.approx(2.6)


def test_chats_are_not_spaced_when_the_interval_is_zero() -> None:
    """An interval of zero means no per-chat limit, here as in the limiter."""
    assert chat_spacing(29, 0.0) == 0.0


def test_no_one_second_window_holds_more_slots_than_the_budget() -> None:
    """Slots are 1/budget apart, so any second holds at most the budget of distinct slots."""
    per_second = 29
    first = math.ceil(1_767_225_600.123 * per_second)  # a Unix time, as the server's clock gives
    times = [slot_time(first + step, per_second) for step in range(200)]
    for start in times:
        inside = [moment for moment in times if start <= moment < start + 1.0]
        assert len(inside) <= per_second
    assert times[per_second] - times[0] == pytest.approx(1.0)


def test_the_shared_budget_is_refused_on_sqlite(tmp_path: Path) -> None:
    """One SQLite bot holds the whole budget itself; a shared one there is a wiring mistake."""
    with pytest.raises(ValueError, match="PostgreSQL"):
        SendBudget(
            SqliteDatabase(tmp_path / "companion.sqlite3"),
            overall_per_second=29,
            per_chat_interval=1.0,
        )


async def test_a_send_waits_for_its_shared_slot_right_before_it_goes() -> None:
    """A reply takes its shared slot after its own turn has come, then waits as long as told."""
    clock = VirtualClock()
    asked: list[ChatKey] = []
    limiter = _limiter_with_shared(clock, {7: 0.5}, asked)
    sent: list[float] = []

    async def send(**kwargs: Any) -> Result:
        sent.append(clock.now)
        return {"message_id": 1}

    data = {"chat_id": 7}
    await clock.run(limiter.process_request(send, (), data, "sendMessage", data, None))
    assert asked == [7]
    assert sent[0] == pytest.approx(START + 0.5, abs=1 / 30)
    assert sent[0] >= START + 0.5


async def test_a_queued_send_takes_a_shared_slot_too() -> None:
    """The dispatcher's sends are held to the shared budget as replies are."""
    clock = VirtualClock()
    asked: list[ChatKey] = []
    limiter = _limiter_with_shared(clock, {}, asked)

    async def send(**kwargs: Any) -> Result:
        return {"message_id": 1}

    data = {"chat_id": "-100200"}
    await clock.run(limiter.process_request(send, (), data, "sendMessage", data, Queued(5)))
    assert asked == [-100200]


async def test_requests_without_a_chat_take_no_shared_slot() -> None:
    """getMe and answerCallbackQuery neither wait for nor spend the shared budget."""
    clock = VirtualClock()
    asked: list[ChatKey] = []
    limiter = _limiter_with_shared(clock, {}, asked)

    async def not_a_send(**kwargs: Any) -> Result:
        return True

    await clock.run(limiter.process_request(not_a_send, (), {}, "getMe", {}, None))
    assert asked == []


async def test_a_sqlite_bot_has_no_shared_budget(app: Any) -> None:
    """On SQLite a send makes no round trip to the database: the limiter is as it was."""
    limiter = app.bot.rate_limiter
    assert isinstance(limiter, TelegramRateLimiter)
    assert limiter._shared is None


class StallingClock(VirtualClock):
    """A virtual clock whose first sleep wakes late, as a stalled event loop does."""

    def __init__(self, stall: float) -> None:
        super().__init__()
        self._stall = stall

    async def sleep(self, delay: float) -> None:
        """Sleep, the first time longer than asked."""
        stall, self._stall = self._stall, 0.0
        await super().sleep(delay + stall)


async def test_a_send_that_wakes_past_its_shared_slot_takes_a_new_one() -> None:
    """A slot woken for too late is given up: going then could put more sends into one
    second than the budget, since the workers' later slots go on time."""
    clock = StallingClock(stall=0.2)
    answers = iter([0.5, 0.0])
    asked: list[ChatKey] = []

    async def shared(chat: ChatKey) -> float:
        asked.append(chat)
        return next(answers)

    limiter = TelegramRateLimiter(
        overall_per_second=30, monotonic=clock.monotonic, sleep=clock.sleep, shared=shared
    )

    async def send(**kwargs: Any) -> Result:
        return {"message_id": 1}

    data = {"chat_id": 7}
    await clock.run(limiter.process_request(send, (), data, "sendMessage", data, None))
    assert asked == [7, 7]


async def test_a_send_that_wakes_on_time_keeps_its_shared_slot() -> None:
    """Waking within half a slot of it is on time: one reservation."""
    clock = StallingClock(stall=0.01)
    asked: list[ChatKey] = []
    limiter = _limiter_with_shared(clock, {7: 0.5}, asked)

    async def send(**kwargs: Any) -> Result:
        return {"message_id": 1}

    data = {"chat_id": 7}
    await clock.run(limiter.process_request(send, (), data, "sendMessage", data, None))
    assert asked == [7]
