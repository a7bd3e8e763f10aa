"""The dispatcher: claims due deliveries, sends them through the rate-limited bot, records outcomes.

Telegram errors have meaning here:
- ``Forbidden``: the patient blocked the bot; no retry, the patient is marked unreachable and
  the care team is told.
- ``RetryAfter``: the rate limiter already waited as told and retried; if it still fails the row
  goes back to pending until Telegram's wait is over.
- ``TimedOut``: the message may have arrived (Telegram has no idempotency key), so the row is
  retried once and counted as an unknown outcome; a second unknown outcome is taken as sent.
- ``NetworkError`` (5xx, connection refused): nothing arrived; the row stays pending with backoff.
- ``BadRequest``: Telegram will never accept it; the row is recorded as failed.

Everything the dispatcher sends takes the rate limiter's queued lane with the delivery's
priority: a reply to a person always goes first, then alerts, then reminders, then digests.
Urgent rows (alerts, crisis replies, follow-ups) are claimed apart from the rest: beyond the
cap on sends in flight, and even while the same chat has a less urgent send under way, so an
alert never waits for a fan-out to drain or for its clinician's digest to finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaDocument,
    InputMediaPhoto,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.clock import Clock
from bot.models import Delivery
from bot.ratelimit import Queued, TelegramRateLimiter
from bot.services.careteam import ALERT, ALERT_PRIORITY
from bot.services.reminder_core import SAFETY_TIMEOUT_KINDS, Outgoing
from bot.services.reminders import ReminderService
from bot.services.reports import DigestFiles
from bot.services.safetynet import SafetyNetService
from bot.services.weekly import DIGEST, DigestDeliveries
from bot.storage.deliveries import DeliveryRepository, SentOutcome

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=5)
REPEAT_LEASE = timedelta(minutes=5)


@dataclass
class DispatchStats:
    """Counters for logs and benchmarks."""

    sent: int = 0
    repeats: int = 0
    retried: int = 0
    unknown: int = 0
    failed: int = 0
    missed: int = 0
    unreachable: int = 0


@dataclass
class Dispatcher:
    """Sends due deliveries; one instance per running bot."""

    bot: Bot
    reminders: ReminderService
    clock: Clock
    max_in_flight: int = 60
    repeats_allowed: int = 3
    stats: DispatchStats = field(default_factory=DispatchStats)
    on_unreachable: Callable[[int], None] | None = None
    digests: DigestDeliveries | None = None
    # Resolves the safety net's timeout rows (an unanswered "are you safe?" alerts the team).
    safety_net: SafetyNetService | None = None
    # This process's worker id: its claims carry it, so survivors know whose sends to take over.
    worker: str | None = None
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    _urgent_in_flight: set[asyncio.Task[None]] = field(default_factory=set)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _outcomes: GroupCommit = field(init=False)
    _queued_lane: bool = field(init=False)
    _waker: asyncio.Task[None] | None = None
    _wanted: bool = False

    def __post_init__(self) -> None:
        self._outcomes = GroupCommit(self.reminders.deliveries)
        self._queued_lane = isinstance(getattr(self.bot, "rate_limiter", None), TelegramRateLimiter)

    @property
    def in_flight(self) -> int:
        """Return how many sends are under way."""
        return len(self._in_flight)

    async def recover(self) -> None:
        """After a crash: rows claimed but never recorded are resent once."""
        resend, assumed = await self.reminders.deliveries.recover_in_flight(self.worker)
        if resend or assumed:
            log.warning("recovered in-flight deliveries resend=%s assumed_sent=%s", resend, assumed)

    async def tick(self) -> None:
        """Claim what is due and start sending it; return without waiting for the sends."""
        if self._lock.locked():
            return
        async with self._lock:
            await self._claim_and_start()

    def wake(self) -> None:
        """Run a tick now, or right after the one under way, without waiting for it.

        A handler that has just written an alert calls this instead of awaiting a tick, so
        the update it handles goes on at once.
        """
        self._wanted = True
        if self._waker is None or self._waker.done():
            self._waker = asyncio.ensure_future(self._tick_while_wanted())

    async def _tick_while_wanted(self) -> None:
        while self._wanted:
            self._wanted = False
            try:
                async with self._lock:
                    await self._claim_and_start()
            except Exception:
                log.exception("dispatcher tick on request failed")

    async def _claim_and_start(self) -> None:
        now = self.clock.now()
        deliveries = self.reminders.deliveries
        for missed in await deliveries.expire_overdue(now):
            self.stats.missed += 1
            log.warning(
                "delivery missed (not sent in its grace window) delivery_id=%s kind=%s",
                missed.id,
                missed.kind,
            )
        # Urgent rows first, with room of their own: a full fan-out never holds them back.
        room = self.max_in_flight - len(self._urgent_in_flight)
        urgent = await deliveries.claim_due(
            now, room, up_to_priority=ALERT_PRIORITY, worker=self.worker
        )
        for delivery in urgent:
            self._start(self._send_first(delivery), urgent=True)
        room = self.max_in_flight - self._routine_in_flight
        for delivery in await deliveries.claim_due(now, room, worker=self.worker):
            self._start(self._send_first(delivery), urgent=delivery.priority <= ALERT_PRIORITY)
        room = self.max_in_flight - self._routine_in_flight
        for delivery in await deliveries.claim_repeats(now, room, now + REPEAT_LEASE):
            self._start(self._send_repeat(delivery))

    @property
    def _routine_in_flight(self) -> int:
        return len(self._in_flight) - len(self._urgent_in_flight)

    async def drain(self, within_seconds: float | None = None) -> None:
        """Wait for the sends under way (used at shutdown and in tests)."""
        if self._waker is not None and not self._waker.done():
            await asyncio.wait({self._waker}, timeout=within_seconds)
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=within_seconds)

    def _start(self, coro: Coroutine[Any, Any, None], *, urgent: bool = False) -> None:
        task = asyncio.ensure_future(coro)
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if urgent:
            self._urgent_in_flight.add(task)
            task.add_done_callback(self._urgent_in_flight.discard)

    def _lane(self, delivery: Delivery) -> dict[str, Any]:
        """Return the keyword that puts a send in the limiter's queued lane, by priority."""
        if not self._queued_lane:
            return {}
        return {"rate_limit_args": Queued(priority=delivery.priority)}

    async def _send_first(self, delivery: Delivery) -> None:
        if delivery.kind == DIGEST:
            await self._send_digest(delivery)
            return
        if delivery.kind in SAFETY_TIMEOUT_KINDS:
            await self._resolve_timeout(delivery)
            return
        try:
            outgoing = await self.reminders.compose(delivery)
            if outgoing is None:
                await self.reminders.deliveries.record_failed(delivery.id, "nothing_to_send")
                return
            message_id = await self._send(outgoing, self._lane(delivery))
        except Forbidden:
            await self._forbidden(delivery)
        except TimedOut:
            await self._timed_out(delivery)
        except RetryAfter as exc:
            await self._retry_later(delivery, _seconds(exc.retry_after), "RetryAfter")
        except BadRequest as exc:
            self.stats.failed += 1
            log.error("delivery refused delivery_id=%s error=%s", delivery.id, type(exc).__name__)
            await self.reminders.deliveries.record_failed(delivery.id, type(exc).__name__)
        except NetworkError as exc:
            await self._retry_later(delivery, _backoff(delivery.attempts), type(exc).__name__)
        except Exception:
            # Never leave a claimed row behind: put it back and let the next tick try again.
            log.exception("delivery crashed delivery_id=%s", delivery.id)
            await self._retry_later(delivery, _backoff(delivery.attempts), "internal_error")
        else:
            self.stats.sent += 1
            now = self.clock.now()
            await self._outcomes.record(
                SentOutcome(
                    delivery.id, message_id, now, self.reminders.next_repeat_after(delivery, now)
                )
            )
            log.info("delivery sent delivery_id=%s kind=%s", delivery.id, delivery.kind)

    async def _send_digest(self, delivery: Delivery) -> None:
        """Build a digest and send its parts in order, resuming after the parts already sent."""
        if self.digests is None:
            await self._retry_later(delivery, _backoff(delivery.attempts), "no_digest_service")
            return
        message_id: int | None = None
        try:
            built = await self.digests.build(delivery)
            if built is None:
                await self.reminders.deliveries.record_failed(delivery.id, "nothing_to_send")
                return
            _, files = built
            parts = _digest_parts(self.bot, delivery.chat_id, files, self._lane(delivery))
            for index in range(delivery.progress, len(parts)):
                message_id = await parts[index]()
                await self.digests.record_progress(delivery.id, index + 1)
        except Forbidden:
            self.stats.failed += 1
            log.error("digest not delivered: clinician blocked the bot delivery_id=%s", delivery.id)
            await self.reminders.deliveries.record_failed(delivery.id, "Forbidden")
        except RetryAfter as exc:
            await self._retry_later(delivery, _seconds(exc.retry_after), "RetryAfter")
        except BadRequest as exc:
            self.stats.failed += 1
            log.error("digest refused delivery_id=%s error=%s", delivery.id, type(exc).__name__)
            await self.reminders.deliveries.record_failed(delivery.id, type(exc).__name__)
        except NetworkError as exc:  # TimedOut included: the parts sent so far are recorded
            await self._retry_later(delivery, _backoff(delivery.attempts), type(exc).__name__)
        except Exception:
            log.exception("digest crashed delivery_id=%s", delivery.id)
            await self._retry_later(delivery, _backoff(delivery.attempts), "internal_error")
        else:
            self.stats.sent += 1
            await self._outcomes.record(
                SentOutcome(delivery.id, message_id, self.clock.now(), None)
            )
            log.info("digest sent delivery_id=%s", delivery.id)

    async def _resolve_timeout(self, delivery: Delivery) -> None:
        """Alert the team for an unanswered safety question; nothing goes to the patient."""
        try:
            if self.safety_net is not None:
                await self.safety_net.on_timeout(delivery)
        except Exception:
            log.exception("safety timeout crashed delivery_id=%s", delivery.id)
            await self._retry_later(delivery, _backoff(delivery.attempts), "internal_error")
            return
        await self._outcomes.record(SentOutcome(delivery.id, None, self.clock.now(), None))
        log.info("safety timeout resolved delivery_id=%s kind=%s", delivery.id, delivery.kind)

    async def _send_repeat(self, delivery: Delivery) -> None:
        if delivery.repeats_sent >= self.repeats_allowed:
            if await self.reminders.deliveries.record_missed(delivery.id, "no_answer"):
                self.stats.missed += 1
                log.info("dose recorded missed delivery_id=%s", delivery.id)
            return
        try:
            outgoing = await self.reminders.compose(delivery, repeat=True)
            if outgoing is None:
                await self.reminders.deliveries.record_missed(delivery.id, "schedule_removed")
                return
            message_id = await self._send(outgoing, self._lane(delivery))
        except Forbidden:
            await self._forbidden(delivery)
            return
        except TelegramError as exc:
            # The lease brings the repeat back; nothing was lost.
            log.warning("repeat not sent delivery_id=%s error=%s", delivery.id, type(exc).__name__)
            return
        self.stats.repeats += 1
        now = self.clock.now()
        await self._outcomes.record(
            SentOutcome(
                delivery.id, message_id, now, now + self.reminders.repeat_interval, repeat=True
            )
        )

    async def _send(self, outgoing: Outgoing, lane: dict[str, Any]) -> int:
        markup = (
            InlineKeyboardMarkup(
                [
                    [InlineKeyboardButton(text, callback_data=data) for text, data in row]
                    for row in outgoing.buttons
                ]
            )
            if outgoing.buttons
            else None
        )
        message = await self.bot.send_message(
            outgoing.chat_id,
            outgoing.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            disable_web_page_preview=True,
            **lane,
        )
        return message.message_id

    async def _forbidden(self, delivery: Delivery) -> None:
        self.stats.failed += 1
        await self.reminders.deliveries.record_failed(delivery.id, "Forbidden")
        if delivery.kind == ALERT or delivery.patient_id is None:
            log.error("alert not delivered: clinician blocked the bot delivery_id=%s", delivery.id)
            return
        self.stats.unreachable += 1
        await self.reminders.mark_unreachable(delivery.patient_id)

    async def _timed_out(self, delivery: Delivery) -> None:
        self.stats.unknown += 1
        if delivery.unknown_sends >= 1:
            # Retried once already; a third copy would be worse than a possible gap.
            now = self.clock.now()
            log.warning("delivery outcome unknown twice, taken as sent delivery_id=%s", delivery.id)
            await self.reminders.deliveries.record_sent(
                delivery.id, None, now, self.reminders.next_repeat_after(delivery, now)
            )
            return
        self.stats.retried += 1
        await self.reminders.deliveries.record_retry(
            delivery.id, self.clock.now(), "TimedOut", unknown=True
        )

    async def _retry_later(self, delivery: Delivery, wait: timedelta, error: str) -> None:
        self.stats.retried += 1
        log.warning(
            "delivery will be retried delivery_id=%s error=%s wait_s=%.0f",
            delivery.id,
            error,
            wait.total_seconds(),
        )
        await self.reminders.deliveries.record_retry(
            delivery.id, self.clock.now() + wait, error, unknown=False
        )


