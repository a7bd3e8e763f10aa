"""End to end: the safety net's tiers, escalation, follow-up after a restart, media, questions."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient, AsyncUser

DR = 880101


async def enrol(bot: BotProcess, emu: AsyncEmulatorClient, user_id: int) -> AsyncUser:
    """Register the clinician, enrol one patient with consent, and return the patient."""
    code = bot.invite(f"P-{user_id}", clinician=DR)
    patient = await emu.create_user(user_id, "Pat")
    await patient.send(f"/start {code}")
    await patient.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await patient.press("I agree")
    await patient.wait_for_message(contains="You are all set", timeout=15)
    return patient


def add_clinician(bot: BotProcess) -> None:
    result = bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Lee")
    assert result.returncode == 0, result.stderr


async def test_possible_crisis_and_i_need_help_now_alert_the_team(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """A possible-crisis message asks if the patient is safe; "I need help now" pages the team."""
    add_clinician(bot)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    pat = await enrol(bot, emu, 601)
    await dr.mark()
    await pat.send("i cant do this anymore")
    check = await pat.wait_for_message(contains="Are you safe right now?", timeout=15)
    assert check.button_texts == ["I'm safe", "I need help now", "Someone else is in danger"]
    await dr.expect_no_message(within=1.0)
    await pat.press("I need help now", message_id=check.message_id)
    await pat.wait_for_edit(check.message_id, contains="alerted your care team", timeout=15)
    alert = await dr.wait_for_message(contains="asked for help now", timeout=15)
    assert "P-601" in alert.text
    assert "do this anymore" not in alert.text, "clinician messages carry no message text"


async def test_suicide_then_overdose_gives_two_alerts_with_two_categories(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Worse news raises a second urgent alert with its own category instead of joining."""
    add_clinician(bot)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    pat = await enrol(bot, emu, 602)
    await dr.mark()
    await pat.send("i want to kill myself tonight")
    await pat.wait_for_message(contains="988", timeout=15)
    await dr.wait_for_message(contains="risk of suicide", timeout=15)
    await dr.mark()
    await pat.send("my friend isnt breathing, he took fentanyl")
    reply = await pat.wait_for_message(contains="naloxone", timeout=15)
    assert reply.text.startswith("Call 911 now.")
    await dr.wait_for_message(contains="an overdose", timeout=15)
    rows = bot.query("SELECT kind, category FROM alerts ORDER BY id")
    assert [(r["kind"], r["category"]) for r in rows] == [
        ("crisis", "suicide"),
        ("crisis", "overdose"),
    ]


async def test_follow_up_arrives_after_a_restart(bot: BotProcess, emu: AsyncEmulatorClient) -> None:
    """The "are you safe now?" follow-up is a delivery row: kill -9 and restart lose nothing."""
    add_clinician(bot)
    bot.env["CRISIS_FOLLOWUP_MINUTES"] = "0.1"  # six seconds
    bot.env["SAFETY_CHECK_TIMEOUT_MINUTES"] = "10"
    await bot.launch(emu)
    pat = await enrol(bot, emu, 603)
    await pat.send("i want to end my life")
    await pat.wait_for_message(contains="I have alerted your care team", timeout=15)
    bot.kill()
    await asyncio.sleep(7)
    await pat.mark()
    await bot.launch(emu)
    followup = await pat.wait_for_message(contains="are you safe now?", timeout=20)
    assert followup.button_texts == ["I'm safe now", "I'm not safe"]
    await pat.press("I'm safe now", message_id=followup.message_id)
    await pat.wait_for_edit(followup.message_id, contains="glad you are safe", timeout=15)


async def test_a_voice_note_gets_an_answer(bot: BotProcess, emu: AsyncEmulatorClient) -> None:
    """A voice note is answered with what the bot can read and /sos, never with silence."""
    add_clinician(bot)
    await bot.launch(emu)
    pat = await enrol(bot, emu, 604)
    await pat.send_media("voice")
    answer = await pat.wait_for_message(contains="I can only read text", timeout=15)
    assert "/sos" in answer.text


