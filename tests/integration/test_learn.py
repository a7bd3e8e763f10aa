"""The psychoeducation library in the chat: browsing, questions, guardrails, stale buttons."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.config import Settings
from bot.container import Services, build_services
from bot.texts import content_root
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7001
DR = 9201


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def enrol(app: App, language: str = "en") -> None:
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Kim")
    issued = await s.enrollment.create_invite("P-300", clinician_telegram_id=DR, days=7)
    start = text_update(app.bot, PAT, f"/start {issued.code}", language_code=language)
    await app.process_update(start)
    await app.process_update(callback_update(app.bot, PAT, "c:yes", language_code=language))


async def press(app: App, data: str, language: str = "en") -> None:
    await app.process_update(callback_update(app.bot, PAT, data, language_code=language))


def last_view(api: LocalBotApi) -> dict[str, Any]:
    """Return the latest message or edit shown to the patient."""
    shown = [c.params for c in api.calls if c.method in {"sendMessage", "editMessageText"}]
    return shown[-1]


async def test_learn_lists_topics_and_puts_my_treatment_first(app: App, api: LocalBotApi) -> None:
    """/learn shows "For you" first when the patient has medications, then every topic."""
    await enrol(app)
    await svc(app).schedules.add_medication("P-300", name="Suboxone", dose="8/2 mg", times="08:00")
    await app.process_update(text_update(app.bot, PAT, "/learn"))
    buttons = api.buttons(api.sent(PAT)[-1])
    assert buttons[0] == ("⭐ For you", "l:you")
    assert len(buttons) == 1 + len(svc(app).learn.library.topics())
    await press(app, "l:you")
    titles = [label for label, _ in api.buttons(last_view(api))]
    assert any("Buprenorphine" in title for title in titles), "Suboxone maps to buprenorphine"


async def test_browse_an_article_to_its_last_page_and_back(app: App, api: LocalBotApi) -> None:
    """Next walks every page; the last medication page offers the care team; Back returns."""
    await enrol(app)
    article = svc(app).learn.library.get("buprenorphine")
    assert article is not None
    assert len(article.pages) > 1
    await press(app, f"l:t:{article.topic}")
    await press(app, "l:p:buprenorphine:0")
    for page in range(1, len(article.pages)):
        nxt = next(data for label, data in api.buttons(last_view(api)) if label == "Next ▶")
        await press(app, nxt)
        assert f"({page + 1}/{len(article.pages)})" in last_view(api)["text"]
    last = last_view(api)
    labels = [label for label, _ in api.buttons(last)]
    assert "Next ▶" not in labels
    assert "Tell my care team" in labels
    assert "prescriber" in last["text"]
    back = next(data for label, data in api.buttons(last) if label == "◀ Back")
    await press(app, back)
    assert f"({len(article.pages) - 1}/{len(article.pages)})" in last_view(api)["text"]


async def test_every_page_of_every_article_fits_a_message(app: App) -> None:
    """Each page view (header, page, buttons) in each language stays within Telegram's limits."""
    learn = svc(app).learn
    for locale in ("en", "es"):
        for article in learn.library.all(locale):
            for page in range(len(article.pages)):
                view = learn.page_view(article.id, page, locale)
                assert view is not None
                assert len(view.text) <= 4096
                assert "{{" not in view.text, "every placeholder is filled in"
                for row in view.buttons:
                    for _, data in row:
                        assert 1 <= len(data.encode()) <= 64, data


async def test_a_question_finds_the_right_article(app: App, api: LocalBotApi) -> None:
    """A free-text question is answered with matching articles as buttons."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "does tms hurt"))
    titles = [label for label, _ in api.buttons(api.sent(PAT)[-1])]
    assert any("side effects" in t.lower() or "session" in t.lower() for t in titles), titles
    await app.process_update(text_update(app.bot, PAT, "how do i use narcan"))
    assert "Naloxone" in api.last_text(PAT)


async def test_dose_change_question_is_referred_to_the_prescriber(
    app: App, api: LocalBotApi
) -> None:
    """Asking to change a dose gets the fixed referral, education and the care-team offer."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "can I take two suboxone today?"))
    message = api.sent(PAT)[-1]
    assert "question for your prescriber" in message["text"]
    labels = [label for label, _ in api.buttons(message)]
    assert "Tell my care team" in labels
    assert any("Buprenorphine" in label for label in labels)
    assert " mg" not in message["text"], "the bot never states a dose"