class GroupCommit:
    """Record sends as soon as they succeed, sharing one transaction among those that finish
    together.

    Each caller waits until its own outcome is committed, so a crash can lose no more than
    writing one by one would (the send whose answer had not been recorded yet), while a burst
    of reminders costs one commit per batch instead of one per message.
    """

    def __init__(self, deliveries: DeliveryRepository) -> None:
        self._deliveries = deliveries
        self._waiting: list[tuple[SentOutcome, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, outcome: SentOutcome) -> None:
        """Commit one outcome (together with any others waiting) and return once it is stored."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((outcome, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        await future

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._deliveries.record_sent_many([outcome for outcome, _ in batch])
            except Exception as exc:  # handed to every waiting caller, who handles it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


SendPart = Callable[[], Coroutine[Any, Any, int]]


def _digest_parts(
    bot: Bot, chat_id: int, files: DigestFiles, lane: dict[str, Any]
) -> list[SendPart]:
    """Return the digest's sends in order: the message parts, the charts, then the files.

    Everything is sent with ``protect_content``: a clinician cannot forward or save it from
    Telegram, which keeps the record inside the care team (42 CFR part 2).
    """
    parts: list[SendPart] = []
    for text in files.messages:

        async def send_text(text: str = text) -> int:
            message = await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                disable_web_page_preview=True,
                protect_content=True,
                **lane,
            )
            return message.message_id

        parts.append(send_text)
    if len(files.photos) == 1:
        photo = files.photos[0]

        async def send_photo() -> int:
            message = await bot.send_photo(
                chat_id,
                InputFile(photo.png, filename=photo.filename),
                caption=photo.caption,
                parse_mode=ParseMode.HTML,
                protect_content=True,
                **lane,
            )
            return message.message_id

        parts.append(send_photo)
    elif files.photos:

        async def send_album() -> int:
            messages = await bot.send_media_group(
                chat_id,
                [
                    # Raw bytes, not an InputFile: only then does PTB attach each file to its
                    # item ("attach://..."); Telegram refuses an album whose items have none.
                    InputMediaPhoto(
                        p.png, filename=p.filename, caption=p.caption, parse_mode=ParseMode.HTML
                    )
                    for p in files.photos
                ],
                protect_content=True,
                **lane,
            )
            return messages[-1].message_id

        parts.append(send_album)

    async def send_files() -> int:
        messages = await bot.send_media_group(
            chat_id,
            [
                InputMediaDocument(files.report, filename=files.report_name),
                InputMediaDocument(
                    files.csv,
                    filename=files.csv_name,
                    caption=files.files_caption,
                    parse_mode=ParseMode.HTML,
                ),
            ],
            protect_content=True,
            **lane,
        )
        return messages[-1].message_id

    parts.append(send_files)
    return parts


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 10)), MAX_BACKOFF)


def _seconds(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))  # type: ignore[arg-type]
