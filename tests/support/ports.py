"""Loopback ports for tests that start servers or need a refused connection."""

from __future__ import annotations

import socket


def unused_port() -> int:
    """Return a loopback port where nothing listens (a connection is refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
