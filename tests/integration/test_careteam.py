"""The care team's side in process: digest, /digest, /patient, data alerts, escalation, audit."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.models import Clinician
from bot.services.reports import MESSAGE_LIMIT
from bot.storage.checkins import CheckinRepository
from scheduler.dispatch import Dispatcher
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.updates import callback_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]
DR = 9501
COLLEAGUE = 9502
LEAD = 9503
FIRST_PATIENT = 7501
STRANGER = 4242
# Monday 2026-11-30 08:00 in New York is 13:00 UTC.
MONDAY_8AM = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
START = MONDAY_8AM - timedelta(days=8)  # Sunday 22nd, 08:00


@pytest.fixture
def clock() -> ManualClock:
    """A clock the tests move by hand."""
    return ManualClock(START)


def dispatcher(app: App) -> Dispatcher:
    s = svc(app)
    return Dispatcher(bot=app.bot, reminders=s.reminders, clock=s.clock, digests=s.weekly)


async def eventually(found: Callable[[], list[Any]], within: float = 5.0) -> list[Any]:
    """Wait for a background task's result (the chart is drawn off the update's path)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not (result := found()):
        assert loop.time() < deadline, "nothing arrived in time"
        await asyncio.sleep(0.05)
    return result


async def run_dispatch(d: Dispatcher) -> None:
    await d.tick()
    await d.drain()


async def clinicians(app: App) -> dict[int, Clinician]:
    s = svc(app)
    await s.careteam.add_clinician(DR, "Dr. Lee")
    await s.careteam.add_clinician(COLLEAGUE, "Dr. Ortiz")
    await s.careteam.add_clinician(LEAD, "Dr. Park", role="admin")
    found = {}
    for telegram_id in (DR, COLLEAGUE, LEAD):
        clinician = await s.careteam.clinician_for_user(telegram_id)
        assert clinician is not None
        found[telegram_id] = clinician
    return found


async def enrol(app: App, label: str, number: int, clinician: int = DR) -> int:
    s = svc(app)
    issued = await s.enrollment.create_invite(label, clinician_telegram_id=clinician, days=7)
    user = FIRST_PATIENT + number
    await app.process_update(text_update(app.bot, user, f"/start {issued.code}"))
    await app.process_update(callback_update(app.bot, user, "c:yes"))
    patient = await s.enrollment.patient_for_user(user)
    assert patient is not None
    return patient.id


async def answer_week(
    app: App, clock: ManualClock, label: str, *, used_on: tuple[int, ...]
) -> None:
    """Live a week: plan each day, take each dose, check in (craving 3, mood 6)."""
    s = svc(app)
    patient = await s.schedules.patient(label)
    for offset in range(1, 8):  # Mon 23 .. Sun 29
        day = date(2026, 11, 22) + timedelta(days=offset)
        clock.set(datetime(2026, 11, 22, 11, tzinfo=UTC) + timedelta(days=offset))
        await s.reminders.plan()
        for delivery in await s.reminders.deliveries.of_patient_day(patient.id, "dose", str(day)):
            clock.set(delivery.due_at + timedelta(minutes=5))
            async with s.db.transaction() as tx:
                await s.reminders.deliveries.answer(tx, delivery.id, "taken", None, clock.now())
        clock.set(datetime(2026, 11, 23, 1, 30, tzinfo=UTC) + timedelta(days=offset))
        async with s.db.transaction() as tx:
            await CheckinRepository(s.db).record(
                tx, patient.id, day, clock.now(), craving=3, mood=6, used=offset in used_on
            )


