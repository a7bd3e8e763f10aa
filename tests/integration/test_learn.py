"""The psychoeducation library in the chat: browsing, questions, guardrails, stale buttons."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from bot.app import Services
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7001
DR = 9201


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


async def enrol(app: App) -> None:
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Kim")
    issued = await s.enrollment.create_invite("P-300", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, PAT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PAT, "c:yes"))


async def press(app: App, data: str) -> None:
    await app.process_update(callback_update(app.bot, PAT, data))


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
    """Each page view (header, page, buttons) stays within Telegram's limits."""
    learn = svc(app).learn
    for article in learn.library.all():
        for page in range(len(article.pages)):
            view = learn.page_view(article.id, page, "en")
            assert view is not None
            assert len(view.text) <= 4096
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
