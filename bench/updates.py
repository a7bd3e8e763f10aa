"""What one update costs: full daily check-ins against a bare echo bot, side by side in one run.

    python -m bench.updates                     # 200 patients a round, 5 rounds
    python -m bench.updates --patients 50 --rounds 3

Both bots talk to the tests' in-process Bot API peer (``tests/support/botapi.py``), which
answers at once, so what is measured is each bot's own work: python-telegram-bot's dispatch,
our handlers, services and storage, and the (de)serialising of the Bot API calls made.

- **Echo**: a bare python-telegram-bot Application with one handler that answers a text
  message with its text; the reference every timing in ``bench/`` is a ratio to.
- **Same calls, no bot** (the floor): a bare Application whose one handler answers the tap
  and edits the message into the very screen the check-in showed for it (its text and
  buttons, made ready before the clock starts): the Bot API work of a tap with nothing
  behind it, which no check-in can cost less than.
- **Check-in**: the real Application (every handler group, the real services, a SQLite file)
  and consented patients whose daily prompt went out; each patient taps through the whole
  check-in as it comes: craving, mood, use ("No"), then "Skip" at the note question (notes are
  on: an encryption key is set). Each tap is a real callback-query Update; the bot answers
  it and edits the prompt into the next question, as it does in production.

Updates are processed one after another through each Application's own update processor, the
two bots taking turns: one patient's full check-in, then as many echoes, and so on (each
round with patients new to it, after a warm-up round), so the machine's busy moments fall on
both alike. The bot's rate limiter is in place with the settings' limits, on a clock
where a second passes between any two readings: it does all its bookkeeping, but never waits,
since a limiter that waits would measure Telegram's 30 messages a second, not the bot.

Reported per update: the median and mean in milliseconds, the ratio to the echo bot, and
aiosqlite's thread round trips (every call the event loop hands to the connection's thread;
``tests/support/roundtrips.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.app import build_application
from bot.config import Settings, configure_libraries
from bot.container import Services
from bot.ratelimit import TelegramRateLimiter
from bot.services.checkin_screens import prompt_key
from bot.services.crypto import generate_key
from tests.support.botapi import LocalBotApi
from tests.support.roundtrips import counting_round_trips
from tests.support.updates import callback_update, text_update

TOKEN = "123456:BENCH-token-not-real-000000000000"
ZONE = "America/New_York"
FIRST_USER = 30_000_001
ECHO_FIRST_USER = 40_000_001
PROMPT_MESSAGE_ID = 500
# The taps of one full check-in, in the order the questions come.
STEPS = ("craving", "mood", "use", "skip note")

App = Application[Any, Any, Any, Any, Any, Any]


@dataclass
class Figures:
    """Per-update timings (seconds) and round trips, for one bot."""

    seconds: list[float] = field(default_factory=list)
    by_step: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    round_trips: int = 0

    @property
    def median_ms(self) -> float:
        """Return the median per-update time in milliseconds."""
        return statistics.median(self.seconds) * 1000

    @property
    def mean_ms(self) -> float:
        """Return the mean per-update time in milliseconds."""
        return statistics.fmean(self.seconds) * 1000

    @property
    def trips_per_update(self) -> float:
        """Return the thread round trips per update."""
        return self.round_trips / len(self.seconds) if self.seconds else 0.0


@dataclass(frozen=True)
class Result:
    """The three bots' figures from one run."""

    echo: Figures
    checkin: Figures
    floor: Figures = field(default_factory=Figures)

    @property
    def median_ratio(self) -> float:
        """Return the check-in's median over the echo's."""
        return self.checkin.median_ms / self.echo.median_ms

    @property
    def mean_ratio(self) -> float:
        """Return the check-in's mean over the echo's."""
        return self.checkin.mean_ms / self.echo.mean_ms


class _SecondPerReading:
    """A monotonic clock that moves on a second at every reading: no limit is ever reached."""

    def __init__(self) -> None:
        self._now = 0.0

    def __call__(self) -> float:
        self._now += 1.0
        return self._now


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a text message with its text."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


SCREEN_KEY = "screen"


