"""Flow state kept in SQLite: start, read, advance, finish, expiry, and the flows' own checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.container import Services, build_services
from bot.services.flows import RUN_KEY, check_text, match_zone, parse_one_time
from bot.services.schedules import ScheduleError
from bot.storage.flows import decode_data, encode_data

CLINICIAN = 9001
OTHER_CLINICIAN = 9002
USER = 5001


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test says so."""
    return ManualClock(datetime(2026, 3, 2, 14, 0, tzinfo=UTC))


@pytest.fixture
async def services(settings: Settings, clock: ManualClock) -> AsyncIterator[Services]:
    """Services on a migrated database, on the manual clock."""
    built = build_services(settings, clock)
    await built.db.connect()
    await built.db.migrate()
    yield built
    await built.db.close()


async def test_started_flow_is_read_back_with_its_step_and_answers(services: Services) -> None:
    """A started flow is stored with its name, step, answers and a run token."""
    started = await services.flows.start(USER, "addmed", "name", {"patient_id": 7})
    flow = await services.flows.get(USER)
    assert flow is not None
    assert (flow.name, flow.step, flow.number("patient_id")) == ("addmed", "name", 7)
    assert flow.text(RUN_KEY) == started.text(RUN_KEY) != ""


async def test_advancing_merges_new_answers_into_the_old_ones(services: Services) -> None:
    """Advancing moves to the new step and keeps every earlier answer and the run token."""
    started = await services.flows.start(USER, "addmed", "name", {"patient_id": 7})
    await services.flows.advance(USER, "dose", {"name": "Buprenorphine"})
    advanced = await services.flows.advance(USER, "times", {"dose": "8 mg"})
    assert advanced is not None
    flow = await services.flows.get(USER)
    assert flow == advanced
    assert flow.step == "times"
    assert dict(flow.data) == {
        "patient_id": 7,
        "name": "Buprenorphine",
        "dose": "8 mg",
        RUN_KEY: started.text(RUN_KEY),
    }


async def test_starting_again_replaces_the_open_flow_with_a_new_run(services: Services) -> None:
    """A new flow replaces the user's open one, answers and run token included."""
    first = await services.flows.start(USER, "addmed", "dose", {"name": "Naltrexone"})
    second = await services.flows.start(USER, "addtms", "patient")
    flow = await services.flows.get(USER)
    assert flow is not None
    assert (flow.name, flow.step, flow.text("name")) == ("addtms", "patient", "")
    assert second.text(RUN_KEY) != first.text(RUN_KEY)


async def test_flows_of_different_users_are_kept_apart(services: Services) -> None:
    """Each user has their own flow; ending one leaves the other."""
    await services.flows.start(USER, "settings", "zone")
    await services.flows.start(CLINICIAN, "addmed", "patient")
    await services.flows.finish(USER)
    assert await services.flows.get(USER) is None
    assert await services.flows.get(CLINICIAN) is not None


async def test_finishing_ends_the_flow_and_returns_what_was_open(services: Services) -> None:
    """Finishing returns the flow that was open and leaves nothing; a second finish finds none."""
    await services.flows.start(USER, "addmed", "dose", {"name": "Naltrexone"})
    ended = await services.flows.finish(USER)
    assert ended is not None
    assert (ended.name, ended.step, ended.text("name")) == ("addmed", "dose", "Naltrexone")
    assert await services.flows.get(USER) is None
    assert await services.flows.finish(USER) is None


async def test_flow_silent_for_thirty_minutes_is_no_longer_open(
    services: Services, clock: ManualClock
) -> None:
    """A flow is open for 30 minutes after its last answer; after that it is expired once."""
    await services.flows.start(USER, "addmed", "name")
    clock.advance(timedelta(minutes=29))
    assert await services.flows.advance(USER, "dose", {"name": "Naltrexone"}) is not None
    clock.advance(timedelta(minutes=29))
    assert await services.flows.get(USER) is not None, "each answer restarts the 30 minutes"
    assert await services.flows.take_expired(USER) is None
    clock.advance(timedelta(minutes=2))
    assert await services.flows.get(USER) is None
    expired = await services.flows.take_expired(USER)
    assert expired is not None
    assert expired.text("name") == "Naltrexone"
    assert await services.flows.take_expired(USER) is None


