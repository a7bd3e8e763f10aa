"""The send budget shared by every worker on one PostgreSQL database.

Each ``companion run`` keeps Telegram's limits in its own rate limiter (``bot/ratelimit.py``),
but two workers each within 29 sends a second together send 58. So, on PostgreSQL, every send
that addresses a chat also takes a reservation here right before it goes, after the worker's
own limiter has ordered it:

* The overall limit is a grid of slots ``1/overall_per_second`` seconds apart on the database
  server's clock, each taken by at most one send of any worker (a primary key), so no
  one-second window holds more sends than the budget, whichever workers sent them.
* A chat may next receive ``per_chat_interval`` plus one slot after the slot of its previous
  send by any worker. The extra slot, like the budget of 29 under Telegram's 30, is room for a
  send that starts a little after its slot: a request is never late by a whole slot unless
  the event loop stalled, so what reaches Telegram stays within its limits.

One reservation is one statement (``send_budget_reserve``, migration 0012) and one round trip:
it reads the server's clock after locking the chat's row, so two machines' clocks never have
to agree, and answers how long the caller must wait. Workers' own slots rarely collide, so the
wait is usually none and a reply pays the round trip only. A reservation that fails or is slow
(the database is down or overloaded) lets the send go on the worker's own limits alone, with a
warning: a patient's crisis reply is never held back for the budget's sake, and Telegram's
429, which every worker waits out, is the floor beneath it. Slots and chats older than a few
seconds are pruned by the reservation itself, about once a second per worker.

The chats table holds Telegram chat ids for a few seconds at most, and no message content.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot.storage.db import Database

__all__ = ["Reservation", "SendBudget"]

_LOGGER = logging.getLogger(__name__)

RESERVE: Final = (
    "SELECT slot, wait FROM send_budget_reserve("
    "?::text, ?::integer, ?::double precision, ?::double precision, ?::double precision)"
)
# Rows older than this are no use to any reservation (slots in the past are never taken again).
KEEP_SECONDS: Final = 5.0
PRUNE_EVERY_SECONDS: Final = 1.0
# A reservation slower than this lets the send go on the worker's own limits.
RESERVE_TIMEOUT_SECONDS: Final = 2.0
_WARN_EVERY_SECONDS: Final = 60.0


@dataclass(frozen=True, slots=True)
class Reservation:
    """A slot on the shared grid and how long until it comes, in seconds."""

    slot: int
    wait: float


class SendBudget:
    """Reservations on the send budget that every worker on one database shares."""

    def __init__(
        self,
        db: Database,
        *,
        overall_per_second: int,
        per_chat_interval: float,
        timeout: float = RESERVE_TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if db.engine != "postgresql":
            msg = "the shared send budget needs PostgreSQL; one SQLite bot keeps its own"
            raise ValueError(msg)
        if overall_per_second < 1 or per_chat_interval < 0:
            msg = "overall_per_second must be at least 1 and per_chat_interval not negative"
            raise ValueError(msg)
        self._db = db
        self._per_second = overall_per_second
        self._chat_spacing = chat_spacing(overall_per_second, per_chat_interval)
        self._timeout = timeout
        self._monotonic = monotonic
        self._next_prune = -float("inf")
        self._next_warning = -float("inf")

    async def reserve(self, chat: int | str | None, *, at: float | None = None) -> Reservation:
        """Take the next slot for a send to ``chat`` (None: no chat limit) and return it.

        ``at`` replaces the server's clock, in Unix seconds, for tests of the arithmetic.
        """
        now = self._monotonic()
        keep = None
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY_SECONDS
            keep = KEEP_SECONDS
        key = None if chat is None or self._chat_spacing <= 0 else str(chat)
        row = await self._db.fetchone(
            RESERVE, (key, self._per_second, self._chat_spacing, keep, at)
        )
        if row is None:  # the function always returns one row
            msg = "send_budget_reserve returned no row"
            raise RuntimeError(msg)
        return Reservation(int(row["slot"]), float(row["wait"]))

    async def delay_for(self, chat: int | str) -> float:
        """Reserve a slot for a send to ``chat``; return how long to wait for it (0 when the
        reservation failed, after a warning at most once a minute)."""
        try:
            async with asyncio.timeout(self._timeout):
                return (await self.reserve(chat)).wait
        except Exception as exc:  # any failure: the worker's own limits remain
            now = self._monotonic()
            if now >= self._next_warning:
                self._next_warning = now + _WARN_EVERY_SECONDS
                _LOGGER.warning(
                    "shared send budget unavailable, sending on this worker's limits: %s",
                    type(exc).__name__,
                )
            return 0.0


def chat_spacing(overall_per_second: int, per_chat_interval: float) -> float:
    """Return how far apart a chat's slots are: the interval, plus one slot of room for a send
    that starts after its slot (none when chats are not limited)."""
    if per_chat_interval <= 0:
        return 0.0
    return per_chat_interval + 1.0 / overall_per_second


def slot_time(slot: int, overall_per_second: int) -> float:
    """Return the Unix time of a slot on the grid."""
    return slot / overall_per_second
