"""End to end: a just-in-time safety message against the emulator, across restarts."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e.conftest import BotProcess
from tests.e2e.test_reminders import NEW_YORK, enrol, now_db, wait_until
from tests.emulator import AsyncEmulatorClient

DAY_1 = "first days on methadone"


async def test_a_methadone_patient_gets_the_day_1_safety_message_once_across_restarts(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Methadone added with the CLI; the day-1 message comes due while the bot is stopped, goes
    out once after the restart, and neither a kill -9 nor another restart sends it again."""
    await bot.launch(emu)
    user = await enrol(bot, emu, 700, "P-700")
    later = datetime.now(NEW_YORK) + timedelta(minutes=5)
    added = bot.cli(
        "med", "add", "--patient", "P-700", "--name", "Methadone", "--dose", "30 mg",
        "--times", f"{later:%H:%M}",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    [row] = bot.query("SELECT dedupe_key, status FROM deliveries WHERE kind = 'jit'")
    assert row["dedupe_key"].startswith("jit:")
    assert ":methadone_start:" in row["dedupe_key"]
    assert row["status"] == "pending", "the CLI plans the safety message with the reminders"

    # The bot stops; while it is down the message comes due (the database says what is due).
    assert bot.stop() == 0
    bot.execute("UPDATE deliveries SET due_at = ? WHERE kind = 'jit'", (now_db(),))
    await user.mark()
    await bot.launch(emu)
    message = await user.wait_for_message(contains=DAY_1, timeout=20)
    assert "911" in message.text
    assert "naloxone" in message.text.casefold()
    assert message.button_texts == [
        "📖 Methadone: the first weeks",
        "📖 Naloxone and overdose steps",
    ]

    async def recorded() -> bool:
        rows = bot.query("SELECT status FROM deliveries WHERE kind = 'jit'")
        return [r["status"] for r in rows] == ["sent"]

    # Once the send is recorded (a kill during the send itself may repeat it once, like any
    # reminder), kill -9 and a graceful restart: the planner runs each time, nothing repeats.
    await wait_until(recorded, within=10, what="the send to be recorded")
    await user.mark()
    bot.kill()
    await bot.launch(emu)
    await user.expect_no_message(within=3, contains=DAY_1)
    assert bot.stop() == 0
    await bot.launch(emu)
    await user.expect_no_message(within=3, contains=DAY_1)
    rows = bot.query("SELECT status, sent_at FROM deliveries WHERE kind = 'jit'")
    assert [(r["status"], r["sent_at"] is not None) for r in rows] == [("sent", True)]
    assert sum(m.contains(DAY_1) for m in await user.messages()) == 1

    # Its button opens the article below it, and the safety message stays as it was.
    await user.press("📖 Methadone: the first weeks", message_id=message.message_id)
    article = await user.wait_for_message(contains="Methadone (1/", timeout=15)
    assert article.message_id != message.message_id
    assert (await message.refresh()).contains(DAY_1)
    assert DAY_1 not in bot.logs(), "no message text in the log"
