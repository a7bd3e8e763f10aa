"""A Telegram Bot API emulator for end-to-end tests, and the client tests drive it with."""

from tests.emulator.client import (
    AsyncEmulatorClient,
    AsyncMessage,
    AsyncUser,
    Button,
    ChatEvent,
    ChatMessage,
    EmulatorClient,
    EmulatorError,
    EventPage,
    Press,
    SendRecord,
    Stats,
    SyncMessage,
    SyncUser,
    WaitTimeoutError,
)
from tests.emulator.server import BotApiEmulator, EmulatorThread, Fault

__all__ = [
    "AsyncEmulatorClient",
    "AsyncMessage",
    "AsyncUser",
    "BotApiEmulator",
    "Button",
    "ChatEvent",
    "ChatMessage",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorThread",
    "EventPage",
    "Fault",
    "Press",
    "SendRecord",
    "Stats",
    "SyncMessage",
    "SyncUser",
    "WaitTimeoutError",
]
