"""Consent a patient can withdraw, come back after, and is asked again when its text changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.clock import ManualClock
from bot.models import PatientStatus
from bot.services.enrollment import hash_code
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
PAT = 7801
DR = 9801
START = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


async def enrol(app: App) -> int:
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Vega")
    issued = await s.enrollment.create_invite("P-780", clinician_telegram_id=DR, days=7)
    await app.process_update(text_update(app.bot, PAT, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, PAT, "c:yes"))
    await s.schedules.add_medication("P-780", name="Naltrexone", dose="50 mg", times="20:00")
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    return patient.id


async def leave(app: App) -> None:
    await app.process_update(text_update(app.bot, PAT, "/settings"))
    await app.process_update(callback_update(app.bot, PAT, "st:leave"))
    await app.process_update(callback_update(app.bot, PAT, "st:leave_yes"))


async def test_leaving_stops_reminders_and_prompts_and_tells_the_team(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Withdrawn: status and consent row recorded, pending rows cancelled, the team alerted."""
    s = svc(clocked_app)
    patient_id = await enrol(clocked_app)
    await s.reminders.plan()
    pending = await s.db.fetchall(
        "SELECT kind FROM deliveries WHERE patient_id = ? AND status = 'pending'", (patient_id,)
    )
    assert {r["kind"] for r in pending} >= {"dose", "checkin"}
    await leave(clocked_app)
    assert "You have left the program" in api.of("editMessageText")[-1]["text"]
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.WITHDRAWN
    decisions = await s.db.fetchall("SELECT decision FROM consents ORDER BY id")
    assert [r["decision"] for r in decisions] == ["agreed", "withdrawn"]
    await s.reminders.plan()
    left = await s.db.fetchall(
        "SELECT kind FROM deliveries WHERE patient_id = ? AND status = 'pending' "
        "AND kind != 'alert'",
        (patient_id,),
    )
    assert left == []
    alerts = await s.db.fetchall("SELECT kind FROM alerts")
    assert [a["kind"] for a in alerts] == ["withdrawn"]


async def test_after_leaving_only_crisis_help_works_and_a_check_in_is_refused(
    clocked_app: App, api: LocalBotApi
) -> None:
    """/checkin is refused with how to come back; a crisis is still answered and alerted."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await leave(clocked_app)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, "/checkin"))
    assert "You have left the program" in api.last_text(PAT)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, "i want to kill myself"))
    assert any("988" in t for t in api.texts(PAT)[-3:])
    kinds = [r["kind"] for r in await s.db.fetchall("SELECT kind FROM alerts ORDER BY id")]
    assert kinds[0] == "withdrawn"
    assert any(k.startswith("crisis") for k in kinds[1:])


async def test_a_new_invite_brings_a_patient_who_left_back_through_consent(
    clocked_app: App, api: LocalBotApi
) -> None:
    """The team re-invites the same label; /start with it asks for consent; agreeing resumes."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await leave(clocked_app)
    issued = await s.enrollment.create_invite("P-780", clinician_telegram_id=DR, days=7)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, f"/start {issued.code}"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, "c:yes"))
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE


async def test_someone_elses_invite_does_not_bring_a_patient_back(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A withdrawn patient using another label's code stays withdrawn."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await leave(clocked_app)
    other = await s.enrollment.create_invite("P-781", clinician_telegram_id=DR, days=7)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, f"/start {other.code}"))
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.WITHDRAWN


async def test_a_new_consent_version_is_asked_before_anything_more_is_collected(
    clocked_app: App, api: LocalBotApi
) -> None:
    """After the consent text changes, /checkin shows the consent screen until they agree."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    s.enrollment.consent_version = "2027-01-1"
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, "/checkin"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    assert await s.db.fetchall("SELECT * FROM checkins") == []
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, "c:yes"))
    versions = await s.db.fetchall("SELECT version, decision FROM consents ORDER BY id")
    assert [(r["version"], r["decision"]) for r in versions][-1] == ("2027-01-1", "agreed")
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, "/checkin"))
    assert "craving" in api.last_text(PAT).lower()


async def test_declining_a_new_consent_version_stops_collection(
    clocked_app: App, clock: ManualClock
) -> None:
    """ "No thanks" to the new text: the patient is declined and no reminder is planned."""
    s = svc(clocked_app)
    patient_id = await enrol(clocked_app)
    s.enrollment.consent_version = "2027-01-1"
    await clocked_app.process_update(callback_update(clocked_app.bot, PAT, "c:no"))
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.DECLINED
    await s.reminders.replan_patient(patient_id)
    clock.advance(timedelta(hours=1))
    await s.reminders.plan()
    pending = await s.db.fetchall(
        "SELECT * FROM deliveries WHERE patient_id = ? AND status = 'pending'", (patient_id,)
    )
    assert pending == []


async def test_the_digest_lists_a_patient_who_left_by_status_only(clocked_app: App) -> None:
    """After withdrawal the digest shows "withdrawn" and no figure, even from before."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, "/checkin"))
    await leave(clocked_app)
    clinician = await s.careteam.clinician_for_user(DR)
    assert clinician is not None
    digest = await s.digests.build_weekly_digest(clinician, START.date())
    (week,) = digest.patients
    assert week.status == "withdrawn"
    assert (week.checkins_done, week.doses_scheduled, week.reasons) == (0, 0, ())
    (line,) = [p for p in s.renderer.message_parts(digest, "en")[0].splitlines() if "P-780" in p]
    assert "check-ins" not in line


async def test_an_enrollment_code_that_looks_like_od_is_not_a_crisis(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A random code such as "1atsRqOdVLTiy_Od" enrols; the safety net does not read it."""
    s = svc(clocked_app)
    await s.careteam.add_clinician(DR, "Dr. Vega")
    await s.enrollment.create_invite("P-790", clinician_telegram_id=DR, days=7)
    code = "1atsRqOdVLTiy_Od"
    async with s.db.transaction() as tx:
        await tx.execute("UPDATE invites SET code_hash = ?", (hash_code(code),))
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, f"/start {code}"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    assert await s.db.fetchall("SELECT * FROM alerts") == []


async def test_the_consent_screen_says_telegram_sees_who_the_patient_talks_to(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Part 2: the patient is told Telegram can see they talk to a treatment program's bot."""
    s = svc(clocked_app)
    await s.careteam.add_clinician(DR, "Dr. Vega")
    issued = await s.enrollment.create_invite("P-791", clinician_telegram_id=DR, days=7)
    await clocked_app.process_update(text_update(clocked_app.bot, PAT, f"/start {issued.code}"))
    assert "can see that you are talking with your treatment program's bot" in api.last_text(PAT)


async def test_an_export_carries_the_notice_against_redisclosure(clocked_app: App) -> None:
    """`companion export` and /mydata files carry the 42 CFR part 2 notice."""
    s = svc(clocked_app)
    await enrol(clocked_app)
    export = await s.privacy.export_for_label("P-780")
    assert "42 CFR part 2 prohibits" in export.document["notice"]
