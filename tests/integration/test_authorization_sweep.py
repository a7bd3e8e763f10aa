"""Authorization sweep: every registered handler, called as everyone who might call it.

The handlers are read from the built Application, so a handler (or a callback pattern, which
names the callback prefixes it takes) added without a line in ``CASES`` fails
``test_every_registered_handler_has_a_case`` with its name. Each case is a probe aimed at one
target patient (label ``P-CANARY7``) and is run, on the same database restored before each, as
seven callers: a stranger, another patient, a deactivated clinician who was on the target's
care team, a clinician on another team, an admin, the assigned clinician, and the target
patient themself. For each caller the sweep observes:

- **sees**: the target's data reached the caller (the target's label, medication or dTMS
  location in a reply, a callback answer or a file, other than text the caller typed), or a
  clinician's read of the target was audited;
- **writes**: a row of the target's changed (any table with a ``patient_id``, the patient row,
  the target's open flow; the audit log is counted as a read, above);
- **leaks**: the target's data went to any chat other than the target's, the care team's or a
  caller allowed to see it;
- that nothing raised, and that every call was one Telegram accepts.

A case lists who sees and who writes; the observed sets must equal them exactly, so a
positive control (the assigned clinician does see; the target's own press does write) proves
each probe reaches real rows, and nobody else gets anything.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services.crypto import generate_key
from bot.services.flows import RUN_KEY
from tests.conftest import TEST_TOKEN
from tests.support.apps import svc
from tests.support.botapi import LocalBotApi
from tests.support.harness import (
    call_strings,
    chat_of,
    feature_for,
    handler_keys,
    install_dispatcher,
    settle,
    watching,
)
from tests.support.telegram_rules import problems
from tests.support.updates import callback_update, media_update, text_update

App = Application[Any, Any, Any, Any, Any, Any]

# Thursday 26 November 2026, 07:00 in New York: the target's 06:30 dTMS session has started,
# the 08:00 dose is still to come.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)

STRANGER = "stranger"
PATIENT = "another patient"
DEACTIVATED = "deactivated clinician"
OTHER_TEAM = "clinician on another team"
ADMIN = "admin clinician"
ASSIGNED = "assigned clinician"
OWNER = "the target patient"
# Refused callers first: they must leave everything as it was, which the restore checks anyway.
ACTORS = (STRANGER, PATIENT, DEACTIVATED, OTHER_TEAM, ADMIN, ASSIGNED, OWNER)
USER_IDS = {
    STRANGER: 4101,
    PATIENT: 5101,
    OWNER: 5102,
    ASSIGNED: 9101,
    OTHER_TEAM: 9102,
    DEACTIVATED: 9103,
    ADMIN: 9104,
}

TARGET_LABEL = "P-CANARY7"
OTHER_LABEL = "P-OTHER1"
TARGET_MEDICATION = "Zentrivex"
TARGET_LOCATION = "Suite Q-77"
CANARIES = (TARGET_LABEL, TARGET_MEDICATION, TARGET_LOCATION)
GROUP_CHAT = -100_555
CRISIS_TEXT = "i took all my pills and i cant breathe"

NOBODY: frozenset[str] = frozenset()
ONLY_OWNER = frozenset({OWNER})
READERS = frozenset({ASSIGNED, ADMIN})  # who may read the target's data: their team and admins
TEAM = frozenset({ASSIGNED})  # who may change it as a clinician: the care team only


# The world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Ids of the target's rows that probes aim at (the same in every copy of the template)."""

    target_id: int
    dose_delivery: int
    appointment_delivery: int
    safety_check: int
    followup: int
    alert: int
    erase_token: str


