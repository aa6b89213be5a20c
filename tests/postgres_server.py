"""A throwaway PostgreSQL server for the tests: ``initdb`` in a temporary folder, ``postgres`` on 127.0.0.1.

Why a real server and not a mock: the store's worth is in what PostgreSQL does (transactions, row locks,
upserts, dropped connections). The server binaries come from the OS (Debian: ``apt-get install -y postgresql``, or
``XLT_TEST_PG_BIN``); without them the PostgreSQL tests skip with that hint, and fail in CI (``tests/system_tools.py``).
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "xlt"
DATABASE = "xlt"  # created at start, as in docker/compose.yaml


def find_binaries() -> Path | None:
    """``$XLT_TEST_PG_BIN``, else the newest ``/usr/lib/postgresql/<version>/bin``, else ``initdb`` on PATH."""
    candidates = [os.environ.get("XLT_TEST_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "postgres").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running server; ``url(dbname)`` names one of its databases (``xlt``, or the admin's ``postgres``)."""

    process: subprocess.Popen[bytes]
    root: Path
    port: int
    password: str

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT to the postmaster, by its PID), then the folder goes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


def start(binaries: Path, timeout_s: float = 120.0) -> PostgresServer:
    """initdb (password auth for ``xlt``) and start ``postgres`` without fsync; returns once it accepts logins."""
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="xlt-pg-"))  # under /tmp: the server user must reach it
    uid = gid = None  # None: stay who we are
    if os.geteuid() == 0:  # postgres and initdb refuse root: run them as the postgres user
        account = pwd.getpwnam("postgres")
        uid, gid = account.pw_uid, account.pw_gid
    password = secrets.token_hex(8)
    (root / "pw").write_text(password)
    for path in (root, root / "pw"):
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    groups: list[int] | None = None if uid is None else []
    data, log = str(root / "data"), root / "server.log"
    try:
        auth = ["-U", USER, "--pwfile", str(root / "pw"), "-A", "scram-sha-256"]
        subprocess.run(
            [str(binaries / "initdb"), "-D", data, *auth, "-E", "UTF8", "--locale", "C", "--no-sync"],
            cwd=root,
            check=True,
            capture_output=True,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
    port = _free_port()
    settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=100"]
    command = [str(binaries / "postgres"), "-D", data, "-h", "127.0.0.1", "-p", str(port), "-k", str(root)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, *(arg for s in settings for arg in ("-c", s))],
            cwd=root,
            stdout=out,
            stderr=out,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    server = PostgresServer(process, root, port, password)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(server.url(), connect_timeout=2, autocommit=True) as admin:
                admin.execute(f"CREATE DATABASE {DATABASE}")
            return server
        except psycopg.OperationalError:
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace")
                server.stop()
                raise RuntimeError(f"the test PostgreSQL server did not start:\n{text}") from None
            time.sleep(0.1)


def create_schema(server: PostgresServer) -> tuple[str, str]:
    """A new empty schema in the ``xlt`` database, and a URL whose sessions use it (``options=-c search_path``).

    A schema per test isolates tests as a database would, in milliseconds instead of seconds.
    """
    import psycopg
    from psycopg import sql

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server.url(DATABASE), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    return name, f"{server.url(DATABASE)}?options=-c%20search_path%3D{name}"


def drop_schema(server: PostgresServer, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server.url(DATABASE), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def disconnect_all(server: PostgresServer, timeout_s: float = 10.0) -> int:
    """End every session on the ``xlt`` database, as a server restart would, and wait until they are gone."""
    import psycopg

    name = DATABASE
    others = "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        ended = len(admin.execute(f"SELECT pg_terminate_backend(pid) {others}", (name,)).fetchall())
        deadline = time.monotonic() + timeout_s
        while (row := admin.execute(f"SELECT count(*) {others}", (name,)).fetchone()) and row[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{row[0]} sessions on {name} outlived pg_terminate_backend")
            time.sleep(0.05)
    return ended
