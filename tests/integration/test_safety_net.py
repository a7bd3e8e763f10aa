"""The safety net through the real Application: tiers, follow-ups, escalation, questions, media."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.clock import ManualClock
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, media_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7401
DR = 9401
START = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


async def enrol(app: App, language_code: str = "en") -> None:
    await svc(app).careteam.add_clinician(DR, "Dr. Vega")
    issued = await svc(app).enrollment.create_invite("P-740", clinician_telegram_id=DR, days=7)
    await app.process_update(
        text_update(app.bot, PAT, f"/start {issued.code}", language_code=language_code)
    )
    await app.process_update(callback_update(app.bot, PAT, "c:yes", language_code=language_code))


async def say(app: App, text: str) -> None:
    await app.process_update(text_update(app.bot, PAT, text))


async def alerts(app: App) -> list[tuple[str, str | None]]:
    rows = await svc(app).db.fetchall("SELECT kind, category FROM alerts ORDER BY id")
    return [(row["kind"], row["category"]) for row in rows]


async def run_due(app: App, clock: ManualClock, after: timedelta) -> None:
    """Move time on and let the dispatcher send (or resolve) whatever is due."""
    clock.advance(after)
    s = svc(app)
    dispatcher = Dispatcher(
        bot=app.bot, reminders=s.reminders, clock=clock, safety_net=s.safety_net
    )
    for _ in range(3):
        await dispatcher.tick()
        await dispatcher.drain(within_seconds=5)


def button_data(api: LocalBotApi, label: str) -> str:
    for params in reversed(api.sent(PAT)):
        for text, data in api.buttons(params):
            if text == label:
                return data
    raise AssertionError(f"no button {label!r}")


async def test_possible_crisis_asks_if_safe_and_alerts_nobody_yet(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A possible crisis asks "Are you safe right now?" with three buttons and alerts nobody."""
    await enrol(clocked_app)
    await say(clocked_app, "i cant do this anymore")
    check = api.sent(PAT)[-1]
    assert "Are you safe right now?" in check["text"]
    assert "988" in check["text"]
    assert [label for label, _ in api.buttons(check)] == [
        "I'm safe",
        "I need help now",
        "Someone else is in danger",
    ]
    assert await alerts(clocked_app) == []