def sweep_settings(database: Path) -> Settings:
    """Settings for the sweep: notes enabled (so the note question is reachable)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TEST_TOKEN,  # type: ignore[arg-type]
        database_path=database,
        clinic_name="Harbor Clinic",
        clinic_timezone="America/New_York",
        clinic_oncall_phone="555-0100",
        rate_limit_per_chat_seconds=0,
        chart_workers=0,
        data_encryption_key=SecretStr(generate_key()),
    )


async def build_world(app: App) -> World:
    """Two patients on two teams, the target's schedule, check-in, alert and safety rows."""
    s = svc(app)
    ids = USER_IDS
    await s.careteam.add_clinician(ids[ASSIGNED], "Dr. Assigned")
    await s.careteam.add_clinician(ids[OTHER_TEAM], "Dr. Elsewhere")
    await s.careteam.add_clinician(ids[DEACTIVATED], "Dr. Former")
    await s.careteam.add_clinician(ids[ADMIN], "Dr. Admin", role="admin")
    other = await s.enrollment.create_invite(
        OTHER_LABEL, clinician_telegram_id=ids[OTHER_TEAM], days=7
    )
    await enrol(app, ids[PATIENT], other.code)
    # The target's first invite puts the (later deactivated) clinician on the team; clinic IT's
    # second puts the assigned one there too.
    await s.enrollment.create_invite(TARGET_LABEL, clinician_telegram_id=ids[DEACTIVATED], days=7)
    target = await s.enrollment.create_invite(
        TARGET_LABEL, clinician_telegram_id=ids[ASSIGNED], days=7
    )
    await enrol(app, ids[OWNER], target.code)
    await s.schedules.add_medication(
        TARGET_LABEL, name=TARGET_MEDICATION, dose="7.5 mg", times="08:00,20:00"
    )
    await s.schedules.add_medication(OTHER_LABEL, name="Quellidone", dose="2 mg", times="09:00")
    await s.schedules.add_tms_course(
        TARGET_LABEL,
        start=TODAY,
        time_text="06:30",
        days="mon-fri",
        sessions=20,
        location=TARGET_LOCATION,
    )
    await s.reminders.plan()
    owner = ids[OWNER]
    patient = await s.enrollment.patient_for_user(owner)
    assert patient is not None
    doses = await s.db.fetchall(
        "SELECT id FROM deliveries WHERE patient_id = ? AND kind = 'dose' ORDER BY due_at",
        (patient.id,),
    )
    appointments = await s.db.fetchall(
        "SELECT id FROM deliveries WHERE patient_id = ? AND kind IN ('appt_evening', 'appt_hour') "
        "ORDER BY due_at",
        (patient.id,),
    )
    assert len(doses) >= 2, "the target has dose reminders"
    assert appointments, "the target has appointment reminders"
    # A dose skipped because it ran out names the medication in the care team's views.
    await app.process_update(callback_update(app.bot, owner, f"d:k:{doses[1]['id']}:ran_out"))
    await app.process_update(text_update(app.bot, owner, "/checkin"))
    await app.process_update(callback_update(app.bot, owner, f"ci:{TODAY}:c:8"))
    # A crisis message: an open alert for the team and a follow-up for the patient.
    await app.process_update(text_update(app.bot, owner, CRISIS_TEXT))
    alert = await s.db.fetchone("SELECT id FROM alerts WHERE patient_id = ?", (patient.id,))
    assert alert is not None
    check = await s.safety_net.open_check(patient, "suicide")
    followup = await s.db.fetchone(
        "SELECT id FROM deliveries WHERE patient_id = ? AND kind = 'crisis_followup'",
        (patient.id,),
    )
    assert followup is not None
    assert await s.careteam.remove_clinician(ids[DEACTIVATED])
    return World(
        target_id=patient.id,
        dose_delivery=doses[0]["id"],
        appointment_delivery=appointments[0]["id"],
        safety_check=check,
        followup=followup["id"],
        alert=alert["id"],
        erase_token=await s.privacy.erasure_token(patient),
    )


async def enrol(app: App, user_id: int, code: str) -> None:
    await app.process_update(text_update(app.bot, user_id, f"/start {code}"))
    await app.process_update(callback_update(app.bot, user_id, "c:yes"))


