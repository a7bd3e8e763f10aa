"""The safety net in a group chat and for a patient who is also a clinician (review findings)."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7901
DR = 9901
GROUP = -100_777


async def enrol(app: App, user: int = PAT, label: str = "P-901") -> None:
    s = svc(app)
    if await s.careteam.clinician_for_user(DR) is None:
        await s.careteam.add_clinician(DR, "Dr. Reyes")
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, user, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, user, "c:yes"))


def group_message(app: App, update_id: int, user: int, text: str) -> Update:
    message = {
        "message_id": update_id,
        "date": 1_780_000_000,
        "chat": {"id": GROUP, "type": "group", "title": "Friends"},
        "from": {"id": user, "is_bot": False, "first_name": "Pat"},
        "text": text,
    }
    return Update.de_json({"update_id": update_id, "message": message}, app.bot)


async def test_a_crisis_in_a_group_gets_resources_naming_no_clinic_or_team(
    app: App, api: LocalBotApi
) -> None:
    """In a group: resources only, no clinic, team or program named; the alert goes privately."""
    await enrol(app)
    api.clear()
    await app.process_update(group_message(app, 991_001, PAT, "i am going to kill myself tonight"))
    said = " ".join(str(p["text"]) for p in api.sent(GROUP))
    assert "988" in said
    for revealing in ("Harbor Clinic", "care team", "alerted", "555-0100", "SAMHSA", "detox"):
        assert revealing not in said, revealing
    alerts = await svc(app).db.fetchall("SELECT kind, severity FROM alerts")
    assert [(a["kind"], a["severity"]) for a in alerts] == [("crisis", "urgent")]
    queued = await svc(app).db.fetchall("SELECT chat_id FROM deliveries WHERE kind = 'alert'")
    assert [q["chat_id"] for q in queued] == [DR]


async def test_an_unsure_message_in_a_group_asks_if_safe_in_private(
    app: App, api: LocalBotApi
) -> None:
    """A possible crisis in a group: resources there, "are you safe?" in the private chat."""
    await enrol(app)
    api.clear()
    await app.process_update(group_message(app, 991_002, PAT, "esta es mi despedida"))
    group_text = " ".join(str(p["text"]) for p in api.sent(GROUP))
    assert "Harbor Clinic" not in group_text
    private = api.sent(PAT)
    assert private, "the check goes to the patient's own chat"
    assert api.buttons(private[-1]), "with its buttons"


async def test_a_patient_who_is_also_a_clinician_is_a_patient_to_the_safety_net(
    app: App, api: LocalBotApi
) -> None:
    """A clinician enrolled as a patient: a crisis message raises an alert; /sos offers one."""
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Reyes")
    nurse = 9902
    await s.careteam.add_clinician(nurse, "Nurse Lin")
    issued = await s.enrollment.create_invite("P-902", clinician_telegram_id=DR, days=7)
    # A clinician's /start is answered as a clinician; clinic IT binds their patient side.
    async with s.db.transaction() as tx:
        await tx.execute(
            "UPDATE patients SET telegram_user_id = ?, chat_id = ?, status = 'active', "
            "consented_at = '2026-11-01T00:00:00+00:00' WHERE label = 'P-902'",
            (nurse, nurse),
        )
        await tx.execute(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "SELECT id, ?, 'agreed', '2026-11-01T00:00:00+00:00' FROM patients "
            "WHERE label = 'P-902'",
            (s.settings.consent_version,),
        )
    del issued
    await app.process_update(text_update(app.bot, nurse, "i want to kill myself"))
    alerts = await s.db.fetchall("SELECT kind FROM alerts")
    assert [a["kind"] for a in alerts] == ["crisis"]
    api.clear()
    await app.process_update(text_update(app.bot, nurse, "/sos"))
    assert any(api.buttons(p) for p in api.sent(nurse)), "the offer to alert the team"
