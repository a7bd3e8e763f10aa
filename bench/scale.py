"""Past one machine: SQLite with one worker beside PostgreSQL with one and with two, in one run.

    python -m bench.scale            # 2,000 deliveries, 250 check-ins, 1,000 fanned out
    python -m bench.scale --quick    # a small run of each
    python -m bench.scale --deliveries 5000 --checkins 500 --fanout 300

Each worker is a process of its own (``bench/scale_worker.py``), as each ``companion run``
is, so two workers use two cores rather than taking turns at one interpreter lock. Every
configuration gets a fresh database for each figure, seeded before its workers start; the
workers build their services, warm up, and start the measured part together. It prints one
table:

* **deliveries/s**: reminders all due at once, sent by the real dispatcher (claims, composing,
  recording; on PostgreSQL each row claimed by one worker with ``FOR UPDATE SKIP LOCKED``) to
  an in-process Bot API peer in each worker, no rate limiter; all of them over the time from
  the first worker's start to the last one's end. Every reminder must reach its chat exactly
  once, over all workers, and be recorded as sent.
* **updates/s**: taps of full daily check-ins (craving, mood, use, skip the note) handled by
  the real Application, its patients shared out among the workers, as a webhook behind a
  load balancer would; the rate limiter keeps its books but never waits and the send budget
  is not shared, so what is measured is the bot, not Telegram's limits.
* **fan-out**: reminders all due at once through the real rate limiter (29 a second; on
  PostgreSQL with the budget the workers share) to the Bot API emulator, which enforces
  Telegram's limits: the time from the first send reaching it to the last, against the
  floor of 30 a second, the most sends in any one second and the 429s it answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from bench.scale_worker import TAPS_PER_CHECKIN, TOKEN, ZONE
from bot.config import Settings, configure_libraries
from bot.services.checkin_screens import prompt_key
from bot.services.crypto import generate_key
from bot.storage.db import Database
from bot.storage.postgres_engine import PostgresDatabase
from bot.storage.sqlite_engine import SqliteDatabase
from tests.emulator import EmulatorClient, EmulatorThread
from tests.support.postgres import PostgresServer, start_server

FIRST_CHAT = 10_000_001
FIRST_USER = 30_000_001
PROMPT_MESSAGE_ID = 500
FLOOR_PER_SECOND = 30
WARM_UP_PATIENTS = 20  # per worker, before the clock starts
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class Sizes:
    """How much each figure measures."""

    deliveries: int = 2_000
    checkins: int = 250
    fanout: int = 1_000
    warm_up: int = WARM_UP_PATIENTS


QUICK = Sizes(deliveries=300, checkins=50, fanout=90, warm_up=5)


@dataclass(frozen=True)
class Config:
    """One engine with a number of workers."""

    engine: str
    workers: int

    @property
    def label(self) -> str:
        """Return the column heading."""
        name = "SQLite" if self.engine == "sqlite" else "PostgreSQL"
        return f"{name}, {self.workers} worker{'s' if self.workers > 1 else ''}"


CONFIGS = (Config("sqlite", 1), Config("postgresql", 1), Config("postgresql", 2))


@dataclass
class Figures:
    """What one configuration measured."""

    deliveries_per_second: float = 0.0
    updates_per_second: float = 0.0
    fanout_seconds: float = 0.0
    fanout_busiest_second: int = 0
    fanout_429s: int = 0
    shares: list[int] = field(default_factory=list)  # deliveries sent by each worker
    logged: list[str] = field(default_factory=list)  # the workers' stderr: warnings and up


@dataclass
class Target:
    """Where a job's database is: a SQLite file, or a database on the PostgreSQL server."""

    path: Path
    url: str | None

    def open(self) -> Database:
        """Return the database, not yet connected."""
        return PostgresDatabase(self.url, pool_size=2) if self.url else SqliteDatabase(self.path)

    @contextlib.asynccontextmanager
    async def connected(self, *, migrate: bool = False) -> AsyncIterator[Database]:
        """Yield the database connected (and migrated, when asked), closed on the way out."""
        db = self.open()
        await db.connect()
        try:
            if migrate:
                await db.migrate()
            yield db
        finally:
            await db.close()


