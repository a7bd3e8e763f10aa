"""Enrollment, consent and help, through the real Application and the local Bot API seam."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram.ext import Application

from bot.models import PatientStatus
from tests.support.botapi import LocalBotApi
from tests.support.sql import run_sql
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
ALICE = 5001
BOB = 5002
DR = 9001


def services(app: App):  # type: ignore[no-untyped-def]
    return app.bot_data["services"]


async def invite(app: App, label: str = "P-001", days: int = 7) -> str:
    issued = await services(app).enrollment.create_invite(
        label, clinician_telegram_id=None, days=days
    )
    return issued.code


async def send(app: App, user_id: int, text: str, **kw: Any) -> None:
    await app.process_update(text_update(app.bot, user_id, text, **kw))


async def press(app: App, user_id: int, data: str, **kw: Any) -> None:
    await app.process_update(callback_update(app.bot, user_id, data, **kw))


async def count_rows(app: App, table: str) -> int:
    row = await services(app).db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"])


async def test_valid_code_binds_the_user_and_shows_consent_with_two_buttons(
    app: App, api: LocalBotApi
) -> None:
    """A valid invite binds the Telegram user and shows the consent screen with its buttons."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    screen = api.sent(ALICE)[-1]
    assert "not end-to-end encrypted" in screen["text"]
    assert "988" in screen["text"]
    assert api.buttons(screen) == [("I agree", "c:yes"), ("No thanks", "c:no")]
    patient = await services(app).enrollment.patient_for_user(ALICE)
    assert patient is not None
    assert patient.status == PatientStatus.AWAITING_CONSENT


async def test_agreeing_records_consent_with_version_and_activates(
    app: App, api: LocalBotApi
) -> None:
    """Pressing I agree records the consent version and time and makes the patient active."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await press(app, ALICE, "c:yes")
    patient = await services(app).enrollment.patient_for_user(ALICE)
    assert patient.status == PatientStatus.ACTIVE
    assert patient.consented_at is not None
    row = await services(app).db.fetchone("SELECT version, decision FROM consents")
    assert (row["version"], row["decision"]) == (services(app).settings.consent_version, "agreed")
    assert "You are all set" in api.last_text(ALICE)
    assert api.of("editMessageReplyMarkup"), "the consent buttons are removed after the answer"


async def test_nothing_but_help_and_sos_works_before_consent(app: App, api: LocalBotApi) -> None:
    """Before consent, other commands get the consent reminder while /help and /sos answer."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await send(app, ALICE, "/patients")
    assert "consent question first" in api.last_text(ALICE)
    await send(app, ALICE, "hello there")
    assert "consent question first" in api.last_text(ALICE)
    await send(app, ALICE, "/help")
    assert "No one reads this chat in real time" in api.last_text(ALICE)
    await send(app, ALICE, "/sos")
    assert any("988" in text for text in api.texts(ALICE)[-2:])


async def test_declining_stores_only_the_decision_and_start_offers_consent_again(
    app: App, api: LocalBotApi
) -> None:
    """No thanks records the refusal; a later /start shows the consent screen again."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await press(app, ALICE, "c:no")
    assert "Nothing will be collected" in api.last_text(ALICE)
    patient = await services(app).enrollment.patient_for_user(ALICE)
    assert patient.status == PatientStatus.DECLINED
    await send(app, ALICE, "/start")
    assert api.buttons(api.sent(ALICE)[-1]) == [("I agree", "c:yes"), ("No thanks", "c:no")]
    await press(app, ALICE, "c:yes")
    patient = await services(app).enrollment.patient_for_user(ALICE)
    assert patient.status == PatientStatus.ACTIVE


async def test_start_without_code_explains_and_stores_nothing(app: App, api: LocalBotApi) -> None:
    """/start with no code explains how to join and writes no patient data."""
    before = await count_rows(app, "patients")
    await send(app, BOB, "/start")
    assert "personal link" in api.last_text(BOB)
    assert await count_rows(app, "patients") == before
    assert await services(app).enrollment.patient_for_user(BOB) is None


async def test_wrong_code_is_refused_kindly_and_stores_nothing(app: App, api: LocalBotApi) -> None:
    """A code that does not exist (or is malformed) is refused with nothing stored."""
    await invite(app)
    for bad in ("NOT-A-REAL-CODE-123", "x", "../../etc/passwd", "a" * 80):
        await send(app, BOB, f"/start {bad}")
        assert "not valid" in api.last_text(BOB)
    assert await services(app).enrollment.patient_for_user(BOB) is None
    assert await count_rows(app, "consents") == 0


async def test_used_code_is_refused_for_a_second_person(app: App, api: LocalBotApi) -> None:
    """A code works once: a second person gets a kind refusal and is not bound."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await send(app, BOB, f"/start {code}")
    assert "already been used" in api.last_text(BOB)
    assert await services(app).enrollment.patient_for_user(BOB) is None