async def test_a_digest_counts_a_lived_week_and_audits_each_patient_read(
    clocked_app: App, clock: ManualClock
) -> None:
    """Doses, check-ins and use from real rows; one audit row per patient the digest read."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-201", 1)
    await enrol(clocked_app, "P-202", 2)
    for label in ("P-201", "P-202"):
        await s.schedules.add_medication(label, name="Suboxone", dose="8 mg", times="08:00")
    await answer_week(clocked_app, clock, "P-201", used_on=(2, 4))
    await answer_week(clocked_app, clock, "P-202", used_on=())
    clock.set(MONDAY_8AM)
    digest = await s.digests.build_weekly_digest(team[DR], date(2026, 11, 29))
    assert [w.patient.label for w in digest.patients] == ["P-201", "P-202"]  # flagged first
    first, second = digest.patients
    assert (first.checkins_done, first.checkins_expected) == (7, 7)
    assert (first.doses_taken, first.doses_scheduled) == (7, 7)
    assert first.use_days == 2
    assert [r.code for r in first.reasons] == ["use"]
    assert not second.flagged
    audit = await s.db.fetchall(
        "SELECT actor_kind, actor_id, action, patient_id FROM audit_log "
        "WHERE action = 'digest.read' ORDER BY patient_id"
    )
    assert [(a["actor_kind"], a["actor_id"]) for a in audit] == [("clinician", team[DR].id)] * 2
    assert {a["patient_id"] for a in audit} == {first.patient.id, second.patient.id}


async def test_a_clinician_sees_their_team_and_an_admin_sees_everyone(clocked_app: App) -> None:
    """Dr. Lee's digest has her patients; Dr. Ortiz's his; the admin's all; invites left out."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-211", 1, DR)
    await enrol(clocked_app, "P-212", 2, COLLEAGUE)
    await s.enrollment.create_invite("P-213", clinician_telegram_id=DR, days=7)  # not joined
    week_end = date(2026, 11, 29)

    async def labels(telegram_id: int) -> list[str]:
        digest = await s.digests.build_weekly_digest(team[telegram_id], week_end)
        return sorted(w.patient.label for w in digest.patients)

    assert await labels(DR) == ["P-211"]
    assert await labels(COLLEAGUE) == ["P-212"]
    assert await labels(LEAD) == ["P-211", "P-212"]


async def test_patients_lists_the_team_and_for_an_admin_everyone_audited(
    clocked_app: App, api: LocalBotApi
) -> None:
    """/patients: Dr. Lee her patient, the admin both (as in the digest); each read audited."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-215", 1, DR)
    await enrol(clocked_app, "P-216", 2, COLLEAGUE)
    api.clear()
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/patients"))
    assert "P-215" in api.last_text(DR)
    assert "P-216" not in api.last_text(DR)
    await clocked_app.process_update(text_update(clocked_app.bot, LEAD, "/patients"))
    assert "P-215" in api.last_text(LEAD)
    assert "P-216" in api.last_text(LEAD)
    audit = await s.db.fetchall(
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'patients.list' AND actor_id = ?",
        (team[LEAD].id,),
    )
    assert audit[0]["n"] == 2


async def test_an_erased_patient_is_gone_from_the_next_digest(clocked_app: App) -> None:
    """After /delete's erasure the patient is not in any digest, and the digest still builds."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-221", 1)
    keep = await enrol(clocked_app, "P-222", 2)
    patient = await s.enrollment.patient_for_user(FIRST_PATIENT + 1)
    assert patient is not None
    token = await s.privacy.erasure_token(patient)
    await s.privacy.erase_for_user(FIRST_PATIENT + 1, patient.id, token)
    digest = await s.digests.build_weekly_digest(team[DR], date(2026, 11, 29))
    assert [w.patient.id for w in digest.patients] == [keep]


async def test_the_message_splits_on_patient_boundaries_under_telegrams_limit(
    clocked_app: App, clock: ManualClock
) -> None:
    """Sixty flagged patients: every part is under 4,096, starts with the header, cuts no one."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    for number in range(60):
        await enrol(clocked_app, f"P-3{number:02d}", number)
    clock.set(MONDAY_8AM)
    digest = await s.digests.build_weekly_digest(team[DR], date(2026, 11, 29))
    assert len(digest.flagged) == 60  # never answered a check-in: flagged for it
    parts = s.renderer.message_parts(digest, "en")
    assert len(parts) > 1
    seen = []
    for number, part in enumerate(parts, 1):
        assert len(part) <= MESSAGE_LIMIT < 4096
        assert part.startswith("📋 <b>Weekly digest</b>")
        assert "42 CFR part 2 prohibits" in part
        if number > 1:
            assert f"part {number}" in part
        blocks = re.findall(r"^\d+\. <b>(P-3\d\d)</b>", part, flags=re.MULTILINE)
        seen.extend(blocks)
    assert seen == sorted(seen) == [f"P-3{n:02d}" for n in range(60)]


async def test_the_html_report_is_self_contained_and_the_csv_has_a_row_per_patient(
    clocked_app: App,
) -> None:
    """Charts embedded as data, no outside address; CSV: header, one row each, the notice."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-231", 1)
    await enrol(clocked_app, "P-232", 2)
    digest = await s.digests.build_weekly_digest(team[DR], date(2026, 11, 29))
    files = await s.renderer.render(digest, "en", s.charts)
    html = files.report.decode()
    assert "data:image/png;base64," in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "42 CFR part 2" in html
    assert "P-231" in html
    rows = list(csv.reader(io.StringIO(files.csv.decode("utf-8-sig"))))
    assert rows[0][0] == "label"
    assert sorted(r[0] for r in rows[1:3]) == ["P-231", "P-232"]
    assert rows[-1] == [
        "notice",
        "42 CFR part 2 prohibits unauthorized use or disclosure of these records.",
    ]
    assert files.photos[0].png.startswith(b"\x89PNG")