async def _seed_due(target: Target, count: int) -> None:
    """Enrol ``count`` patients, each with one dose reminder due now."""
    now = datetime.now(UTC)
    stamp = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    due = now.isoformat(timespec="seconds")
    expires = (now + timedelta(hours=2)).isoformat(timespec="seconds")
    ids = range(1, count + 1)
    async with target.connected(migrate=True) as db, db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
            [(i, f"B-{i}", FIRST_CHAT + i, FIRST_CHAT + i, ZONE, stamp) for i in ids],
        )
        await tx.executemany(
            "INSERT INTO medications (id, patient_id, name, dose_text, times, weekdays, "
            "start_date, active, created_at, updated_at) VALUES "
            "(?, ?, 'Buprenorphine', '8 mg', '08:00', 'daily', '2026-01-01', 1, ?, ?)",
            [(i, i, stamp, stamp) for i in ids],
        )
        await tx.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, ref_id, "
            "local_date, slot, due_at, expires_at, created_at) VALUES "
            "(?, 'dose', ?, ?, ?, '2026-11-26', '08:00', ?, ?, ?)",
            [(f"dose:{i}:bench", i, FIRST_CHAT + i, i, due, expires, stamp) for i in ids],
        )


async def _seed_checkins(target: Target, count: int, day: str) -> None:
    """Enrol ``count`` consented patients whose check-in prompt for ``day`` went out."""
    now = datetime.now(UTC)
    before = (now - timedelta(days=2)).isoformat(timespec="seconds")
    stamp = now.isoformat(timespec="seconds")
    rows = [(n + 1, FIRST_USER + n) for n in range(count)]
    async with target.connected(migrate=True) as db, db.transaction() as tx:
        await tx.execute(
            "INSERT INTO clinicians (id, telegram_id, name, role, created_at) "
            "VALUES (1, 9999001, 'Dr. Bench', 'admin', ?)",
            (before,),
        )
        await tx.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at, enrolled_at, consented_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            [(i, f"B-{i:05d}", u, u, ZONE, before, before, before) for i, u in rows],
        )
        await tx.executemany(
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (?, 1)",
            [(i,) for i, _ in rows],
        )
        version = Settings.model_fields["consent_version"].default
        await tx.executemany(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "VALUES (?, ?, 'agreed', ?)",
            [(i, version, before) for i, _ in rows],
        )
        await tx.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, local_date, "
            "slot, due_at, expires_at, status, attempts, message_id, created_at, sent_at) "
            "VALUES (?, 'checkin', ?, ?, ?, '20:00', ?, ?, 'sent', 1, ?, ?, ?)",
            [
                (prompt_key(i, datetime.fromisoformat(day).date()), i, u, day, stamp,
                 stamp, PROMPT_MESSAGE_ID, before, stamp)
                for i, u in rows
            ],
        )  # fmt: skip


async def _count(target: Target, sql: str) -> int:
    async with target.connected() as db:
        row = await db.fetchone(sql)
    assert row is not None
    return int(row[0])


