"""/sos and alert acknowledgement through the real Application: never closed by one "no"."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application

from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7301
DR = 9301


async def enrol(app: App) -> None:
    await svc(app).careteam.add_clinician(DR, "Dr. Sol")
    issued = await svc(app).enrollment.create_invite("P-730", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, PAT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PAT, "c:yes"))


async def test_not_now_keeps_the_offer_open_even_when_pressed_twice(
    app: App, api: LocalBotApi
) -> None:
    """After "Not now" the alert button stays; a second tap changes nothing and breaks nothing."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "/sos"))
    offer = api.sent(PAT)[-1]
    assert [label for label, _ in api.buttons(offer)] == ["Alert my care team", "Not now"]
    await app.process_update(callback_update(app.bot, PAT, "sos:no"))
    api.fail_with["editMessageText"] = (
        400,
        {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: message is not modified: specified new message content "
            "and reply markup are exactly the same as a current content and reply markup of "
            "the message",
        },
    )
    await app.process_update(callback_update(app.bot, PAT, "sos:no"))
    assert not any("something went wrong" in t for t in api.texts(PAT))
    edit = api.of("editMessageText")[0]
    assert [label for label, _ in api.buttons(edit)] == ["Alert my care team"]
    assert await svc(app).db.fetchall("SELECT * FROM alerts") == []


async def test_alert_my_care_team_queues_one_urgent_alert(app: App, api: LocalBotApi) -> None:
    """The alert button raises one urgent alert for the care team; a second tap says it is open."""
    await enrol(app)
    await app.process_update(text_update(app.bot, PAT, "/sos"))
    await app.process_update(callback_update(app.bot, PAT, "sos:alert"))
    assert "has been alerted" in api.of("editMessageText")[-1]["text"]
    await app.process_update(callback_update(app.bot, PAT, "sos:alert"))
    assert "already has an open alert" in api.of("editMessageText")[-1]["text"]
    alerts = await svc(app).db.fetchall("SELECT kind, severity FROM alerts")
    assert [(a["kind"], a["severity"]) for a in alerts] == [("sos", "urgent")]
    queued = await svc(app).db.fetchall(
        "SELECT chat_id, priority FROM deliveries WHERE kind = 'alert'"
    )
    assert [(q["chat_id"], q["priority"]) for q in queued] == [(DR, 0)]


async def test_acknowledge_is_recorded_once_and_only_by_the_care_team(
    app: App, api: LocalBotApi
) -> None:
    """The assigned clinician acknowledges; a clinician from elsewhere is refused; audited."""
    await enrol(app)
    await svc(app).careteam.add_clinician(9399, "Dr. Other")
    await app.process_update(text_update(app.bot, PAT, "i want to die"))
    alert = (await svc(app).db.fetchall("SELECT id FROM alerts"))[0]
    await app.process_update(callback_update(app.bot, 9399, f"al:ack:{alert['id']}"))
    assert api.of("answerCallbackQuery")[-1]["text"].startswith(
        "This alert is for another care team"
    )
    await app.process_update(callback_update(app.bot, DR, f"al:ack:{alert['id']}"))
    row = await svc(app).db.fetchone("SELECT acknowledged_by FROM alerts")
    assert row["acknowledged_by"] is not None
    audit = await svc(app).db.fetchall("SELECT action FROM audit_log WHERE action LIKE 'alert.%'")
    assert [a["action"] for a in audit] == ["alert.acknowledge"]
