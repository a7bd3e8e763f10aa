"""Crisis reply delay: ten patients in crisis at once, alone and during a 1,000-reminder fan-out.

    python -m bench.reply_delay             # both scenarios
    python -m bench.reply_delay --burst     # ten crisis messages at once, nothing else going on
    python -m bench.reply_delay --fanout    # the same ten while 1,000 reminders go out

The bot runs as its own process (``python -m bot run``), exactly as a clinic runs it, against
the Bot API emulator with Telegram's flood limits switched on (30 a second, one a second per
chat) and the bot's own rate limiter at its defaults. Ten enrolled patients, all on one
clinician's care team, write a crisis message within a few milliseconds of each other. For each
patient the delay is the time from their message reaching the Bot API to the bot's crisis reply
being accepted by it; the alert delay is the same up to that patient's alert reaching the
clinician. In the second scenario 1,000 dose reminders fall due together and the ten messages
arrive once the fan-out is under way. Times are the emulator's, so the network and the bot's
polling are included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.storage.sqlite_engine import SqliteDatabase
from tests.emulator import AsyncEmulatorClient, AsyncUser, EmulatorThread, Stats

TOKEN = "424242:BENCH-token-for-the-emulator-00000"
ZONE = "America/New_York"
CLINICIAN = 9_100_001
FIRST_CRISIS_USER = 9_200_001
FIRST_REMINDER_USER = 9_300_001
PATIENTS_IN_CRISIS = 10
REMINDERS = 1_000
FANOUT_UNDER_WAY = 150  # reminders delivered before the crisis messages are written
READY_TIMEOUT = 60.0
CRISIS_MESSAGES = (
    "i want to kill myself tonight",
    "i took too many pills and cant stay awake",
    "my friend isnt breathing, he took fentanyl",
    "i want to end my life",
    "im going to kill myself tonight",
)


@dataclass(frozen=True)
class Figures:
    """What one scenario measured, in seconds."""

    replies: list[float]
    alerts: list[float]
    alerts_before_reply: int


def _later_slot(now: datetime) -> str:
    """Return a local time of day twelve hours away: nothing planned for it falls due now."""
    return (now.astimezone(ZoneInfo(ZONE)) + timedelta(hours=12)).strftime("%H:%M")


def _seed(db_path: Path, reminders: int, consent_version: str) -> None:
    """Insert the clinician, the patients in crisis and ``reminders`` dose reminders due now."""
    now = datetime.now(UTC)
    stamp = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    due = now.isoformat(timespec="seconds")
    expires = (now + timedelta(hours=2)).isoformat(timespec="seconds")
    later = _later_slot(now)
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO clinicians (id, telegram_id, name, role, created_at) "
            "VALUES (1, ?, 'Dr. Bench', 'clinician', ?)",
            (CLINICIAN, stamp),
        )
        crisis = [(i, FIRST_CRISIS_USER + i) for i in range(1, PATIENTS_IN_CRISIS + 1)]
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "checkin_time, created_at, enrolled_at, consented_at) "
            "VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
            [(i, f"C-{i:02d}", user, user, ZONE, later, stamp, stamp, stamp) for i, user in crisis],
        )
        conn.executemany(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "VALUES (?, ?, 'agreed', ?)",
            [(i, consent_version, stamp) for i, _ in crisis],
        )
        conn.executemany(
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (?, 1)",
            [(i,) for i, _ in crisis],
        )
        # Patients who only get reminders: no consent date, so no check-in prompt is planned.
        first = PATIENTS_IN_CRISIS + 1
        rows = [(first + n, FIRST_REMINDER_USER + n) for n in range(reminders)]
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at) VALUES (?, ?, ?, ?, 'active', ?, ?)",
            [(i, f"R-{i:05d}", user, user, ZONE, stamp) for i, user in rows],
        )
        conn.executemany(
            "INSERT INTO medications (id, patient_id, name, dose_text, times, weekdays, "
            "start_date, active, created_at, updated_at) "
            "VALUES (?, ?, 'Buprenorphine', '8 mg', ?, 'daily', '2026-01-01', 1, ?, ?)",
            [(i, i, later, stamp, stamp) for i, _ in rows],
        )
        conn.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, ref_id, local_date, "
            "slot, due_at, expires_at, created_at) "
            "VALUES (?, 'dose', ?, ?, ?, '2026-11-26', '08:00', ?, ?, ?)",
            [(f"dose:{i}:bench", i, user, i, due, expires, stamp) for i, user in rows],
        )


class BotProcess:
    """``python -m bot run`` in a folder of its own, pointed at the emulator."""

    def __init__(self, folder: Path, emulator_url: str) -> None:
        self.folder = folder
        self.log_path = folder / "bot.log"
        digest_day = (datetime.now(ZoneInfo(ZONE)).weekday() + 3) % 7  # no digest falls due
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("TELEGRAM_", "DATABASE_", "CLINIC_", "RATE_LIMIT_"))
        }
        self.env.update(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_BASE_URL": emulator_url,
                "TELEGRAM_BOT_USERNAME": "companion_bench_bot",
                "DATABASE_PATH": str(folder / "companion.sqlite3"),
                "CLINIC_NAME": "Bench Clinic",
                "CLINIC_TIMEZONE": ZONE,
                "DIGEST_WEEKDAY": str(digest_day),
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start the bot process."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self.proc

    async def start(self, emu: AsyncEmulatorClient) -> None:
        """Start the bot and wait until it polls for updates."""
        self.proc = self.spawn()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                msg = f"the bot exited with {self.proc.returncode}:\n{self.logs()}"
                raise RuntimeError(msg)
            if (await emu.stats()).calls.get("getUpdates", 0):
                return
            await asyncio.sleep(0.05)
        msg = f"the bot did not start polling:\n{self.logs()}"
        raise RuntimeError(msg)

    def stop(self) -> None:
        """Stop the bot as a service manager would (SIGTERM), killing it if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def logs(self) -> str:
        """Return what the bot logged."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def _wait_for_sends(emu: AsyncEmulatorClient, at_least: int, within: float) -> Stats:
    """Wait until the emulator has accepted ``at_least`` sends; return its stats."""
    deadline = time.monotonic() + within
    while True:
        stats = await emu.stats()
        if len(stats.sends) >= at_least or time.monotonic() > deadline:
            return stats
        # Seldom: the stats of a thousand sends are a large answer, and the emulator shares
        # this process, so frequent polling would disturb what is measured.
        await asyncio.sleep(1.0)


async def _crisis_burst(
    emu: AsyncEmulatorClient, patients: list[AsyncUser], clinician: AsyncUser
) -> Figures:
    """Let every patient write a crisis message at once; return the reply and alert delays."""
    await clinician.mark()
    for patient in patients:
        await patient.mark()

    async def write(index: int, patient: AsyncUser) -> float:
        written = time.time()
        await patient.send(CRISIS_MESSAGES[index % len(CRISIS_MESSAGES)])
        return written

    written = await asyncio.gather(*(write(i, p) for i, p in enumerate(patients)))
    replies = [await p.wait_for_message(timeout=120) for p in patients]
    labels = {f"C-{i:02d}": i - 1 for i in range(1, len(patients) + 1)}
    alerts: dict[int, int] = {}  # patient index -> the alert's message id
    deadline = time.monotonic() + 120
    while len(alerts) < len(patients) and time.monotonic() < deadline:
        for message in await clinician.messages():
            for label, index in labels.items():
                if label in message.text and message.message_id not in alerts.values():
                    alerts.setdefault(index, message.message_id)
        await asyncio.sleep(0.5)
    stats = await emu.stats()
    accepted = {(s.chat_id, s.message_id): s.t for s in stats.sends}
    reply_at = [accepted[(p.id, r.message_id)] for p, r in zip(patients, replies, strict=True)]
    alert_at = {i: accepted[(CLINICIAN, message_id)] for i, message_id in alerts.items()}
    if len(alert_at) < len(patients):
        msg = f"only {len(alert_at)} of {len(patients)} alerts reached the clinician"
        raise RuntimeError(msg)
    return Figures(
        replies=[reply - sent for reply, sent in zip(reply_at, written, strict=True)],
        alerts=[alert_at[i] - written[i] for i in range(len(patients))],
        alerts_before_reply=sum(1 for i in range(len(patients)) if alert_at[i] < reply_at[i]),
    )


def _summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"
        f" (of {len(values)})"
    )


async def measure(*, fanout: bool) -> Figures:
    """Run one scenario and print its figures."""
    reminders = REMINDERS if fanout else 0
    with tempfile.TemporaryDirectory() as tmp, EmulatorThread() as emulator:
        folder = Path(tmp)
        emulator.add_bot(TOKEN, username="companion_bench_bot")
        db = SqliteDatabase(folder / "companion.sqlite3")
        await db.connect()
        await db.migrate()
        await db.close()
        consent_version = Settings(_env_file=None).consent_version  # type: ignore[call-arg]
        async with AsyncEmulatorClient(emulator.url, bot=TOKEN) as emu:
            await emu.set_rate_limit(per_chat_per_second=1, overall_per_second=30)
            clinician = await emu.create_user(CLINICIAN, "Bench")
            patients = [
                await emu.create_user(FIRST_CRISIS_USER + i, f"C{i}")
                for i in range(1, PATIENTS_IN_CRISIS + 1)
            ]
            for n in range(reminders):
                await emu.create_user(FIRST_REMINDER_USER + n, f"R{n}")
            _seed(folder / "companion.sqlite3", reminders, consent_version)
            bot = BotProcess(folder, emulator.url)
            try:
                await bot.start(emu)
                if fanout:
                    await _wait_for_sends(emu, FANOUT_UNDER_WAY, 120)
                figures = await _crisis_burst(emu, patients, clinician)
                # Each patient in crisis gets the reply and "your team was told"; the clinician
                # gets one alert per patient.
                stats = await _wait_for_sends(emu, reminders + 3 * PATIENTS_IN_CRISIS, 300)
            finally:
                bot.stop()
    where = "during a 1,000-reminder fan-out" if fanout else "with nothing else going on"
    print(f"ten crisis messages at once, {where}:")
    print(f"  crisis reply delay: {_summary(figures.replies)} (target under 1,000 ms each)")
    print(
        f"  alert to the clinician: {_summary(figures.alerts)} (one chat: one message a "
        f"second); alerts sent before their patient's reply: {figures.alerts_before_reply}"
    )
    if fanout:
        doses = sorted(s.t for s in stats.sends if s.chat_id >= FIRST_REMINDER_USER)
        took = doses[-1] - doses[0] if doses else 0.0
        print(
            f"  fan-out: {len(doses)} reminders in {took:.1f} s "
            f"(floor {reminders / 30:.1f} s at 30 a second)"
        )
    print(
        f"  busiest second: {stats.max_sends_within(1.0)} sends (Telegram's limit 30); "
        f"refused with 429: {stats.rate_limited}"
    )
    return figures


def main(argv: list[str] | None = None) -> None:
    """Run the scenarios named on the command line (default: both)."""
    parser = argparse.ArgumentParser(prog="python -m bench.reply_delay")
    parser.add_argument("--burst", action="store_true", help="only the ten crises alone")
    parser.add_argument("--fanout", action="store_true", help="only during the fan-out")
    args = parser.parse_args(argv)
    both = not (args.burst or args.fanout)
    if args.burst or both:
        asyncio.run(measure(fanout=False))
    if args.fanout or both:
        asyncio.run(measure(fanout=True))


if __name__ == "__main__":
    main()
