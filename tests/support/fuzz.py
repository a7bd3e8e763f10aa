"""Stateful fuzzing of the whole bot, in process: patients, clinicians and strangers, any order.

A Hypothesis ``RuleBasedStateMachine`` drives the real Application (through the in-process Bot
API peer) with updates from several patients (consented, awaiting consent, withdrawn),
clinicians (two teams, an admin, one deactivated) and strangers: commands with odd arguments,
texts of 0 to 5,000 characters with emoji, right-to-left and zero-width characters and
HTML-like markup, presses of the buttons the bot showed (by their owner or by someone else),
forged and stale callback data, edits, stickers, photos, documents, locations, updates with
missing fields, repeated updates, and time passing with the scheduler's jobs.

After every step it checks:

- nothing raised (the error handler was not reached and nothing logged an error);
- every call the bot made is one Telegram accepts (HTML, lengths, keyboards, one answer per
  press), and every press in a private chat was answered;
- nobody's step changed the rows of a patient they may not change (a patient: their own; a
  clinician: their team's, an admin: everyone's; a stranger or deactivated clinician: nobody's,
  apart from the open invite a stranger may take);
- no log line holds the text a user sent;
- one check-in row per patient and day, and ``PRAGMA integrity_check`` is ok.

``tests/integration/test_fuzz.py`` runs a bounded number of examples in the suite;
``python -m bench.fuzz --examples N`` runs a longer one.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import SecretStr
from telegram import Update

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services.crypto import generate_key
from tests.support.apps import App, svc
from tests.support.botapi import BOT_USERNAME, LocalBotApi
from tests.support.harness import chat_of, feature_for, install_dispatcher, settle, watching
from tests.support.telegram_rules import problems
from tests.support.updates import callback_update, text_update

TOKEN = "123456789:TEST-token-for-local-tests-only-xxxxx"
# Thursday 26 November 2026, 07:55 in New York: the first dose of the day is five minutes off.
START = datetime(2026, 11, 26, 12, 55, tzinfo=UTC)
TODAY = date(2026, 11, 26)

DR_A, DR_B, ADMIN, FORMER = 9601, 9602, 9603, 9604
PA1, PA2, PB1, PC, PW = 6601, 6602, 6603, 6604, 6605
STRANGER_1, STRANGER_2 = 4601, 4602
CLINICIAN_USERS = (DR_A, DR_B, ADMIN, FORMER)
PATIENT_USERS = (PA1, PA2, PB1, PC, PW)
STRANGERS = (STRANGER_1, STRANGER_2)
USERS = (*PATIENT_USERS, *CLINICIAN_USERS, *STRANGERS)
LABELS = ("P-A1", "P-A2", "P-B1", "P-C1", "P-W1", "P-NEW")
GROUP = -100_200_300
CHANNEL = -100_900_900
FIRST_UPDATE_ID = 50_000_000
LOGGED_TEXT_MIN = 12  # shorter texts may occur in log lines by chance (ids, words)
# One step is a handful of updates; one that holds the bot this long is a way to stall it for
# everyone (a loaded machine is slow, so the bound is generous).
STEP_SECONDS_MAX = 10.0


# The world ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A database file with the fuzz world in it, and the open invite strangers may take."""

    path: Path
    key: str
    invite_code: str


