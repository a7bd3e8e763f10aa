"""A real PostgreSQL server for the tests: started once per test process, on a loopback port,
in a temporary folder, and stopped when the process ends.

The server's programs come from the ``pgserver`` package, which the README's test command
installs (``.[dev]``); ``COMPANION_TEST_POSTGRES_BIN`` may name another folder of PostgreSQL
programs instead. Each test gets a database of its own, copied from a template that is already
migrated, and dropped after the test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from importlib import util
from pathlib import Path

import psycopg

from tests.support.ports import unused_port

START_TIMEOUT_SECONDS = 30.0
TEMPLATE = "companion_template"
# PostgreSQL refuses to run as root: a root test run starts it as this user.
UNPRIVILEGED_USER = "nobody"


def postgres_bin() -> Path:
    """Return the folder holding initdb and postgres: ``COMPANION_TEST_POSTGRES_BIN``, else the
    pgserver package's, else an installed PostgreSQL's (Debian's folders, then pg_config)."""
    configured = os.environ.get("COMPANION_TEST_POSTGRES_BIN")
    if configured:
        return Path(configured)
    spec = util.find_spec("pgserver")  # found, not imported: its import touches the home folder
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    debian = sorted(
        (
            found
            for found in Path("/usr/lib/postgresql").glob("*/bin")
            if found.parent.name.isdigit()
        ),
        key=lambda found: int(found.parent.name),
    )
    if debian and (debian[-1] / "initdb").exists():
        return debian[-1]
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run(
            [pg_config, "--bindir"], check=False, capture_output=True, text=True
        ).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    msg = (
        "the PostgreSQL tests need PostgreSQL's programs: pip install -e '.[dev]' brings them on "
        "Linux x86-64 and macOS arm64; elsewhere install PostgreSQL or set "
        "COMPANION_TEST_POSTGRES_BIN to the folder holding initdb and postgres"
    )
    raise RuntimeError(msg)


@dataclass
class PostgresServer:
    """One running server; ``url(name)`` addresses a database on it."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    user: str = "companion"
    _names: itertools.count[int] = itertools.count(1)  # noqa: RUF009 - one counter per process

    def url(self, database: str = "postgres") -> str:
        """Return a URL for a database on this server (trust auth on loopback, no password)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """Open an autocommit connection to the maintenance database."""
        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self, *, migrated: bool = True) -> str:
        """Create an empty or a migrated database of its own for one test; return its name."""
        name = f"t{os.getpid()}_{next(self._names)}"
        template = f" TEMPLATE {TEMPLATE}" if migrated else ""
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name}{template} STRATEGY FILE_COPY")
        return name

    def drop_database(self, name: str) -> None:
        """Drop a test's database, closing whatever the test left connected."""
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_unprivileged() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def start_server() -> PostgresServer:
    """Initialise a cluster in a new temporary folder and start it on a free loopback port."""
    programs = postgres_bin()
    folder = Path(tempfile.mkdtemp(prefix="companion-pg-"))
    data = folder / "data"
    drop = _as_unprivileged()
    if drop:
        os.chown(folder, int(str(drop["user"])), int(str(drop["group"])))
    subprocess.run(
        [
            str(programs / "initdb"),
            "-D",
            str(data),
            "-U",
            "companion",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        **drop,  # type: ignore[arg-type]
    )
    port = unused_port()
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [
                str(programs / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-k",
                str(folder),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            **drop,  # type: ignore[arg-type]
        )
    server = PostgresServer(folder, port, process)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        try:
            server.admin().close()
            break
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                msg = f"the test PostgreSQL server did not start: {(folder / 'server.log')}"
                raise RuntimeError(msg) from None
            time.sleep(0.05)
    _make_template(server)
    return server


def _make_template(server: PostgresServer) -> None:
    from bot.storage.postgres_engine import PostgresDatabase  # noqa: PLC0415

    with server.admin() as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")

    async def migrate() -> None:
        db = PostgresDatabase(server.url(TEMPLATE), pool_size=1)
        await db.connect()
        try:
            await db.migrate()
        finally:
            await db.close()

    asyncio.run(migrate())
