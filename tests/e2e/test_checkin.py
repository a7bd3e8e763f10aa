"""End to end: a check-in on a day with a dTMS session asks about the session's after-effects."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient, AsyncMessage, AsyncUser

DR = 880300
NEW_YORK = ZoneInfo("America/New_York")
EFFECTS = ["None", "Headache", "Scalp discomfort", "Something else", "Fainted or seizure"]


async def dtms_patient(
    bot: BotProcess, emu: AsyncEmulatorClient, user_id: int
) -> tuple[AsyncUser, AsyncUser]:
    """Start the bot with a clinician and a consented patient whose session began this minute."""
    added = bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ortiz")
    assert added.returncode == 0, added.stderr
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Ortiz")
    label = f"P-{user_id}"
    code = bot.invite(label, clinician=DR)
    patient = await emu.create_user(user_id, "Pat")
    await patient.send(f"/start {code}")
    await patient.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await patient.press("I agree")
    await patient.wait_for_message(contains="You are all set", timeout=15)
    # Today's session starts this very minute, so it has begun when the patient checks in; a
    # minute before midnight the test waits for the new day, so "today" stays one day.
    local = datetime.now(NEW_YORK)
    if local.strftime("%H:%M") == "23:59":
        await asyncio.sleep(61 - local.second)
        local = datetime.now(NEW_YORK)
    course = bot.cli(
        "tms", "add", "--patient", label, "--start", f"{local:%Y-%m-%d}",
        "--time", f"{local:%H:%M}", "--days", "daily", "--sessions", "3",
    )  # fmt: skip
    assert course.returncode == 0, course.stderr
    return dr, patient


async def to_after_effects(patient: AsyncUser) -> AsyncMessage:
    """Answer craving, mood and use; return the after-effects question."""
    await patient.mark()
    await patient.send("/checkin")
    question = await patient.wait_for_message(contains="Daily check-in", timeout=15)
    assert "1 of 4" in question.text, "a dTMS day has a fourth question"
    message_id = question.message_id
    for label, next_words in (("3", "mood"), ("6", "Since your last check-in"), ("No", "dTMS")):
        await patient.press(label, message_id=message_id)
        question = await patient.wait_for_edit(message_id, contains=next_words, timeout=15)
    return question


async def test_a_dtms_day_checkin_asks_the_after_effects_question(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """After "use", a dTMS day asks about after-effects; a headache gets the article and offer."""
    dr, patient = await dtms_patient(bot, emu, 730)
    question = await to_after_effects(patient)
    assert "4 of 4" in question.text
    assert "Did you notice anything after your dTMS session today?" in question.text
    assert question.button_texts == EFFECTS
    await patient.mark()
    await patient.press("Headache", message_id=question.message_id)
    answer = await patient.wait_for_message(contains="common side effects of dTMS", timeout=15)
    assert answer.button_texts == ["Tell my care team", "Read: dTMS side effects"]
    summary = await patient.wait_for_edit(question.message_id, contains="Check-in saved")
    assert "After dTMS: headache" in summary.text
    rows = bot.query("SELECT craving, mood, used, dtms_effect FROM checkins")
    assert [tuple(r) for r in rows] == [(3, 6, 0, "headache")]
    await dr.mark()
    await patient.press("Tell my care team", message_id=answer.message_id)
    await patient.wait_for_edit(answer.message_id, contains="I have told your care team")
    alert = await dr.wait_for_message(contains="Side effect after dTMS", timeout=15)
    assert "P-730" in alert.text


async def test_fainted_or_seizure_is_answered_as_an_emergency_and_pages_the_team(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """The emergency number and first aid at once, and an urgent alert to the clinician."""
    dr, patient = await dtms_patient(bot, emu, 731)
    question = await to_after_effects(patient)
    await patient.mark()
    await dr.mark()
    await patient.press("Fainted or seizure", message_id=question.message_id)
    emergency = await patient.wait_for_message(contains="call 911 now", timeout=15)
    assert "Do not put anything in their mouth" in emergency.text
    assert "onto their side" in emergency.text
    alert = await dr.wait_for_message(contains="fainting or seizure after dTMS", timeout=15)
    assert "Urgent" in alert.text
    assert "P-731" in alert.text
    assert alert.button_texts == ["Acknowledge"]
    [row] = bot.query("SELECT kind, severity, category FROM alerts")
    assert tuple(row) == ("dtms_emergency", "urgent", "medical_emergency")