def fuzz_settings(database: Path, key: str) -> Settings:
    """Settings for the fuzz run: the clinic's defaults, notes encrypted."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=database,
        clinic_name="Harbor Clinic",
        clinic_timezone="America/New_York",
        clinic_oncall_phone="555-0100",
        rate_limit_per_chat_seconds=0,
        chart_workers=0,
        data_encryption_key=SecretStr(key),
    )


async def start_app(path: Path, key: str, api: LocalBotApi, clock: ManualClock) -> App:
    """Build and start the real Application on a database file, with its dispatcher."""
    app = build_application(
        fuzz_settings(path, key), request=api, clock=clock, start_scheduler=False
    )
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    install_dispatcher(app)
    return app


async def stop_app(app: App) -> None:
    """Shut the Application down and close its database."""
    assert app.post_shutdown is not None
    await app.post_shutdown(app)
    await app.shutdown()


async def build_template(folder: Path) -> Template:
    """Build the fuzz world once: two teams, an admin, a former clinician, five patients."""
    path = folder / "fuzz-world.sqlite3"
    key = generate_key()
    app = await start_app(path, key, LocalBotApi(), ManualClock(START))
    try:
        code = await _populate(app)
        await settle(app)
    finally:
        await stop_app(app)
    return Template(path, key, code)


async def _populate(app: App) -> str:
    s = svc(app)
    await s.careteam.add_clinician(DR_A, "Dr. Avery")
    await s.careteam.add_clinician(DR_B, "Dr. Brook")
    await s.careteam.add_clinician(ADMIN, "Dr. Admin", role="admin")
    await s.careteam.add_clinician(FORMER, "Dr. Former")

    async def invite(label: str, clinician: int, user: int, *, consent: bool = True) -> None:
        issued = await s.enrollment.create_invite(label, clinician_telegram_id=clinician, days=7)
        language = "es" if label == "P-A2" else "en"
        await app.process_update(
            text_update(app.bot, user, f"/start {issued.code}", language_code=language)
        )
        if consent:
            await app.process_update(callback_update(app.bot, user, "c:yes"))

    await s.enrollment.create_invite("P-A1", clinician_telegram_id=FORMER, days=7)
    await invite("P-A1", DR_A, PA1)
    await invite("P-A2", DR_A, PA2)
    await invite("P-B1", DR_B, PB1)
    await invite("P-C1", DR_B, PC, consent=False)
    await invite("P-W1", DR_A, PW)
    await app.process_update(callback_update(app.bot, PW, "st:leave_yes"))
    await s.schedules.add_medication("P-A1", name="Buprenorphine", dose="8 mg", times="08:00,20:00")
    await s.schedules.add_medication("P-A2", name="Naltrexone", dose="50 mg", times="09:00")
    await s.schedules.add_medication("P-B1", name="Methadone", dose="60 mg", times="08:30")
    await s.schedules.add_tms_course(
        "P-A1", start=TODAY, time_text="07:30", days="mon-fri", sessions=30, location="Room 2"
    )
    await s.reminders.plan()
    assert await s.careteam.remove_clinician(FORMER)
    open_invite = await s.enrollment.create_invite("P-NEW", clinician_telegram_id=DR_A, days=7)
    return open_invite.code


# Strategies -----------------------------------------------------------------------------------

ODD_PIECES = (
    "\u200b",  # zero-width space
    "\u200c",
    "\u200d",  # zero-width joiner
    "\u2060",
    "\ufeff",
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2067",  # right-to-left isolate
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "👩‍👩‍👧‍👦",
    "🏳️‍🌈",
    "💊",
    "🔥" * 3,
    "e\u0301",  # e and a combining accent
    "<b>",
    "</b>",
    "<i>x</i>",
    "<a href='https://example.com'>",
    "</a>",
    "<script>alert(1)</script>",
    "<tg-spoiler>",
    "<pre><code class='x'>",
    "&amp;",
    "&lt;",
    "&#123;",
    "&",
    "<",
    ">",
    '"',
    "'",
    "\\",
    "{{ x }}",
    "{% if %}",
    "%s",
    "%(x)s",
    "\n",
    "\r\n",
    "\t",
    " ",
    ":",
    "/",
    "@",
)
WORDS = (
    "P-A1",
    "P-A2",
    "P-B1",
    "P-C1",
    "P-W1",
    "P-NEW",
    "p-a1",
    "today",
    "tomorrow",
    "2026-11-30",
    "2026-02-30",
    "1999-01-01",
    "08:00",
    "8am",
    "20:30",
    "25:61",
    "08:00,20:00",
    "America/Chicago",
    "Europe/Madrid",
    "Mars/Olympus",
    "chicago",
    "mon-fri",
    "daily",
    "mon,wed,fri",
    "0",
    "20",
    "31",
    "-1",
    "99999999999999999999",
    "Suboxone",
    "8 mg",
    "Room 4",
    "skip",
    "yes",
    "no",
    "what is naloxone",
    "can i stop my methadone",
    "how much narcan should i give",
    "my buddy's subs",
    "i want to kill myself",
    "my friend is not breathing",
    "i cant do this anymore",
    "esta es mi despedida",
    "me siento bien hoy",
)
# Answers to each question of a guided flow, by step name: (ones it should take, ones it
# should refuse and ask again).
FLOW_ANSWERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patient": (("P-A1", "P-B1", "p-a2", " P-A1 "), ("P-NEW", "P-ZZ9", "P-W1", "")),
    "name": (("Suboxone", "Naltrexone <b>XR</b>", "Acamprosate & co"), ("a" * 200, " ")),
    "dose": (("8 mg", "two & a half tablets", "½ tab"), ("x" * 300,)),
    "times": (("08:00,20:00", "8pm", "07:00;19:00", "08:00,08:00"), ("25:00", ",")),
    "days": (("mon-fri", "daily", "mon,wed,fri"), ("funday", "")),
    "days_custom": (("mon,wed", "tue-thu", "sun"), ("weekends", "every day")),
    "start": (("today", "tomorrow", "2026-12-01"), ("2027-13-01", "1999-01-01", "2190-01-01")),
    "time": (("07:30", "7:30 pm", "18:00"), ("08:00,09:00", "noon")),
    "sessions": (("20", "36", "1"), ("0", "201", "abc", "9" * 30)),
    "location": (("Room 4", "<i>lab</i> & co", "Ω" * 20), ("Ω" * 300,)),
    "confirm": (("yes",), ("no",)),
    "zone": (("America/Chicago", "chicago", "UTC", "Europe/Madrid"), ("Mars/Olympus", "EST5")),
    "checkin": (("21:00", "9pm", "07:15"), ("24:00", "later")),
}
COMMANDS = (
    "start",
    "help",
    "sos",
    "checkin",
    "learn",
    "schedule",
    "pause",
    "resume",
    "settings",
    "mydata",
    "delete",
    "patients",
    "patient",
    "digest",
    "invite",
    "addmed",
    "addtms",
    "cancel",
    "frobnicate",
    "START",
)
MEDIA_KINDS = (
    "photo",
    "sticker",
    "document",
    "location",
    "voice",
    "video",
    "video_note",
    "animation",
    "audio",
    "contact",
)
CALLBACK_PREFIXES = (
    "c",
    "sos",
    "sf",
    "al:ack",
    "d",
    "a",
    "ci",
    "l",
    "l:p",
    "l:t",
    "fl",
    "st",
    "pv",
)
CALLBACK_PARTS = (
    "yes",
    "no",
    "ok",
    "help",
    "other",
    "fs",
    "fu",
    "t",
    "z",
    "k",
    "b",
    "y",
    "r",
    "c",
    "m",
    "u",
    "n",
    "e",
    "skip",
    "again",
    "tell",
    "none",
    "fainting_or_seizure",
    "erase",
    "keep",
    "pause",
    "resume",
    "leave",
    "leave_yes",
    "tz",
    "tzx",
    "lang",
    "show",
    "es",
    "patient",
    "confirm",
    "2026-11-26",
    "2026-11-25",
    "2026-13-45",
    "ran_out",
    "top",
    "you",
    "team",
    "naloxone-overdose",
)

_characters = st.characters(codec="utf-8", exclude_characters="\x00")
_pieces = st.one_of(
    st.sampled_from(ODD_PIECES), st.sampled_from(WORDS), st.text(_characters, max_size=8)
)
short_text = st.lists(_pieces, max_size=12).map("".join)
long_text = st.builds(
    lambda pieces, repeat: ("".join(pieces) * repeat)[:5000],
    st.lists(_pieces, min_size=1, max_size=6),
    st.integers(1, 5000),
)
command_text = st.builds(
    lambda slash, name, mention, argument: f"{slash}{name}{mention}{argument}",
    st.sampled_from(["/", "/", "/", " /", "//"]),
    st.sampled_from(COMMANDS),
    st.sampled_from(["", "", f"@{BOT_USERNAME}", "@other_bot", "@"]),
    st.one_of(
        st.just(""),
        st.sampled_from(WORDS).map(lambda w: f" {w}"),
        short_text.map(lambda t: f" {t}"),
        long_text.map(lambda t: f" {t}"),
    ),
)
texts = st.one_of(
    st.sampled_from(WORDS),
    command_text,
    short_text,
    long_text,
    st.text(_characters, max_size=5000),
)
forged_data = st.builds(
    lambda prefix, parts: ":".join([prefix, *parts]),
    st.sampled_from(CALLBACK_PREFIXES),
    st.lists(
        st.one_of(
            st.sampled_from(CALLBACK_PARTS),
            st.integers(-3, 10**12).map(str),
            st.text(_characters, max_size=10),
        ),
        max_size=4,
    ),
).map(lambda data: data.encode()[:64].decode("utf-8", "ignore")) | st.text(_characters, max_size=64)
minutes = st.sampled_from([1, 5, 10, 16, 30, 61, 180, 600, 1440, 4 * 1440])


# Updates Telegram could send ------------------------------------------------------------------


def _user(user_id: int, language: str = "en") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": language}


def _command_entities(text: str) -> list[dict[str, Any]]:
    if not text.startswith("/"):
        return []
    first = text.split(maxsplit=1)[0] if text.strip() else text
    return [{"type": "bot_command", "offset": 0, "length": len(first.encode("utf-16-le")) // 2}]


def _message(message_id: int, user_id: int, chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "date": int(START.timestamp()),
        "chat": chat,
        "from": _user(user_id),
        **fields,
    }


def _private(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": f"U{user_id}"}


_MEDIA: dict[str, Any] = {
    "photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90, "height": 90}],
    "sticker": {
        "file_id": "s1",
        "file_unique_id": "us1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    },
    "document": {"file_id": "d1", "file_unique_id": "ud1", "file_name": "note.pdf"},
    "location": {"latitude": 40.7, "longitude": -74.0},
    "voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 4},
    "video": {"file_id": "vi1", "file_unique_id": "uvi1", "width": 9, "height": 9, "duration": 1},
    "video_note": {"file_id": "vn1", "file_unique_id": "uvn1", "length": 240, "duration": 3},
    "animation": {
        "file_id": "an1",
        "file_unique_id": "uan1",
        "width": 9,
        "height": 9,
        "duration": 1,
    },
    "audio": {"file_id": "au1", "file_unique_id": "uau1", "duration": 5},
    "contact": {"phone_number": "+15550100", "first_name": "Mom"},
}


def _membership(user: int, old: str, new: str) -> dict[str, Any]:
    bot = {"id": 1, "is_bot": True, "first_name": "Bot"}

    def member(status: str) -> dict[str, Any]:
        return {"status": status, "user": bot} | ({"until_date": 0} if status == "kicked" else {})

    return {
        "chat": _private(user),
        "from": _user(user),
        "date": int(START.timestamp()),
        "old_chat_member": member(old),
        "new_chat_member": member(new),
    }


def _query(user: int, query_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": query_id, "from": _user(user), "chat_instance": "x", **fields}


_CHANNEL = {"id": CHANNEL, "type": "channel", "title": "News"}
_NOW = int(START.timestamp())
OddUpdate = Callable[[int, str, str], dict[str, Any]]
# Updates with fields missing or unusual, by name: (user, callback query id, text) -> payload.
ODD_UPDATES: dict[str, OddUpdate] = {
    "nothing": lambda u, q, t: {},
    "channel post": lambda u, q, t: {
        "channel_post": {"message_id": 1, "date": _NOW, "chat": _CHANNEL, "text": t}
    },
    "no sender": lambda u, q, t: {
        "message": {"message_id": 2, "date": _NOW, "chat": _private(u), "sender_chat": _CHANNEL}
        | {"text": t}
    },
    "press without message": lambda u, q, t: {
        "callback_query": _query(u, q, inline_message_id="inline-1", data="ci:2026-11-26:c:5")
    },
    "press without data": lambda u, q, t: {
        "callback_query": _query(u, q, game_short_name="g", message=_message(3, 1, _private(u)))
    },
    "group message": lambda u, q, t: {
        "message": _message(4, u, {"id": GROUP, "type": "group", "title": "Friends"}, text=t)
    },
    "blocked": lambda u, q, t: {"my_chat_member": _membership(u, "member", "kicked")},
    "unblocked": lambda u, q, t: {"my_chat_member": _membership(u, "kicked", "member")},
    "empty text": lambda u, q, t: {"message": _message(5, u, _private(u), text="")},
    "command entity too long": lambda u, q, t: {
        "message": _message(
            6,
            u,
            _private(u),
            text="/x",
            entities=[{"type": "bot_command", "offset": 0, "length": 500}],
        )
    },
    "edited photo": lambda u, q, t: {
        "edited_message": _message(7, u, _private(u), photo=_MEDIA["photo"], edit_date=_NOW)
    },
    "service message": lambda u, q, t: {"message": _message(8, u, _private(u), new_chat_title=t)},
}
SENDERLESS = frozenset({"nothing", "channel post", "no sender"})

# The machine ----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What a run did, for the benchmark's report."""

    examples: int = 0
    steps: int = 0
    updates: int = 0
    calls: int = 0
    seconds: float = 0.0
    rules: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    features: set[str] = field(default_factory=set)  # feature handlers that took an update
    flows_saved: int = 0  # medications and dTMS courses a clinician's guided flow saved
    checkins_done: int = 0  # check-ins answered up to "use" at least