async def test_an_empty_clinic_gets_a_sensible_digest(clocked_app: App) -> None:
    """A clinician with no patients: one message that says so, a report, a CSV with no rows."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    digest = await s.digests.build_weekly_digest(team[COLLEAGUE], date(2026, 11, 29))
    files = await s.renderer.render(digest, "en", s.charts)
    assert len(files.messages) == 1
    assert "no enrolled patients yet" in files.messages[0]
    assert files.photos == ()
    assert "No enrolled patients yet" in files.report.decode()


@pytest.mark.parametrize("locale", ["en", "es"])
async def test_a_patient_who_paused_reminders_is_shown_as_paused(
    clocked_app: App, api: LocalBotApi, locale: str
) -> None:
    """/pause: the digest and /patient say "paused" instead of failing on the status."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-245", 1)
    await clocked_app.process_update(text_update(clocked_app.bot, FIRST_PATIENT + 1, "/pause"))
    digest = await s.digests.build_weekly_digest(team[DR], date(2026, 11, 29))
    files = await s.renderer.render(digest, locale, s.charts)
    assert "paused" in files.messages[0]
    assert "paused" in files.csv.decode("utf-8-sig")
    api.clear()
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/patient P-245"))
    assert "paused" in api.last_text(DR)


async def test_a_spanish_clinician_gets_the_digest_in_spanish(clocked_app: App) -> None:
    """The clinician's language picks the templates: message, report and CSV headers."""
    s = svc(clocked_app)
    await s.careteam.add_clinician(DR, "Dra. Ruiz", locale="es")
    await enrol(clocked_app, "P-241", 1)
    clinician = await s.careteam.clinician_for_user(DR)
    assert clinician is not None
    assert clinician.locale == "es"
    digest = await s.digests.build_weekly_digest(clinician, date(2026, 11, 29))
    files = await s.renderer.render(digest, "es", s.charts)
    assert "42 CFR parte 2" in files.messages[0]
    assert 'lang="es"' in files.report.decode()
    assert "42 CFR parte 2" in files.csv.decode("utf-8-sig")


async def test_slash_digest_queues_a_delivery_that_sends_text_charts_and_protected_files(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """/digest answers at once; the dispatcher sends message, album and files, all protected."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-251", 1)
    await enrol(clocked_app, "P-252", 2)
    clock.set(MONDAY_8AM)  # a week without check-ins: both need attention, both get a chart
    api.clear()
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/digest"))
    assert "Preparing your digest" in api.last_text(DR)
    await run_dispatch(dispatcher(clocked_app))
    digest_texts = [p for p in api.sent(DR) if "Weekly digest" in str(p["text"])]
    assert len(digest_texts) == 1
    assert digest_texts[0]["protect_content"] is True
    albums = api.of("sendMediaGroup")
    assert len(albums) == 2  # the charts (cohort + 2 flagged), then the two files
    assert all(a["protect_content"] is True for a in albums)
    row = await s.db.fetchone("SELECT status, progress FROM deliveries WHERE kind = 'digest'")
    assert row is not None
    assert (row["status"], row["progress"]) == ("sent", 3)


async def test_a_digest_interrupted_after_its_text_resumes_without_sending_it_again(
    clocked_app: App, api: LocalBotApi
) -> None:
    """A crash after part one: on restart the row is resent from part two; the text once."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-261", 1)
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/digest"))
    row = await s.db.fetchone("SELECT id FROM deliveries WHERE kind = 'digest'")
    assert row is not None
    async with s.db.transaction() as tx:  # as a crash leaves it: claimed, one part sent
        await tx.execute(
            "UPDATE deliveries SET status = 'sending', progress = 1, unknown_sends = 1 "
            "WHERE id = ?",
            (row["id"],),
        )
    api.clear()
    d = dispatcher(clocked_app)
    await d.recover()
    await run_dispatch(d)
    assert not [p for p in api.sent(DR) if "Weekly digest" in str(p["text"])]
    assert len(api.of("sendMediaGroup")) + len(api.of("sendPhoto")) == 2
    done = await s.db.fetchone("SELECT status FROM deliveries WHERE id = ?", (row["id"],))
    assert done is not None
    assert done["status"] == "sent"