async def test_an_overdose_question_gets_the_article_and_pages_nobody(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """An overdose question gets the steps and the library, and no alert is raised."""
    add_clinician(bot)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    pat = await enrol(bot, emu, 605)
    await dr.mark()
    await pat.send("what does an overdose look like")
    await pat.wait_for_message(contains="If this is happening now", timeout=15)
    await pat.wait_for_message(where=lambda m: bool(m.buttons), timeout=15)
    await dr.expect_no_message(within=2.0)
    assert bot.query("SELECT * FROM alerts") == []


async def test_a_crisis_in_a_group_chat_reveals_nothing_and_alerts_privately(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """In a group: resources naming no clinic, team or program; the team is paged privately."""
    added = bot.cli("clinician", "add", "--telegram-id", "882001", "--name", "Dr. Ruiz")
    assert added.returncode == 0, added.stderr
    code = bot.invite("P-880", clinician=882001)
    await bot.launch(emu)
    dr = await emu.create_user(882001, "Ruiz")
    pat = await emu.create_user(882501, "Pat")
    await pat.send(f"/start {code}")
    await pat.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await pat.press("I agree")
    await pat.wait_for_message(contains="You are all set", timeout=15)
    group = await emu.create_group(-100_882, "Friends")
    await dr.mark()
    await pat.send("im going to kill myself tonight", group=-100_882)
    answer = await group.wait_for_message(contains="988", timeout=15)
    for revealing in ("Harbor Clinic", "care team", "alerted", "555-0100", "SAMHSA", "program"):
        assert revealing not in answer.text, revealing
    alert = await dr.wait_for_message(contains="P-880", timeout=15)
    assert "kill myself" not in alert.text
    await group.expect_no_message(within=2.0, contains="care team")


async def test_patients_in_crisis_at_once_are_answered_together_then_the_team_is_paged(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Six crisis messages at once: every reply goes out together, each before its alert."""
    add_clinician(bot)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    patients = [await enrol(bot, emu, 611 + n) for n in range(6)]
    await dr.mark()
    await asyncio.gather(*(p.send("i want to kill myself tonight") for p in patients))
    replies = [await p.wait_for_message(contains="988", timeout=30) for p in patients]
    told = [
        await p.wait_for_message(contains="alerted your care team", timeout=30) for p in patients
    ]
    alerts = [await dr.wait_for_message(contains=f"P-{p.id}", timeout=60) for p in patients]
    assert all("kill myself" not in alert.text for alert in alerts)
    accepted = {(s.chat_id, s.message_id): s.t for s in (await emu.stats()).sends}
    reply_at = [accepted[(p.id, r.message_id)] for p, r in zip(patients, replies, strict=True)]
    told_at = [accepted[(p.id, t.message_id)] for p, t in zip(patients, told, strict=True)]
    alert_at = [accepted[(DR, a.message_id)] for a in alerts]
    assert all(r < t for r, t in zip(reply_at, told_at, strict=True)), "each chat in order"
    assert all(r < a for r, a in zip(reply_at, alert_at, strict=True)), "answer, then page"
    # One at a time, each crisis took over a second (its second message waits for the chat's
    # one-a-second turn), so the sixth reply came five seconds after the first.
    assert max(reply_at) - min(reply_at) < 2.5


async def test_the_team_is_paged_after_a_crash_while_the_crisis_reply_hung(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """kill -9 while Telegram has not answered the crisis reply: the restart pages the team."""
    add_clinician(bot)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Lee")
    pat = await enrol(bot, emu, 621)
    await dr.mark()
    # The reply reaches the patient, but Telegram's answer never comes back to the bot.
    await emu.faults.add("timeout", hold=30.0, delivered=True, chat_id=pat.id)
    await pat.send("i want to end my life")
    await pat.wait_for_message(contains="988", timeout=15)
    bot.kill()
    await bot.launch(emu)
    alert = await dr.wait_for_message(contains="P-621", timeout=30)
    assert "end my life" not in alert.text
