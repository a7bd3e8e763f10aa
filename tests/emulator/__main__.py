"""Run the Bot API emulator standalone: ``python -m tests.emulator --port 8081 --token 1:ABC``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from tests.emulator.server import BotApiEmulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind (0 picks one)")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="register a bot token (repeatable); bots can also be added via POST /_emu/bots",
    )
    parser.add_argument("--username", default="companion_bot", help="username of the bots")
    parser.add_argument(
        "--timeout-hold",
        type=float,
        default=6.0,
        help="seconds a 'timeout' fault holds its reply",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Serve until interrupted."""
    emulator = BotApiEmulator(timeout_hold_seconds=args.timeout_hold)
    for token in args.token:
        emulator.add_bot(token, username=args.username)
    url = await emulator.start(args.host, args.port)
    print(
        f"Bot API emulator on {url}  (bot base_url={url}/bot, client API {url}/_emu/)", flush=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    """Run the emulator from the command line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()