async def test_the_scheduled_digest_is_planned_once_per_clinician_at_monday_8am(
    clocked_app: App, clock: ManualClock
) -> None:
    """One row per active clinician, due at 08:00 New York time; planning again adds nothing."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    clock.set(MONDAY_8AM - timedelta(hours=20))
    await s.weekly.plan()
    await s.weekly.plan()
    rows = await s.db.fetchall(
        "SELECT chat_id, due_at, local_date FROM deliveries WHERE kind = 'digest' ORDER BY chat_id"
    )
    assert [r["chat_id"] for r in rows] == [DR, COLLEAGUE, LEAD]
    assert {r["due_at"] for r in rows} == {"2026-11-30T13:00:00+00:00"}
    assert {r["local_date"] for r in rows} == {"2026-11-29"}


async def test_the_digest_slot_follows_the_clock_across_the_autumn_change(
    clocked_app: App, clock: ManualClock
) -> None:
    """Monday Nov 2 08:00 is 13:00 UTC after New York fell back, Oct 26 was 12:00 UTC."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    clock.set(datetime(2026, 10, 25, 18, tzinfo=UTC))
    await s.weekly.plan()
    clock.set(datetime(2026, 11, 1, 18, tzinfo=UTC))
    await s.weekly.plan()
    rows = await s.db.fetchall(
        "SELECT DISTINCT due_at FROM deliveries WHERE kind = 'digest' ORDER BY due_at"
    )
    assert [r["due_at"] for r in rows] == [
        "2026-10-26T12:00:00+00:00",
        "2026-11-02T13:00:00+00:00",
    ]


async def test_patient_command_shows_figures_events_and_a_chart_to_the_team(
    clocked_app: App, api: LocalBotApi
) -> None:
    """/patient LABEL: the week's figures, the last events and the 28-day chart; audited."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    patient_id = await enrol(clocked_app, "P-271", 1)
    await clocked_app.process_update(
        text_update(clocked_app.bot, FIRST_PATIENT + 1, "i want to kill myself")
    )
    api.clear()
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/patient P-271"))
    text = api.last_text(DR)
    assert "P-271" in text
    assert "crisis message" in text
    assert "42 CFR part 2" in text
    audit = await s.db.fetchall(
        "SELECT actor_id, patient_id FROM audit_log WHERE action = 'patient.trend'"
    )
    assert [(a["patient_id"]) for a in audit] == [patient_id]
    photo = await eventually(lambda: api.of("sendPhoto"))
    assert photo[0]["protect_content"] is True


async def test_unknown_label_and_another_teams_patient_get_the_same_answer(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Not on my team, or no such label: one and the same reply, and no audit row."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-281", 1, COLLEAGUE)
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/patient P-281"))
    not_mine = api.last_text(DR).replace("P-281", "LABEL")
    await clocked_app.process_update(text_update(clocked_app.bot, DR, "/patient P-999"))
    unknown = api.last_text(DR).replace("P-999", "LABEL")
    assert not_mine == unknown
    assert await s.db.fetchall("SELECT * FROM audit_log WHERE action = 'patient.trend'") == []


@pytest.mark.parametrize(
    "command", ["/schedule", "/pause", "/resume", "/learn", "/checkin", "/settings"]
)
async def test_a_clinician_who_sends_a_patients_command_is_answered(
    clocked_app: App, api: LocalBotApi, command: str
) -> None:
    """A patient's command from a clinician gets "this is for patients", never silence."""
    await clinicians(clocked_app)
    api.clear()
    await clocked_app.process_update(text_update(clocked_app.bot, DR, command))
    assert "for patients of Harbor Clinic" in api.last_text(DR)


