"""End to end: the care team's digest, /patient, escalation and refusals, against the emulator."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient
from tests.emulator.client import AsyncMessage, AsyncUser

DR = 881001
COLLEAGUE = 881002
PATIENT = 881501
STRANGER = 881666


async def enrolled(
    bot: BotProcess, emu: AsyncEmulatorClient, label: str = "P-801"
) -> tuple[AsyncUser, AsyncUser]:
    """Register Dr. Lee, launch the bot, enrol one patient; return (clinician, patient)."""
    added = bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Lee")
    assert added.returncode == 0, added.stderr
    code = bot.invite(label, clinician=DR)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    patient = await emu.create_user(PATIENT, "Pat")
    await patient.send(f"/start {code}")
    await patient.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await patient.press("I agree")
    await patient.wait_for_message(contains="You are all set", timeout=15)
    return dr, patient


async def last_id(user: AsyncUser) -> int:
    """Return the id of the latest message the bot sent this user (0 if none)."""
    return max((m.message_id for m in await user.messages()), default=0)


async def digest_parts(user: AsyncUser, after: int) -> list[AsyncMessage]:
    """Wait (after the user's marker) for a whole digest and return its messages."""
    await user.wait_for_message(
        where=lambda m: m.document is not None and "csv" in str(m.document.get("file_name")),
        timeout=30,
    )
    return [m for m in await user.messages() if m.message_id > after]


async def test_digest_command_sends_text_charts_and_protected_files(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """/digest: the message, a chart album and the HTML and CSV, all protected, no note text."""
    dr, patient = await enrolled(bot, emu)
    await patient.send("/checkin")
    await patient.wait_for_message(contains="craving", timeout=15)
    after = await last_id(dr)
    await dr.send("/digest")
    await dr.wait_for_message(contains="Preparing your digest", timeout=15)
    parts = await digest_parts(dr, after)
    text = next(m for m in parts if "Weekly digest" in m.text)
    assert "P-801" in text.text
    assert "42 CFR part 2" in text.text
    photos = [m for m in parts if m.photo is not None]
    documents = [m for m in parts if m.document is not None]
    assert photos
    assert {str(d.document["file_name"]).rsplit(".", 1)[1] for d in documents} == {"html", "csv"}
    for message in [text, *photos, *documents]:
        assert message.record["options"].get("protect_content") in {True, "true"}
    report = await next(d for d in documents if "html" in str(d.document)).document_bytes()
    assert b"42 CFR part 2" in report
    assert b"data:image/png;base64," in report
    reads = bot.query("SELECT actor_kind, action FROM audit_log WHERE action = 'digest.read'")
    assert [(r["actor_kind"], r["action"]) for r in reads] == [("clinician", "digest.read")]


async def test_scheduled_digest_arrives_once_after_a_restart(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Planned while running, due while stopped: sent after the restart, and only once."""
    # The next slot two hours from now, in the clinic's zone: one slot in the planning window
    # whatever day the test runs.
    zone = ZoneInfo("America/New_York")
    slot = (datetime.now(UTC) + timedelta(hours=2)).astimezone(zone)
    bot.env.update({"DIGEST_WEEKDAY": str(slot.weekday()), "DIGEST_TIME": f"{slot:%H:%M}"})
    dr, _ = await enrolled(bot, emu)
    rows = []
    deadline = time.monotonic() + 15
    while not rows and time.monotonic() < deadline:
        rows = bot.query("SELECT id, due_at FROM deliveries WHERE kind = 'digest'")
        await asyncio.sleep(0.2)
    assert len(rows) == 1, "the planner queued the next weekly digest"
    due = datetime.fromisoformat(rows[0]["due_at"]).astimezone(zone)
    assert (due.weekday(), due.hour, due.minute) == (slot.weekday(), slot.hour, slot.minute)
    assert bot.stop() == 0
    # Time passes while the bot is down: the slot comes, within its grace.
    now = datetime.now(UTC)
    bot.execute(
        "UPDATE deliveries SET due_at = ?, expires_at = ? WHERE kind = 'digest'",
        (
            (now - timedelta(minutes=5)).isoformat(timespec="seconds"),
            (now + timedelta(hours=20)).isoformat(timespec="seconds"),
        ),
    )
    after = await last_id(dr)
    await dr.mark()
    await bot.launch(emu)
    parts = await digest_parts(dr, after)
    assert sum("Weekly digest" in m.text for m in parts) == 1
    assert bot.stop() == 0
    await bot.launch(emu)
    await dr.mark()
    await dr.expect_no_message(within=3.0)
    assert [
        r["status"] for r in bot.query("SELECT status FROM deliveries WHERE kind = 'digest'")
    ] == ["sent"]


async def test_an_unacknowledged_crisis_alert_escalates_and_the_copies_say_who_took_it(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Nobody acknowledges: the colleague is paged too; they acknowledge; Dr. Lee's copy says so."""
    bot.env.update({"ALERT_ESCALATE_MINUTES": "0.05", "WATCH_INTERVAL_SECONDS": "1"})
    added = bot.cli("clinician", "add", "--telegram-id", str(COLLEAGUE), "--name", "Dr. Ortiz")
    assert added.returncode == 0, added.stderr
    dr, patient = await enrolled(bot, emu)
    colleague = await emu.create_user(COLLEAGUE, "Ortiz")
    await dr.mark()
    await colleague.mark()
    await patient.send("i am going to kill myself tonight")
    first = await dr.wait_for_message(contains="possible crisis", timeout=15)
    escalated = await colleague.wait_for_message(contains="Not acknowledged", timeout=20)
    assert "P-801" in escalated.text
    assert "kill myself" not in escalated.text
    await colleague.press("Acknowledge", message_id=escalated.message_id)
    await colleague.wait_for_edit(
        escalated.message_id, contains="Acknowledged by Dr. Ortiz", timeout=15
    )
    await dr.wait_for_edit(first.message_id, contains="Acknowledged by Dr. Ortiz", timeout=15)


async def test_patient_command_shows_the_trend_to_the_team_only(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """The assigned clinician gets figures and a chart; a colleague gets the unknown-label reply."""
    added = bot.cli("clinician", "add", "--telegram-id", str(COLLEAGUE), "--name", "Dr. Ortiz")
    assert added.returncode == 0, added.stderr
    dr, _ = await enrolled(bot, emu)
    await dr.send("/patient P-801")
    await dr.wait_for_message(contains="Last events", timeout=15)
    chart = await dr.wait_for_message(where=lambda m: m.photo is not None, timeout=20)
    assert chart.record["options"].get("protect_content") in {True, "true"}
    colleague = await emu.create_user(COLLEAGUE, "Ortiz")
    await colleague.send("/patient P-801")
    not_mine = await colleague.wait_for_message(contains="No patient of yours", timeout=15)
    await colleague.send("/patient P-999")
    unknown = await colleague.wait_for_message(contains="No patient of yours", timeout=15)
    assert not_mine.text.replace("P-801", "X") == unknown.text.replace("P-999", "X")


async def test_a_patient_and_a_stranger_learn_nothing_from_clinician_commands(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """/digest, /patient, /patients, /invite from a patient or a stranger reveal nothing."""
    dr, patient = await enrolled(bot, emu)
    stranger = await emu.create_user(STRANGER, "Mallory")
    for user in (patient, stranger):
        for command in ("/digest", "/patient P-801", "/patients", "/invite P-802"):
            await user.send(command)
            answer = await user.wait_for_message(timeout=15)
            assert "P-801" not in answer.text
            assert "t.me/" not in answer.text
            assert answer.photo is None
            assert answer.document is None
    await asyncio.sleep(1.0)
    assert bot.query("SELECT * FROM deliveries WHERE kind = 'digest' AND slot = 'now'") == []
    assert bot.query("SELECT * FROM patients WHERE label = 'P-802'") == []
    assert (
        bot.query("SELECT * FROM audit_log WHERE action IN ('digest.read', 'patient.trend')") == []
    )
    del dr


async def test_debug_logs_carry_no_message_text_while_polling(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """LOG_LEVEL=DEBUG: updates fetched by polling (a question, a crisis) never reach the log."""
    bot.env["LOG_LEVEL"] = "DEBUG"
    _, patient = await enrolled(bot, emu)
    await patient.send("what does quokka-amber-7731 do to methadone")
    await patient.wait_for_message(timeout=15)
    await patient.send("i want to die tonight quokka-amber-7731")
    await patient.wait_for_message(contains="988", timeout=15)
    logs = bot.logs()
    assert " DEBUG " in logs, "the bot ran at DEBUG"
    assert "quokka-amber-7731" not in logs
    assert "want to die" not in logs


async def test_a_patient_who_leaves_gets_no_more_prompts_and_the_team_is_told(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """/settings, "Leave the program", confirm: the team is alerted, planned prompts are void."""
    dr, patient = await enrolled(bot, emu)
    deadline = time.monotonic() + 15
    while not bot.query("SELECT id FROM deliveries WHERE kind = 'checkin' AND status = 'pending'"):
        assert time.monotonic() < deadline, "the daily check-in prompt was planned"
        await asyncio.sleep(0.2)
    await dr.mark()
    await patient.send("/settings")
    await patient.wait_for_message(contains="Time zone", timeout=15)
    await patient.press("Leave the program")
    confirm = await patient.wait_for_edit(
        (await patient.last_message()).message_id, contains="Leave the program?", timeout=15
    )
    await patient.press("Yes, leave the program", message_id=confirm.message_id)
    await patient.wait_for_edit(
        confirm.message_id, contains="You have left the program", timeout=15
    )
    told = await dr.wait_for_message(contains="left the program", timeout=15)
    assert "P-801" in told.text
    await asyncio.sleep(2.5)  # a few planner ticks
    assert (
        bot.query(
            "SELECT id FROM deliveries WHERE kind IN ('checkin', 'dose') AND status = 'pending'"
        )
        == []
    )
    await patient.send("/checkin")
    await patient.wait_for_message(contains="You have left the program", timeout=15)