async def test_a_crisis_only_the_models_read_is_answered_and_logs_the_layer_not_the_text(
    clocked_app: App, api: LocalBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Wording no rule knows, read by the n-gram model and the semantic layer together, gets
    the suicide answer; the log names the layer and its score, never the words."""
    if svc(clocked_app).crisis_semantic is None:
        pytest.skip("the semantic layer cannot run on this machine")
    await enrol(clocked_app)
    text = "gave my sister the passwords to everything tonight, she will know what to do"
    with caplog.at_level(logging.WARNING, logger="bot.handlers.safety"):
        await say(clocked_app, text)
    assert any("988" in params["text"] for params in api.sent(PAT)[-3:])
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.handlers.safety"]
    assert any("category=suicide" in line and "layer=semantic score=0." in line for line in lines)
    assert not any("passwords" in line for line in caplog.messages)


async def test_i_need_help_now_alerts_the_team_and_plans_a_follow_up(
    clocked_app: App, api: LocalBotApi
) -> None:
    """The second button raises an urgent alert for the care team at once."""
    await enrol(clocked_app)
    await say(clocked_app, "esta es mi despedida")
    await clocked_app.process_update(
        callback_update(clocked_app.bot, PAT, button_data(api, "I need help now"))
    )
    assert await alerts(clocked_app) == [("crisis_help", "suicide")]
    queued = await svc(clocked_app).db.fetchall(
        "SELECT chat_id FROM deliveries WHERE kind = 'alert'"
    )
    assert [row["chat_id"] for row in queued] == [DR]
    assert "alerted your care team" in api.of("editMessageText")[-1]["text"]
    followups = await svc(clocked_app).db.fetchall(
        "SELECT * FROM deliveries WHERE kind = 'crisis_followup'"
    )
    assert len(followups) == 1


async def test_im_safe_keeps_the_help_button_and_help_still_alerts(
    clocked_app: App, api: LocalBotApi
) -> None:
    """One "I'm safe" does not close the way: the help button stays and still works."""
    await enrol(clocked_app)
    await say(clocked_app, "soy una carga para todos")
    help_data = button_data(api, "I need help now")
    await clocked_app.process_update(
        callback_update(clocked_app.bot, PAT, button_data(api, "I'm safe"))
    )
    edit = api.of("editMessageText")[-1]
    assert [label for label, _ in api.buttons(edit)] == ["I need help now"]
    assert await alerts(clocked_app) == []
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, help_data))
    assert await alerts(clocked_app) == [("crisis_help", "suicide")]


async def test_unanswered_check_alerts_the_team_after_the_timeout(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """No answer within ten minutes alerts the care team, and the clinician gets the message."""
    await enrol(clocked_app)
    await say(clocked_app, "i cant do this anymore")
    await run_due(clocked_app, clock, timedelta(minutes=9))
    assert await alerts(clocked_app) == []
    await run_due(clocked_app, clock, timedelta(minutes=2))
    assert await alerts(clocked_app) == [("crisis_silent", "suicide")]
    assert any("no answer" in text for text in api.texts(DR))


async def test_typing_no_after_a_clear_crisis_closes_nothing(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A typed "no you misunderstood" after a crisis leaves the alert and the follow-up."""
    await enrol(clocked_app)
    await say(clocked_app, "i want to kill myself tonight")
    await say(clocked_app, "no you misunderstood")
    assert await alerts(clocked_app) == [("crisis", "suicide")]
    rows = await svc(clocked_app).db.fetchall(
        "SELECT status FROM deliveries WHERE kind = 'crisis_followup'"
    )
    assert [row["status"] for row in rows] == ["pending"]


async def test_more_severe_news_raises_a_second_alert_with_its_category(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Suicide then "my friend isnt breathing" gives two alerts; a repeat joins the open one."""
    await enrol(clocked_app)
    await say(clocked_app, "i want to kill myself")
    await say(clocked_app, "my friend took fentanyl and isnt breathing")
    await say(clocked_app, "i want to die")
    assert await alerts(clocked_app) == [("crisis", "suicide"), ("crisis", "overdose")]


async def test_follow_up_asks_again_and_not_safe_alerts_again(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Fifteen minutes after a crisis answer "are you safe now?" comes; "not safe" alerts."""
    await enrol(clocked_app)
    await say(clocked_app, "i want to kill myself tonight")
    await run_due(clocked_app, clock, timedelta(minutes=16))
    followup = api.sent(PAT)[-1]
    assert "are you safe now?" in followup["text"]
    assert [label for label, _ in api.buttons(followup)] == ["I'm safe now", "I'm not safe"]
    await clocked_app.process_update(
        callback_update(clocked_app.bot, PAT, button_data(api, "I'm not safe"))
    )
    assert await alerts(clocked_app) == [("crisis", "suicide"), ("followup_unsafe", "suicide")]
    await run_due(clocked_app, clock, timedelta(minutes=15))
    assert len(await alerts(clocked_app)) == 2, "the timeout after an answer alerts nobody"


async def test_silence_after_the_follow_up_alerts_again(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """An unanswered follow-up alerts the team once more."""
    await enrol(clocked_app)
    await say(clocked_app, "i took too many pills")
    await run_due(clocked_app, clock, timedelta(minutes=16))
    await run_due(clocked_app, clock, timedelta(minutes=11))
    assert await alerts(clocked_app) == [("crisis", "overdose"), ("followup_silent", "overdose")]


async def test_overdose_answer_puts_the_emergency_number_and_naloxone_first(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A bystander overdose is answered with 911 and the naloxone steps before anything else."""
    await enrol(clocked_app)
    await say(clocked_app, "my buddy is blue and wont wake up")
    reply = next(t for t in api.texts(PAT) if "naloxone" in t.lower())
    assert reply.startswith("<b>Call 911 now.</b>")
    assert reply.index("naloxone") < reply.index("988")
    assert "second dose" in reply
    assert "side" in reply


async def test_danger_at_home_names_the_domestic_violence_line(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Abuse at home is answered with 911 and the domestic-violence line first."""
    await enrol(clocked_app)
    await say(clocked_app, "my husband is choking me and locked me in the bedroom")
    reply = next(t for t in api.texts(PAT) if "Domestic Violence" in t)
    assert reply.startswith("<b>If you are in danger now, call 911.</b>")
    assert "1-800-799-7233" in reply.split("\n")[1]


async def test_spanish_answer_names_spanish_speaking_options(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A Spanish-speaking patient's crisis answer names 988's Spanish option and SAMHSA's."""
    await enrol(clocked_app, language_code="es")
    before = len(api.sent(PAT))
    await say(clocked_app, "quiero matarme esta noche")
    reply = next(t for t in api.texts(PAT)[before:] if "988" in t)
    assert "oprima 2 para español" in reply
    assert "AYUDA" in reply
    assert "en español" in reply


async def test_overdose_question_gets_steps_and_the_article_and_pages_nobody(
    clocked_app: App, api: LocalBotApi
) -> None:
    """An overdose question gets the emergency steps on top, then the library; no alert."""
    await enrol(clocked_app)
    before = len(api.sent(PAT))
    await say(clocked_app, "what does an overdose look like")
    answers = api.texts(PAT)[before:]
    assert answers[0].startswith("<b>If this is happening now, call 911.</b>")
    assert len(answers) == 2
    assert await alerts(clocked_app) == []


async def test_first_person_report_of_mixing_is_still_a_crisis(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A first-person report of mixing ("I took xanax with my methadone...") is not a question."""
    await enrol(clocked_app)
    before = len(api.sent(PAT))
    await say(clocked_app, "I took xanax with my methadone and I feel weird")
    answers = api.texts(PAT)[before:]
    assert any("Are you safe right now?" in text for text in answers)
    assert not any("If this is happening now" in text for text in answers)


@pytest.mark.parametrize(
    "kind", ["voice", "photo", "sticker", "video_note", "document", "location"]
)
async def test_media_from_a_patient_gets_an_answer(
    clocked_app: App, api: LocalBotApi, kind: str
) -> None:
    """A voice note, photo, sticker, video note, file or location is answered with /sos."""
    await enrol(clocked_app)
    before = len(api.sent(PAT))
    await clocked_app.process_update(media_update(clocked_app.bot, PAT, kind))
    answers = api.texts(PAT)[before:]
    assert len(answers) == 1
    assert "I can only read text" in answers[0]
    assert "/sos" in answers[0]


async def test_a_crisis_caption_on_a_photo_is_answered_as_a_crisis(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A photo's caption is scanned: crisis words there get the crisis answer and an alert."""
    await enrol(clocked_app)
    await clocked_app.process_update(
        media_update(clocked_app.bot, PAT, "photo", caption="i want to die")
    )
    assert await alerts(clocked_app) == [("crisis", "suicide")]
    assert not any("I can only read text" in t for t in api.texts(PAT))


async def test_a_stale_or_forged_safety_button_gets_a_polite_answer(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A safety button for another patient's row, or malformed, changes nothing."""
    await enrol(clocked_app)
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, "sf:help:99999"))
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, "sf:help:x"))
    assert all("no longer active" in a["text"] for a in api.of("answerCallbackQuery")[-2:])
    assert await alerts(clocked_app) == []
