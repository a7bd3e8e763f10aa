"""The update processor: different chats at once, each chat's and person's updates in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Bot, Update

from bot.ordering import ChatOrderedUpdateProcessor, order_keys
from tests.support.updates import callback_update, text_update

TOKEN = "123456789:TEST-token-for-local-tests-only-xxxxx"


@pytest.fixture
def bot() -> Bot:
    """A bot object to build updates with (it never sends)."""
    return Bot(TOKEN)


class Recorder:
    """Handlers that log when they start and end, and wait on a gate when told to."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.running = 0
        self.most_running = 0

    def gate(self, name: str) -> asyncio.Event:
        """Hold the handler called ``name`` until the returned event is set."""
        return self.gates.setdefault(name, asyncio.Event())

    async def handle(self, name: str, *, fail: bool = False) -> None:
        """Record the start and end of one update's handling."""
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        self.log.append(("start", name))
        try:
            if name in self.gates:
                await self.gates[name].wait()
            else:
                await asyncio.sleep(0)
            if fail:
                msg = "handler failed"
                raise RuntimeError(msg)
        finally:
            self.running -= 1
            self.log.append(("end", name))

    def order(self, event: str) -> list[str]:
        """Return the names in the order of their ``start`` or ``end``."""
        return [name for kind, name in self.log if kind == event]


def submit(processor: ChatOrderedUpdateProcessor, update: Update, work: Any) -> asyncio.Task[None]:
    """Hand an update to the processor the way the application does: one task per update."""
    return asyncio.create_task(processor.process_update(update, work))


async def settle() -> None:
    """Let every runnable task run until it waits."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_updates_of_one_chat_run_one_after_another_in_order(bot: Bot) -> None:
    """A slow first message holds the chat's next ones, which then run in arrival order."""
    processor = ChatOrderedUpdateProcessor(8)
    rec = Recorder()
    first = rec.gate("a1")
    tasks = [
        submit(processor, text_update(bot, 101, f"message {n}"), rec.handle(f"a{n}"))
        for n in range(1, 5)
    ]
    await settle()
    assert rec.order("start") == ["a1"]
    first.set()
    await asyncio.gather(*tasks)
    assert rec.log == [(kind, f"a{n}") for n in range(1, 5) for kind in ("start", "end")]
    assert processor.waiting_keys == 0


async def test_a_chat_blocked_on_a_slow_send_does_not_hold_up_another_chat(bot: Bot) -> None:
    """While one chat's update waits, another chat's updates start and finish."""
    processor = ChatOrderedUpdateProcessor(8)
    rec = Recorder()
    slow = rec.gate("a1")
    blocked = submit(processor, text_update(bot, 101, "hello"), rec.handle("a1"))
    others = [
        submit(processor, text_update(bot, 202, "hi"), rec.handle("b1")),
        submit(processor, text_update(bot, 202, "again"), rec.handle("b2")),
        submit(processor, text_update(bot, 303, "hey"), rec.handle("c1")),
    ]
    await asyncio.gather(*others)
    assert ("end", "a1") not in rec.log
    assert rec.order("end") == ["b1", "c1", "b2"]
    slow.set()
    await blocked
    assert processor.waiting_keys == 0


async def test_a_persons_button_press_waits_for_their_message_in_another_chat(bot: Bot) -> None:
    """Updates of one user stay in order across chats: a group message, then a button press."""
    processor = ChatOrderedUpdateProcessor(8)
    rec = Recorder()
    group_message = Update.de_json(
        {
            "update_id": 990_001,
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -100_555, "type": "group", "title": "Friends"},
                "from": {"id": 101, "is_bot": False, "first_name": "Pat"},
                "text": "hello all",
            },
        },
        bot,
    )
    gate = rec.gate("group")
    first = submit(processor, group_message, rec.handle("group"))
    press = submit(processor, callback_update(bot, 101, "x:1"), rec.handle("press"))
    stranger = submit(processor, text_update(bot, 202, "hi"), rec.handle("stranger"))
    await stranger
    await settle()
    assert rec.order("start") == ["group", "stranger"]
    gate.set()
    await asyncio.gather(first, press)
    assert rec.order("end")[-1] == "press"