# Probes ---------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One caller's turn: sends updates as them and remembers what they typed."""

    app: App
    world: World
    actor: str
    clock: ManualClock
    typed: list[str] = field(default_factory=list)

    @property
    def user(self) -> int:
        """Return the caller's Telegram user id."""
        return USER_IDS[self.actor]

    async def text(self, text: str) -> None:
        """Send a text message as the caller."""
        self.typed.append(text)
        await self.send(text_update(self.app.bot, self.user, text))

    async def press(self, data: str) -> None:
        """Press a button with this data as the caller."""
        await self.send(callback_update(self.app.bot, self.user, data))

    async def send(self, update: Update) -> None:
        """Let the Application process an update."""
        await self.app.process_update(update)

    async def open_flow(self, name: str, step: str, **data: int | str) -> str:
        """Give the caller an open guided flow, as if they had started it; return its run."""
        flow = await svc(self.app).flows.start(self.user, name, step, data)
        return flow.text(RUN_KEY)


Probe = Callable[[Stage], Awaitable[None]]


def typed(*texts: str) -> Probe:
    """Probe: the caller types these messages."""

    async def probe(stage: Stage) -> None:
        for text in texts:
            await stage.text(text)

    return probe


def pressed(*data: Callable[[World], str]) -> Probe:
    """Probe: the caller presses buttons with this data (built from the target's row ids)."""

    async def probe(stage: Stage) -> None:
        for make in data:
            await stage.press(make(stage.world))

    return probe


async def media_probe(stage: Stage) -> None:
    """The caller sends a photo and a location."""
    await stage.send(media_update(stage.app.bot, stage.user, "photo"))
    await stage.send(media_update(stage.app.bot, stage.user, "location"))


async def repeated_update_probe(stage: Stage) -> None:
    """Telegram delivers the caller's /schedule twice."""
    update = text_update(stage.app.bot, stage.user, "/schedule")
    stage.typed.append("/schedule")
    await stage.send(update)
    await stage.send(update)


async def group_probe(stage: Stage) -> None:
    """The caller sends /schedule in a group the bot is in."""
    message = {
        "message_id": 1,
        "date": int(NOW.timestamp()),
        "chat": {"id": GROUP_CHAT, "type": "group", "title": "Friends"},
        "from": {"id": stage.user, "is_bot": False, "first_name": "Someone"},
        "text": "/schedule",
        "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
    }
    stage.typed.append("/schedule")
    update = {"update_id": 880_000 + stage.user, "message": message}
    await stage.send(Update.de_json(update, stage.app.bot))


async def blocked_probe(stage: Stage) -> None:
    """The caller blocks the bot (a membership update, not a message)."""
    member = {"id": stage.user, "is_bot": False, "first_name": "Someone"}
    bot = {"id": 1, "is_bot": True, "first_name": "Bot"}
    change = {
        "chat": {"id": stage.user, "type": "private"},
        "from": member,
        "date": int(NOW.timestamp()),
        "old_chat_member": {"status": "member", "user": bot},
        "new_chat_member": {"status": "kicked", "user": bot, "until_date": 0},
    }
    await stage.send(
        Update.de_json({"update_id": 890_000 + stage.user, "my_chat_member": change}, stage.app.bot)
    )


async def note_probe(stage: Stage) -> None:
    """The caller answers a check-in up to the note question, then types a note."""
    for step in ("c:4", "m:6", "u:no", "t:none"):
        await stage.press(f"ci:{TODAY}:{step}")
    await stage.text("slept badly, better now")


async def flow_answer_probe(stage: Stage) -> None:
    """The caller is in /addmed at the name step for the target and types a name."""
    await stage.open_flow("addmed", "name", patient_id=stage.world.target_id)
    await stage.text("Ibuprofen")


async def flow_button_probe(stage: Stage) -> None:
    """The caller is in /addmed at the patient step and presses the target's id."""
    run = await stage.open_flow("addmed", "patient")
    await stage.press(f"fl:{run}:patient:{stage.world.target_id}")


async def both_patients_paused(stage: Stage) -> None:
    """Set-up: both patients have paused their reminders."""
    s = svc(stage.app)
    for user in (USER_IDS[OWNER], USER_IDS[PATIENT]):
        patient = await s.enrollment.patient_for_user(user)
        assert patient is not None
        await s.reminders.set_paused(patient, paused=True)


async def a_minute_later(stage: Stage) -> None:
    """Set-up: a minute has passed since the world was built."""
    stage.clock.advance(timedelta(minutes=1))