async def test_mixing_question_gets_the_mixing_answer(app: App, api: LocalBotApi) -> None:
    """Asking to drink on Antabuse gets the mixing guardrail and the disulfiram article."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "can i drink on antabuse?"))
    message = api.sent(PAT)[-1]
    assert "Mixing can be dangerous" in message["text"]
    assert any("Disulfiram" in label for label, _ in api.buttons(message))


async def alerts(app: App) -> list[str]:
    rows = await svc(app).db.fetchall("SELECT kind FROM alerts")
    return [r["kind"] for r in rows]


async def test_a_bystander_asking_how_much_naloxone_gets_the_steps(
    app: App, api: LocalBotApi
) -> None:
    """A bystander asking how much naloxone to give gets the steps, not the prescriber answer."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "how much narcan should i give"))
    message = api.sent(PAT)[-1]
    assert "one spray in one nostril" in message["text"]
    assert "prescriber" not in message["text"]
    titles = [label for label, _ in api.buttons(message)]
    assert titles[0].startswith("Naloxone"), titles
    assert await alerts(app) == [], "a question pages nobody"


async def test_a_general_missed_dose_question_gets_the_missed_doses_article(
    app: App, api: LocalBotApi
) -> None:
    """A general missed-dose question is answered with the missed-doses article first."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "what if I miss a dose"))
    message = api.sent(PAT)[-1]
    titles = [label for label, _ in api.buttons(message)]
    assert titles[0] == "If you miss a dose", titles


async def test_every_prescriber_answer_offers_an_article(app: App, api: LocalBotApi) -> None:
    """A prescriber answer that names no medicine still ends with at least one article."""
    await enrol(app)
    for question in ("can I cut my dose in half", "is it safe to just stop my meds"):
        await app.process_update(text_update(app.bot, PAT, question))
        message = api.sent(PAT)[-1]
        labels = [label for label, _ in api.buttons(message)]
        assert "Tell my care team" in labels
        assert len(labels) >= 2, (question, labels)


async def test_someone_elses_medicine_gets_its_own_prescriber_answer(
    app: App, api: LocalBotApi
) -> None:
    """Taking a friend's buprenorphine is answered: not someone else's medicine, ask the team."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "can I take my buddy's subs"))
    message = api.sent(PAT)[-1]
    assert "prescribed for someone else" in message["text"]
    labels = [label for label, _ in api.buttons(message)]
    assert any("Buprenorphine" in label for label in labels)
    assert "Tell my care team" in labels


async def test_warning_signs_get_the_signs_and_emergency_steps_and_page_nobody(
    app: App, api: LocalBotApi
) -> None:
    """Heavy sleepiness on an opioid medicine gets the signs of too much and the steps."""
    await enrol(app)
    await app.process_update(
        text_update(app.bot, PAT, "my suboxone makes me nod off all day since they raised it")
    )
    message = api.sent(PAT)[-1]
    text = message["text"]
    assert "signs of too much" in text.lower()
    assert svc(app).settings.emergency_number in text
    assert "naloxone" in text.lower()
    assert "prescriber" not in text.split("\n")[0]
    labels = [label for label, _ in api.buttons(message)]
    assert any("Buprenorphine" in label for label in labels)
    assert "Tell my care team" in labels
    assert await alerts(app) == [], "the warning never pages by itself"


async def test_warning_signs_are_answered_in_spanish(app: App, api: LocalBotApi) -> None:
    """A Spanish-speaking patient gets the warning in Spanish."""
    await enrol(app)
    view = svc(app).learn.answer_question("tengo mucho sueño con la nueva dosis de metadona", "es")
    assert "señales" in view.text.lower()
    assert svc(app).settings.emergency_number in view.text
    assert ("Avisar a mi equipo", "l:team") in [b for row in view.buttons for b in row]


