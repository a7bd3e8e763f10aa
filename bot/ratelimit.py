"""Outgoing rate limiting for the Bot API: the bot's flood-control budget and its use.

This module owns how fast the bot sends. Telegram allows a bot about 30 messages a second
overall, one message a second in a private chat and 20 a minute in a group; beyond that it
answers 429 with ``RetryAfter`` and, if pushed, bans the bot for a while. The limiter gives
each send a slot ahead of time instead of sleeping in lock-step:

* The overall limit is a grid of slots ``1/overall_per_second`` seconds apart, each holding
  at most one send, so no one-second window ever holds more than ``overall_per_second``
  sends. A send takes the first free slot at or after the moment its chat may receive again,
  so a busy chat never holds up the others: their sends fill the earlier slots. Since
  requests take a varying while to reach Telegram, a send also waits while 30 sends are in
  flight or were answered within the last second, so that Telegram never sees more.
* Each chat remembers when it may next receive (``per_chat_interval`` after its last slot,
  or after Telegram answered its last send if that was later), and a chat's send never
  starts while its previous one is still on its way, nor less than the interval after
  Telegram answered it (what Telegram counts is when a request reaches it);
  a group additionally keeps its last ``group_per_minute`` slots to stay within a minute's
  budget. Entries of chats that could receive right now carry no information and are pruned.
* ``RetryAfter`` is flood control for the whole bot: every send waits until it has passed
  (plus a small margin), then the failed send is tried again, up to ``max_retries`` times.

Sends come in two lanes. A reply to a person (any call without ``rate_limit_args``, or with
a number of retries) is *interactive*: it takes its slot at once, as described above. A send
that may wait (the dispatcher's reminders, digests and alerts pass ``Queued(priority)``) is
*queued*: it gets a slot only when that slot is at most ``queue_horizon`` ahead, so a
fan-out of a thousand reminders never holds more than a fifth of a second of future slots,
and a reply to a patient goes out within that much of its arrival. Queued sends are granted
slots in priority order (lower first), oldest first within a priority, skipping chats that
may not receive yet; in one chat they keep that order too, so an urgent alert overtakes the
remaining parts of the same clinician's digest.

Only requests that address a chat (their data has a ``chat_id``) are limited; ``getMe``,
``answerCallbackQuery`` and the like go straight through. Reserving a slot never awaits, so
concurrent senders on one event loop need no lock. Several workers on one PostgreSQL database
also share one budget (``shared``, ``bot/storage/send_budget.py``): once a send's turn has come
here, it takes a slot there too and waits for it, usually not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeAlias

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

__all__ = ["Queued", "SharedDelay", "TelegramRateLimiter"]

ApiResult: TypeAlias = bool | dict[str, Any] | list[dict[str, Any]]
ChatKey: TypeAlias = int | str
# Reserves a send's slot in a budget shared with other workers; returns how long to wait for it.
SharedDelay: TypeAlias = Callable[[ChatKey], Awaitable[float]]

_LOGGER = logging.getLogger(__name__)

_GROUP_WINDOW_SECONDS = 60.0
_PRUNE_AT_LEAST = 1024  # below this many entries, stale ones cost less than sweeping them
_SWEEP_EVERY_SECONDS = 60.0  # and a quiet bot still forgets old chats within a minute or so


_WINDOW_TOLERANCE = 1e-6
# Shared slots taken for one send at most, when it keeps waking past them.
SHARED_TRIES = 3
# Telegram's overall limit, counted by when sends reach it.
TELEGRAM_PER_SECOND = 30


@dataclass(frozen=True, slots=True)
class Queued:
    """``rate_limit_args`` of a send that may wait behind replies to people.

    Lower ``priority`` goes first (the dispatcher passes a delivery's: alerts 0, reminders 5,
    digests 8); ``max_retries``, when given, replaces the limiter's for this call.
    """

    priority: int = 5
    max_retries: int | None = None


@dataclass(eq=False)
class _Ticket:
    """A queued send waiting to be granted a slot."""

    priority: int
    order: int
    chat: ChatKey
    is_group: bool
    granted: asyncio.Future[float] = field(repr=False)

    @property
    def rank(self) -> tuple[int, int]:
        """Return the place in the queue: priority, then arrival."""
        return (self.priority, self.order)


class TelegramRateLimiter(BaseRateLimiter[int | Queued]):
    """Keep outgoing sends within Telegram's overall, per-chat and per-group limits.

    ``rate_limit_args``, when given to a bot method, is either a number that replaces
    ``max_retries`` for that call, or ``Queued(priority)`` for a send that may wait behind
    replies to people. ``shared``, when given, returns how long a send to a chat must wait for
    the budget shared with other workers, right before it goes. ``monotonic`` and ``sleep`` are
    the clock; tests pass a virtual one.
    """

    def __init__(
        self,
        *,
        overall_per_second: int = 30,
        per_chat_interval: float = 1.0,
        group_per_minute: int = 20,
        max_retries: int = 3,
        retry_margin: float = 0.1,
        queue_horizon: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shared: SharedDelay | None = None,
    ) -> None:
        if overall_per_second < 1 or group_per_minute < 1:
            msg = "overall_per_second and group_per_minute must be at least 1"
            raise ValueError(msg)
        if per_chat_interval < 0 or max_retries < 0 or retry_margin < 0 or queue_horizon < 0:
            msg = (
                "per_chat_interval, max_retries, retry_margin and queue_horizon "
                "must not be negative"
            )
            raise ValueError(msg)
        self._slots_per_second = overall_per_second
        self._per_chat_interval = per_chat_interval
        self._group_per_minute = group_per_minute
        self._max_retries = max_retries
        self._retry_margin = retry_margin
        self._queue_horizon = queue_horizon
        self._monotonic = monotonic
        self._sleep = sleep
        self._shared = shared
        # Slot index -> a later index to look at next; an index absent from the map is free.
        # Following the links (and shortening them) finds the first free slot quickly even
        # when a thousand sends are queued.
        self._taken_slots: dict[int, int] = {}
        self._chat_ready_at: dict[ChatKey, float] = {}
        # Per chat: when Telegram last answered a send to it, and, while a send to it is on
        # its way (or about to start), an event set when Telegram has answered.
        self._chat_answered_at: dict[ChatKey, float] = {}
        self._chat_on_its_way: dict[ChatKey, asyncio.Event] = {}
        self._group_recent: dict[ChatKey, deque[float]] = {}
        self._paused_until = -math.inf
        self._started: deque[float] = deque(maxlen=overall_per_second)
        # What Telegram may see in one second: its own limit, or ours if that is higher.
        self._arrival_budget = max(overall_per_second, TELEGRAM_PER_SECOND)
        self._answered_at: deque[float] = deque(maxlen=self._arrival_budget)
        self._in_flight = 0
        self._poll_interval = 1.0 / overall_per_second
        self._prune_slots_at = _PRUNE_AT_LEAST
        self._prune_chats_at = _PRUNE_AT_LEAST
        self._next_sweep = -math.inf
        # Queued sends not yet granted a slot, by rank; the pump grants them as slots come near.
        self._tickets: list[_Ticket] = []
        self._arrivals = itertools.count()
        self._pump: asyncio.Task[None] | None = None

    @property
    def tracked_chats(self) -> int:
        """Return how many chats the limiter still remembers (stale ones are swept)."""
        return len(
            self._chat_ready_at.keys() | self._group_recent.keys() | self._chat_answered_at.keys()
        )

    @property
    def queued(self) -> int:
        """Return how many queued sends wait for a slot."""
        return len(self._tickets)

    async def initialize(self) -> None:
        """Do nothing: the limiter holds no resources."""

    async def shutdown(self) -> None:
        """Forget all reservations and pauses; queued sends still waiting are cancelled."""
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        for ticket in self._tickets:
            ticket.granted.cancel()
        self._tickets.clear()
        self._taken_slots.clear()
        self._chat_ready_at.clear()
        self._chat_answered_at.clear()
        for on_its_way in self._chat_on_its_way.values():
            on_its_way.set()
        self._chat_on_its_way.clear()
        self._group_recent.clear()
        self._paused_until = -math.inf
        self._next_sweep = -math.inf

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | Queued | None,
    ) -> ApiResult:
        """Send the request in its turn, waiting out and retrying flood control as told."""
        chat = _chat_key(data.get("chat_id"))
        if chat is None:
            return await callback(*args, **kwargs)
        queued = rate_limit_args if isinstance(rate_limit_args, Queued) else None
        max_retries = self._max_retries
        if isinstance(rate_limit_args, int):
            max_retries = rate_limit_args
        elif queued is not None and queued.max_retries is not None:
            max_retries = queued.max_retries
        is_group = isinstance(chat, str) or chat < 0
        order = next(self._arrivals)  # a retry keeps its place among the queued sends
        retries = 0
        while True:
            if queued is None:
                await self._wait_for_turn(chat, is_group=is_group)
            else:
                await self._wait_in_queue(chat, is_group=is_group, rank=(queued.priority, order))
            await self._wait_for_chat(chat)
            try:
                await self._respect_overall_window()
            except BaseException:
                self._release_chat(chat)
                raise
            try:
                if self._shared is not None:
                    await self._wait_for_shared_slot(chat)
                return await callback(*args, **kwargs)
            except RetryAfter as flood:
                if retries >= max_retries:
                    _LOGGER.warning(
                        "flood control persists on %s after %d retries; giving up",
                        endpoint,
                        retries,
                    )
                    raise
                retries += 1
                pause = _retry_after_seconds(flood) + self._retry_margin
                self._paused_until = max(self._paused_until, self._monotonic() + pause)
                _LOGGER.warning(
                    "flood control on %s: pausing all sends for %.1f s (retry %d of %d)",
                    endpoint,
                    pause,
                    retries,
                    max_retries,
                )
            finally:
                self._answered(chat)

    async def _wait_for_shared_slot(self, chat: ChatKey) -> None:
        """Take the send's slot in the budget shared with other workers and wait for it.

        Last of all, so that the shared slot is as close as can be to the send itself.
        """
        assert self._shared is not None
        # Woken later than half a slot after it (a stalled loop), the slot is given up for a
        # new one: going late could crowd a second with the other workers' punctual sends.
        late_allowed = 0.5 / self._slots_per_second
        for _ in range(SHARED_TRIES):
            delay = await self._shared(chat)
            if delay <= 0:
                return
            due = self._monotonic() + delay
            await self._sleep(delay)
            if self._monotonic() - due <= late_allowed:
                return

    def _answered(self, chat: ChatKey) -> None:
        """Record that Telegram answered a send to ``chat``, and space the chat's next one.

        Slots are one interval apart, but a request reaches Telegram some milliseconds after
        it starts, more or fewer each time: two sends to a chat exactly one slot interval apart
        may arrive a little closer and be refused with a 429, which pauses every chat. Telegram
        had this one by the time it answered, so counting from the answer is always safe.
        """
        now = self._monotonic()
        self._in_flight -= 1
        self._answered_at.append(now)
        ready = now + self._per_chat_interval
        if ready > self._chat_ready_at.get(chat, -math.inf):
            self._chat_ready_at[chat] = ready
        if self._per_chat_interval > 0:
            self._chat_answered_at[chat] = now
        self._release_chat(chat)

    async def _wait_for_chat(self, chat: ChatKey) -> None:
        """Hold a send while the chat's last one is on its way, then until an interval after
        Telegram answered it; mark the chat's send as on its way.

        A slot is an interval after the chat's previous slot, and a send given its slot after
        the previous one was answered is spaced from that answer. But a send given its slot
        while the previous one was still on its way (a reply while the patient's reminder goes
        out) only knows the previous slot, and that request may have reached Telegram late:
        at its own slot it could arrive less than an interval after, and the 429 pauses every
        chat. Usually it waits only the few milliseconds the previous request was late.
        """
        if self._per_chat_interval <= 0:
            return
        while True:
            on_its_way = self._chat_on_its_way.get(chat)
            if on_its_way is not None:
                await on_its_way.wait()
                continue
            ready = self._chat_answered_at.get(chat, -math.inf) + self._per_chat_interval
            wait = max(ready, self._paused_until) - self._monotonic()
            if wait <= _WINDOW_TOLERANCE:
                break
            await self._sleep(wait)
        self._chat_on_its_way[chat] = asyncio.Event()

    def _release_chat(self, chat: ChatKey) -> None:
        """Let the chat's next send go (once an interval has passed since this answer)."""
        on_its_way = self._chat_on_its_way.pop(chat, None)
        if on_its_way is not None:
            on_its_way.set()

    async def _respect_overall_window(self) -> None:
        """Never start more sends in any one second than the overall limit, nor let more
        reach Telegram in any one second than it allows.

        The slot grid spaces sends evenly, but a busy event loop can wake several late sends
        at once; a window over the actual start times keeps such a catch-up from ever
        exceeding the limit. And requests reach Telegram a varying while after they start:
        sends started a little more than a second apart can arrive within one second. A send
        reaches Telegram before it is answered, so counting the sends still in flight and
        those answered within the last second bounds what Telegram can see in any second.
        """
        started = self._started
        while True:
            now = self._monotonic()
            wait = 0.0
            if len(started) == started.maxlen:
                wait = started[0] + 1.0 - now
            recent = [moment for moment in self._answered_at if moment > now - 1.0]
            if self._in_flight + len(recent) >= self._arrival_budget:
                # Wait for the oldest recent answer to leave the window, or for an answer.
                wait = max(wait, recent[0] + 1.0 - now if recent else self._poll_interval)
            if wait <= _WINDOW_TOLERANCE:  # grid slots are exact; float sums are not
                break
            await self._sleep(wait)
        started.append(now)
        self._in_flight += 1

    async def _wait_for_turn(self, chat: ChatKey, *, is_group: bool) -> None:
        """Reserve a slot for ``chat`` and sleep until it comes, queueing again after a pause."""
        while True:
            slot_time = self._reserve(chat, is_group=is_group)
            delay = slot_time - self._monotonic()
            if delay > 0:
                await self._sleep(delay)
            if self._monotonic() >= self._paused_until:
                return
            # Flood control began while this send waited: its slot fell inside the pause, and
            # letting every such send go at the pause's end would be a burst. Queue again.

    async def _wait_in_queue(self, chat: ChatKey, *, is_group: bool, rank: tuple[int, int]) -> None:
        """Wait until the pump grants ``chat`` a slot, then sleep until it comes."""
        while True:
            granted: asyncio.Future[float] = asyncio.get_running_loop().create_future()
            ticket = _Ticket(rank[0], rank[1], chat, is_group, granted)
            self._enqueue(ticket)
            try:
                slot_time = await granted
            finally:
                if not granted.done() or granted.cancelled():
                    self._discard(ticket)
            delay = slot_time - self._monotonic()
            if delay > 0:
                await self._sleep(delay)
            if self._monotonic() >= self._paused_until:
                return
            # Flood control began after the grant: queue again, in the same place.

    def _enqueue(self, ticket: _Ticket) -> None:
        """Add a ticket in rank order, grant what can be granted now, and keep the pump going."""
        index = len(self._tickets)
        while index and self._tickets[index - 1].rank > ticket.rank:
            index -= 1
        self._tickets.insert(index, ticket)
        self._grant(self._monotonic())
        if self._tickets and (self._pump is None or self._pump.done()):
            self._pump = asyncio.get_running_loop().create_task(self._run_pump())

    def _discard(self, ticket: _Ticket) -> None:
        with contextlib.suppress(ValueError):
            self._tickets.remove(ticket)

    async def _run_pump(self) -> None:
        """Grant queued sends their slots as the slots come within the horizon."""
        step = 1.0 / self._slots_per_second
        while self._tickets:
            await self._sleep(step)
            self._grant(self._monotonic())

    def _grant(self, now: float) -> None:
        """Give slots within the horizon to waiting tickets, best rank first.

        A chat's first ticket blocks its later ones (a chat's order is its tickets' rank
        order); a chat that may not receive yet is skipped, so it holds up no other chat.
        """
        if not self._tickets:
            return
        self._prune(now)
        horizon = now + self._queue_horizon
        seen: set[ChatKey] = set()
        for ticket in list(self._tickets):
            if ticket.chat in seen:
                continue
            seen.add(ticket.chat)
            if ticket.granted.done():  # cancelled while waiting
                self._discard(ticket)
                continue
            earliest = self._earliest(ticket.chat, now, is_group=ticket.is_group)
            if earliest > horizon:
                continue
            index = self._first_slot_at(earliest)
            if index / self._slots_per_second > horizon:
                if earliest <= now:
                    return  # every slot up to the horizon is taken
                continue
            self._discard(ticket)
            ticket.granted.set_result(self._take(index, ticket.chat, is_group=ticket.is_group))

    def _reserve(self, chat: ChatKey, *, is_group: bool) -> float:
        """Claim the first allowed slot for a send to ``chat`` and return its monotonic time."""
        now = self._monotonic()
        self._prune(now)
        earliest = self._earliest(chat, now, is_group=is_group)
        return self._take(self._first_slot_at(earliest), chat, is_group=is_group)

    def _earliest(self, chat: ChatKey, now: float, *, is_group: bool) -> float:
        """Return the first moment ``chat`` may receive, by its own and the bot's limits."""
        earliest = max(now, self._paused_until, self._chat_ready_at.get(chat, -math.inf))
        recent = self._group_recent.get(chat) if is_group else None
        if recent:
            # A group's slots stay in order, so the oldest of its last few is recent[0].
            earliest = max(earliest, recent[-1])
            if len(recent) == self._group_per_minute:
                earliest = max(earliest, recent[0] + _GROUP_WINDOW_SECONDS)
        return earliest

    def _first_slot_at(self, earliest: float) -> int:
        """Return the index of the first free slot at or after ``earliest``."""
        index = self._first_free_slot(math.ceil(earliest * self._slots_per_second))
        while index / self._slots_per_second < earliest:  # float rounding in the ceil above
            index = self._first_free_slot(index + 1)
        return index

    def _take(self, index: int, chat: ChatKey, *, is_group: bool) -> float:
        """Mark slot ``index`` taken by a send to ``chat``; return the slot's time."""
        self._taken_slots[index] = index + 1
        slot_time = index / self._slots_per_second
        self._chat_ready_at[chat] = slot_time + self._per_chat_interval
        if is_group:
            recent = self._group_recent.get(chat)
            if recent is None:
                recent = deque(maxlen=self._group_per_minute)
                self._group_recent[chat] = recent
            recent.append(slot_time)
        return slot_time

    def _first_free_slot(self, index: int) -> int:
        """Return the first free slot index at or after ``index``, shortening the links walked."""
        walked: list[int] = []
        while index in self._taken_slots:
            walked.append(index)
            index = self._taken_slots[index]
        for taken in walked:
            self._taken_slots[taken] = index
        return index

    def _prune(self, now: float) -> None:
        """Drop past slots and chats that may receive now, every minute or when the maps grow."""
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + _SWEEP_EVERY_SECONDS
        if sweep or len(self._taken_slots) > self._prune_slots_at:
            # Links only point forward, so dropping past slots never breaks a chain still in use.
            current = math.floor(now * self._slots_per_second)
            self._taken_slots = {k: v for k, v in self._taken_slots.items() if k >= current}
            self._prune_slots_at = max(_PRUNE_AT_LEAST, 2 * len(self._taken_slots))
        if sweep or len(self._chat_ready_at) > self._prune_chats_at:
            self._chat_ready_at = {c: t for c, t in self._chat_ready_at.items() if t > now}
            since = now - self._per_chat_interval
            self._chat_answered_at = {c: t for c, t in self._chat_answered_at.items() if t > since}
            self._group_recent = {
                chat: recent
                for chat, recent in self._group_recent.items()
                if recent[-1] + _GROUP_WINDOW_SECONDS > now
            }
            self._prune_chats_at = max(_PRUNE_AT_LEAST, 2 * len(self._chat_ready_at))


def _chat_key(chat_id: object) -> ChatKey | None:
    """Return the key that identifies the addressed chat, or None for chat-less requests."""
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id).strip()
    with contextlib.suppress(ValueError):
        return int(text)
    return text  # an @username, which only channels and supergroups have


def _retry_after_seconds(flood: RetryAfter) -> float:
    """Return how long Telegram asked us to wait, in seconds."""
    # The public ``retry_after`` warns about its coming change of type unless PTB_TIMEDELTA is
    # set, so prefer the timedelta that python-telegram-bot keeps (as its own limiter does).
    exact = getattr(flood, "_retry_after", None)
    if isinstance(exact, timedelta):
        return exact.total_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        public = flood.retry_after
    return public.total_seconds() if isinstance(public, timedelta) else float(public)