def test_an_update_is_ordered_by_its_chat_and_its_sender(bot: Bot) -> None:
    """A private message is keyed by its chat and user; an update with neither by nothing."""
    assert order_keys(text_update(bot, 101, "hi")) == (("chat", 101), ("user", 101))
    assert order_keys(Update(update_id=5)) == ()
    assert order_keys(object()) == ()


async def test_no_more_updates_run_at_once_than_the_bound(bot: Bot) -> None:
    """With a bound of two, five blocked chats run two at a time."""
    processor = ChatOrderedUpdateProcessor(2)
    rec = Recorder()
    gates = [rec.gate(f"chat{n}") for n in range(5)]
    tasks = [
        submit(processor, text_update(bot, 400 + n, "hi"), rec.handle(f"chat{n}")) for n in range(5)
    ]
    await settle()
    assert rec.running == 2
    assert processor.current_concurrent_updates == 2
    for gate in gates:
        gate.set()
    await asyncio.gather(*tasks)
    assert rec.most_running == 2
    assert processor.limit == 2


async def test_a_chats_backlog_does_not_take_the_places_of_other_chats(bot: Bot) -> None:
    """Ten queued messages of a blocked chat wait outside the bound; another chat still runs."""
    processor = ChatOrderedUpdateProcessor(2)
    rec = Recorder()
    gate = rec.gate("a0")
    backlog = [
        submit(processor, text_update(bot, 101, f"m{n}"), rec.handle(f"a{n}")) for n in range(10)
    ]
    await submit(processor, text_update(bot, 202, "hi"), rec.handle("b"))
    assert rec.order("end") == ["b"]
    gate.set()
    await asyncio.gather(*backlog)
    assert rec.order("end")[1:] == [f"a{n}" for n in range(10)]


async def test_a_failed_update_does_not_stop_the_next_one_of_its_chat(bot: Bot) -> None:
    """An update whose handling raised still lets the chat's next update run."""
    processor = ChatOrderedUpdateProcessor(4)
    rec = Recorder()
    failing = submit(processor, text_update(bot, 101, "one"), rec.handle("a1", fail=True))
    following = submit(processor, text_update(bot, 101, "two"), rec.handle("a2"))
    with pytest.raises(RuntimeError):
        await failing
    await following
    assert rec.order("end") == ["a1", "a2"]


async def test_an_update_cancelled_while_waiting_its_turn_is_skipped_cleanly(bot: Bot) -> None:
    """Cancelling a waiting update neither runs it nor breaks the line behind it."""
    processor = ChatOrderedUpdateProcessor(4)
    rec = Recorder()
    gate = rec.gate("a1")
    first = submit(processor, text_update(bot, 101, "one"), rec.handle("a1"))
    second = submit(processor, text_update(bot, 101, "two"), rec.handle("a2"))
    third = submit(processor, text_update(bot, 101, "three"), rec.handle("a3"))
    await settle()
    second.cancel()
    await settle()
    gate.set()
    await asyncio.gather(first, third)
    assert second.cancelled()
    assert rec.order("end") == ["a1", "a3"]
    assert processor.waiting_keys == 0


def test_a_bound_below_one_is_refused() -> None:
    """Zero concurrent updates could never handle anything."""
    with pytest.raises(ValueError, match="at least 1"):
        ChatOrderedUpdateProcessor(0)


async def test_a_message_after_a_cancelled_one_still_waits_for_the_one_running(bot: Bot) -> None:
    """When the last waiting update is cancelled, a later one still waits for the running one."""
    processor = ChatOrderedUpdateProcessor(4)
    rec = Recorder()
    gate = rec.gate("a1")
    first = submit(processor, text_update(bot, 101, "one"), rec.handle("a1"))
    cancelled = submit(processor, text_update(bot, 101, "two"), rec.handle("a2"))
    await settle()
    cancelled.cancel()
    await settle()
    later = submit(processor, text_update(bot, 101, "three"), rec.handle("a3"))
    await settle()
    assert rec.order("start") == ["a1"]
    gate.set()
    await asyncio.gather(first, later)
    assert rec.order("end") == ["a1", "a3"]