@pytest.mark.parametrize("command", ["/digest", "/patient P-291", "/patients", "/invite P-299"])
async def test_patients_and_strangers_learn_nothing_from_clinician_commands(
    clocked_app: App, api: LocalBotApi, command: str
) -> None:
    """A patient and a stranger are refused; no label, no queued digest, no audit row."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-291", 1)
    before = await s.db.fetchone("SELECT COUNT(*) AS n FROM audit_log")
    for user in (FIRST_PATIENT + 1, STRANGER):
        await clocked_app.process_update(text_update(clocked_app.bot, user, command))
        answer = api.last_text(user)
        assert "P-291" not in answer
        assert "P-299" not in answer
        assert "Harbor Clinic" in answer  # the refusal names the clinic, nothing else
        assert "t.me/" not in answer
    after = await s.db.fetchone("SELECT COUNT(*) AS n FROM audit_log")
    assert before is not None
    assert after is not None
    assert after["n"] == before["n"]
    assert await s.db.fetchall("SELECT * FROM deliveries WHERE kind = 'digest'") == []


async def test_data_alerts_are_raised_once_each_and_only_when_switched_on(
    clocked_app: App, clock: ManualClock
) -> None:
    """Use and high craving alert the team once, however often the sweep runs."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    patient_id = await enrol(clocked_app, "P-301", 1)
    async with s.db.transaction() as tx:
        await CheckinRepository(s.db).record(
            tx, patient_id, date(2026, 11, 22), clock.now(), craving=9, mood=3, used=True
        )
    first = await s.watch.sweep()
    again = await s.watch.sweep()
    assert sorted(n.alert.kind for n in first) == ["craving", "use"]
    assert again == []
    queued = await s.db.fetchall(
        "SELECT chat_id FROM deliveries WHERE kind = 'alert' AND ref_id IN "
        "(SELECT id FROM alerts WHERE kind IN ('use', 'craving'))"
    )
    assert sorted(r["chat_id"] for r in queued) == [DR, DR]