@dataclass(frozen=True)
class Case:
    """A probe of one handler, and who should see the target's data and change their rows.

    ``setup`` prepares what the probe needs, the same for every caller, and is not observed.
    """

    probe: Probe
    sees: frozenset[str] = NOBODY
    writes: frozenset[str] = NOBODY
    setup: Probe | None = None


# One line per registered handler, keyed as ``handler_keys`` names it. Clinicians' guided flows
# (/addmed, /addtms) change a patient's schedule, so they are for the care team only; an admin
# reads every patient but changes only their own team's.
CASES: dict[str, Case] = {
    "TypeHandler guard.drop_repeated_update": Case(repeated_update_probe, sees=ONLY_OWNER),
    # A minute after the world's own crisis message: the same news joins the open alert, and
    # the target's new follow-up is planned.
    "MessageHandler safety.scan_for_crisis": Case(
        typed(CRISIS_TEXT), writes=ONLY_OWNER, setup=a_minute_later
    ),
    "TypeHandler guard.private_chats_only": Case(group_probe),
    "TypeHandler guard.require_consent": Case(typed("hello there")),
    "MessageHandler checkin.take_note": Case(note_probe, writes=ONLY_OWNER),
    "MessageHandler flows.take_message": Case(flow_answer_probe, sees=TEAM),
    "/start": Case(typed("/start", "/start AbCdEfGhIjKlMnOp")),
    "/help": Case(typed("/help")),
    "/sos": Case(typed("/sos")),
    "button ^(c:yes|c:no)$": Case(pressed(lambda w: "c:yes", lambda w: "c:no")),
    "button ^(sos:alert|sos:no)$": Case(pressed(lambda w: "sos:alert"), writes=ONLY_OWNER),
    "button ^sf:": Case(
        pressed(lambda w: f"sf:help:{w.safety_check}", lambda w: f"sf:fu:{w.followup}"),
        writes=ONLY_OWNER,
    ),
    "/patients": Case(typed("/patients"), sees=READERS),
    "/invite": Case(typed(f"/invite {TARGET_LABEL}")),
    "/digest": Case(typed("/digest"), sees=READERS),
    "/patient": Case(typed(f"/patient {TARGET_LABEL}"), sees=READERS),
    "button ^al:ack:\\d+$": Case(
        pressed(lambda w: f"al:ack:{w.alert}"), sees=READERS, writes=READERS
    ),
    "/checkin": Case(typed("/checkin")),
    "button ^ci:": Case(pressed(lambda w: f"ci:{TODAY}:c:9"), writes=ONLY_OWNER),
    "/schedule": Case(typed("/schedule"), sees=ONLY_OWNER),
    "/pause": Case(typed("/pause"), writes=ONLY_OWNER),
    "/resume": Case(typed("/resume"), writes=ONLY_OWNER, setup=both_patients_paused),
    "button ^(d|a):": Case(
        pressed(lambda w: f"d:t:{w.dose_delivery}", lambda w: f"a:r:{w.appointment_delivery}"),
        sees=ONLY_OWNER,
        writes=ONLY_OWNER,
    ),
    "/learn": Case(typed("/learn")),
    "button ^l:": Case(pressed(lambda w: "l:you", lambda w: "l:team"), writes=ONLY_OWNER),
    "/addmed": Case(typed("/addmed"), sees=TEAM),
    "/addtms": Case(typed("/addtms"), sees=TEAM),
    "/cancel": Case(typed("/addmed", "/cancel"), sees=TEAM),
    "button ^fl:": Case(flow_button_probe, sees=TEAM),
    "/settings": Case(typed("/settings")),
    "button ^st:": Case(pressed(lambda w: "st:pause"), writes=ONLY_OWNER),
    "/mydata": Case(typed("/mydata"), sees=ONLY_OWNER),
    "/delete": Case(typed("/delete")),
    "button ^pv:": Case(
        pressed(lambda w: f"pv:erase:{w.target_id}:{w.erase_token}"), writes=ONLY_OWNER
    ),
    "MessageHandler learn.question": Case(typed("what is naloxone")),
    "MessageHandler learn.unknown_command": Case(typed("/frobnicate now")),
    "MessageHandler safety.answer_media": Case(media_probe),
    "ChatMemberHandler membership.membership_changed": Case(blocked_probe, writes=ONLY_OWNER),
    "button (any data)": Case(pressed(lambda w: "zz:forged", lambda w: "ci", lambda w: "al:ack:x")),
}


