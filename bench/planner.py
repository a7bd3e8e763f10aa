"""Planner benchmark: tick times, the event loop's longest stall, and peak memory.

    python -m bench.planner                  # 1,000 and 10,000 patients
    python -m bench.planner --patients 1000  # one size

Each size runs in a process of its own, so its peak memory is its own. A temporary SQLite
database gets ``N`` consented patients in six US time zones: every one has a daily dose (a
third a second medicine twice a day), a check-in time between 19:00 and 21:30, one in five a
dTMS course of 30 weekday sessions, one in ten a methadone course started this week and one in
twenty a naltrexone course that ends in three days (the safety messages are planned with the
reminders); one in twenty is paused. Then, with a clock the benchmark moves:

- the **first (cold) tick**: what a start-up does, every plannable patient planned from
  scratch;
- **steady ticks**: an hour of the planner's 30-second ticks with nothing changed, then an
  hour in which one patient a tick changes a schedule (both the median and the slowest);
- the **longest event-loop stall** during the ticks, seen by a probe task that asks to wake
  every 5 ms and records how late it wakes, with the most CPU time the loop's own thread used
  between two wake-ups (on a shared machine the rest of a stall is other processes' load);
- **peak memory**: the process's peak resident set (``ru_maxrss``) and the planner's own peak
  Python allocation during a cold tick (``tracemalloc``, measured in a separate pass because
  tracing slows everything down).

A tick is what the scheduler's planner job runs (``scheduler.jobs.plan_tick``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import Services, build_services
from bot.clock import ManualClock
from bot.config import Settings, configure_libraries
from scheduler.jobs import freeze_startup_objects, plan_tick

TOKEN = "123456:BENCH-token-not-real-000000000000"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # Thursday, 12:00 in New York
ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Puerto_Rico",
)
PROBE_SECONDS = 0.005
STEADY_TICKS = 120  # an hour of 30-second ticks


def _seed(db_path: Path, count: int) -> None:
    """Insert ``count`` patients with their medications and dTMS courses."""
    stamp = "2026-10-01T12:00:00+00:00"
    this_week = "2026-11-24"
    patients, meds, courses, appointments = [], [], [], []
    med_id = 0
    for i in range(1, count + 1):
        zone = ZONES[i % len(ZONES)]
        checkin = f"{19 + (i % 3)}:{'30' if i % 2 else '00'}"
        paused = int(i % 20 == 7)
        patients.append(
            (i, f"B-{i:05d}", 10_000_000 + i, 10_000_000 + i, zone, checkin, paused, stamp)
        )
        med_id += 1
        meds.append((med_id, i, "Buprenorphine", f"{7 + i % 4:02d}:00", "2026-10-01", None))
        if i % 3 == 0:
            med_id += 1
            meds.append((med_id, i, "Gabapentin", "09:00,21:00", "2026-10-01", None))
        if i % 10 == 1:
            med_id += 1
            meds.append((med_id, i, "Methadone", "08:30", this_week, None))
        if i % 20 == 2:
            med_id += 1
            meds.append((med_id, i, "Naltrexone", "10:00", "2026-10-01", "2026-11-28"))
        if i % 5 == 4:
            courses.append((i, i))
    with sqlite3.connect(db_path) as conn:
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "checkin_time, reminders_paused, created_at, enrolled_at, consented_at) "
            "VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?8, ?8, ?8)",
            patients,
        )
        conn.executemany(
            "INSERT INTO medications (id, patient_id, name, dose_text, times, weekdays, "
            "start_date, end_date, active, created_at, updated_at) "
            "VALUES (?, ?, ?, '1 tablet', ?, 'daily', ?, ?, 1, ?7, ?7)",
            [(*m, stamp) for m in meds],
        )
        conn.executemany(
            "INSERT INTO tms_courses (id, patient_id, start_date, weekdays, time, sessions, "
            "active, created_at) VALUES (?, ?, '2026-11-16', 'mon-fri', '09:30', 30, 1, ?)",
            [(*c, stamp) for c in courses],
        )
        for course_id, patient_id in courses:
            day, number = datetime(2026, 11, 16, 14, 30, tzinfo=UTC), 0
            while number < 30:
                if day.weekday() < 5:
                    number += 1
                    appointments.append(
                        (patient_id, day.isoformat(timespec="seconds"),
                         day.strftime("%Y-%m-%dT09:30"), course_id, number, stamp)
                    )  # fmt: skip
                day += timedelta(days=1)
        conn.executemany(
            "INSERT INTO appointments (patient_id, kind, starts_at, local_start, timezone, "
            "course_id, session_number, sessions_total, status, created_at) "
            "VALUES (?, 'dtms', ?, ?, 'America/New_York', ?, ?, 30, 'scheduled', ?)",
            appointments,
        )


@dataclass
class Probe:
    """A task that wakes every few milliseconds and records how late it woke.

    ``worst`` is the longest stall by the wall clock. On a shared machine part of a stall can
    be other processes holding the cores, so ``busiest`` is the most CPU time the event loop's
    own thread used between two wake-ups: what our code held the loop for.
    """

    worst: float = 0.0
    busiest: float = 0.0
    _task: asyncio.Task[None] | None = None
    _stop: bool = False

    async def _run(self) -> None:
        while not self._stop:
            before, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(PROBE_SECONDS)
            self.worst = max(self.worst, time.perf_counter() - before - PROBE_SECONDS)
            self.busiest = max(self.busiest, time.thread_time() - cpu)

    async def __aenter__(self) -> Probe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop = True
        assert self._task is not None
        await self._task


async def _prepared(folder: Path, count: int) -> tuple[Services, ManualClock]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=folder / "bench.sqlite3",
    )
    clock = ManualClock(NOW)
    services = build_services(settings, clock)
    await services.db.connect()
    await services.db.migrate()
    _seed(settings.database_path, count)
    freeze_startup_objects()  # as the bot does once it has started
    return services, clock


async def _timed(action: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


async def _change_one(services: Services, patient_id: int) -> None:
    """Change one patient's schedule the way a clinician does."""
    await services.schedules.add_medication(
        f"B-{patient_id:05d}", name="Acamprosate", dose="666 mg", times="08:15,13:15,19:15"
    )