class Workers:
    """The worker processes of one configuration, fed jobs in JSON lines."""

    def __init__(self, count: int, folder: Path) -> None:
        self._logs: list[IO[bytes]] = []
        self.processes: list[subprocess.Popen[str]] = []
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        for n in range(count):
            log = (folder / f"worker-{n}.log").open("wb")
            self._logs.append(log)
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.scale_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                    env=env,
                )
            )
        self._folder = folder

    def _read(self, n: int) -> dict[str, Any]:
        line = self.processes[n].stdout.readline()  # type: ignore[union-attr]
        if not line:
            problem = (self._folder / f"worker-{n}.log").read_text(errors="replace")[-3000:]
            msg = f"worker {n} ended without answering:\n{problem}"
            raise RuntimeError(msg)
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _say(self, n: int, text: str) -> None:
        stdin = self.processes[n].stdin
        assert stdin is not None
        stdin.write(text + "\n")
        stdin.flush()

    def run(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Give each worker its job, start them together once all are ready, return answers."""
        for n, job in enumerate(jobs):
            self._say(n, json.dumps({**job, "index": n}))
        for n in range(len(jobs)):
            assert self._read(n) == {"ready": True}
        for n in range(len(jobs)):
            self._say(n, "go")
        return [self._read(n) for n in range(len(jobs))]

    def close(self) -> None:
        """End the workers (an empty line) and wait for them."""
        for n, process in enumerate(self.processes):
            with contextlib.suppress(OSError):
                self._say(n, "")
            process.wait(timeout=60)
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        for log in self._logs:
            log.close()


@contextlib.contextmanager
def _workers(count: int, folder: Path) -> Iterator[Workers]:
    workers = Workers(count, folder)
    try:
        yield workers
    finally:
        workers.close()


class Bench:
    """The run's shared pieces: a folder, the PostgreSQL server and the Bot API emulator."""

    def __init__(self, folder: Path, server: PostgresServer, emulator: EmulatorThread) -> None:
        self.folder = folder
        self.server = server
        self.emulator = emulator
        self.key = generate_key()
        self._jobs = 0

    def target(self, config: Config) -> Target:
        """Return a fresh, empty database for one job."""
        self._jobs += 1
        path = self.folder / f"job-{self._jobs}.sqlite3"
        if config.engine == "sqlite":
            return Target(path, None)
        return Target(path, self.server.url(self.server.new_database()))

    def job(self, kind: str, target: Target, **extra: Any) -> dict[str, Any]:
        """Return a job for a worker on ``target``."""
        return {
            "kind": kind,
            "database_path": str(target.path),
            "database_url": target.url,
            "encryption_key": self.key,
            **extra,
        }


def _span(answers: list[dict[str, Any]]) -> float:
    return float(max(a["ended"] for a in answers) - min(a["started"] for a in answers))


def deliveries(bench: Bench, config: Config, workers: Workers, count: int, out: Figures) -> None:
    """Measure deliveries per second, limiter off; check each went out exactly once."""
    target = bench.target(config)
    asyncio.run(_seed_due(target, count))
    answers = workers.run([bench.job("deliver", target)] * config.workers)
    chats = Counter(chat for answer in answers for chat in answer["chats"])
    twice = [chat for chat, times in chats.items() if times > 1]
    assert not twice, f"{len(twice)} chats got their reminder twice"
    assert set(chats) == {FIRST_CHAT + i for i in range(1, count + 1)}, "a reminder was lost"
    assert sum(a["repeats"] for a in answers) == 0
    sent = asyncio.run(_count(target, "SELECT COUNT(*) FROM deliveries WHERE status = 'sent'"))
    assert sent == count, f"{sent} of {count} recorded as sent"
    out.deliveries_per_second = count / _span(answers)
    out.shares = [a["sent"] for a in answers]


def updates(bench: Bench, config: Config, workers: Workers, sizes: Sizes, out: Figures) -> None:
    """Measure check-in taps handled per second, the patients shared out among the workers."""
    target = bench.target(config)
    day = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date().isoformat()
    warm, each = sizes.warm_up, sizes.checkins // config.workers
    total = config.workers * (warm + each)
    asyncio.run(_seed_checkins(target, total, day))
    jobs = []
    for n in range(config.workers):
        first = FIRST_USER + n * (warm + each)
        users = list(range(first, first + warm + each))
        jobs.append(bench.job("updates", target, day=day, warm_up=users[:warm], users=users[warm:]))
    answers = workers.run(jobs)
    done = asyncio.run(
        _count(
            target,
            "SELECT COUNT(*) FROM checkins WHERE craving = 6 AND mood = 4 AND used = 0",
        )
    )
    assert done == total, f"{done} of {total} check-ins completed"
    out.updates_per_second = sum(a["taps"] for a in answers) / _span(answers)


def fanout(bench: Bench, config: Config, workers: Workers, count: int, out: Figures) -> None:
    """Measure the fan-out with the rate limiter on, against the emulator's clock."""
    target = bench.target(config)
    asyncio.run(_seed_due(target, count))
    with EmulatorClient(bench.emulator.url, bot=TOKEN) as client:
        client.reset_stats()
        answers = workers.run(
            [bench.job("fanout", target, base_url=bench.emulator.url)] * config.workers
        )
        stats = client.stats()
    sends = sorted(s.t for s in stats.sends if s.method == "sendMessage")
    per_chat = Counter(s.chat_id for s in stats.sends if s.method == "sendMessage")
    assert len(per_chat) == count, f"{len(per_chat)} of {count} chats reached"
    assert max(per_chat.values()) == 1, "a chat got its reminder twice"
    assert sum(a["sent"] for a in answers) == count
    out.fanout_seconds = sends[-1] - sends[0]
    out.fanout_busiest_second = stats.max_sends_within(1.0, methods=("sendMessage",))
    out.fanout_429s = stats.rate_limited


def measure(sizes: Sizes, server: PostgresServer | None = None) -> dict[Config, Figures]:
    """Run every figure on every configuration; return the figures by configuration."""
    own_server = server is None
    server = server or start_server()
    results: dict[Config, Figures] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp, EmulatorThread() as emulator:
            emulator.add_bot(TOKEN)
            chats = [FIRST_CHAT + i for i in range(1, sizes.fanout + 1)]
            emulator.call(lambda emu: [emu.add_user(c, f"U{c}") for c in chats])
            with EmulatorClient(emulator.url, bot=TOKEN) as client:
                client.set_rate_limit(enabled=True)
            bench = Bench(Path(tmp), server, emulator)
            for config in CONFIGS:
                figures = results[config] = Figures()
                with _workers(config.workers, bench.folder) as workers:
                    deliveries(bench, config, workers, sizes.deliveries, figures)
                    updates(bench, config, workers, sizes, figures)
                    fanout(bench, config, workers, sizes.fanout, figures)
                figures.logged = [
                    line
                    for log in sorted(bench.folder.glob("worker-*.log"))
                    for line in log.read_text(errors="replace").splitlines()
                ]
    finally:
        if own_server:
            server.stop()
    return results


def table(results: dict[Config, Figures], sizes: Sizes) -> str:
    """Return the figures side by side, with the notes needed to read them."""
    floor = sizes.fanout / FLOOR_PER_SECOND
    rows: list[tuple[str, list[str]]] = [
        (
            f"deliveries/s ({sizes.deliveries:,} due, limiter off)",
            [f"{f.deliveries_per_second:,.0f}" for f in results.values()],
        ),
        ("  sent by each worker", ["+".join(str(s) for s in f.shares) for f in results.values()]),
        (
            f"updates/s (check-in taps, {sizes.checkins} patients x {TAPS_PER_CHECKIN})",
            [f"{f.updates_per_second:,.0f}" for f in results.values()],
        ),
        (
            f"fan-out of {sizes.fanout:,}, limiter on (floor {floor:.1f} s)",
            [
                f"{f.fanout_seconds:.1f} s ({f.fanout_seconds / floor:.3f}x)"
                for f in results.values()
            ],
        ),
        ("  most sends in any second", [str(f.fanout_busiest_second) for f in results.values()]),
        ("  429s from the emulator", [str(f.fanout_429s) for f in results.values()]),
        ("lines the workers logged (warnings)", [str(len(f.logged)) for f in results.values()]),
    ]
    headings = [config.label for config in results]
    first = max(len(name) for name, _ in rows)
    widths = [max(len(h), *(len(cells[i]) for _, cells in rows)) for i, h in enumerate(headings)]
    lines = [
        f"past one machine, {os.cpu_count()} cores, every worker a process of its own:",
        "  ".join([" " * first, *(h.rjust(w) for h, w in zip(headings, widths, strict=True))]),
    ]
    lines += [
        "  ".join([name.ljust(first), *(c.rjust(w) for c, w in zip(cells, widths, strict=True))])
        for name, cells in rows
    ]
    lines += NOTES
    for config, figures in results.items():
        if figures.logged:
            lines.append(f"what the workers logged, {config.label}:")
            lines += [f"  {line}" for line in figures.logged]
    return "\n".join(lines)


NOTES = [
    "notes:",
    "  deliveries/s: the real dispatcher (max in flight as `companion run` sets it) sending to",
    "    an in-process Bot API peer in each worker; every reminder reached its chat once and",
    "    was recorded as sent. Over the time from the first worker's start to the last's end.",
    "  updates/s: taps of full check-ins through the real Application, each worker handling",
    "    its share of the patients (as behind a webhook load balancer; only one worker may",
    "    poll). The rate limiter never waits and no send budget is shared.",
    "  fan-out: the real rate limiter at 29/s (on PostgreSQL the budget the workers share, 28/s:",
    "    a slot a second left for sends that reach Telegram late) to the Bot API emulator",
    "    enforcing Telegram's 30/s; first to last send by its clock. Two workers cannot beat",
    "    the floor: the budget is per bot, not per worker.",
    "  Workers on one machine share its cores, the PostgreSQL server and this benchmark.",
    "  The workers log at WARNING (no handler set: Python's last resort); a slow or failed",
    "    budget reservation, which lets a send go on the worker's own limits, is one.",
]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small run of each figure")
    parser.add_argument("--deliveries", type=int, help="reminders due for deliveries/s")
    parser.add_argument("--checkins", type=int, help="patients checking in for updates/s")
    parser.add_argument("--fanout", type=int, help="reminders fanned out, limiter on")
    args = parser.parse_args(argv)
    configure_libraries()
    sizes = QUICK if args.quick else Sizes()
    chosen = {
        name: getattr(args, name)
        for name in ("deliveries", "checkins", "fanout")
        if getattr(args, name) is not None
    }
    sizes = dataclasses.replace(sizes, **chosen)
    started = time.perf_counter()
    results = measure(sizes)
    print(table(results, sizes))
    print(f"  (the whole run took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
