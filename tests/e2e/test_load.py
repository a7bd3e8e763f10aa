"""End to end under load: 500 patients answer their reminders and check in at the same time.

The driver is ``bench/load.py`` (``python -m bench.load`` runs a longer window and prints the
figures). The emulator enforces Telegram's flood limits and the bot keeps its own; since every
send and every edit of a message counts against about 30 a second, the window is sized so the
load stays near that limit instead of queueing far beyond it. The test asserts what must hold
under load, never a latency: every action answered, every answer stored once as it was given,
one check-in per patient and day, every update taken in, and no error in the bot's log.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bench import clinic, load
from bot.config import Settings
from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient, EmulatorThread

PATIENTS = 500
WINDOW_SECONDS = 30.0
CHECKIN_SHARE = 0.05
# Mostly Taken: each Snooze or Skip costs one more edit, and every call counts.
ANSWERS = (("taken", 0.8), ("snooze", 0.1), ("skip", 0.1))
SEED = 7


async def test_500_patients_at_once_lose_no_answer_and_log_no_error(
    bot: BotProcess, emulator: EmulatorThread, emu: AsyncEmulatorClient
) -> None:
    """Every reminder arrives once and every tap is answered and stored once; no lock errors."""
    plans = clinic.make_plans(PATIENTS, WINDOW_SECONDS, CHECKIN_SHARE, SEED, ANSWERS)
    await clinic.migrate(bot.db_path)
    consent_version = Settings(_env_file=None).consent_version  # type: ignore[call-arg]
    clinic.seed_clinic(bot.db_path, plans, consent_version)
    clinic.create_users(emulator, plans)
    await emu.set_rate_limit(per_chat_per_second=1, overall_per_second=30)
    # No weekly digest falls due during the run.
    weekday = datetime.now(ZoneInfo(clinic.ZONE)).weekday()
    bot.env["DIGEST_WEEKDAY"] = str((weekday + 3) % 7)
    await bot.launch(emu)
    report = await load.drive(emu, bot.db_path, plans, WINDOW_SECONDS)
    print(f"\n{report.summary()}")
    assert report.outcome.lost == []
    assert report.problems == []
    assert set(report.outcome.reminders) == {plan.user_id for plan in plans}
    checking_in = {plan.user_id for plan in plans if plan.checkin_at is not None}
    assert checking_in
    assert report.outcome.checked_in == checking_in
    assert report.outcome.double_taps > 0
    assert clinic.log_problems(bot.logs()) == []
