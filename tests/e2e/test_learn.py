"""End to end: a patient browses the library and asks questions, against the emulator."""

from __future__ import annotations

from tests.e2e.conftest import BotProcess
from tests.emulator import AsyncEmulatorClient


async def test_browse_a_topic_to_the_last_page_and_back_and_ask_three_questions(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """Topics -> article -> every page -> back one page; then three free-text questions."""
    code = bot.invite("P-700")
    await bot.launch(emu)
    pat = await emu.create_user(700, "Pat")
    await pat.send(f"/start {code}")
    await pat.wait_for_message(contains="not end-to-end encrypted", timeout=15)
    await pat.press("I agree")
    await pat.wait_for_message(contains="You are all set", timeout=15)

    await pat.send("/learn")
    menu = await pat.wait_for_message(contains="Learn about your treatment", timeout=15)
    await pat.press("Deep TMS (dTMS)", message_id=menu.message_id)
    topic = await pat.wait_for_edit(menu.message_id, contains="Deep TMS", timeout=15)
    article_button = next(text for text in topic.button_texts if "session" in text.lower())
    await pat.press(article_button, message_id=menu.message_id)
    page = await pat.wait_for_edit(menu.message_id, contains="(1/", timeout=15)
    pages = int(page.text.split("(1/", 1)[1].split(")", 1)[0])
    for number in range(2, pages + 1):
        await pat.press("Next ▶", message_id=menu.message_id)
        page = await pat.wait_for_edit(menu.message_id, contains=f"({number}/{pages})", timeout=15)
    assert "Next ▶" not in page.button_texts, "the last page has no Next"
    if pages > 1:
        await pat.press("◀ Back", message_id=menu.message_id)
        await pat.wait_for_edit(menu.message_id, contains=f"({pages - 1}/{pages})", timeout=15)

    await pat.send("can i drink a beer on antabuse")
    answer = await pat.wait_for_message(contains="Mixing can be dangerous", timeout=15)
    assert any("Disulfiram" in text for text in answer.button_texts)
    await pat.send("what does narcan do")
    found = await pat.wait_for_message(contains="Here is what I found", timeout=15)
    assert any("Naloxone" in text for text in found.button_texts)
    await pat.send("how much narcan should i give")
    steps = await pat.wait_for_message(contains="one spray in one nostril", timeout=15)
    assert "prescriber" not in steps.text
    assert steps.button_texts[0].startswith("Naloxone"), steps.button_texts


async def test_a_spanish_speaking_patient_finds_the_spanish_naloxone_article_by_a_question(
    bot: BotProcess, emu: AsyncEmulatorClient
) -> None:
    """A patient whose Telegram is in Spanish asks in Spanish and reads the Spanish article."""
    code = bot.invite("P-701")
    await bot.launch(emu)
    lupe = await emu.create_user(701, "Lupe", language_code="es")
    await lupe.send(f"/start {code}")
    await lupe.wait_for_message(contains="no tienen cifrado de extremo a extremo", timeout=15)
    await lupe.press("Estoy de acuerdo")
    await lupe.wait_for_message(contains="Todo listo", timeout=15)

    await lupe.send("¿necesito receta para el narcan?")
    found = await lupe.wait_for_message(contains="Esto es lo que encontré", timeout=15)
    title = "La naloxona (Narcan) y qué hacer ante una sobredosis"
    assert found.button_texts[0] == title
    await lupe.press(title, message_id=found.message_id)
    page = await lupe.wait_for_edit(found.message_id, contains="(1/2)", timeout=15)
    assert "Señales de una sobredosis de opioides" in page.text
    assert "Llame al 911." in page.text, "the clinic's emergency number, not a placeholder"
    await lupe.press("Siguiente ▶", message_id=found.message_id)
    last = await lupe.wait_for_edit(found.message_id, contains="(2/2)", timeout=15)
    await lupe.press("📚 Fuentes", message_id=found.message_id)
    sources = await lupe.wait_for_edit(found.message_id, contains="Fuentes:", timeout=15)
    assert "Todavía no lo ha revisado un profesional clínico" in sources.text
    assert "Después de la naloxona" in last.text
