"""Load: hundreds of patients check in and answer reminders at once, the bot as its own process.

    python -m bench.load --patients 500 --seconds 150

The bot runs as a clinic runs it (``python -m bot run``, its settings at their defaults)
against the Bot API emulator with Telegram's flood limits switched on. Every patient is
enrolled and consented, on one of the clinicians' care teams, and takes a medication whose
next reminder is made due at a moment within the window (the database decides what is due,
as in the end-to-end tests). Within the window each patient answers that reminder (Taken;
Snooze, then a delay; or Skip, then a reason; a few tap Taken twice), and a share of them also
do the daily check-in (/checkin, craving, mood, use), each thinking one to three seconds
before a tap.

Afterwards it checks that nothing was lost: every action got its reply, every patient got one
reminder, the database holds each answer once with what was chosen and one check-in per
patient and day with the values tapped, every update was taken in, and the bot's log has no
error, traceback or "database is locked". It prints the reply latency (from the patient's
update being queued at the emulator to the bot's reply reaching it, both by the emulator's
clock), how late the reminders went out, and the throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import random
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.clinic import (
    MEDICATION,
    SKIP_REASONS,
    PatientPlan,
    create_users,
    database_problems,
    log_problems,
    make_plans,
    migrate,
    move_due,
    seed_clinic,
    wait_for_planning,
)
from bot.config import Settings
from tests.emulator import (
    AsyncEmulatorClient,
    AsyncUser,
    ChatEvent,
    EmulatorError,
    EmulatorThread,
)

THINK_SECONDS = (1.0, 3.0)
REPLY_TIMEOUT = 120.0  # a reply later than this counts as lost
SLOW_REPLY = 0.8  # seconds: slower replies are looked at more closely
CHAT_SPACING = 1.2  # a reply this soon after its chat's last message was held by the spacing


class Feed:
    """Every chat's events from the emulator's one log, handed to the patients who wait."""

    def __init__(self, emu: AsyncEmulatorClient, after_seq: int) -> None:
        self._emu = emu
        self._after = after_seq
        self._events: dict[int, list[ChatEvent]] = defaultdict(list)
        self._arrived: dict[int, asyncio.Event] = {}

    async def follow(self) -> None:
        """Read the log until cancelled."""
        while True:
            page = await self._emu.events(after_seq=self._after, timeout=5.0)
            for event in page.events:
                self._events[event.chat_id].append(event)
                arrived = self._arrived.pop(event.chat_id, None)
                if arrived is not None:
                    arrived.set()
            self._after = page.next_after_seq

    def events(self, chat_id: int) -> list[ChatEvent]:
        """Return what happened in one chat so far."""
        return list(self._events[chat_id])

    async def wait(
        self, chat_id: int, accept: Callable[[ChatEvent], bool], after_seq: int, within: float
    ) -> ChatEvent | None:
        """Return the first accepted event after ``after_seq``, or None after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            for event in self._events[chat_id]:
                if event.seq > after_seq and accept(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            arrived = self._arrived.setdefault(chat_id, asyncio.Event())
            try:
                await asyncio.wait_for(arrived.wait(), remaining)
            except TimeoutError:
                return None


@dataclass
class Outcome:
    """What the patients did and saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lost: list[str] = field(default_factory=list)
    reminders: dict[int, int] = field(default_factory=dict)  # patient -> the reminder's message
    reminder_delays: list[float] = field(default_factory=list)
    checked_in: set[int] = field(default_factory=set)
    double_taps: int = 0
    slow: list[tuple[int, float]] = field(default_factory=list)  # (chat, reply time)
    first_action: float = float("inf")
    last_reply: float = 0.0

    @property
    def actions(self) -> int:
        """Return how many patient actions were answered."""
        return sum(len(values) for values in self.latencies.values())

    def answered(self, name: str, chat: int, queued: float, replied: float) -> None:
        """Record one action's reply."""
        self.latencies[name].append(replied - queued)
        if replied - queued > SLOW_REPLY:
            self.slow.append((chat, replied))
        self.first_action = min(self.first_action, queued)
        self.last_reply = max(self.last_reply, replied)


class Patient:
    """One simulated patient: answers the reminder and maybe checks in, like a person would."""

    def __init__(
        self,
        plan: PatientPlan,
        emu: AsyncEmulatorClient,
        feed: Feed,
        outcome: Outcome,
        start: float,
        rng: random.Random,
    ) -> None:
        self.plan = plan
        self._emu = emu
        self._feed = feed
        self._outcome = outcome
        self._start = start
        self._rng = rng

    async def _think(self) -> None:
        await asyncio.sleep(self._rng.uniform(*THINK_SECONDS))

    async def _reply(
        self, name: str, after_seq: int, accept: Callable[[ChatEvent], bool]
    ) -> ChatEvent | None:
        """Wait for the bot's reply to the action queued as event ``after_seq``."""
        chat = self.plan.user_id
        mine = await self._feed.wait(chat, lambda e: e.seq == after_seq, after_seq - 1, 30)
        reply = await self._feed.wait(chat, accept, after_seq, REPLY_TIMEOUT)
        if mine is None or reply is None:
            self._outcome.lost.append(f"{self.plan.label} {name}: no reply")
            return None
        self._outcome.answered(name, chat, mine.t, reply.t)
        return reply

    async def _press(
        self, user: AsyncUser, name: str, text: str, message_id: int, expect: str
    ) -> bool:
        await user.press(text, message_id=message_id)
        reply = await self._reply(name, user.marker, _edit_of(message_id))
        if reply is not None and not reply.message.contains(expect):
            self._outcome.lost.append(f"{self.plan.label} {name}: reply without {expect!r}")
            return False
        return reply is not None

    async def check_in(self) -> None:
        """Send /checkin and answer craving, mood and use."""
        plan = self.plan
        assert plan.checkin_at is not None
        await asyncio.sleep(max(0.0, self._start + plan.checkin_at - time.time()))
        user = await self._emu.user(plan.user_id)
        await user.send("/checkin")
        question = await self._reply(
            "checkin:/checkin",
            user.marker,
            lambda e: e.kind == "bot_message" and e.message.contains("Daily check-in"),
        )
        if question is None:
            return
        message_id = question.message.message_id
        steps = (
            ("checkin:craving", str(plan.craving), "How was your mood"),
            ("checkin:mood", str(plan.mood), "Since your last check-in"),
            ("checkin:use", "Yes" if plan.used else "No", "Check-in saved"),
        )
        for name, label, expect in steps:
            await self._think()
            if not await self._press(user, name, label, message_id, expect):
                return
        self._outcome.checked_in.add(plan.user_id)

    async def answer_reminder(self) -> None:
        """Wait for the dose reminder and answer it as planned."""
        plan = self.plan
        within = self._start + plan.reminder_at - time.time() + REPLY_TIMEOUT
        reminder = await self._feed.wait(plan.user_id, _reminder, 0, within)
        if reminder is None:
            self._outcome.lost.append(f"{plan.label}: no reminder")
            return
        self._outcome.reminders[plan.user_id] = reminder.message.message_id
        message_id = reminder.message.message_id
        await self._think()
        user = await self._emu.user(plan.user_id)
        if plan.answer == "taken" and plan.double_tap:
            await self._tap_twice(user, message_id)
        elif plan.answer == "taken":
            await self._press(user, "dose:taken", "Taken", message_id, "Taken")
        elif plan.answer == "snooze":
            if await self._press(user, "dose:snooze", "Snooze", message_id, "Remind you again"):
                await self._think()
                await self._press(user, "dose:snooze 10 min", "10 min", message_id, "Snoozed")
        elif await self._press(user, "dose:skip", "Skip", message_id, "Skipping"):
            await self._think()
            reason = SKIP_REASONS[plan.skip_reason]
            await self._press(user, "dose:skip reason", reason, message_id, "Skipped")

    async def _tap_twice(self, user: AsyncUser, message_id: int) -> None:
        """Tap Taken twice in a row, as an impatient thumb does: both taps are answered."""
        await user.press("Taken", message_id=message_id)
        first_tap = user.marker
        try:
            await user.press("Taken", message_id=message_id)
        except EmulatorError:  # the first tap's answer already took the buttons away
            second_tap = None
        else:
            second_tap = user.marker
        reply = await self._reply("dose:taken", first_tap, _edit_of(message_id))
        if reply is None or second_tap is None:
            return
        self._outcome.double_taps += 1
        edited = reply.seq

        def second_answer(event: ChatEvent) -> bool:
            return event.kind == "callback_answer" and event.seq > edited

        # Both taps get a callback answer; the second's comes after the first one's edit.
        await self._reply("dose:second tap", second_tap, second_answer)

    async def run(self) -> None:
        """Do everything planned for this patient, at the same time as everyone else."""
        jobs = [self.answer_reminder()]
        if self.plan.checkin_at is not None:
            jobs.append(self.check_in())
        await asyncio.gather(*jobs)


def _edit_of(message_id: int) -> Callable[[ChatEvent], bool]:
    return lambda e: e.kind == "edit" and e.message.message_id == message_id


def _reminder(event: ChatEvent) -> bool:
    return (
        event.kind == "bot_message"
        and event.message.has_button("Taken")
        and event.message.contains(MEDICATION[0])
    )


@dataclass
class LoadReport:
    """The run's figures and everything that went wrong."""

    outcome: Outcome
    plans: list[PatientPlan]
    seconds: float
    calls: int  # sends and edits the emulator accepted during the run
    slow_behind_chat: int  # slow replies that came soon after their chat's last message
    busiest_ten_seconds: float  # sends and edits a second in the busiest ten seconds
    busiest_second: int
    rate_limited: int
    problems: list[str]

    def summary(self) -> str:
        """Return the figures as printed lines."""
        outcome = self.outcome
        every = [value for values in outcome.latencies.values() for value in values]
        span = max(outcome.last_reply - outcome.first_action, 1e-9)
        lines = [
            f"{len(self.plans)} patients, {len(outcome.checked_in)} check-ins and "
            f"{len(outcome.reminders)} reminders answered in a {self.seconds:.0f} s window "
            f"({outcome.double_taps} double taps)",
            f"  reply latency: p50 {_ms(every, 0.5)}, p99 {_ms(every, 0.99)}, "
            f"max {_ms(every, 1.0)} (of {len(every)} actions)",
        ]
        for name in sorted(outcome.latencies):
            values = outcome.latencies[name]
            lines.append(
                f"    {name:<20} p50 {_ms(values, 0.5)}, p99 {_ms(values, 0.99)} ({len(values)})"
            )
        lines += [
            f"  replies over {SLOW_REPLY * 1000:.0f} ms: {len(outcome.slow)}, of which "
            f"{self.slow_behind_chat} came within {CHAT_SPACING} s of their chat's previous "
            "message or edit (one a second per chat)",
            f"  reminders sent after their due time: p50 {_ms(outcome.reminder_delays, 0.5)}, "
            f"p99 {_ms(outcome.reminder_delays, 0.99)}",
            f"  throughput: {outcome.actions / span:.1f} patient actions a second answered, "
            f"{self.calls / span:.1f} sends and edits a second ({self.busiest_ten_seconds:.1f} "
            "in the busiest ten seconds; the bot allows itself 29, edits included)",
            f"  busiest second at Telegram: {self.busiest_second} sends (its limit 30); "
            f"refused with 429: {self.rate_limited}",
            f"  lost answers {len(outcome.lost)}, problems {len(self.problems)}",
        ]
        lines += [f"    {problem}" for problem in (outcome.lost + self.problems)[:20]]
        return "\n".join(lines)


def _ms(values: list[float], share: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    if share == 0.5:
        return f"{statistics.median(ordered) * 1000:.0f} ms"
    index = min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))
    return f"{ordered[index] * 1000:.0f} ms"


