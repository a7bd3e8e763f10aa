"""Concurrent update processing that keeps each chat's and each person's updates in order.

python-telegram-bot hands every incoming update to an update processor. This one runs the
updates of different chats at the same time, up to a bound, so that a patient never waits
behind another chat's slow send or rate limit; the updates of one chat, and of one person
wherever they write from (their private chat, a group, a button), still run strictly one after
another in the order Telegram sent them, so a flow's next answer is never read before the
previous one is stored.

An update first waits for the earlier updates that share its chat or its user, and only then
takes one of the bounded places: a chat with a backlog of messages never holds places that
other chats could use.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

__all__ = ["ChatOrderedUpdateProcessor", "order_keys"]

OrderKey = tuple[str, int]

# The base class takes a semaphore of this size (its ``max_concurrent_updates``) before an
# update waits for its turn; it only has to be larger than any backlog, since the real bound
# is applied after the wait.
_BACKLOG_ROOM = 1_000_000


def order_keys(update: object) -> tuple[OrderKey, ...]:
    """Return what an update must stay in order with: its chat and its sender."""
    if not isinstance(update, Update):
        return ()
    keys: list[OrderKey] = []
    chat = update.effective_chat
    if chat is not None:
        keys.append(("chat", chat.id))
    user = update.effective_user
    if user is not None:
        keys.append(("user", user.id))
    return tuple(keys)


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """Run updates of different chats concurrently, each chat's and user's one at a time."""

    def __init__(self, max_concurrent_updates: int) -> None:
        if max_concurrent_updates < 1:
            msg = "max_concurrent_updates must be at least 1"
            raise ValueError(msg)
        self._limit = max_concurrent_updates
        super().__init__(_BACKLOG_ROOM)
        self._places = asyncio.Semaphore(max_concurrent_updates)
        self._running = 0
        # For each chat and user, the completion of the latest update that involves it.
        self._latest: dict[OrderKey, asyncio.Future[None]] = {}

    @property
    def limit(self) -> int:
        """Return how many updates may run at the same time.

        (``max_concurrent_updates`` is the base class's room for updates waiting their turn.)
        """
        return self._limit

    @property
    def current_concurrent_updates(self) -> int:
        """Return how many updates are running now (not counting those waiting their turn)."""
        return self._running

    @property
    def waiting_keys(self) -> int:
        """Return how many chats and users have an update running or waiting."""
        return len(self._latest)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the earlier updates of the same chat or user, then run this one."""
        keys = order_keys(update)
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Nothing is awaited before the update is registered: updates arrive here in the order
        # they were received, and each one's place in its chats' and users' lines is taken now.
        earlier = {self._latest[key] for key in keys if key in self._latest}
        for key in keys:
            self._latest[key] = finished
        finished.add_done_callback(lambda _: self._forget(keys, finished))
        started = False
        try:
            if earlier:
                # asyncio.wait never cancels what it waits for, even if this task is cancelled.
                await asyncio.wait(earlier)
            async with self._places:
                self._running += 1
                try:
                    started = True
                    await coroutine
                finally:
                    self._running -= 1
        finally:
            if not started and inspect.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: it never ran
            _finish_after(earlier, finished)

    def _forget(self, keys: tuple[OrderKey, ...], finished: asyncio.Future[None]) -> None:
        """Drop the lines this update was the last of."""
        for key in keys:
            if self._latest.get(key) is finished:
                del self._latest[key]

    async def initialize(self) -> None:
        """Do nothing: the processor holds no resources."""

    async def shutdown(self) -> None:
        """Do nothing: updates under way are awaited by the application itself."""


def _finish_after(earlier: set[asyncio.Future[None]], finished: asyncio.Future[None]) -> None:
    """Mark an update finished once every update before it has finished.

    An update that ran has seen them finish already; one cancelled while it waited must not
    let the updates behind it overtake the ones before it.
    """
    remaining = [future for future in earlier if not future.done()]

    def check(_: object = None) -> None:
        if not finished.done() and all(future.done() for future in remaining):
            finished.set_result(None)

    for future in remaining:
        future.add_done_callback(check)
    check()