def registered(app: App) -> list[str]:
    """Return the key of every handler the Application has, in the order they run."""
    return [
        key
        for group in sorted(app.handlers)
        for handler in app.handlers[group]
        for key in handler_keys(handler)
    ]


def uncovered(app: App) -> list[str]:
    """Return the registered handlers that have no case."""
    return [key for key in registered(app) if key not in CASES]


# Observing a caller's turn --------------------------------------------------------------------


@dataclass
class Turn:
    """What one caller's turn did."""

    sees: bool
    writes: bool
    leaks: list[str]
    errors: list[str]


async def target_rows(app: App, world: World) -> list[tuple[Any, ...]]:
    """Every row of the target's, except the audit log (a read, counted apart)."""
    db = svc(app).db
    rows: list[tuple[Any, ...]] = []
    for table in await tables_with_patient_id(app):
        if table == "audit_log":
            continue
        query = f"SELECT * FROM {table} WHERE patient_id = ? ORDER BY rowid"
        rows.extend((table, *tuple(r)) for r in await db.fetchall(query, (world.target_id,)))
    patient = await db.fetchall("SELECT * FROM patients WHERE id = ?", (world.target_id,))
    flows = await db.fetchall("SELECT * FROM flows WHERE user_id = ?", (USER_IDS[OWNER],))
    rows.extend(("patients", *tuple(r)) for r in patient)
    rows.extend(("flows", *tuple(r)) for r in flows)
    return rows


async def tables_with_patient_id(app: App) -> list[str]:
    """Return every table with a patient_id column (new tables are covered as they come)."""
    db = svc(app).db
    tables = await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    found = []
    for table in tables:
        columns = await db.fetchall(f"PRAGMA table_info({table['name']})")
        if any(c["name"] == "patient_id" for c in columns):
            found.append(table["name"])
    return sorted(found)


async def audit_reads(app: App, world: World, actor: str) -> int:
    """Return how many audit rows record this clinician reading the target's data."""
    s = svc(app)
    row = await s.db.fetchone(
        "SELECT COUNT(*) AS n FROM audit_log a JOIN clinicians c ON c.id = a.actor_id "
        "WHERE a.patient_id = ? AND a.actor_kind = 'clinician' AND c.telegram_id = ?",
        (world.target_id, USER_IDS[actor]),
    )
    assert row is not None
    return int(row["n"])


def shows_target(strings: list[str], typed: list[str]) -> bool:
    """Whether any canary appears in these strings once the caller's own words are removed."""
    words = sorted({word for said in typed for word in said.split()}, key=len, reverse=True)
    for text in strings:
        shown = text
        for word in words:
            shown = shown.replace(word, "")
        if any(canary in shown for canary in CANARIES):
            return True
    return False


async def run_turn(
    app: App, api: LocalBotApi, clock: ManualClock, world: World, actor: str, case: Case
) -> Turn:
    """Run the case's probe as one caller and observe what it did."""
    stage = Stage(app, world, actor, clock)
    if case.setup is not None:
        await case.setup(stage)
        await settle(app)
    rows_before = await target_rows(app, world)
    audit_before = await audit_reads(app, world, actor)
    api.clear()
    with watching(app) as watched:
        await case.probe(stage)
        await settle(app)
    user = USER_IDS[actor]
    own = [
        text
        for call in api.calls
        if chat_of(call) == user or call.method == "answerCallbackQuery"
        for text in call_strings(call)
    ]
    # The target's own chat and their care team's get their data; the caller's chat is judged
    # by ``sees`` (with the caller's own words taken out); nobody else gets any.
    allowed_chats = {USER_IDS[OWNER], USER_IDS[ASSIGNED], user}
    leaks = [
        f"{call.method} to chat {chat_of(call)}"
        for call in api.calls
        if chat_of(call) not in allowed_chats and shows_target(call_strings(call), [])
    ]
    audited = await audit_reads(app, world, actor) > audit_before
    return Turn(
        sees=shows_target(own, stage.typed) or audited,
        writes=await target_rows(app, world) != rows_before,
        leaks=leaks,
        errors=watched.errors + problems(api.calls),
    )


