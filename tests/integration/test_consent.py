"""Consent a patient can withdraw, come back after, and is asked again when its text changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import Services, build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.models import PatientStatus
from bot.services.enrollment import hash_code
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


@pytest.fixture
async def capp(settings: Settings, api: LocalBotApi, clock: ManualClock) -> AsyncIterator[App]:
    """The Application on a manual clock, without the background jobs."""
    application = build_application(settings, request=api, clock=clock, start_scheduler=False)
    await application.initialize()
    assert application.post_init is not None
    await application.post_init(application)
    yield application
    assert application.post_shutdown is not None
    await application.post_shutdown(application)
    await application.shutdown()


def svc(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


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
    capp: App, api: LocalBotApi
) -> None:
    """Withdrawn: status and consent row recorded, pending rows cancelled, the team alerted."""
    s = svc(capp)
    patient_id = await enrol(capp)
    await s.reminders.plan()
    pending = await s.db.fetchall(
        "SELECT kind FROM deliveries WHERE patient_id = ? AND status = 'pending'", (patient_id,)
    )
    assert {r["kind"] for r in pending} >= {"dose", "checkin"}
    await leave(capp)
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
    capp: App, api: LocalBotApi
) -> None:
    """/checkin is refused with how to come back; a crisis is still answered and alerted."""
    s = svc(capp)
    await enrol(capp)
    await leave(capp)
    await capp.process_update(text_update(capp.bot, PAT, "/checkin"))
    assert "You have left the program" in api.last_text(PAT)
    await capp.process_update(text_update(capp.bot, PAT, "i want to kill myself"))
    assert any("988" in t for t in api.texts(PAT)[-3:])
    kinds = [r["kind"] for r in await s.db.fetchall("SELECT kind FROM alerts ORDER BY id")]
    assert kinds[0] == "withdrawn"
    assert any(k.startswith("crisis") for k in kinds[1:])


async def test_a_new_invite_brings_a_patient_who_left_back_through_consent(
    capp: App, api: LocalBotApi
) -> None:
    """The team re-invites the same label; /start with it asks for consent; agreeing resumes."""
    s = svc(capp)
    await enrol(capp)
    await leave(capp)
    issued = await s.enrollment.create_invite("P-780", clinician_telegram_id=DR, days=7)
    await capp.process_update(text_update(capp.bot, PAT, f"/start {issued.code}"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    await capp.process_update(callback_update(capp.bot, PAT, "c:yes"))
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.ACTIVE


async def test_someone_elses_invite_does_not_bring_a_patient_back(
    capp: App, api: LocalBotApi
) -> None:
    """A withdrawn patient using another label's code stays withdrawn."""
    s = svc(capp)
    await enrol(capp)
    await leave(capp)
    other = await s.enrollment.create_invite("P-781", clinician_telegram_id=DR, days=7)
    await capp.process_update(text_update(capp.bot, PAT, f"/start {other.code}"))
    patient = await s.enrollment.patient_for_user(PAT)
    assert patient is not None
    assert patient.status == PatientStatus.WITHDRAWN


async def test_a_new_consent_version_is_asked_before_anything_more_is_collected(
    capp: App, api: LocalBotApi
) -> None:
    """After the consent text changes, /checkin shows the consent screen until they agree."""
    s = svc(capp)
    await enrol(capp)
    s.enrollment.consent_version = "2027-01-1"
    await capp.process_update(text_update(capp.bot, PAT, "/checkin"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    assert await s.db.fetchall("SELECT * FROM checkins") == []
    await capp.process_update(callback_update(capp.bot, PAT, "c:yes"))
    versions = await s.db.fetchall("SELECT version, decision FROM consents ORDER BY id")
    assert [(r["version"], r["decision"]) for r in versions][-1] == ("2027-01-1", "agreed")
    await capp.process_update(text_update(capp.bot, PAT, "/checkin"))
    assert "craving" in api.last_text(PAT).lower()


async def test_declining_a_new_consent_version_stops_collection(
    capp: App, clock: ManualClock
) -> None:
    """ "No thanks" to the new text: the patient is declined and no reminder is planned."""
    s = svc(capp)
    patient_id = await enrol(capp)
    s.enrollment.consent_version = "2027-01-1"
    await capp.process_update(callback_update(capp.bot, PAT, "c:no"))
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


async def test_the_digest_lists_a_patient_who_left_by_status_only(capp: App) -> None:
    """After withdrawal the digest shows "withdrawn" and no figure, even from before."""
    s = svc(capp)
    await enrol(capp)
    await capp.process_update(text_update(capp.bot, PAT, "/checkin"))
    await leave(capp)
    clinician = await s.careteam.clinician_for_user(DR)
    assert clinician is not None
    digest = await s.digests.build_weekly_digest(clinician, START.date())
    (week,) = digest.patients
    assert week.status == "withdrawn"
    assert (week.checkins_done, week.doses_scheduled, week.reasons) == (0, 0, ())
    (line,) = [p for p in s.renderer.message_parts(digest, "en")[0].splitlines() if "P-780" in p]
    assert "check-ins" not in line


async def test_an_enrollment_code_that_looks_like_od_is_not_a_crisis(
    capp: App, api: LocalBotApi
) -> None:
    """A random code such as "1atsRqOdVLTiy_Od" enrols; the safety net does not read it."""
    s = svc(capp)
    await s.careteam.add_clinician(DR, "Dr. Vega")
    await s.enrollment.create_invite("P-790", clinician_telegram_id=DR, days=7)
    code = "1atsRqOdVLTiy_Od"
    async with s.db.transaction() as tx:
        await tx.execute("UPDATE invites SET code_hash = ?", (hash_code(code),))
    await capp.process_update(text_update(capp.bot, PAT, f"/start {code}"))
    assert "not end-to-end encrypted" in api.last_text(PAT)
    assert await s.db.fetchall("SELECT * FROM alerts") == []


async def test_the_consent_screen_says_telegram_sees_who_the_patient_talks_to(
    capp: App, api: LocalBotApi
) -> None:
    """Part 2: the patient is told Telegram can see they talk to a treatment program's bot."""
    s = svc(capp)
    await s.careteam.add_clinician(DR, "Dr. Vega")
    issued = await s.enrollment.create_invite("P-791", clinician_telegram_id=DR, days=7)
    await capp.process_update(text_update(capp.bot, PAT, f"/start {issued.code}"))
    assert "can see that you are talking with your treatment program's bot" in api.last_text(PAT)


async def test_an_export_carries_the_notice_against_redisclosure(capp: App) -> None:
    """`companion export` and /mydata files carry the 42 CFR part 2 notice."""
    s = svc(capp)
    await enrol(capp)
    export = await s.privacy.export_for_label("P-780")
    assert "42 CFR part 2 prohibits" in export.document["notice"]
