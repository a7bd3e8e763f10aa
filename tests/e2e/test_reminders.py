"""End to end: dose reminders against the emulator, with restarts, kill -9 and injected faults."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient

DR = 880100
NEW_YORK = ZoneInfo("America/New_York")


def now_db() -> str:
    """Return now as the database stores instants."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_next_dose_due(bot: BotProcess) -> None:
    """Let time pass until the next pending dose: the database decides what is due."""
    bot.execute(
        "UPDATE deliveries SET due_at = ? WHERE id = (SELECT id FROM deliveries "
        "WHERE kind = 'dose' AND status = 'pending' ORDER BY due_at LIMIT 1)",
        (now_db(),),
    )


async def enrol(  # type: ignore[no-untyped-def]
    bot: BotProcess,
    emu: AsyncEmulatorClient,
    user_id: int,
    label: str,
    clinician: int | None = None,
):
    """Enrol one patient through the chat and return their emulator user."""
    code = bot.invite(label, clinician=clinician)
    user = await emu.create_user(user_id, f"User{user_id}")
    await user.send(f"/start {code}")
    await user.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await user.press("I agree")
    await user.wait_for_message(contains="You are all set", timeout=15)
    return user


def add_dose_in_five_minutes(bot: BotProcess, label: str, name: str, dose: str) -> None:
    """Add a medication through the CLI, due five minutes from now in the patient's zone."""
    later = datetime.now(NEW_YORK) + timedelta(minutes=5)
    added = bot.cli(
        "med",
        "add",
        "--patient",
        label,
        "--name",
        name,
        "--dose",
        dose,
        "--times",
        f"{later:%H:%M}",
    )
    assert added.returncode == 0, added.stderr


def add_bulk_patients(bot: BotProcess, first_id: int, count: int) -> list[int]:
    """Insert consented patients, each with a dose due this very minute (test set-up)."""
    assert bot.cli("migrate").returncode == 0
    local_now = datetime.now(NEW_YORK)
    slot = f"{local_now:%H:%M}"
    # The daily check-in prompt is kept twelve hours away so only the dose is due now.
    checkin = f"{local_now + timedelta(hours=12):%H:%M}"
    created = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    ids = list(range(first_id, first_id + count))
    for user_id in ids:
        bot.execute(
            "INSERT INTO patients (label, telegram_user_id, chat_id, status, timezone, created_at, "
            "consented_at, checkin_time) VALUES (?, ?, ?, 'active', 'America/New_York', ?, ?, ?)",
            (f"B-{user_id}", user_id, user_id, created, created, checkin),
        )
        bot.execute(
            "INSERT INTO medications (patient_id, name, dose_text, times, weekdays, start_date, "
            "active, created_at, updated_at) SELECT id, 'Buprenorphine', '8 mg', ?, 'daily', ?, 1, "
            "?, ? FROM patients WHERE telegram_user_id = ?",
            (slot, f"{local_now:%Y-%m-%d}", created, created, user_id),
        )
    return ids


