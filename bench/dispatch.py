"""Dispatcher benchmarks: its own cost per delivery, and delivery time under the rate limiter.

    python -m bench.dispatch            # both figures
    python -m bench.dispatch --cost     # 10,000 due at once, rate limiter off, local peer
    python -m bench.dispatch --paced    # 1,000 due at once, rate limiter on, Bot API emulator

The first figure is what the dispatcher itself costs (claiming, composing, recording) with a
Bot API peer that answers in process at no cost. The second is the wall-clock time for 1,000
reminders due in the same minute to reach the emulator through the real rate limiter, as a
ratio to the floor Telegram's 30 messages per second impose (1000 / 30 = 33.3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from telegram import Bot
from telegram.ext import ExtBot

from bot.clock import SystemClock
from bot.config import Settings, configure_libraries
from bot.container import build_services
from bot.ratelimit import TelegramRateLimiter
from scheduler.dispatch import Dispatcher
from tests.support.botapi import LocalBotApi

TOKEN = "123456:BENCH-token-not-real-000000000000"
FLOOR_PER_SECOND = 30


def _seed(db_path: Path, count: int) -> None:
    """Insert ``count`` consented patients, each with one dose reminder due now."""
    now = datetime.now(UTC)
    stamp = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    due = now.isoformat(timespec="seconds")
    expires = (now + timedelta(hours=2)).isoformat(timespec="seconds")
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at) VALUES (?, ?, ?, ?, 'active', 'America/New_York', ?)",
            [(i, f"B-{i}", 10_000_000 + i, 10_000_000 + i, stamp) for i in range(1, count + 1)],
        )
        conn.executemany(
            "INSERT INTO medications (id, patient_id, name, dose_text, times, weekdays, "
            "start_date, active, created_at, updated_at) "
            "VALUES (?, ?, 'Buprenorphine', '8 mg', '08:00', 'daily', '2026-01-01', 1, ?, ?)",
            [(i, i, stamp, stamp) for i in range(1, count + 1)],
        )
        conn.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, ref_id, local_date, "
            "slot, due_at, expires_at, created_at) VALUES (?, 'dose', ?, ?, ?, '2026-11-26', "
            "'08:00', ?, ?, ?)",
            [
                (f"dose:{i}:bench", i, 10_000_000 + i, i, due, expires, stamp)
                for i in range(1, count + 1)
            ],
        )


async def _prepared(folder: Path, count: int, **overrides: Any) -> tuple[Any, Path]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=folder / "bench.sqlite3",
        **overrides,
    )
    services = build_services(settings, SystemClock())
    await services.db.connect()
    await services.db.migrate()
    _seed(settings.database_path, count)
    return services, settings.database_path


async def _run_until_sent(dispatcher: Dispatcher, count: int, services: Any) -> float:
    started = time.perf_counter()
    while dispatcher.stats.sent < count:
        await dispatcher.tick()
        if dispatcher.in_flight:
            await dispatcher.drain()
        elif dispatcher.stats.sent < count:
            await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    counts = await services.reminders.deliveries.count_by_status()
    assert counts.get("sent") == count, counts
    return elapsed


async def measure_cost(count: int = 10_000) -> float:
    """Return the dispatcher's own seconds per delivery with the rate limiter off."""
    with tempfile.TemporaryDirectory() as tmp:
        services, _ = await _prepared(Path(tmp), count)
        # The tests' in-process Bot API peer answers at once, so only our own cost is measured.
        peer = LocalBotApi()
        bot = Bot(TOKEN, request=peer, get_updates_request=peer)
        await bot.initialize()
        dispatcher = Dispatcher(
            bot=bot, reminders=services.reminders, clock=services.clock, max_in_flight=500
        )
        elapsed = await _run_until_sent(dispatcher, count, services)
        await bot.shutdown()
        await services.db.close()
    per = elapsed / count
    print(
        f"dispatcher cost: {count} deliveries in {elapsed:.2f} s = {per * 1000:.3f} ms each "
        f"(rate limiter off, in-process peer; target < 1 ms)"
    )
    return per


async def measure_paced(count: int = 1_000) -> float:
    """Return the ratio of the time to deliver ``count`` with the limiter on to the floor."""
    from tests.emulator import AsyncEmulatorClient, EmulatorThread  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp, EmulatorThread() as emulator:
        emulator.add_bot(TOKEN)
        services, _ = await _prepared(Path(tmp), count)
        async with AsyncEmulatorClient(emulator.url, bot=TOKEN) as emu:
            for i in range(1, count + 1):
                await emu.create_user(10_000_000 + i, f"B{i}")
            limiter = TelegramRateLimiter(
                overall_per_second=services.settings.rate_limit_per_second,
                per_chat_interval=services.settings.rate_limit_per_chat_seconds,
            )
            bot = ExtBot(TOKEN, base_url=f"{emulator.url}/bot", rate_limiter=limiter)
            await bot.initialize()
            dispatcher = Dispatcher(
                bot=bot,
                reminders=services.reminders,
                clock=services.clock,
                max_in_flight=2 * services.settings.rate_limit_per_second,
            )
            elapsed = await _run_until_sent(dispatcher, count, services)
            stats = await emu.stats()
            await bot.shutdown()
        await services.db.close()
    floor = count / FLOOR_PER_SECOND
    ratio = elapsed / floor
    print(
        f"rate-limited delivery: {count} reminders in {elapsed:.1f} s, floor {floor:.1f} s, "
        f"ratio {ratio:.3f} (target <= 1.05); busiest second "
        f"{stats.max_sends_within(1.0)} sends (limit {FLOOR_PER_SECOND})"
    )
    return ratio


def main() -> None:
    """Run the benchmarks named on the command line (both by default)."""
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch")
    parser.add_argument("--cost", action="store_true", help="only the per-delivery cost")
    parser.add_argument("--paced", action="store_true", help="only the rate-limited run")
    parser.add_argument("--count", type=int, default=None, help="deliveries (default 10k / 1k)")
    args = parser.parse_args()
    configure_libraries()
    both = not (args.cost or args.paced)
    if args.cost or both:
        asyncio.run(measure_cost(args.count or 10_000))
    if args.paced or both:
        asyncio.run(measure_paced(args.count or 1_000))


if __name__ == "__main__":
    main()