async def drive(
    emu: AsyncEmulatorClient, db_path: Path, plans: list[PatientPlan], seconds: float
) -> LoadReport:
    """Run the load against a bot that polls already; check the chats and the database."""
    await emu.reset_stats()
    after = (await emu.events()).next_after_seq
    feed = Feed(emu, after)
    follower = asyncio.create_task(feed.follow())
    await wait_for_planning(db_path, len(plans))
    start = time.time() + 0.5  # a moment to make the reminders due first
    due = await asyncio.to_thread(move_due, db_path, plans, start)
    outcome = Outcome()
    rng = random.Random(len(plans))
    try:
        await asyncio.gather(*(Patient(p, emu, feed, outcome, start, rng).run() for p in plans))
        await asyncio.sleep(1.0)  # stray replies, duplicates and late updates show up by now
        if follower.done():
            follower.result()  # the log stopped being read: say why rather than blame the bot
    finally:
        follower.cancel()
    stats = await emu.stats()
    problems = []
    for plan in plans:
        reminders = [e for e in feed.events(plan.user_id) if _reminder(e)]
        if len(reminders) > 1:
            problems.append(f"{plan.label}: {len(reminders)} reminders")
        if reminders:
            outcome.reminder_delays.append(reminders[0].t - due[plan.user_id])
    to_chat: dict[int, list[float]] = defaultdict(list)
    for send in stats.sends:
        to_chat[send.chat_id].append(send.t)
    # The reply itself is among the chat's sends, accepted a few microseconds before its event.
    slow_behind_chat = sum(
        1
        for chat, replied in outcome.slow
        if any(replied - CHAT_SPACING <= t < replied - 0.01 for t in to_chat[chat])
    )
    every_call = sorted(send.t for send in stats.sends)
    busiest_ten = max(
        (bisect.bisect_left(every_call, t + 10.0) - i for i, t in enumerate(every_call)),
        default=0,
    )
    pending = sum(bot["pending"] for bot in stats.updates.values())
    if pending:
        problems.append(f"{pending} updates never taken in by the bot")
    problems += await asyncio.to_thread(
        database_problems, db_path, plans, outcome.reminders, outcome.checked_in
    )
    return LoadReport(
        outcome=outcome,
        plans=plans,
        seconds=seconds,
        calls=len(stats.sends),
        slow_behind_chat=slow_behind_chat,
        busiest_ten_seconds=busiest_ten / 10.0,
        busiest_second=stats.max_sends_within(1.0),
        rate_limited=stats.rate_limited,
        problems=problems,
    )