async def wait_until(predicate, within: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll an async predicate until it holds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


async def test_dose_reminder_snooze_and_taken(bot: BotProcess, emu: AsyncEmulatorClient) -> None:
    """A dose reminder arrives; Snooze brings it back; Taken is recorded and shown in place."""
    await bot.launch(emu)
    user = await enrol(bot, emu, 600, "P-600")
    add_dose_in_five_minutes(bot, "P-600", "Buprenorphine", "8 mg film")
    rows = bot.query("SELECT id FROM deliveries WHERE kind = 'dose' AND status = 'pending'")
    assert rows, "the CLI plans the new dose at once"
    await user.mark()
    # Five minutes pass: the database is the only source of truth for what is due.
    make_next_dose_due(bot)
    reminder = await user.wait_for_message(contains="Buprenorphine", timeout=15)
    assert reminder.button_texts == ["Taken", "Snooze", "Skip"]
    await user.press("Snooze", message_id=reminder.message_id)
    menu = await user.wait_for_edit(reminder.message_id, contains="Remind you again", timeout=15)
    assert menu.button_texts == ["10 min", "30 min", "60 min", "Back"]
    await user.press("10 min", message_id=reminder.message_id)
    await user.wait_for_edit(reminder.message_id, contains="Snoozed", timeout=15)
    row = bot.query(
        "SELECT status, response FROM deliveries WHERE kind = 'dose' AND response IS NOT NULL"
    )[0]
    assert (row["status"], row["response"]) == ("pending", "snoozed")
    await user.mark()
    make_next_dose_due(bot)
    again = await user.wait_for_message(contains="Snoozed reminder", timeout=15)
    await user.press("Taken", message_id=again.message_id)
    await user.wait_for_edit(again.message_id, contains="Taken", timeout=15)
    row = bot.query(
        "SELECT status, response FROM deliveries WHERE kind = 'dose' AND response IS NOT NULL"
    )[0]
    assert (row["status"], row["response"]) == ("answered", "taken")


async def test_unanswered_dose_repeats_and_is_recorded_missed(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """With no answer the reminder repeats three times, then the dose is recorded missed."""
    bot.env["REMINDER_REPEAT_MINUTES"] = "0.02"  # 1.2 s between repeats for the test
    await bot.launch(emu)
    user = await enrol(bot, emu, 610, "P-610")
    add_dose_in_five_minutes(bot, "P-610", "Buprenorphine", "8 mg")
    await user.mark()
    make_next_dose_due(bot)
    await user.wait_for_message(contains="Reminder 3 of 3", timeout=20)

    async def missed() -> bool:
        rows = bot.query(
            "SELECT status, miss_reason FROM deliveries WHERE kind = 'dose' ORDER BY due_at LIMIT 1"
        )
        return (rows[0]["status"], rows[0]["miss_reason"]) == ("missed", "no_answer")

    await wait_until(missed, 15, "the dose to be recorded missed")
    texts = [m.text for m in await user.messages() if "Buprenorphine" in m.text]
    assert len(texts) == 4, "the reminder and exactly three repeats"


async def test_kill_9_with_500_due_delivers_all_after_restart(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """kill -9 while 500 reminders are due; after a restart all 500 arrive, duplicates counted."""
    ids = add_bulk_patients(bot, 100_000, 500)
    for user_id in ids:
        await emu.create_user(user_id, f"B{user_id}")
    started = time.monotonic()
    await bot.launch(emu)

    async def some_sent() -> bool:
        return len((await emu.stats()).sends) >= 150

    await wait_until(some_sent, 60, "the first 150 reminders")
    bot.kill()
    sent_before_kill = len((await emu.stats()).sends)
    # The sends under way at the kill: Telegram may or may not have them. Only these may repeat.
    in_doubt = bot.query("SELECT COUNT(*) AS n FROM deliveries WHERE status = 'sending'")[0]["n"]
    await bot.launch(emu)

    async def all_delivered() -> bool:
        chats = {s.chat_id for s in (await emu.stats()).sends}
        return chats.issuperset(ids)

    await wait_until(all_delivered, 90, "all 500 reminders")
    elapsed = time.monotonic() - started
    per_chat = Counter(s.chat_id for s in (await emu.stats()).sends if s.method == "sendMessage")
    duplicates = sum(n - 1 for chat, n in per_chat.items() if chat in set(ids) and n > 1)
    print(
        f"\nkill -9 with 500 due: sent before kill {sent_before_kill}, delivered "
        f"{sum(1 for i in ids if per_chat[i])}/500, duplicates {duplicates}, {elapsed:.1f} s"
    )
    # Only a send whose outcome was unknown at the kill may repeat, once. How many were under
    # way depends on how fast the machine is; the invariant does not.
    print(f"sends under way at the kill: {in_doubt}")
    assert duplicates <= in_doubt
    assert max(per_chat[i] for i in ids) <= 2
    rows = bot.query(
        "SELECT status, COUNT(*) AS n FROM deliveries WHERE kind = 'dose' AND due_at <= ? "
        "GROUP BY status",
        (now_db(),),
    )
    assert {r["status"]: r["n"] for r in rows} == {"sent": 500}


async def test_reminders_survive_20_percent_faults(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """With 20% of sends answered by 429, 5xx or a timeout, every reminder is still delivered."""
    ids = add_bulk_patients(bot, 200_000, 100)
    for user_id in ids:
        await emu.create_user(user_id, f"F{user_id}")
    await emu.faults.set_rate(0.2, kinds=["429", "5xx", "timeout"], seed=7)
    await bot.launch(emu)

    async def all_delivered() -> bool:
        chats = {s.chat_id for s in (await emu.stats()).sends}
        return chats.issuperset(ids)

    await wait_until(all_delivered, 120, "all 100 reminders despite faults")
    stats = await emu.stats()
    per_chat = Counter(s.chat_id for s in stats.sends if s.method == "sendMessage")
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    print(f"\n20% faults: served {stats.faults_served}, delivered 100/100, duplicates {duplicates}")
    assert sum(stats.faults_served.values()) > 0
    # Duplicates can only come from timeouts whose message did arrive (retried once).
    assert duplicates <= stats.faults_served.get("timeout", 0)


async def test_block_reported_by_telegram_stops_reminders_before_any_attempt(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """When Telegram reports the block, the team is told at once and no send is attempted."""
    assert bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ng").returncode == 0
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Ng")
    user = await enrol(bot, emu, 621, "P-621", clinician=DR)
    add_dose_in_five_minutes(bot, "P-621", "Naltrexone", "50 mg")
    await dr.mark()
    await user.block()
    alert = await dr.wait_for_message(contains="blocked the bot", timeout=15)
    assert "P-621" in alert.text
    rows = bot.query("SELECT status, attempts FROM deliveries WHERE kind = 'dose'")
    assert all((r["status"], r["attempts"]) == ("cancelled", 0) for r in rows)


async def test_blocked_patient_gets_one_attempt_and_the_care_team_is_told(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """A patient who blocked the bot gets one attempt; they are marked unreachable; team told."""
    assert bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ng").returncode == 0
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Ng")
    user = await enrol(bot, emu, 620, "P-620", clinician=DR)
    add_dose_in_five_minutes(bot, "P-620", "Naltrexone", "50 mg")
    await user.block(notify=False)  # the bot learns of it only when a send is refused
    await dr.mark()
    make_next_dose_due(bot)
    alert = await dr.wait_for_message(contains="blocked the bot", timeout=15)
    assert "P-620" in alert.text
    await asyncio.sleep(2)  # several dispatcher ticks
    rows = bot.query("SELECT status, attempts FROM deliveries WHERE kind = 'dose' ORDER BY due_at")
    assert (rows[0]["status"], rows[0]["attempts"]) == ("failed", 1)
    assert all(r["status"] == "cancelled" for r in rows[1:]), "later doses are stopped"
    assert bot.query("SELECT status FROM patients WHERE label = 'P-620'")[0]["status"] == (
        "unreachable"
    )