async def _answer_and_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the tap and edit its message into the screen made ready for it."""
    query = update.callback_query
    if query is None:
        return
    text, markup = context.bot_data[SCREEN_KEY]
    await query.answer()
    await query.edit_message_text(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
    )


async def _floor_bot() -> tuple[App, LocalBotApi]:
    peer = LocalBotApi()
    app = ApplicationBuilder().token(TOKEN).request(peer).get_updates_request(peer).build()
    app.add_handler(CallbackQueryHandler(_answer_and_edit))
    await app.initialize()
    return app, peer


def _screen(params: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """Return the text and buttons of an edit the check-in made."""
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    return str(params["text"]), InlineKeyboardMarkup.de_json(markup, None) if markup else None


async def _echo_bot() -> tuple[App, LocalBotApi]:
    peer = LocalBotApi()
    app = ApplicationBuilder().token(TOKEN).request(peer).get_updates_request(peer).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    await app.initialize()
    return app, peer


async def _companion(folder: Path) -> tuple[App, LocalBotApi]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        database_path=folder / "bench.sqlite3",
        clinic_timezone=ZONE,
        data_encryption_key=SecretStr(generate_key()),
        chart_workers=0,
    )
    return await started_unthrottled(settings)


async def started_unthrottled(settings: Settings) -> tuple[App, LocalBotApi]:
    """Start the real Application on an in-process peer, its limiter keeping its books but
    never waiting (its clock moves a second at every reading), without the scheduler."""
    peer = LocalBotApi()
    limiter = TelegramRateLimiter(
        overall_per_second=settings.rate_limit_per_second,
        per_chat_interval=settings.rate_limit_per_chat_seconds,
        monotonic=_SecondPerReading(),
    )
    app = build_application(settings, request=peer, start_scheduler=False, rate_limiter=limiter)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    return app, peer


def _services(app: App) -> Services:
    services = app.bot_data["services"]
    assert isinstance(services, Services)
    return services


def _seed(services: Services, count: int) -> list[int]:
    """Enrol ``count`` consented patients whose check-in prompt for today was sent."""
    settings = services.settings
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(ZONE)).date()
    before = (now - timedelta(days=2)).isoformat(timespec="seconds")
    stamp = now.isoformat(timespec="seconds")
    users = [FIRST_USER + i for i in range(count)]
    with sqlite3.connect(settings.database_path) as conn:
        conn.execute(
            "INSERT INTO clinicians (id, telegram_id, name, role, created_at) "
            "VALUES (1, 9999001, 'Dr. Bench', 'admin', ?)",
            (before,),
        )
        conn.executemany(
            "INSERT INTO patients (id, label, telegram_user_id, chat_id, status, timezone, "
            "created_at, enrolled_at, consented_at) VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            [
                (i + 1, f"B-{i + 1:05d}", u, u, ZONE, before, before, before)
                for i, u in enumerate(users)
            ],
        )
        conn.executemany(
            "INSERT INTO care_team (patient_id, clinician_id) VALUES (?, 1)",
            [(i + 1,) for i in range(count)],
        )
        conn.executemany(
            "INSERT INTO consents (patient_id, version, decision, decided_at) "
            "VALUES (?, ?, 'agreed', ?)",
            [(i + 1, settings.consent_version, before) for i in range(count)],
        )
        conn.executemany(
            "INSERT INTO deliveries (dedupe_key, kind, patient_id, chat_id, local_date, slot, "
            "due_at, expires_at, status, attempts, message_id, created_at, sent_at) "
            "VALUES (?, 'checkin', ?, ?, ?, '20:00', ?, ?, 'sent', 1, ?, ?, ?)",
            [
                (prompt_key(i + 1, today), i + 1, u, today.isoformat(), stamp, stamp,
                 PROMPT_MESSAGE_ID, before, stamp)
                for i, u in enumerate(users)
            ],
        )  # fmt: skip
    return users


def _taps(app: App, user_id: int, day: str) -> list[tuple[str, Update]]:
    """Build the taps of one full check-in on the daily prompt, as Telegram sends them."""
    data = (
        callbacks.checkin(day, callbacks.CHECKIN_CRAVING, "6"),
        callbacks.checkin(day, callbacks.CHECKIN_MOOD, "4"),
        callbacks.checkin(day, callbacks.CHECKIN_USE, callbacks.CHECKIN_NO),
        callbacks.checkin(day, callbacks.CHECKIN_NOTE, callbacks.CHECKIN_SKIP),
    )
    return [
        (step, callback_update(app.bot, user_id, tap, message_id=PROMPT_MESSAGE_ID))
        for step, tap in zip(STEPS, data, strict=True)
    ]


async def _process(app: App, update: Update) -> float:
    started = time.perf_counter()
    await app.update_processor.process_update(update, app.process_update(update))
    return time.perf_counter() - started


@dataclass(frozen=True)
class _Bot:
    app: App
    peer: LocalBotApi


async def _round(bots: dict[str, _Bot], patients: Sequence[int], result: Result) -> None:
    """Run each patient's full check-in, the same calls with no bot, then as many echoes.

    The bots take turns patient by patient, so a busy moment of the machine falls on all
    alike.
    """
    companion, floor, echo = bots["checkin"], bots["floor"], bots["echo"]
    services = _services(companion.app)
    day = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date().isoformat()
    for bot in bots.values():
        bot.peer.clear()
    for user in patients:
        taps = _taps(companion.app, user, day)
        echoes = [
            text_update(echo.app.bot, ECHO_FIRST_USER + n, "How are you today?")
            for n in range(len(taps))
        ]
        screens = []
        with counting_round_trips(services.db) as trips:
            for step, update in taps:
                elapsed = await _process(companion.app, update)
                result.checkin.seconds.append(elapsed)
                result.checkin.by_step[step].append(elapsed)
                screens.append(_screen(companion.peer.of("editMessageText")[-1]))
        result.checkin.round_trips += trips.count
        for (step, _), screen in zip(taps, screens, strict=True):
            floor.app.bot_data[SCREEN_KEY] = screen
            update = callback_update(floor.app.bot, user, "tap", message_id=PROMPT_MESSAGE_ID)
            elapsed = await _process(floor.app, update)
            result.floor.seconds.append(elapsed)
            result.floor.by_step[step].append(elapsed)
        for update in echoes:
            result.echo.seconds.append(await _process(echo.app, update))
    taps_made = len(patients) * len(STEPS)
    edits = companion.peer.of("editMessageText")
    assert len(edits) == taps_made, f"{len(edits)} screens for {taps_made} taps"
    assert len(companion.peer.of("answerCallbackQuery")) == taps_made
    assert "saved" in _summary_of(services, patients[-1]), "the last check-in was not completed"
    assert [c.params["text"] for c in floor.peer.calls if c.method == "editMessageText"] == [
        e["text"] for e in edits
    ], "the floor bot showed other screens"
    assert len(echo.peer.of("sendMessage")) == taps_made, "the echo bot missed an update"


def _summary_of(services: Services, user: int) -> str:
    """Return which of the day's values the last patient has stored, as a word."""
    with sqlite3.connect(services.settings.database_path) as conn:
        row = conn.execute(
            "SELECT craving, mood, used FROM checkins JOIN patients p ON p.id = patient_id "
            "WHERE p.telegram_user_id = ?",
            (user,),
        ).fetchone()
    return "saved" if row is not None and None not in row else "incomplete"