async def run(count: int, ticks: int = STEADY_TICKS) -> dict[str, float]:
    """Measure one size; return its figures."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        services, clock = await _prepared(Path(folder), count)
        try:
            async with Probe() as probe:
                figures["cold"] = await _timed(lambda: plan_tick(services))
            figures["cold_stall"] = probe.worst
            figures["cold_busy"] = probe.busiest
            rows = await services.db.fetchone("SELECT COUNT(*) AS n FROM deliveries")
            figures["rows"] = float(rows["n"] if rows else 0)
            steady: list[float] = []
            changed: list[float] = []
            async with Probe() as probe:
                for _ in range(ticks):
                    clock.advance(timedelta(seconds=30))
                    steady.append(await _timed(lambda: plan_tick(services)))
                for n in range(ticks):
                    clock.advance(timedelta(seconds=30))
                    await _change_one(services, 1 + (n * 7919) % count)
                    changed.append(await _timed(lambda: plan_tick(services)))
            figures["steady_stall"] = probe.worst
            figures["steady_busy"] = probe.busiest
            figures["steady_median"] = statistics.median(steady)
            figures["steady_max"] = max(steady)
            figures["changed_median"] = statistics.median(changed)
            figures["changed_max"] = max(changed)
        finally:
            await services.db.close()
    figures["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as folder:
        services, clock = await _prepared(Path(folder), count)
        try:
            tracemalloc.start()
            await plan_tick(services)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            figures["traced_mib"] = peak / 2**20
        finally:
            await services.db.close()
    return figures


def report(count: int, f: dict[str, float]) -> None:
    """Print one size's figures."""
    ms = 1000
    print(
        f"planner, {count:>6,} patients (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores): first (cold) tick {f['cold']:.2f} s "
        f"({int(f['rows']):,} rows), longest loop stall {f['cold_stall'] * ms:.0f} ms "
        f"(the loop's own thread busy at most {f['cold_busy'] * ms:.0f} ms between wake-ups)\n"
        f"  steady tick: median {f['steady_median'] * ms:.1f} ms, slowest "
        f"{f['steady_max'] * ms:.1f} ms; with one schedule change a tick: median "
        f"{f['changed_median'] * ms:.1f} ms, slowest {f['changed_max'] * ms:.1f} ms; "
        f"longest loop stall {f['steady_stall'] * ms:.0f} ms (busy at most "
        f"{f['steady_busy'] * ms:.0f} ms); targets: tick < 100 ms, stall < 50 ms\n"
        f"  peak memory: {f['rss_mib']:.0f} MiB resident (whole process), "
        f"{f['traced_mib']:.1f} MiB allocated by a cold tick"
    )


def main(argv: list[str] | None = None) -> None:
    """Run each size in a process of its own and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.planner")
    parser.add_argument("--patients", type=int, action="append", help="default 1,000 and 10,000")
    parser.add_argument("--ticks", type=int, default=STEADY_TICKS, help="steady ticks of each kind")
    parser.add_argument("--here", action="store_true", help="run in this process")
    args = parser.parse_args(argv)
    sizes = args.patients or [1_000, 10_000]
    if args.here:
        configure_libraries()
        for count in sizes:
            report(count, asyncio.run(run(count, args.ticks)))
        return
    for count in sizes:
        command = [sys.executable, "-m", "bench.planner", "--here", "--patients", str(count)]
        subprocess.run([*command, "--ticks", str(args.ticks)], check=True)


if __name__ == "__main__":
    main()
