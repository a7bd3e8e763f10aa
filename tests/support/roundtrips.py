"""Counting aiosqlite's thread round trips: every call the event loop hands to its worker thread.

aiosqlite runs each call (an execute, a fetch, a cursor's close, a commit) by queueing it to
the connection's own thread and waiting for the answer; every one of those goes through the
connection's ``_execute``, cursors' calls included. Counting there measures what an update
costs in hand-overs, whatever helpers the storage layer uses above it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bot.storage.db import Database


@dataclass
class RoundTrips:
    """How many calls went to the connection's thread while counting."""

    count: int = 0


@contextmanager
def counting_round_trips(db: Database) -> Iterator[RoundTrips]:
    """Count the thread round trips of the database's connection inside the block."""
    conn = db.conn
    counted = RoundTrips()
    # The one door every aiosqlite call goes through, its cursors' included.
    original = conn._execute

    async def execute(fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted.count += 1
        return await original(fn, *args, **kwargs)

    conn._execute = execute  # type: ignore[method-assign]
    try:
        yield counted
    finally:
        del conn._execute  # back to the class's own method