async def test_data_alerts_stay_quiet_when_the_clinic_switched_them_off(
    settings: Settings, api: LocalBotApi, clock: ManualClock
) -> None:
    """ALERT_ON_USE=false and ALERT_CRAVING_AT=0: a "yes" and a 10 raise nothing."""
    quiet = settings.model_copy(update={"alert_on_use": False, "alert_craving_at": 0})
    app = build_application(quiet, request=api, clock=clock, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    try:
        await clinicians(app)
        patient_id = await enrol(app, "P-302", 1)
        async with svc(app).db.transaction() as tx:
            await CheckinRepository(svc(app).db).record(
                tx, patient_id, date(2026, 11, 22), clock.now(), craving=10, used=True
            )
        assert await svc(app).watch.sweep(silence=False) == []
    finally:
        assert app.post_shutdown is not None
        await app.post_shutdown(app)
        await app.shutdown()


async def test_a_run_of_missed_doses_alerts_once_and_ran_out_alerts(
    clocked_app: App, clock: ManualClock
) -> None:
    """Three misses in a row alert once (a fourth is the same run); "ran out" alerts too."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    patient_id = await enrol(clocked_app, "P-311", 1)
    await s.schedules.add_medication("P-311", name="Methadone", dose="60 mg", times="08:00")
    deliveries = s.reminders.deliveries
    for offset in range(5):
        clock.set(START + timedelta(days=offset, hours=1))
        await s.reminders.plan()
        day = (START + timedelta(days=offset)).date()
        (dose,) = await deliveries.of_patient_day(patient_id, "dose", str(day))
        clock.set(dose.due_at + timedelta(minutes=1))
        if offset == 0:
            async with s.db.transaction() as tx:
                await deliveries.answer(tx, dose.id, "skipped", "ran_out", clock.now())
        else:
            clock.set(dose.due_at + timedelta(hours=3))  # past its grace, never answered
            await deliveries.expire_overdue(clock.now())
        await s.watch.sweep(silence=False)
    alerts = await s.db.fetchall("SELECT kind, category FROM alerts ORDER BY id")
    assert [(a["kind"], a["category"]) for a in alerts] == [
        ("ran_out", "Methadone"),
        ("missed_doses", "3"),
    ]


async def test_days_without_a_check_in_alert_once_per_silence(
    clocked_app: App, clock: ManualClock
) -> None:
    """Three days silent: one alert; a check-in, then silence again: a new one."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    patient_id = await enrol(clocked_app, "P-321", 1)
    clock.advance(timedelta(days=3))
    assert [n.alert.kind for n in await s.watch.sweep()] == ["no_checkin"]
    assert await s.watch.sweep() == []
    async with s.db.transaction() as tx:
        await CheckinRepository(s.db).record(
            tx, patient_id, (clock.now() - timedelta(hours=6)).date(), clock.now(), mood=5
        )
    clock.advance(timedelta(days=3))
    assert [n.alert.kind for n in await s.watch.sweep()] == ["no_checkin"]


async def test_an_unacknowledged_crisis_alert_escalates_to_every_clinician_once(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """After 15 minutes unacknowledged, every active clinician gets it, marked escalated."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-331", 1)
    await clocked_app.process_update(
        text_update(clocked_app.bot, FIRST_PATIENT + 1, "i want to kill myself")
    )
    await run_dispatch(dispatcher(clocked_app))  # the first page, to the care team
    clock.advance(timedelta(minutes=14))
    assert await s.watch.escalate() == []
    clock.advance(timedelta(minutes=2))
    assert len(await s.watch.escalate()) == 1
    assert await s.watch.escalate() == []
    api.clear()
    await run_dispatch(dispatcher(clocked_app))
    escalated = {
        int(p["chat_id"]) for p in api.sent() if "Not acknowledged after 15 minutes" in p["text"]
    }
    assert escalated == {DR, COLLEAGUE, LEAD}


async def test_an_acknowledged_alert_does_not_escalate(
    clocked_app: App, clock: ManualClock
) -> None:
    """Dr. Lee acknowledges within the wait: the alert is hers and never escalates."""
    s = svc(clocked_app)
    team = await clinicians(clocked_app)
    await enrol(clocked_app, "P-341", 1)
    await clocked_app.process_update(
        text_update(clocked_app.bot, FIRST_PATIENT + 1, "i want to kill myself")
    )
    await run_dispatch(dispatcher(clocked_app))
    alert = await s.db.fetchone("SELECT id FROM alerts")
    assert alert is not None
    await clocked_app.process_update(callback_update(clocked_app.bot, DR, f"al:ack:{alert['id']}"))
    clock.advance(timedelta(minutes=30))
    assert await s.watch.escalate() == []
    row = await s.db.fetchone("SELECT acknowledged_by FROM alerts")
    assert row is not None
    assert row["acknowledged_by"] == team[DR].id


async def test_anyone_paged_by_an_escalation_may_acknowledge_and_every_copy_says_who(
    clocked_app: App, api: LocalBotApi, clock: ManualClock
) -> None:
    """Escalated to all: Dr. Ortiz (not on the team) acknowledges; the others' copies say so."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-351", 1)
    await clocked_app.process_update(
        text_update(clocked_app.bot, FIRST_PATIENT + 1, "i want to kill myself")
    )
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    clock.advance(timedelta(minutes=16))
    await s.watch.escalate()
    await run_dispatch(d)
    await run_dispatch(d)
    alert = await s.db.fetchone("SELECT id FROM alerts")
    assert alert is not None
    api.clear()
    await clocked_app.process_update(
        callback_update(clocked_app.bot, COLLEAGUE, f"al:ack:{alert['id']}")
    )

    def marked() -> set[int]:
        edits = api.of("editMessageText")
        return {int(e["chat_id"]) for e in edits if "Acknowledged by Dr. Ortiz" in e["text"]}

    # The copies are edited one after another, each a round trip to the database: wait for
    # two, then a moment more for any copy that should not have been edited.
    await eventually(lambda: [True] if len(marked()) >= 2 else [])
    await asyncio.sleep(0.1)
    assert marked() == {DR, LEAD}


async def test_an_alert_queued_for_a_removed_clinician_goes_to_the_team_as_it_is_now(
    clocked_app: App, api: LocalBotApi
) -> None:
    """Dr. Lee is removed after the alert was queued: she gets nothing, the others get it."""
    s = svc(clocked_app)
    await clinicians(clocked_app)
    await enrol(clocked_app, "P-361", 1)
    await clocked_app.process_update(
        text_update(clocked_app.bot, FIRST_PATIENT + 1, "i want to kill myself")
    )
    assert await s.careteam.remove_clinician(DR)
    api.clear()
    d = dispatcher(clocked_app)
    await run_dispatch(d)
    await run_dispatch(d)
    paged = {int(p["chat_id"]) for p in api.sent() if "possible crisis" in str(p["text"])}
    assert paged == {COLLEAGUE, LEAD}  # nobody left on the team: every active clinician