# Fixtures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A database file with the world in it, copied for each case."""

    path: Path
    world: World


async def started(path: Path, api: LocalBotApi, clock: ManualClock) -> App:
    """Build and start the real Application on a database file, with its dispatcher."""
    app = build_application(sweep_settings(path), request=api, clock=clock, start_scheduler=False)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    install_dispatcher(app)
    return app


async def stopped(app: App) -> None:
    """Shut the Application down and close its database."""
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Build the world once per module (in its own event loop) and keep the database file."""
    path = tmp_path_factory.mktemp("sweep") / "world.sqlite3"

    async def build() -> World:
        app = await started(path, LocalBotApi(), ManualClock(NOW))
        try:
            world = await build_world(app)
            await settle(app)
        finally:
            await stopped(app)
        return world

    return Template(path, asyncio.run(build()))


@dataclass
class Sweep:
    """The Application on a copy of the world, and the way back to the world between callers."""

    app: App
    api: LocalBotApi
    clock: ManualClock
    world: World
    snapshot: aiosqlite.Connection

    async def restore(self) -> None:
        """Put the database back as the world left it, and the clock back to its start."""
        await self.snapshot.backup(svc(self.app).db.conn)
        self.clock.set(NOW)
        self.api.clear()


@pytest.fixture
async def sweep(template: Template, tmp_path: Path) -> AsyncIterator[Sweep]:
    """The real Application on a fresh copy of the world, with a snapshot to restore."""
    path = tmp_path / "sweep.sqlite3"
    shutil.copyfile(template.path, path)
    api = LocalBotApi()
    clock = ManualClock(NOW)
    app = await started(path, api, clock)
    snapshot = await aiosqlite.connect(":memory:")
    await svc(app).db.conn.backup(snapshot)
    try:
        yield Sweep(app, api, clock, template.world, snapshot)
    finally:
        await snapshot.close()
        await stopped(app)


# Tests ----------------------------------------------------------------------------------------


def test_the_world_holds_both_patients_and_the_targets_rows(template: Template) -> None:
    """The template holds both patients and the target's rows the probes aim at."""
    with sqlite3.connect(template.path) as conn:
        labels = {row[0] for row in conn.execute("SELECT label FROM patients")}
        deliveries = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE patient_id = ?", (template.world.target_id,)
        ).fetchone()[0]
    assert labels == {TARGET_LABEL, OTHER_LABEL}
    assert deliveries > 0


async def test_every_registered_handler_has_a_case(sweep: Sweep) -> None:
    """Each handler of the built Application has a line in CASES, and each line a handler."""
    missing = uncovered(sweep.app)
    assert not missing, (
        "handlers without a case in CASES (add one line each: a probe, who sees, who writes): "
        + "; ".join(missing)
    )
    keys = registered(sweep.app)
    gone = [key for key in CASES if key not in keys]
    assert not gone, "cases for handlers that are no longer registered: " + "; ".join(gone)
    assert len(keys) == len(set(keys)), "two handlers share a key"


async def test_a_new_command_or_callback_prefix_without_a_case_is_named(sweep: Sweep) -> None:
    """A handler added after the table was written is reported by its command or pattern."""

    async def anything(update: object, context: object) -> None:
        """Stand in for a new feature."""

    sweep.app.add_handler(CommandHandler("aftereffects", anything))
    sweep.app.add_handler(CallbackQueryHandler(anything, pattern="^ae:"))
    assert uncovered(sweep.app) == ["/aftereffects", "button ^ae:"]


@pytest.mark.parametrize("key", list(CASES))
async def test_only_those_who_should_see_or_change_the_target_do(sweep: Sweep, key: str) -> None:
    """Run the handler's probe as each caller: exactly the case's readers see, writers write."""
    case = CASES[key]
    report: list[str] = []
    for actor in ACTORS:
        await sweep.restore()
        turn = await run_turn(sweep.app, sweep.api, sweep.clock, sweep.world, actor, case)
        if turn.sees != (actor in case.sees):
            report.append(f"{actor}: sees the target's data is {turn.sees}")
        if turn.writes != (actor in case.writes):
            report.append(f"{actor}: changes the target's rows is {turn.writes}")
        if turn.leaks:
            report.append(f"{actor}: the target's data went to others: {turn.leaks}")
        if turn.errors:
            report.append(f"{actor}: errors or calls Telegram refuses: {turn.errors}")
    assert not report, f"{key}:\n" + "\n".join(report)


