"""Digest benchmarks: build time at 100 and 1,000 patients, and a crisis reply during a build.

    python -m bench.digest              # both figures
    python -m bench.digest --build      # build and render (charts included) for 100 and 1,000
    python -m bench.digest --crisis     # a crisis reply's delay during a 1,000-patient digest

Each patient has four weeks of data (check-ins, a daily dose, prompts), so the week's
figures and the 28-day charts have something to draw; about a third need attention. The
build is what the dispatcher does for a scheduled digest: read the group, compute, draw the
charts in worker processes, render the message parts, the HTML report and the CSV.

The second figure runs the real Application with an in-process Bot API peer: while the
1,000-patient digest is built, a patient's crisis message is processed, and the time from
the update to the crisis reply leaving the bot is printed, with the longest stall of the
event loop seen meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings, configure_libraries
from bot.container import Services, build_services
from bot.models import Clinician, Delivery, DeliveryStatus
from bot.services.digest_model import WeeklyDigest
from tests.support.botapi import LocalBotApi
from tests.support.updates import text_update

TOKEN = "123456:BENCH-token-not-real-000000000000"
WEEK_END = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # Monday 08:00 in New York
DR_TELEGRAM = 9_999_001
CRISIS_USER = 20_000_001


def _settings(folder: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=folder / "bench.sqlite3",
        rate_limit_per_chat_seconds=0,
        **overrides,
    )


def _seed(db_path: Path, count: int) -> None:
    """Insert one admin clinician and ``count`` patients with four weeks of data each."""
    stamp = "2026-10-01T12:00:00+00:00"
    days = [WEEK_END - timedelta(days=offset) for offset in range(28)]
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO clinicians (id, telegram_id, name, role, created_at) "
            "VALUES (1, ?, 'Dr. Bench', 'admin', ?)",
            (DR_TELEGRAM, stamp),
        )
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at, enrolled_at, consented_at) "
            "VALUES (?, ?, ?, ?, 'active', 'America/New_York', ?, ?, ?)",
            [
                (i, f"B-{i:05d}", 10_000_000 + i, 10_000_000 + i, stamp, stamp, stamp)
                for i in range(1, count + 1)
            ],
        )
        conn.executemany(
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (?, 1)",
            [(i,) for i in range(1, count + 1)],
        )
        conn.executemany(
            "INSERT INTO medications (id, patient_id, name, dose_text, times, weekdays, "
            "start_date, active, created_at, updated_at) "
            "VALUES (?, ?, 'Buprenorphine', '8 mg', '08:00', 'daily', '2026-10-01', 1, ?, ?)",
            [(i, i, stamp, stamp) for i in range(1, count + 1)],
        )
        checkins, doses, prompts = [], [], []
        for i in range(1, count + 1):
            troubled = i % 3 == 0
            for n, day in enumerate(days):
                recent = n < 7
                craving = (8 if troubled and recent else 3) + (n + i) % 3
                used = int(troubled and recent and n % 3 == 0)
                checkins.append((i, day.isoformat(), min(craving, 10), 6 - (n % 3), used, stamp))
                due = datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC).isoformat()
                status, response = (
                    ("missed", None) if troubled and recent and n % 2 else ("answered", "taken")
                )
                doses.append(
                    (f"dose:{i}:{day}", i, 10_000_000 + i, i, day.isoformat(), due, due, status,
                     response, stamp)
                )  # fmt: skip
                prompts.append(
                    (f"checkin:{i}:{day}", i, 10_000_000 + i, day.isoformat(), due, due, stamp)
                )
        conn.executemany(
            "INSERT INTO checkins (patient_id, local_date, craving, mood, used, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?6)",
            checkins,
        )
        conn.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, ref_id, local_date, "
            "slot, due_at, expires_at, status, response, created_at) "
            "VALUES (?, 'dose', ?, ?, ?, ?, '08:00', ?, ?, ?, ?, ?)",
            doses,
        )
        conn.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, local_date, slot, "
            "due_at, expires_at, status, created_at) "
            "VALUES (?, 'checkin', ?, ?, ?, '20:00', ?, ?, 'sent', ?)",
            prompts,
        )


async def _services(folder: Path, count: int) -> Services:
    settings = _settings(folder)
    services = build_services(settings, ManualClock(NOW))
    await services.db.connect()
    await services.db.migrate()
    _seed(settings.database_path, count)
    return services


def _empty() -> WeeklyDigest:
    clinician = Clinician(1, DR_TELEGRAM, "Dr. Bench", "admin", True, NOW)
    return WeeklyDigest(clinician, WEEK_END, WEEK_END, NOW, ())


def _digest_row() -> Delivery:
    return Delivery(
        id=0, dedupe_key="bench", kind="digest", patient_id=None, clinician_id=1,
        chat_id=DR_TELEGRAM, ref_id=None, local_date=WEEK_END.isoformat(), slot="scheduled",
        priority=8, due_at=NOW, expires_at=NOW, status=DeliveryStatus.SENDING, attempts=1,
        unknown_sends=0, repeats_sent=0, next_repeat_at=None, message_id=None, response=None,
        response_detail=None, miss_reason=None, created_at=NOW, sent_at=None, answered_at=None,
    )  # fmt: skip


async def measure_build(counts: tuple[int, ...] = (100, 1_000)) -> dict[int, float]:
    """Print and return the seconds to build and render a digest for each patient count."""
    results = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as folder:
            services = await _services(Path(folder), count)
            try:
                # Start the worker processes first: a running bot has them already.
                await services.charts.render(services.renderer.chart_jobs(_empty(), "en") * 2)
                started = time.perf_counter()
                built = await services.weekly.build(_digest_row())
                elapsed = time.perf_counter() - started
                assert built is not None
                digest, files = built
                results[count] = elapsed
                print(
                    f"digest, {count:>5} patients: {elapsed:6.2f} s to build and render "
                    f"({len(digest.flagged)} need attention, {len(files.messages)} message "
                    f"parts, {len(files.photos)} photos, report {len(files.report) // 1024} KiB)"
                )
            finally:
                services.charts.close()
                await services.db.close()
    if len(results) > 1:
        (small, t_small), (large, t_large) = sorted(results.items())[:2]
        ratio = (t_large / t_small) / (large / small)
        print(f"growth: {t_large / t_small:.1f}x the time for {large / small:.0f}x the patients "
              f"(1.0 = linear: {ratio:.2f})")  # fmt: skip
    return results


async def measure_crisis_delay(count: int = 1_000) -> tuple[float, float]:
    """Print the crisis reply delay and the longest loop stall during a digest build."""
    with tempfile.TemporaryDirectory() as folder:
        settings = _settings(Path(folder))
        api = LocalBotApi()
        app = build_application(
            settings, request=api, clock=ManualClock(NOW), start_scheduler=False
        )
        await app.initialize()
        assert app.post_init is not None
        await app.post_init(app)
        services: Services = app.bot_data["services"]
        _seed(settings.database_path, count)
        # The patient in crisis: patient 1, bound to a Telegram user.
        async with services.db.transaction() as tx:
            await tx.execute(
                "UPDATE patients SET telegram_user_id = ?, chat_id = ? WHERE id = 1",
                (CRISIS_USER, CRISIS_USER),
            )
        stalls: list[float] = []
        done = asyncio.Event()

        async def watch_loop() -> None:
            while not done.is_set():
                before = time.perf_counter()
                await asyncio.sleep(0.005)
                stalls.append(time.perf_counter() - before - 0.005)

        watcher = asyncio.create_task(watch_loop())
        try:
            build = asyncio.create_task(services.weekly.build(_digest_row()))
            await asyncio.sleep(0.3)  # the build is under way: reading, computing, drawing
            sent_before = len(api.sent(CRISIS_USER))
            started = time.perf_counter()
            await app.process_update(
                text_update(app.bot, CRISIS_USER, "i took too many pills and cant stay awake")
            )
            replies = api.sent(CRISIS_USER)[sent_before:]
            delay = time.perf_counter() - started
            assert replies, "the crisis message got no reply"
            build_finished = build.done()
            await build
        finally:
            done.set()
            await watcher
            services.charts.close()
            assert app.post_shutdown is not None
            await app.post_shutdown(app)
            await app.shutdown()
        worst = max(stalls, default=0.0)
        print(
            f"crisis reply during a {count}-patient digest build: {delay * 1000:.0f} ms "
            f"(target under 1,000 ms; the build was {'over' if build_finished else 'still running'}"
            f"); longest event-loop stall meanwhile: {worst * 1000:.0f} ms"
        )
        return delay, worst


def main(argv: list[str] | None = None) -> None:
    """Run the benchmarks named on the command line (default: both)."""
    parser = argparse.ArgumentParser(prog="python -m bench.digest")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--crisis", action="store_true")
    args = parser.parse_args(argv)
    configure_libraries()
    both = not (args.build or args.crisis)
    if args.build or both:
        asyncio.run(measure_build())
    if args.crisis or both:
        asyncio.run(measure_crisis_delay())


if __name__ == "__main__":
    main()
