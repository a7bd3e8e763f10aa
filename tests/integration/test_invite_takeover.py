"""/invite cannot take over another care team's patient, nor tell whether a label exists."""

from __future__ import annotations

from typing import Any

import pytest
from telegram.ext import Application

from bot.container import Services
from bot.services.enrollment import EnrollmentError
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
DR = 9601  # the patients' clinician
INTRUDER = 9602  # a clinician of another team
LEAD = 9603  # an admin
PATIENT = 7601
LATECOMER = 7602


def services_of(app: App) -> Services:
    """Return the application's services."""
    found = app.bot_data["services"]
    assert isinstance(found, Services)
    return found


@pytest.fixture
async def team(app: App) -> Services:
    """Three clinicians: Dr. Lee, Dr. Ortiz of another team, and Dr. Park, an admin."""
    s = services_of(app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    await s.careteam.add_clinician(INTRUDER, "Dr. Ortiz")
    await s.careteam.add_clinician(LEAD, "Dr. Park", role="admin")
    return s


async def invite_as(app: App, api: LocalBotApi, clinician: int, label: str) -> str:
    """Send /invite as a clinician and return the answer."""
    await app.process_update(text_update(app.bot, clinician, f"/invite {label}"))
    return api.last_text(clinician)


async def care_team_of(s: Services, label: str) -> list[int]:
    """Return the Telegram ids of a label's care team."""
    rows = await s.db.fetchall(
        "SELECT c.telegram_id FROM care_team t JOIN clinicians c ON c.id = t.clinician_id "
        "JOIN patients p ON p.id = t.patient_id WHERE p.label = ? ORDER BY c.telegram_id",
        (label,),
    )
    return [int(row["telegram_id"]) for row in rows]


@pytest.mark.usefixtures("team")
async def test_another_teams_pending_invite_cannot_be_reissued_by_a_clinician(
    app: App, api: LocalBotApi
) -> None:
    """Dr. Ortiz's /invite of Dr. Lee's pending label is refused; Dr. Lee's link still works."""
    s = services_of(app)
    issued = await s.enrollment.create_invite("P-050", clinician_telegram_id=DR, days=7)
    audit_before = await s.db.fetchall("SELECT id FROM audit_log")

    answer = await invite_as(app, api, INTRUDER, "P-050")

    assert "t.me/" not in answer
    assert "P-050" not in answer, "the refusal does not echo, let alone confirm, the label"
    assert await care_team_of(s, "P-050") == [DR]
    assert await s.db.fetchall("SELECT id FROM audit_log") == audit_before
    await app.process_update(text_update(app.bot, PATIENT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PATIENT, "c:yes"))
    enrolled = await s.enrollment.patient_for_user(PATIENT)
    assert enrolled is not None, "the first link still works"
    assert enrolled.label == "P-050"


@pytest.mark.usefixtures("team")
async def test_the_refusal_is_the_same_for_a_pending_and_an_enrolled_label_of_another_team(
    app: App, api: LocalBotApi
) -> None:
    """Pending or enrolled, another team's label gets one answer that confirms nothing."""
    s = services_of(app)
    await s.enrollment.create_invite("P-051", clinician_telegram_id=DR, days=7)
    enrolled = await s.enrollment.create_invite("P-052", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, PATIENT, f"/start {enrolled.code}"))
    await app.process_update(callback_update(app.bot, PATIENT, "c:yes"))

    pending_answer = await invite_as(app, api, INTRUDER, "P-051")
    enrolled_answer = await invite_as(app, api, INTRUDER, "P-052")

    assert pending_answer == enrolled_answer
    assert "enrolled" not in enrolled_answer
    assert await care_team_of(s, "P-051") == [DR]
    assert await care_team_of(s, "P-052") == [DR]


@pytest.mark.usefixtures("team")
async def test_the_care_team_and_an_admin_may_reissue_a_pending_invite(
    app: App, api: LocalBotApi
) -> None:
    """Dr. Lee re-issues her own label and an admin any label: each new link replaces the last."""
    s = services_of(app)
    first = await s.enrollment.create_invite("P-053", clinician_telegram_id=DR, days=7)

    assert "t.me/" in await invite_as(app, api, DR, "P-053")
    assert "t.me/" in await invite_as(app, api, LEAD, "P-053")
    await app.process_update(text_update(app.bot, LATECOMER, f"/start {first.code}"))
    assert await s.enrollment.patient_for_user(LATECOMER) is None, "the old link is revoked"
    assert await care_team_of(s, "P-053") == [DR, LEAD]


@pytest.mark.usefixtures("team")
async def test_clinic_it_may_reissue_any_invite_from_the_command_line(app: App) -> None:
    """`companion invite` (clinic IT) may re-issue a label for another clinician."""
    s = services_of(app)
    await s.enrollment.create_invite("P-054", clinician_telegram_id=DR, days=7)
    await s.enrollment.create_invite(
        "P-054", clinician_telegram_id=INTRUDER, days=7, actor_kind="cli"
    )
    assert await care_team_of(s, "P-054") == [DR, INTRUDER]


@pytest.mark.usefixtures("team")
async def test_a_label_invited_without_a_clinician_is_not_open_to_every_clinician(
    app: App,
) -> None:
    """A label clinic IT invited with no care team may be re-issued by an admin, not by anyone."""
    s = services_of(app)
    await s.enrollment.create_invite("P-055", clinician_telegram_id=None, days=7)
    with pytest.raises(EnrollmentError):
        await s.enrollment.create_invite(
            "P-055", clinician_telegram_id=DR, days=7, actor_kind="clinician"
        )
    await s.enrollment.create_invite(
        "P-055", clinician_telegram_id=LEAD, days=7, actor_kind="clinician"
    )
    assert await care_team_of(s, "P-055") == [LEAD]
