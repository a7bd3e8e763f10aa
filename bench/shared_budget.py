"""The send budget shared by workers on one PostgreSQL database: its cost and its pace.

    python -m bench.shared_budget

On a PostgreSQL server of its own (the tests' one, on a loopback port), it prints:

* the reservation's round trip (one ``send_budget_reserve`` call) p50 and p99, one at a time;
* what it adds to a reply on an idle bot: the delay from a send being asked of the rate
  limiter to its request starting, with and without the shared budget, measured in the
  same run (the reference);
* two workers (a pool and a limiter each) sending to 300 chats at once, plus one chat both
  write to three times each: the rate they achieve together over the 300 chats, the most
  sends that started in any one second, and the closest two sends to one chat.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections import defaultdict
from typing import Any

from bot.ratelimit import ChatKey, TelegramRateLimiter
from bot.storage.postgres_engine import PostgresDatabase
from bot.storage.send_budget import SendBudget
from tests.support.postgres import start_server

PER_SECOND = 29
INTERVAL = 1.0
ROUND_TRIPS = 1_000
REPLIES = 200
REPLY_GAP = 0.05  # replies arrive slower than the budget, as on an idle bot
CHATS = 300
SHARED_CHAT = 4242


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _round_trips(budget: SendBudget) -> list[float]:
    took: list[float] = []
    # An hour ago by the server's clock set by hand: the same statement, and the slots it
    # takes are long past when the replies below reserve theirs.
    at = time.time() - 3600.0
    for chat in range(ROUND_TRIPS):
        started = time.perf_counter()
        await budget.reserve(chat, at=at)
        took.append(time.perf_counter() - started)
    return took


async def _reply_delays(limiter: TelegramRateLimiter, first_chat: int) -> list[float]:
    delays: list[float] = []
    for chat in range(first_chat, first_chat + REPLIES):
        asked = time.perf_counter()

        async def call(**kwargs: Any) -> dict[str, Any]:
            delays.append(time.perf_counter() - asked)  # noqa: B023 - called before the next
            return {"message_id": 1}

        data = {"chat_id": chat}
        await limiter.process_request(call, (), data, "sendMessage", data, None)
        await asyncio.sleep(REPLY_GAP)
    return delays


async def _two_workers(url: str) -> tuple[float, int, float]:
    sent: list[tuple[float, ChatKey]] = []
    dbs = [PostgresDatabase(url, pool_size=4) for _ in range(2)]
    for db in dbs:
        await db.connect()
    try:
        limiters = [
            TelegramRateLimiter(
                overall_per_second=PER_SECOND,
                per_chat_interval=INTERVAL,
                shared=SendBudget(
                    db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL
                ).delay_for,
            )
            for db in dbs
        ]

        async def send(limiter: TelegramRateLimiter, chat: int) -> None:
            async def call(**kwargs: Any) -> dict[str, Any]:
                sent.append((time.monotonic(), chat))
                return {"message_id": len(sent)}

            data = {"chat_id": chat}
            await limiter.process_request(call, (), data, "sendMessage", data, None)

        half = CHATS // 2
        await asyncio.gather(
            *(send(limiters[0], chat) for chat in range(half)),
            *(send(limiters[1], chat) for chat in range(half, CHATS)),
            *(send(limiter, SHARED_CHAT) for limiter in limiters for _ in range(3)),
        )
    finally:
        for db in dbs:
            await db.close()
    times = sorted(moment for moment, _ in sent)
    # The rate over the 300 chats: the shared chat's sends trail them a second apart.
    bulk = sorted(moment for moment, chat in sent if chat != SHARED_CHAT)
    rate = (len(bulk) - 1) / (bulk[-1] - bulk[0])
    most = max(
        sum(1 for later in times[index:] if later < start + 1.0)
        for index, start in enumerate(times)
    )
    by_chat: dict[ChatKey, list[float]] = defaultdict(list)
    for moment, chat in sent:
        by_chat[chat].append(moment)
    closest = min(
        later - earlier
        for moments in by_chat.values()
        for earlier, later in itertools.pairwise(sorted(moments))
    )
    return rate, most, closest


async def _measure(url: str) -> None:
    db = PostgresDatabase(url, pool_size=4)
    await db.connect()
    try:
        budget = SendBudget(db, overall_per_second=PER_SECOND, per_chat_interval=INTERVAL)
        trips = await _round_trips(budget)
        print(
            f"shared budget reservation round trip: p50 {_percentile(trips, 0.5) * 1000:.2f} ms,"
            f" p99 {_percentile(trips, 0.99) * 1000:.2f} ms ({ROUND_TRIPS} calls, PostgreSQL)"
        )
        alone = await _reply_delays(TelegramRateLimiter(overall_per_second=PER_SECOND), 100_000)
        shared = await _reply_delays(
            TelegramRateLimiter(overall_per_second=PER_SECOND, shared=budget.delay_for), 200_000
        )
    finally:
        await db.close()
    print(
        "reply delay in the limiter (idle bot): "
        f"alone p50 {statistics.median(alone) * 1000:.2f} ms "
        f"p99 {_percentile(alone, 0.99) * 1000:.2f} ms; "
        f"with the shared budget p50 {statistics.median(shared) * 1000:.2f} ms "
        f"p99 {_percentile(shared, 0.99) * 1000:.2f} ms"
    )
    rate, most, closest = await _two_workers(url)
    print(
        f"two workers, {CHATS} chats + one shared chat, budget {PER_SECOND}/s: "
        f"{rate:.1f} sends/s together, at most {most} started in any one second, "
        f"closest two sends to one chat {closest:.3f} s apart"
    )


def main(argv: list[str] | None = None) -> None:
    """Start a PostgreSQL server, print the figures, stop it."""
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    server = start_server()
    try:
        name = server.new_database()
        asyncio.run(_measure(server.url(name)))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