async def test_advancing_an_expired_flow_changes_nothing(
    services: Services, clock: ManualClock
) -> None:
    """An answer to a flow that went silent too long is not stored."""
    await services.flows.start(USER, "addmed", "name")
    clock.advance(timedelta(minutes=31))
    assert await services.flows.advance(USER, "dose", {"name": "Naltrexone"}) is None
    expired = await services.flows.take_expired(USER)
    assert expired is not None
    assert expired.step == "name"


async def test_sweep_ends_only_the_silent_flows(services: Services, clock: ManualClock) -> None:
    """The idle sweep removes flows silent for 30 minutes and keeps the recent ones."""
    await services.flows.start(USER, "settings", "zone")
    clock.advance(timedelta(minutes=20))
    await services.flows.start(CLINICIAN, "addmed", "patient")
    clock.advance(timedelta(minutes=15))
    assert await services.flows.expire_idle() == 1
    assert await services.flows.take_expired(USER) is None
    assert await services.flows.get(CLINICIAN) is not None


async def test_flow_survives_a_new_process_on_the_same_database(
    services: Services, settings: Settings, clock: ManualClock
) -> None:
    """A flow stored by one process is read back by the next one on the same file."""
    started = await services.flows.start(USER, "addmed", "dose", {"name": "Acamprosate"})
    await services.db.close()
    again = build_services(settings, clock)
    await again.db.connect()
    try:
        flow = await again.flows.get(USER)
    finally:
        await again.db.close()
    await services.db.connect()
    assert flow is not None
    assert (flow.step, flow.text("name"), flow.text(RUN_KEY)) == (
        "dose",
        "Acamprosate",
        started.text(RUN_KEY),
    )


def test_stored_answers_keep_only_text_numbers_and_nulls() -> None:
    """Decoding drops values of other types and survives text that is not a JSON object."""
    assert decode_data('{"a": "x", "b": 3, "c": null, "d": true, "e": [1], "f": 1.5}') == {
        "a": "x",
        "b": 3,
        "c": None,
    }
    assert decode_data("not json") == {}
    assert decode_data("[1, 2]") == {}
    assert decode_data(encode_data({"name": "Naltrexona 50 mg", "n": 2})) == {
        "name": "Naltrexona 50 mg",
        "n": 2,
    }


async def test_a_clinician_reaches_only_patients_on_their_care_team(services: Services) -> None:
    """Picking a patient, by id or by label, works only for the clinician's own patients."""
    await services.careteam.add_clinician(CLINICIAN, "Dr. Rivera")
    await services.careteam.add_clinician(OTHER_CLINICIAN, "Dr. Okafor")
    for label, telegram_id in (("P-001", CLINICIAN), ("P-002", OTHER_CLINICIAN)):
        await services.enrollment.create_invite(label, clinician_telegram_id=telegram_id, days=7)
    rivera = await services.careteam.clinician_for_user(CLINICIAN)
    assert rivera is not None
    own = await services.flows.own_patients(rivera)
    assert [p.label for p in own] == ["P-001"]
    other = await services.schedules.patient("P-002")
    assert await services.flows.own_patient(rivera, own[0].id) == own[0]
    assert await services.flows.own_patient(rivera, other.id) is None
    assert await services.flows.own_patient(rivera, 999_999) is None
    assert await services.flows.own_patient_by_label(rivera, " P-001 ") == own[0]
    assert await services.flows.own_patient_by_label(rivera, "P-002") is None


def test_zone_names_are_matched_whatever_their_case_and_spaces() -> None:
    """A typed zone is matched to its IANA name; an unknown one is refused with the reason."""
    assert match_zone("America/New_York") == "America/New_York"
    assert match_zone(" america/new york ") == "America/New_York"
    with pytest.raises(ScheduleError, match="not a time zone"):
        match_zone("Mars/Olympus_Mons")


def test_one_time_of_day_is_read_and_two_are_refused() -> None:
    """A check-in or session time is exactly one time of day."""
    assert parse_one_time("7:30 pm") == "19:30"
    with pytest.raises(ScheduleError, match="one time"):
        parse_one_time("08:00, 20:00")
    with pytest.raises(ScheduleError):
        parse_one_time("25:00")


def test_typed_names_are_tidied_and_limited_as_when_saving() -> None:
    """Names, doses and locations are tidied; an over-long one is refused, naming the field."""
    assert check_text("  Buprenorphine   8 mg ", "dose") == "Buprenorphine 8 mg"
    with pytest.raises(ScheduleError, match="medication name is longer than 80"):
        check_text("x" * 81, "medication name")