async def test_tell_my_care_team_raises_a_routine_alert(app: App, api: LocalBotApi) -> None:
    """The care-team button queues a question alert for the patient's clinician."""
    await enrol(app)
    await press(app, "l:team")
    assert "care team has been told" in api.last_text(PAT)
    rows = await svc(app).db.fetchall("SELECT kind, severity FROM alerts")
    assert [(r["kind"], r["severity"]) for r in rows] == [("question", "routine")]
    queued = await svc(app).db.fetchall("SELECT chat_id FROM deliveries WHERE kind = 'alert'")
    assert [r["chat_id"] for r in queued] == [DR]


async def test_no_match_offers_topics_and_the_care_team(app: App, api: LocalBotApi) -> None:
    """A question with no article says so and offers the topics and the care team."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "what is the weather tomorrow"))
    message = api.sent(PAT)[-1]
    assert "could not find" in message["text"]
    assert [label for label, _ in api.buttons(message)] == ["All topics", "Tell my care team"]


async def test_crisis_language_goes_to_the_safety_net_not_search(
    app: App, api: LocalBotApi
) -> None:
    """A crisis message is answered by the safety net and never reaches search."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "took too many pills of my methadone"))
    texts = api.texts(PAT)
    assert any("give naloxone" in t for t in texts[-3:])
    assert not any("Here is what I found" in t for t in texts[-3:])


async def test_stale_or_forged_library_buttons_get_a_polite_answer(
    app: App, api: LocalBotApi
) -> None:
    """Unknown articles, pages out of range and junk data are answered politely."""
    await enrol(app)
    for data in ("l:p:no-such-article:0", "l:p:buprenorphine:99", "l:t:nope", "l:p:x"):
        await press(app, data)
        assert api.of("answerCallbackQuery")[-1]["text"] == "This button is no longer active."


