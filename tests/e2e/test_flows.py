"""End to end: a clinician sets a medication step by step, the patient checks in and is reminded."""

from __future__ import annotations

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient

DR = 880200


async def test_clinician_adds_a_medication_and_the_patient_checks_in(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """/addmed through buttons and typed answers saves the medication; /checkin saves the day."""
    assert (
        bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ruiz").returncode == 0
    )
    code = bot.invite("P-800", clinician=DR)
    await bot.launch(emu)
    pat = await emu.create_user(800, "Pat")
    await pat.send(f"/start {code}")
    await pat.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await pat.press("I agree")
    await pat.wait_for_message(contains="You are all set", timeout=15)

    dr = await emu.create_user(DR, "Ruiz")
    await dr.send("/addmed")
    form = await dr.wait_for_message(contains="Which patient", timeout=15)
    await dr.press("P-800", message_id=form.message_id)
    await dr.wait_for_edit(form.message_id, contains="medication called", timeout=15)
    await dr.send("Buprenorphine")
    await dr.wait_for_message(contains="exactly as the prescriber wrote it", timeout=15)
    await dr.send("8 mg film")
    await dr.wait_for_message(contains="times of day", timeout=15)
    await dr.send("25:00")
    await dr.wait_for_message(contains="0 to 23", timeout=15)  # says what is wrong
    await dr.send("08:00, 20:00")
    days = await dr.wait_for_message(contains="On which days", timeout=15)
    await dr.press("Every day", message_id=days.message_id)
    start = await dr.wait_for_edit(days.message_id, contains="From which date", timeout=15)
    await dr.press("Today", message_id=start.message_id)
    confirm = await dr.wait_for_edit(start.message_id, contains="Is this right", timeout=15)
    await dr.press("Confirm", message_id=confirm.message_id)
    await dr.wait_for_edit(confirm.message_id, contains="Medication added", timeout=15)
    meds = bot.query("SELECT name, dose_text, times FROM medications")
    assert [(m["name"], m["dose_text"], m["times"]) for m in meds] == [
        ("Buprenorphine", "8 mg film", "08:00,20:00")
    ]
    assert bot.query("SELECT COUNT(*) AS n FROM deliveries WHERE kind = 'dose'")[0]["n"] > 0

    await pat.send("/schedule")
    await pat.wait_for_message(contains="08:00, 20:00", timeout=15)
    await pat.send("/checkin")
    question = await pat.wait_for_message(contains="How strong was your craving", timeout=15)
    await pat.press("4", message_id=question.message_id)
    await pat.wait_for_edit(question.message_id, contains="How was your mood", timeout=15)
    await pat.press("7", message_id=question.message_id)
    used = await pat.wait_for_edit(question.message_id, contains="have you used", timeout=15)
    await pat.press(used.button_texts[0], message_id=question.message_id)
    await pat.wait_for_edit(question.message_id, contains="Check-in saved", timeout=15)
    rows = bot.query("SELECT craving, mood, used FROM checkins")
    assert [(r["craving"], r["mood"], r["used"]) for r in rows] == [(4, 7, 0)]
    assert "craving 4" not in bot.logs(), "check-in values never reach the logs"