@dataclass
class StepOutcome:
    """Who acted in a step, and what they sent (for the privacy check of the logs)."""

    actor: int | None
    said: list[str] = field(default_factory=list)
    presses: list[tuple[int, str]] = field(default_factory=list)  # (chat, callback query id)
    answered_in: int | None = None  # a new private message: the chat that must get a reply


class BotMachine(RuleBasedStateMachine):
    """Drives the real bot with updates from everyone; checks the invariants after each step."""

    template: ClassVar[Template | None] = None
    tally: ClassVar[Tally] = Tally()

    def __init__(self) -> None:
        super().__init__()
        template = self.template
        assert template is not None, "set BotMachine.template (see machine_for)"
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory(prefix="fuzz-")
        path = Path(self.folder.name) / "bot.sqlite3"
        shutil.copyfile(template.path, path)
        self.invite_code = template.invite_code
        self.api = LocalBotApi()
        self.clock = ManualClock(START)
        self.app = self.run(start_app(path, template.key, self.api, self.clock))
        self.update_ids = itertools.count(FIRST_UPDATE_ID)
        self.message_ids = itertools.count(1)
        self.buttons: dict[tuple[int, str], None] = {}  # (chat, data) of every button shown
        self.sent: list[Update] = []
        self.open_flows: dict[int, str] = {}  # user -> the step their open flow is at
        self.started = time.perf_counter()
        self.tally.examples += 1

    def run(self, work: Any) -> Any:
        """Run a coroutine on the machine's own event loop."""
        return self.loop.run_until_complete(work)

    def teardown(self) -> None:
        """Check the file once more, count how deep the run went, stop the bot, clean up."""
        try:
            self.run(self._integrity())
            self.run(self._count_depth())
        finally:
            try:
                self.run(stop_app(self.app))
            finally:
                self.loop.close()
                self.folder.cleanup()
                self.tally.seconds += time.perf_counter() - self.started

    # Steps --------------------------------------------------------------------------------

    def _step(self, name: str, outcome: StepOutcome, updates: Iterable[Update]) -> None:
        """Process updates as one step and check everything the step must not have done."""
        self.tally.steps += 1
        self.tally.rules[name] += 1
        self.run(self._process(outcome, list(updates)))

    async def _process(self, outcome: StepOutcome, updates: list[Update]) -> None:
        allowed, rows_before, flows_before = await self._before(outcome.actor)
        self.api.clear()
        started = time.perf_counter()
        with watching(self.app) as watched:
            for update in updates:
                self.sent.append(update)
                self.tally.updates += 1
                feature = feature_for(self.app, update)
                if feature is not None:
                    self.tally.features.add(feature)
                await self.app.process_update(update)
            await settle(self.app)
        took = time.perf_counter() - started
        self.tally.calls += len(self.api.calls)
        self._remember_buttons()
        self.open_flows = {user: row[2] for user, row in (await self._flows()).items()}
        assert not watched.errors, f"errors: {watched.errors}"
        assert took < STEP_SECONDS_MAX, f"one step held the bot for {took:.1f} s"
        refused = problems(self.api.calls)
        assert not refused, f"calls Telegram refuses: {refused}"
        answered = {
            str(c.params.get("callback_query_id"))
            for c in self.api.calls
            if c.method == "answerCallbackQuery"
        }
        unanswered = [chat for chat, query in outcome.presses if query not in answered]
        assert not unanswered, f"presses left without an answer in chats {unanswered}"
        if outcome.answered_in is not None:
            replies = [c for c in self.api.calls if chat_of(c) == outcome.answered_in]
            assert replies, f"a message in chat {outcome.answered_in} got no answer"
        for said in outcome.said:
            text = said.strip()
            if len(text) >= LOGGED_TEXT_MIN:
                logged = [line for line in watched.messages if text in line]
                assert not logged, f"a user's text is in the log: {logged[:1]}"
        rows_after, flows_after = await self._rows(), await self._flows()
        changed = sorted(
            patient
            for patient, rows in rows_before.items()
            if patient not in allowed and rows_after.get(patient) != rows
        )
        assert not changed, f"user {outcome.actor} changed rows of patients {changed}"
        others = sorted(
            user
            for user in set(flows_before) | set(flows_after)
            if user != outcome.actor and flows_before.get(user) != flows_after.get(user)
        )
        assert not others, f"user {outcome.actor} changed the open flows of users {others}"

    async def _before(
        self, actor: int | None
    ) -> tuple[set[int], dict[int, list[tuple[Any, ...]]], dict[int, tuple[Any, ...]]]:
        return await self._allowed(actor), await self._rows(), await self._flows()

    async def _allowed(self, actor: int | None) -> set[int]:
        """Return the patients whose rows this user's step may change."""
        if actor is None:
            return set()
        db = svc(self.app).db
        clinician = await db.fetchone(
            "SELECT id, role FROM clinicians WHERE telegram_id = ? AND active = 1", (actor,)
        )
        if clinician is not None and clinician["role"] == "admin":
            return {r["id"] for r in await db.fetchall("SELECT id FROM patients")}
        own: set[int] = set()
        if clinician is not None:
            rows = await db.fetchall(
                "SELECT patient_id FROM care_team WHERE clinician_id = ? UNION "
                # An escalated alert went to every active clinician: any of them may take it.
                "SELECT patient_id FROM alerts WHERE escalation > 0",
                (clinician["id"],),
            )
            own |= {r["patient_id"] for r in rows}
        patient = await db.fetchone("SELECT id FROM patients WHERE telegram_user_id = ?", (actor,))
        if patient is not None:
            own.add(patient["id"])
        elif clinician is None:
            # A stranger may take the open invite (and with it, that patient's rows).
            rows = await db.fetchall(
                "SELECT patient_id FROM invites WHERE used_at IS NULL AND revoked_at IS NULL"
            )
            own |= {r["patient_id"] for r in rows}
        return own

    async def _rows(self) -> dict[int, list[tuple[Any, ...]]]:
        """Return every row that belongs to a patient, by patient id."""
        db = svc(self.app).db
        by_patient: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for table in await self._patient_tables():
            query = f"SELECT * FROM {table} ORDER BY rowid"
            for row in await db.fetchall(query):
                if row["patient_id"] is not None:
                    by_patient[row["patient_id"]].append((table, *tuple(row)))
        for row in await db.fetchall("SELECT * FROM patients"):
            by_patient[row["id"]].append(("patients", *tuple(row)))
        return dict(by_patient)

    async def _flows(self) -> dict[int, tuple[Any, ...]]:
        rows = await svc(self.app).db.fetchall("SELECT * FROM flows")
        return {row["user_id"]: tuple(row) for row in rows}

    _tables: ClassVar[list[str] | None] = None

    async def _patient_tables(self) -> list[str]:
        if BotMachine._tables is None:
            db = svc(self.app).db
            names = await db.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
            found = []
            for name in names:
                columns = await db.fetchall(f"PRAGMA table_info({name['name']})")
                if any(c["name"] == "patient_id" for c in columns):
                    found.append(name["name"])
            BotMachine._tables = sorted(found)
        return BotMachine._tables

    def _latest_buttons(self, chat: int) -> list[str]:
        """Return the buttons of the last message the previous step sent or edited in a chat."""
        for call in reversed(self.api.calls):
            if chat_of(call) == chat and call.params.get("reply_markup") is not None:
                return [data for _, data in self.api.buttons(call.params)]
        return []

    def _remember_buttons(self) -> None:
        for call in self.api.calls:
            chat = chat_of(call)
            if chat is not None:
                for _, data in self.api.buttons(call.params):
                    self.buttons.setdefault((chat, data), None)

    @staticmethod
    def _message_outcome(user: int, text: str) -> StepOutcome:
        """A new private text message: what the user said, and that it needs an answer."""
        return StepOutcome(user, said=[text], answered_in=user if text else None)

    def _next_update_id(self) -> int:
        return next(self.update_ids)

    def _press(self, user: int, data: str) -> tuple[Update, StepOutcome]:
        update_id = self._next_update_id()
        query_id = f"q{update_id}"
        payload = {
            "update_id": update_id,
            "callback_query": {
                "id": query_id,
                "from": _user(user),
                "chat_instance": f"ci{user}",
                "data": data,
                "message": _message(next(self.message_ids), 1, _private(user), text="…")
                | {"from": {"id": 1, "is_bot": True, "first_name": "Bot"}},
            },
        }
        outcome = StepOutcome(user, presses=[(user, query_id)])
        return Update.de_json(payload, self.app.bot), outcome

    def _text(self, user: int, text: str, *, edited: bool = False, chat: Any = None) -> Update:
        fields: dict[str, Any] = {"text": text}
        entities = _command_entities(text)
        if entities:
            fields["entities"] = entities
        if edited:
            fields["edit_date"] = int(START.timestamp()) + 60
        message = _message(next(self.message_ids), user, chat or _private(user), **fields)
        kind = "edited_message" if edited else "message"
        return Update.de_json({"update_id": self._next_update_id(), kind: message}, self.app.bot)

    # Rules --------------------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), text=texts)
    def send_text(self, user: int, text: str) -> None:
        """Anyone sends any text: commands with odd arguments, long, right-to-left, markup."""
        self._step("text", self._message_outcome(user, text), [self._text(user, text)])

    @rule(
        user=st.sampled_from(USERS),
        command=st.sampled_from(COMMANDS),
        argument=st.one_of(
            st.just(""),
            st.sampled_from(LABELS),
            st.sampled_from(WORDS),
            short_text,
            long_text,
        ),
    )
    def send_command(self, user: int, command: str, argument: str) -> None:
        """Anyone sends a command, with no argument, a label, or anything else after it."""
        text = f"/{command} {argument}" if argument else f"/{command}"
        self._step("command", self._message_outcome(user, text), [self._text(user, text)])

    @rule(
        user=st.sampled_from((DR_A, DR_B, ADMIN, FORMER, PA1, PA2, PB1)),
        opening=st.sampled_from(["/addmed", "/addtms", "st:tzx", "st:cix"]),
        data=st.data(),
    )
    def open_a_flow(self, user: int, opening: str, data: st.DataObject) -> None:
        """Someone starts a step-by-step flow (/addmed, /addtms, a typed setting) and answers."""
        if opening.startswith("/"):
            outcome = self._message_outcome(user, opening)
            self._step("flow", outcome, [self._text(user, opening)])
        else:
            update, outcome = self._press(user, opening)
            self._step("flow", outcome, [update])
        self._walk_flow(user, data)

    @precondition(lambda self: bool(self.open_flows))
    @rule(data=st.data())
    def answer_an_open_flow(self, data: st.DataObject) -> None:
        """Someone with a guided flow open (perhaps for a while) answers its questions."""
        self._walk_flow(data.draw(st.sampled_from(sorted(self.open_flows))), data)

    def _walk_flow(self, user: int, data: st.DataObject) -> None:
        """Answer the questions of a user's open flow in turn, well or badly.

        A question with buttons is mostly answered with one of the buttons shown, the others
        are typed (mostly answers it should take, sometimes ones it should refuse, sometimes
        anything), so flows are walked to their end.
        """
        # (Hypothesis draws the small end of a range most: the floor keeps walks long.)
        for _ in range(data.draw(st.integers(6, 14))):
            step = self.open_flows.get(user)
            if step is None:
                return
            shown = [d for d in self._latest_buttons(user) if f":{step}:" in d]
            if shown and data.draw(st.integers(0, 3)) != 3:
                update, outcome = self._press(user, data.draw(st.sampled_from(shown)))
                self._step("flow", outcome, [update])
                continue
            good, bad = FLOW_ANSWERS.get(step, (WORDS, ()))
            text = data.draw(
                st.one_of(st.sampled_from(good), st.sampled_from(good), st.sampled_from(good))
                | st.sampled_from(bad or good)
                | texts
            )
            self._step("flow", self._message_outcome(user, text), [self._text(user, text)])

    @rule(user=st.sampled_from((PA1, PA2, PB1, PC, PW)), data=st.data())
    def do_a_checkin(self, user: int, data: st.DataObject) -> None:
        """A patient starts the check-in and answers it button by button, maybe with a note."""
        self._step(
            "checkin", self._message_outcome(user, "/checkin"), [self._text(user, "/checkin")]
        )
        for _ in range(data.draw(st.integers(3, 7))):
            shown = [d for d in self._latest_buttons(user) if d.startswith("ci:")]
            if not shown:
                break
            update, outcome = self._press(user, data.draw(st.sampled_from(shown)))
            self._step("checkin", outcome, [update])
        if data.draw(st.booleans()):
            note = data.draw(texts)
            self._step("checkin", self._message_outcome(user, note), [self._text(user, note)])

    @rule(
        user=st.sampled_from((*STRANGERS, PC, PW)), extra=st.sampled_from(["", " ", "x", " extra"])
    )
    def start_with_the_open_invite(self, user: int, extra: str) -> None:
        """Someone opens the enrollment link (a stranger may join; the code is never logged)."""
        text = f"/start {self.invite_code}{extra}"
        self._step("invite", self._message_outcome(user, text), [self._text(user, text)])

    @rule(user=st.sampled_from(USERS), text=texts)
    def edit_text(self, user: int, text: str) -> None:
        """Anyone edits an earlier message into any text."""
        update = self._text(user, text, edited=True)
        self._step("edit", StepOutcome(user, said=[text]), [update])

    @precondition(lambda self: bool(self.buttons))
    @rule(data=st.data())
    def press_a_button_shown(self, data: st.DataObject) -> None:
        """The person a button was shown to presses it (perhaps long after, when it is stale)."""
        chat, callback = data.draw(st.sampled_from(sorted(self.buttons)))
        update, outcome = self._press(chat, callback)
        self._step("press own", outcome, [update])

    @precondition(lambda self: bool(self.buttons))
    @rule(data=st.data(), user=st.sampled_from(USERS))
    def press_someone_elses_button(self, data: st.DataObject, user: int) -> None:
        """Someone presses data from a button shown to another person (a forged press)."""
        _, callback = data.draw(st.sampled_from(sorted(self.buttons)))
        update, outcome = self._press(user, callback)
        self._step("press foreign", outcome, [update])

    @rule(user=st.sampled_from(USERS), callback=forged_data)
    def press_forged_data(self, user: int, callback: str) -> None:
        """Anyone sends made-up callback data, well-formed or not."""
        update, outcome = self._press(user, callback or "x")
        self._step("press forged", outcome, [update])

    @rule(
        user=st.sampled_from(USERS),
        kind=st.sampled_from(MEDIA_KINDS),
        caption=st.none() | texts.map(lambda t: t[:1024]),
    )
    def send_media(self, user: int, kind: str, caption: str | None) -> None:
        """Anyone sends a photo, sticker, file, location, voice note... with or without caption."""
        fields: dict[str, Any] = {kind: _MEDIA[kind]}
        if caption is not None:
            fields["caption"] = caption
        message = _message(next(self.message_ids), user, _private(user), **fields)
        update = Update.de_json(
            {"update_id": self._next_update_id(), "message": message}, self.app.bot
        )
        self._step("media", StepOutcome(user, said=[caption or ""], answered_in=user), [update])

    @rule(user=st.sampled_from(USERS), kind=st.sampled_from(sorted(ODD_UPDATES)), text=texts)
    def send_an_odd_update(self, user: int, kind: str, text: str) -> None:
        """Updates with fields missing or unusual: no sender, no data, channels, groups, blocks."""
        update_id = self._next_update_id()
        payload = ODD_UPDATES[kind](user, f"q{update_id}", text)
        update = Update.de_json({"update_id": update_id, **payload}, self.app.bot)
        query = payload.get("callback_query")
        presses = [(user, query["id"])] if query is not None and "message" in query else []
        actor = None if kind in SENDERLESS else user
        self._step("odd", StepOutcome(actor, said=[text], presses=presses), [update])

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def repeat_an_update(self, data: st.DataObject) -> None:
        """Telegram delivers an update again (after a restart it may)."""
        update = data.draw(st.sampled_from(self.sent))
        user = update.effective_user.id if update.effective_user else None
        self._step("repeat", StepOutcome(user), [update])

    @rule(delta=minutes)
    def time_passes(self, delta: int) -> None:
        """Time passes and the scheduler's jobs run: plan, watch, escalate, dispatch, expire."""
        self.tally.steps += 1
        self.tally.rules["time"] += 1
        self.clock.advance(timedelta(minutes=delta))
        self.run(self._jobs())

    async def _jobs(self) -> None:
        s = svc(self.app)
        self.api.clear()
        with watching(self.app) as watched:
            await s.reminders.plan()
            await s.weekly.plan()
            await s.watch.sweep()
            await s.watch.escalate()
            await s.flows.expire_idle()
            await settle(self.app)
        self.tally.calls += len(self.api.calls)
        self._remember_buttons()
        assert not watched.errors, f"errors: {watched.errors}"
        refused = problems(self.api.calls)
        assert not refused, f"calls Telegram refuses: {refused}"

    # Invariants ---------------------------------------------------------------------------

    @invariant()
    def one_checkin_per_patient_and_day(self) -> None:
        """A patient has at most one check-in row per local day."""
        doubled = self.run(
            svc(self.app).db.fetchall(
                "SELECT patient_id, local_date, COUNT(*) AS n FROM checkins "
                "GROUP BY patient_id, local_date HAVING n > 1"
            )
        )
        assert not doubled, [tuple(r) for r in doubled]

    @invariant()
    def database_is_intact(self) -> None:
        """PRAGMA integrity_check is ok and no foreign key dangles."""
        self.run(self._integrity())

    async def _count_depth(self) -> None:
        db = svc(self.app).db
        saved = await db.fetchone(
            "SELECT COUNT(*) AS n FROM audit_log WHERE actor_kind = 'clinician' "
            "AND action IN ('medication.add', 'tms_course.add')"
        )
        done = await db.fetchone("SELECT COUNT(*) AS n FROM checkins WHERE used IS NOT NULL")
        self.tally.flows_saved += int(saved["n"]) if saved else 0
        self.tally.checkins_done += int(done["n"]) if done else 0

    async def _integrity(self) -> None:
        db = svc(self.app).db
        check = await db.fetchall("PRAGMA integrity_check")
        assert [tuple(r) for r in check] == [("ok",)], [tuple(r) for r in check]
        dangling = await db.fetchall("PRAGMA foreign_key_check")
        assert not dangling, [tuple(r) for r in dangling]


def machine_for(template: Template) -> type[BotMachine]:
    """Return the machine class bound to a built world."""
    return type("FuzzedBot", (BotMachine,), {"template": template, "tally": Tally()})