async def test_unknown_command_points_to_help(app: App, api: LocalBotApi) -> None:
    """A command the bot does not have is answered with a pointer to /help."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "/frobnicate"))
    assert "/help" in api.last_text(PAT)


async def test_a_spanish_patient_browses_the_library_in_spanish(app: App, api: LocalBotApi) -> None:
    """Topics, article lists and pages are Spanish; an untranslated article says so in Spanish."""
    await enrol(app, language="es")
    await app.process_update(text_update(app.bot, PAT, "/learn", language_code="es"))
    menu = api.sent(PAT)[-1]
    assert "Aprenda sobre su tratamiento" in menu["text"]
    assert ("Cómo evitar una sobredosis", "l:t:overdose-safety") in api.buttons(menu)
    await press(app, "l:t:overdose-safety", "es")
    titles = [label for label, _ in api.buttons(last_view(api))]
    assert "La naloxona (Narcan) y qué hacer ante una sobredosis" in titles
    await press(app, "l:p:naloxone-overdose:0", "es")
    page = last_view(api)["text"]
    assert "Señales de una sobredosis de opioides" in page
    assert "Llame al 911." in page
    assert "solo en inglés" not in page
    await press(app, "l:t:alcohol-medicines", "es")
    titles = [label for label, _ in api.buttons(last_view(api))]
    assert "Dejar de beber sin peligro" in titles
    assert "Disulfiram (Antabuse) (en inglés)" in titles
    await press(app, "l:p:disulfiram:0", "es")
    assert "Este artículo todavía está solo en inglés." in last_view(api)["text"]
    await press(app, "l:p:disulfiram:1", "es")
    assert "solo en inglés" not in last_view(api)["text"], "said once, on the first page"


async def test_a_spanish_question_finds_the_spanish_article(app: App, api: LocalBotApi) -> None:
    """A Spanish question, without accents, lists the Spanish article and its summary."""
    await enrol(app, language="es")
    await app.process_update(
        text_update(app.bot, PAT, "que es la metadona y como funciona", language_code="es")
    )
    message = api.sent(PAT)[-1]
    assert message["text"].startswith("Esto es lo que encontré")
    labels = [label for label, _ in api.buttons(message)]
    assert labels[0] == "Metadona"


async def test_a_spanish_naloxone_question_gets_the_steps_and_the_spanish_article(
    app: App, api: LocalBotApi
) -> None:
    """How to use naloxone is answered with the steps first, then the Spanish article."""
    await enrol(app, language="es")
    await app.process_update(
        text_update(app.bot, PAT, "como se usa la naloxona", language_code="es")
    )
    message = api.sent(PAT)[-1]
    assert "llame al 911" in message["text"]
    labels = [label for label, _ in api.buttons(message)]
    assert labels[0] == "La naloxona (Narcan) y qué hacer ante una sobredosis"


async def test_the_last_page_offers_sources_with_an_honest_review_state(
    app: App, api: LocalBotApi
) -> None:
    """Sources list the article's sources, version and that no clinician has reviewed it yet."""
    await enrol(app)
    learn = svc(app).learn
    article = learn.library.get("naloxone-overdose")
    assert article is not None
    last = learn.page_view("naloxone-overdose", len(article.pages) - 1, "en")
    assert last is not None
    assert ("📚 Sources", "l:s:naloxone-overdose") in [b for row in last.buttons for b in row]
    first = learn.page_view("naloxone-overdose", 0, "en")
    assert first is not None
    assert "l:s:naloxone-overdose" not in [data for row in first.buttons for _, data in row]
    await press(app, "l:s:naloxone-overdose")
    view = last_view(api)
    assert "SAMHSA Overdose Prevention and Response Toolkit (2023)" in view["text"]
    assert "Not yet reviewed by a clinician" in view["text"]
    assert f"Version {article.version}, last changed {article.updated_on}" in view["text"]
    back = dict(api.buttons(view))["◀ Back"]
    assert back == f"l:p:naloxone-overdose:{len(article.pages) - 1}"
    spanish_view = learn.sources_view("naloxone-overdose", "es")
    assert spanish_view is not None
    spanish = spanish_view.text
    assert "Todavía no lo ha revisado un profesional clínico" in spanish
    assert "Traducido del original en inglés, versión" in spanish
    await press(app, "l:s:no-such-article")
    assert api.of("answerCallbackQuery")[-1]["text"] == "This button is no longer active."


def test_a_reviewed_article_names_its_reviewer(settings: Settings, tmp_path: Path) -> None:
    """With reviewed_by and reviewed_on in the front matter, sources say who and when."""
    own = tmp_path / "content"
    shutil.copytree(content_root(), own)
    methadone = own / "articles" / "en" / "methadone.md"
    methadone.write_text(
        methadone.read_text().replace(
            "updated_on:",
            "reviewed_by: Dr. Ana Rivera, MD\nreviewed_on: 2026-12-01\nupdated_on:",
            1,
        )
    )
    learn = build_services(settings.model_copy(update={"content_dir": own})).learn
    view = learn.sources_view("methadone", "en")
    assert view is not None
    assert "Reviewed by Dr. Ana Rivera, MD on 2026-12-01." in view.text
    assert "Not yet reviewed" not in view.text


def test_articles_read_the_clinics_own_numbers(settings: Settings) -> None:
    """With EMERGENCY_NUMBER 112 an article says "llame al 112"; an unset on-call line reads ok."""
    elsewhere = settings.model_copy(update={"emergency_number": "112", "clinic_oncall_phone": ""})
    learn = build_services(elsewhere).learn
    spanish = learn.page_view("naloxone-overdose", 0, "es")
    assert spanish is not None
    assert "Llame al 112." in spanish.text
    assert "911" not in spanish.text
    english = learn.page_view("methadone", 0, "en")
    assert english is not None
    assert "call 112 and give naloxone" in english.text
    assert "out of hours, call your clinic's on-call number." in english.text
    metadona = learn.page_view("methadone", 0, "es")
    assert metadona is not None
    assert "llame al número de guardia de su clínica." in metadona.text
    us = build_services(settings).learn.page_view("methadone", 0, "en")
    assert us is not None
    assert "out of hours, call 555-0100." in us.text
