"""A Telegram Bot API emulator for end-to-end tests, and the client tests drive it with."""

from tests.emulator.client import (
    AsyncEmulatorClient,
    AsyncMessage,
    AsyncUser,
    Button,
    ChatMessage,
    EmulatorClient,
    EmulatorError,
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
    "ChatMessage",
    "EmulatorClient",
    "EmulatorError",
    "EmulatorThread",
    "Fault",
    "Press",
    "SendRecord",
    "Stats",
    "SyncMessage",
    "SyncUser",
    "WaitTimeoutError",
]