CRAWL_COMMANDS = {
    OWNER: ("/checkin", "/settings", "/learn", "/schedule", "/delete", "/sos", "i cant go on"),
    PATIENT: ("/checkin", "/settings", "/sos"),
    ASSIGNED: ("/addmed", "/addtms", "/patients"),
    OTHER_TEAM: ("/addmed",),
}
# The 08:00 dose is due; then the evening reminder of tomorrow's dTMS session.
REMINDER_TIMES = (
    datetime(2026, 11, 26, 13, 0, tzinfo=UTC),
    datetime(2026, 11, 27, 1, 0, tzinfo=UTC),
)
# Not pressed: they end the patient's enrollment (the sweep's cases cover them).
ENDINGS = ("pv:erase:", "st:leave_yes")
# Buttons that differ only in their last part (0 to 10, a zone, a page) are one kind; a few of
# each are pressed. The library's pages are one kind whatever the article.
PRESSES_PER_KIND = 3
MAX_PRESSES = 400


def kind_of(chat: int, data: str) -> tuple[int, str]:
    """Return what a button is a variant of: its chat and its data without the last part."""
    shape = data.rsplit(":", 1)[0]
    return chat, "l:p" if shape.startswith("l:p:") else shape


def handler_for(app: App, update: Update) -> str:
    """Return the key of the feature handler that takes a button press."""
    return feature_for(app, update) or "(none)"


async def test_every_button_the_bot_shows_reaches_a_handler_with_its_own_case(
    sweep: Sweep,
) -> None:
    """Crawl each caller's screens, pressing every button once: none falls to the catch-all."""
    app, api = sweep.app, sweep.api
    presses = 0
    shown: dict[tuple[int, str], None] = {}
    newcomer = await svc(app).enrollment.create_invite(
        "P-NEW1", clinician_telegram_id=USER_IDS[ASSIGNED], days=7
    )
    with watching(app) as watched:
        await app.process_update(
            text_update(app.bot, USER_IDS[STRANGER], f"/start {newcomer.code}")
        )
        for actor, texts in CRAWL_COMMANDS.items():
            for text in texts:
                await app.process_update(text_update(app.bot, USER_IDS[actor], text))
        for moment in REMINDER_TIMES:
            sweep.clock.set(moment)
            await svc(app).reminders.plan()
            await settle(app)
        pressed_once: set[tuple[int, str]] = set()
        kinds: Counter[tuple[int, str]] = Counter()
        while presses < MAX_PRESSES:
            for call in api.calls:
                chat = chat_of(call)
                if chat is not None:
                    for _, data in api.buttons(call.params):
                        shown.setdefault((chat, data), None)
            waiting = [
                (chat, data)
                for chat, data in shown
                if (chat, data) not in pressed_once
                and not data.startswith(ENDINGS)
                and kinds[kind_of(chat, data)] < PRESSES_PER_KIND
            ]
            if not waiting:
                break
            for chat, data in waiting:
                if kinds[kind_of(chat, data)] >= PRESSES_PER_KIND:
                    continue
                pressed_once.add((chat, data))
                kinds[kind_of(chat, data)] += 1
                presses += 1
                await app.process_update(callback_update(app.bot, chat, data))
            await settle(app)
    assert presses < MAX_PRESSES, "the crawl did not finish"
    assert not watched.errors
    assert not problems(api.calls)
    prefixes = {data.split(":", 1)[0] for _, data in shown}
    assert {"c", "ci", "st", "l", "fl", "d", "a", "sos", "sf", "pv", "al"} <= prefixes
    routed = {data: handler_for(app, callback_update(app.bot, 1, data)) for _, data in shown}
    stray = sorted(data for data, key in routed.items() if key not in CASES or "any" in key)
    assert not stray, f"buttons whose data no feature takes: {stray}"
