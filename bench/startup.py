"""Start-up: from spawning the bot to the first ``getUpdates`` that the Bot API sees.

    python -m bench.startup                  # an empty migrated database, then 1,000 patients
    python -m bench.startup --runs 5

The bot is started as a clinic starts it (``python -m bot run``, the same as ``companion
run``) against the Bot API emulator, with a database already migrated: once with nobody in it,
once with 1,000 enrolled, consented patients with a daily medication, who are not planned yet
(the first planning pass runs once the bot polls). The figure is the emulator's time of its
first ``getUpdates`` call minus the moment the process was spawned: the interpreter, the
imports, loading and checking the content, connecting to the database, registering the
command menus and starting the jobs. Each size runs a few times; the median and the range are
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench import clinic
from bench.reply_delay import TOKEN, BotProcess
from bot.config import Settings
from tests.emulator import AsyncEmulatorClient, EmulatorThread

SIZES = (0, 1_000)
READY_TIMEOUT = 60.0


async def time_to_first_poll(patients: int) -> float:
    """Start the bot once on a migrated database with ``patients``; return seconds to polling."""
    plans = clinic.make_plans(patients, 60.0, 0.0, seed=1)
    with tempfile.TemporaryDirectory() as tmp, EmulatorThread() as emulator:
        folder = Path(tmp)
        emulator.add_bot(TOKEN, username="companion_bench_bot")
        db_path = folder / "companion.sqlite3"
        await clinic.migrate(db_path)
        consent_version = Settings(_env_file=None).consent_version  # type: ignore[call-arg]
        clinic.seed_clinic(db_path, plans, consent_version)
        clinic.create_users(emulator, plans)  # clinicians' menus are set before polling
        bot = BotProcess(folder, emulator.url)
        async with AsyncEmulatorClient(emulator.url, bot=TOKEN) as emu:
            spawned = time.time()
            process = bot.spawn()
            try:
                first = await _first_poll(emu, process, bot)
            finally:
                bot.stop()
        problems = clinic.log_problems(bot.logs())
        if problems:
            msg = "the bot logged errors:\n" + "\n".join(problems)
            raise RuntimeError(msg)
        return first - spawned


async def _first_poll(
    emu: AsyncEmulatorClient, process: subprocess.Popen[bytes], bot: BotProcess
) -> float:
    """Return the emulator's time of the bot's first getUpdates call."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        first = (await emu.stats()).first_calls.get("getUpdates")
        if first is not None:
            return first
        if process.poll() is not None or time.monotonic() > deadline:
            msg = f"the bot did not poll:\n{bot.logs()}"
            raise RuntimeError(msg)
        await asyncio.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    """Print the start-up time with an empty database and with 1,000 patients."""
    parser = argparse.ArgumentParser(prog="python -m bench.startup")
    parser.add_argument("--runs", type=int, default=3, help="starts for each size")
    args = parser.parse_args(argv)
    print("start-up, from spawning `python -m bot run` to the first getUpdates:")
    for patients in SIZES:
        times = [asyncio.run(time_to_first_poll(patients)) for _ in range(args.runs)]
        print(
            f"  {patients:>5,} patients: median {statistics.median(times):.2f} s "
            f"(range {min(times):.2f}-{max(times):.2f} s over {len(times)} starts)"
        )


if __name__ == "__main__":
    main()
