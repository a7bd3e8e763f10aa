"""End to end: enrollment, consent, help and the safety net, with the bot as a real process."""

from __future__ import annotations

from tests.e2e.conftest import BOT_USERNAME, BotProcess
from tests.emulator import AsyncEmulatorClient

DR = 880001


async def test_full_enrollment_journey(bot: BotProcess, emu: AsyncEmulatorClient) -> None:
    """Invite from the CLI, /start with the code, consent, then /help, against the emulator."""
    assert (
        bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ortiz").returncode == 0
    )
    result = bot.cli("invite", "--label", "P-501", "--clinician", str(DR))
    assert result.returncode == 0, result.stderr
    code = next(line.split()[1] for line in result.stdout.splitlines() if line.startswith("code:"))
    assert f"https://t.me/{BOT_USERNAME}?start={code}" in result.stdout
    await bot.launch(emu)
    commands = await emu.commands()
    assert commands, "the command menu is published at start-up"

    alice = await emu.create_user(501, "Alice")
    await alice.send(f"/start {code}")
    screen = await alice.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    assert screen.button_texts == ["I agree", "No thanks"]
    await alice.press("I agree")
    await alice.wait_for_message(contains="You are all set", timeout=15)
    await alice.send("/help")
    await alice.wait_for_message(contains="No one reads this chat in real time", timeout=15)
    rows = bot.query("SELECT status, consented_at FROM patients WHERE label = 'P-501'")
    assert rows[0]["status"] == "active"
    assert rows[0]["consented_at"]
    consent = bot.query("SELECT decision, version FROM consents")
    assert [(r["decision"], r["version"]) for r in consent] == [("agreed", "2026-11-30")]

    dr = await emu.create_user(DR, "Ortiz")
    await dr.send("/patients")
    listing = await dr.wait_for_message(contains="P-501", timeout=15)
    assert "active" in listing.text


async def test_every_bad_code_path_is_kind_and_stores_nothing(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """No code, a wrong code, a used code and an expired code are refused; nothing is stored."""
    used = bot.invite("P-510")
    expired = bot.invite("P-511")
    bot.execute("UPDATE invites SET expires_at = '2001-01-01T00:00:00+00:00' WHERE id = 2")
    await bot.launch(emu)
    first = await emu.create_user(510, "First")
    await first.send(f"/start {used}")
    await first.wait_for_message(contains="not end-to-end encrypted", timeout=15)

    mallory = await emu.create_user(666, "Mallory")
    await mallory.send("/start")
    await mallory.wait_for_message(contains="personal link", timeout=15)
    await mallory.send("/start WRONGWRONGWRONG")
    await mallory.wait_for_message(contains="not valid", timeout=15)
    await mallory.send(f"/start {used}")
    await mallory.wait_for_message(contains="already been used", timeout=15)
    await mallory.send(f"/start {expired}")
    await mallory.wait_for_message(contains="expired", timeout=15)
    await mallory.send("hello?")
    await mallory.wait_for_message(contains="personal link", timeout=15)
    assert bot.query("SELECT * FROM patients WHERE telegram_user_id = 666") == []
    assert len(bot.query("SELECT * FROM consents")) == 0


async def test_second_patient_is_isolated_from_the_first(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Two patients each see only their own messages and schedule."""
    code_a, code_b = bot.invite("P-520"), bot.invite("P-521")
    await bot.launch(emu)
    a = await emu.create_user(520, "A")
    b = await emu.create_user(521, "B")
    for user, code in ((a, code_a), (b, code_b)):
        await user.send(f"/start {code}")
        await user.wait_for_message(contains="not end-to-end encrypted", timeout=15)
        await user.press("I agree")
        await user.wait_for_message(contains="You are all set", timeout=15)
    assert (
        bot.cli(
            "med",
            "add",
            "--patient",
            "P-520",
            "--name",
            "Naltrexone",
            "--dose",
            "50 mg",
            "--times",
            "09:00",
        ).returncode
        == 0
    )
    await a.send("/schedule")
    await a.wait_for_message(contains="Naltrexone", timeout=15)
    await b.send("/schedule")
    mine = await b.wait_for_message(contains="Your schedule", timeout=15)
    assert "Naltrexone" not in mine.text
    texts_b = " ".join(m.text for m in await b.messages())
    assert "Naltrexone" not in texts_b
    rows = bot.query("SELECT label, telegram_user_id FROM patients ORDER BY label")
    assert [(r["label"], r["telegram_user_id"]) for r in rows] == [("P-520", 520), ("P-521", 521)]


async def test_restart_in_the_middle_of_enrollment_loses_nothing(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """kill -9 after the consent screen; messages sent while down are answered after restart."""
    code = bot.invite("P-530")
    await bot.launch(emu)
    carol = await emu.create_user(530, "Carol")
    await carol.send(f"/start {code}")
    screen = await carol.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    bot.kill()
    press = await carol.press("I agree", message_id=screen.message_id)
    assert press is not None
    await bot.launch(emu)
    await carol.wait_for_message(contains="You are all set", timeout=20)
    await carol.send("/help")
    await carol.wait_for_message(contains="What I do", timeout=15)
    assert bot.query("SELECT status FROM patients")[0]["status"] == "active"
    assert len(bot.query("SELECT * FROM consents")) == 1, "the press is processed once"


async def test_crisis_message_gets_resources_and_the_care_team_can_acknowledge(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Crisis language answers with 988 at once and alerts the clinician, who acknowledges."""
    assert (
        bot.cli("clinician", "add", "--telegram-id", str(DR), "--name", "Dr. Ortiz").returncode == 0
    )
    code = bot.invite("P-540", clinician=DR)
    await bot.launch(emu)
    dr = await emu.create_user(DR, "Ortiz")
    dana = await emu.create_user(540, "Dana")
    await dana.send(f"/start {code}")
    await dana.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await dana.press("I agree")
    await dana.wait_for_message(contains="You are all set", timeout=15)
    await dr.mark()
    await dana.send("honestly i just want to end it all tonight")
    reply = await dana.wait_for_message(contains="988", timeout=15)
    assert "555-0100" in reply.text
    alert = await dr.wait_for_message(contains="possible crisis", timeout=15)
    assert "P-540" in alert.text
    assert "end it all" not in alert.text, "clinician messages carry no message text"
    await dr.press("Acknowledge", message_id=alert.message_id)
    await dr.wait_for_edit(alert.message_id, contains="Acknowledged by Dr. Ortiz", timeout=15)
    assert "end it all" not in bot.logs(), "logs never carry message text"


async def test_sos_works_before_enrollment_and_in_spanish(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """/sos answers anyone, in the language their Telegram uses."""
    await bot.launch(emu)
    visitor = await emu.create_user(550, "Lupe", language_code="es")
    await visitor.send("/sos")
    reply = await visitor.wait_for_message(contains="988", timeout=15)
    assert "Emergencias" in reply.text
    assert bot.query("SELECT * FROM patients") == []