async def test_expired_code_is_refused(app: App, api: LocalBotApi) -> None:
    """A code past its expiry is refused and binds nobody."""
    code = await invite(app, days=1)
    await run_sql(services(app).db, "UPDATE invites SET expires_at = '2000-01-01T00:00:00+00:00'")
    await send(app, ALICE, f"/start {code}")
    assert "expired" in api.last_text(ALICE)
    assert await services(app).enrollment.patient_for_user(ALICE) is None


async def test_enrolled_patient_starting_again_is_told_kindly(app: App, api: LocalBotApi) -> None:
    """An enrolled patient who opens a link again is told they are enrolled; nothing changes."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await press(app, ALICE, "c:yes")
    other = await invite(app, "P-002")
    await send(app, ALICE, f"/start {other}")
    assert "already enrolled" in api.last_text(ALICE)
    row = await services(app).db.fetchone(
        "SELECT used_at FROM invites i JOIN patients p ON p.id = i.patient_id "
        "WHERE p.label = 'P-002'"
    )
    assert row["used_at"] is None, "the other patient's code stays usable"


async def test_new_invite_for_the_same_label_revokes_the_old_code(
    app: App, api: LocalBotApi
) -> None:
    """Re-issuing an invite for a label makes only the newest code work."""
    old = await invite(app)
    new = await invite(app)
    await send(app, ALICE, f"/start {old}")
    assert "not valid" in api.last_text(ALICE)
    await send(app, ALICE, f"/start {new}")
    assert api.buttons(api.sent(ALICE)[-1])[0] == ("I agree", "c:yes")


async def test_spanish_telegram_user_gets_spanish_onboarding(app: App, api: LocalBotApi) -> None:
    """A user whose Telegram speaks Spanish gets consent and help in Spanish."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}", language_code="es-MX")
    screen = api.sent(ALICE)[-1]
    assert "Antes de empezar" in screen["text"]
    assert api.buttons(screen) == [("Estoy de acuerdo", "c:yes"), ("No, gracias", "c:no")]
    await send(app, ALICE, "/help", language_code="es-MX")
    assert "Nadie lee este chat" in api.last_text(ALICE)


async def test_clinician_start_is_recognised(app: App, api: LocalBotApi) -> None:
    """A registered clinician who sends /start is greeted as a clinician, not as a patient."""
    await services(app).careteam.add_clinician(DR, "Dr. Rivera")
    await send(app, DR, "/start")
    assert "registered as a clinician" in api.last_text(DR)
    assert await services(app).enrollment.patient_for_user(DR) is None


async def test_repeated_update_is_processed_once(app: App, api: LocalBotApi) -> None:
    """An update id seen before (a redelivery after restart) is ignored."""
    await send(app, BOB, "/help", update_id=777_001)
    await send(app, BOB, "/help", update_id=777_001)
    assert len(api.texts(BOB)) == 1