async def measure(patients: int = 200, rounds: int = 5) -> Result:
    """Print and return the per-update cost of full check-ins and of the bare echo bot."""
    result = Result(Figures(), Figures())
    with tempfile.TemporaryDirectory() as folder:
        companion = _Bot(*await _companion(Path(folder)))
        bots = {
            "checkin": companion,
            "floor": _Bot(*await _floor_bot()),
            "echo": _Bot(*await _echo_bot()),
        }
        users = _seed(_services(companion.app), patients * (rounds + 1))
        try:
            # A warm-up round: templates compiled, statements prepared, caches filled.
            await _round(bots, users[:patients], Result(Figures(), Figures()))
            gc.collect()
            for n in range(1, rounds + 1):
                await _round(bots, users[n * patients : (n + 1) * patients], result)
        finally:
            await bots["floor"].app.shutdown()
            await bots["echo"].app.shutdown()
            assert companion.app.post_shutdown is not None
            await companion.app.post_shutdown(companion.app)
            await companion.app.shutdown()
    _print(result, patients, rounds)
    return result


def _print(result: Result, patients: int, rounds: int) -> None:
    echo, checkin = result.echo, result.checkin
    print(
        f"update cost, {rounds} rounds of {patients} full check-ins "
        f"({len(STEPS)} taps each: {', '.join(STEPS)}) against as many echoes:"
    )
    print(
        f"  echo bot:  median {echo.median_ms:.3f} ms, mean {echo.mean_ms:.3f} ms per update "
        f"({len(echo.seconds)} updates)"
    )
    floor = result.floor
    print(
        f"  same Bot API calls, no bot behind them: median {floor.median_ms:.3f} ms, mean "
        f"{floor.mean_ms:.3f} ms per update (ratio to the echo bot: median "
        f"{floor.median_ms / echo.median_ms:.1f}x, mean {floor.mean_ms / echo.mean_ms:.1f}x)"
    )
    print(
        f"  check-in:  median {checkin.median_ms:.3f} ms, mean {checkin.mean_ms:.3f} ms per "
        f"update ({len(checkin.seconds)} updates); {checkin.trips_per_update:.1f} aiosqlite "
        f"round trips per update"
    )
    steps = ", ".join(
        f"{step} {statistics.median(checkin.by_step[step]) * 1000:.3f}" for step in STEPS
    )
    print(f"  check-in median by tap (ms): {steps}")
    print(
        f"  ratio to the echo bot: median {result.median_ratio:.1f}x, mean "
        f"{result.mean_ratio:.1f}x (target <= 2x); to the same calls with no bot: median "
        f"{checkin.median_ms / floor.median_ms:.1f}x, mean {checkin.mean_ms / floor.mean_ms:.1f}x"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the side-by-side measurement."""
    parser = argparse.ArgumentParser(prog="python -m bench.updates")
    parser.add_argument("--patients", type=int, default=200, help="check-ins per round")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds of each bot")
    args = parser.parse_args(argv)
    configure_libraries()
    asyncio.run(measure(args.patients, args.rounds))


if __name__ == "__main__":
    main()