async def measure(patients: int, seconds: float, checkin_share: float, seed: int) -> LoadReport:
    """Run the load once with a fresh database, emulator and bot process; print the figures."""
    from bench.reply_delay import TOKEN, BotProcess  # noqa: PLC0415 - the bench's own process

    plans = make_plans(patients, seconds, checkin_share, seed)
    with tempfile.TemporaryDirectory() as tmp, EmulatorThread() as emulator:
        folder = Path(tmp)
        emulator.add_bot(TOKEN, username="companion_bench_bot")
        db_path = folder / "companion.sqlite3"
        await migrate(db_path)
        consent_version = Settings(_env_file=None).consent_version  # type: ignore[call-arg]
        seed_clinic(db_path, plans, consent_version)
        async with AsyncEmulatorClient(emulator.url, bot=TOKEN) as emu:
            await emu.set_rate_limit(per_chat_per_second=1, overall_per_second=30)
            create_users(emulator, plans)
            bot = BotProcess(folder, emulator.url)
            bot.env["LOG_LEVEL"] = "INFO"
            try:
                await bot.start(emu)
                report = await drive(emu, db_path, plans, seconds)
            finally:
                bot.stop()
            report.problems += log_problems(bot.logs())
    print(report.summary())
    return report


def main(argv: list[str] | None = None) -> None:
    """Run the load with the sizes given on the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--patients", type=int, default=500, help="simulated patients")
    parser.add_argument(
        "--seconds", type=float, default=150, help="the window in which patients start acting"
    )
    parser.add_argument(
        "--checkins", type=float, default=1.0, help="share of patients who also check in"
    )
    parser.add_argument("--seed", type=int, default=11, help="draws the load")
    args = parser.parse_args(argv)
    report = asyncio.run(measure(args.patients, args.seconds, args.checkins, args.seed))
    if report.outcome.lost or report.problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