async def test_command_menus_are_published_at_start(app: App, api: LocalBotApi) -> None:
    """post_init publishes the patient command menu in English and Spanish."""
    menus = api.of("setMyCommands")
    languages = {m.get("language_code") for m in menus}
    assert {None, "es"} <= languages
    commands = {c["command"] for c in menus[0]["commands"]}
    assert {"help", "sos"} <= commands


async def test_stale_button_gets_a_polite_answer(app: App, api: LocalBotApi) -> None:
    """A forged or outdated button is answered politely instead of failing."""
    code = await invite(app)
    await send(app, ALICE, f"/start {code}")
    await press(app, ALICE, "c:yes")
    await press(app, ALICE, "zz:unknown:1")
    answers = api.of("answerCallbackQuery")
    assert answers[-1].get("text") == "This button is no longer active."
    await press(app, ALICE, "c:yes")
    assert (
        api.of("answerCallbackQuery")[-1].get("text")
        == "There is no consent question waiting for you."
    )


async def test_error_handler_answers_safely_and_logs_no_text(
    app: App, api: LocalBotApi, caplog: Any
) -> None:
    """A Telegram error inside a handler gives the user a safe reply and logs ids, not text."""
    secret = "/start my-private-words-12345"
    api.fail_with["sendMessage"] = (
        400,
        {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
    )
    await send(app, BOB, secret)
    assert "something went wrong" in api.last_text(BOB)
    assert "my-private-words" not in caplog.text
    assert "BadRequest" in caplog.text


async def test_invite_expiry_uses_the_configured_days(app: App) -> None:
    """An invite expires the given number of days after it is created."""
    issued = await services(app).enrollment.create_invite(
        "P-009", clinician_telegram_id=None, days=3
    )
    now = services(app).clock.now()
    assert timedelta(days=2, hours=23) < issued.expires_at - now <= timedelta(days=3)


async def test_polling_network_errors_are_one_quiet_line(
    app: App, api: LocalBotApi, caplog: Any
) -> None:
    """An outage while polling logs one warning line without a traceback and sends nothing."""
    from telegram.error import NetworkError  # noqa: PLC0415

    await app.process_error(None, NetworkError("httpx.ConnectError: connection refused"))
    records = [r for r in caplog.records if "unreachable while polling" in r.getMessage()]
    assert len(records) == 1
    assert records[0].exc_info is None
    assert api.of("sendMessage") == []


async def test_in_a_group_chat_only_crisis_text_is_answered(app: App, api: LocalBotApi) -> None:
    """If someone adds the bot to a group, it runs no feature there, but still answers a crisis."""
    from telegram import Update  # noqa: PLC0415

    def group_message(update_id: int, text: str) -> Update:
        message = {
            "message_id": update_id,
            "date": 1_780_000_000,
            "chat": {"id": -100_123, "type": "group", "title": "Friends"},
            "from": {"id": BOB, "is_bot": False, "first_name": "Bob"},
            "text": text,
        }
        return Update.de_json({"update_id": update_id, "message": message}, app.bot)

    await app.process_update(group_message(990_001, "/help"))
    await app.process_update(group_message(990_003, "what is tms"))
    assert api.sent() == []
    await app.process_update(group_message(990_004, "i want to kill myself"))
    assert "988" in api.sent(-100_123)[0]["text"]


async def test_blocking_the_bot_is_not_answered(app: App, api: LocalBotApi) -> None:
    """A my_chat_member update (the user blocked the bot) gets no reply."""
    from telegram import Update  # noqa: PLC0415

    payload = {
        "update_id": 990_002,
        "my_chat_member": {
            "chat": {"id": BOB, "type": "private"},
            "from": {"id": BOB, "is_bot": False, "first_name": "Bob"},
            "date": 1_780_000_000,
            "old_chat_member": {
                "user": {"id": 1, "is_bot": True, "first_name": "Bot"},
                "status": "member",
            },
            "new_chat_member": {
                "user": {"id": 1, "is_bot": True, "first_name": "Bot"},
                "status": "kicked",
                "until_date": 0,
            },
        },
    }
    await app.process_update(Update.de_json(payload, app.bot))
    assert api.sent() == []
