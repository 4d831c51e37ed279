"""A throwaway PostgreSQL server for the workspace tests (Debian's `postgresql` package).

`ADVISOR_TEST_POSTGRES_URL` (a SQLAlchemy URL of a server where the user may CREATE DATABASE) is used when
set. Otherwise a private server is started: initdb into a temporary folder, pg_ctl on a free 127.0.0.1
port (as the `postgres` user when running as root, since PostgreSQL refuses to run as root), stopped at
the end of the session. `PostgresServer.start()` returns None with the reason when neither is possible.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, url: str, stop=None):
        self.url, self._stop = url, stop

    @classmethod
    def start(cls) -> tuple["PostgresServer | None", str]:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return None, "the psycopg driver is not installed (pip install -e '.[postgres]')"
        given = os.environ.get("ADVISOR_TEST_POSTGRES_URL")
        if given:
            return cls(given), ""
        bindir = _bindir()
        if bindir is None:
            return None, "PostgreSQL is not installed (apt-get install postgresql), and ADVISOR_TEST_POSTGRES_URL is not set"
        prefix: list[str] = []
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                return None, "running as root and there is no 'postgres' user to run the server as"
            runuser = shutil.which("runuser")
            if runuser is None:
                return None, "running as root and runuser is missing"
            prefix = [runuser, "-u", "postgres", "--"]
        root = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
        root.chmod(0o755)
        data, sock = root / "data", root / "sock"
        sock.mkdir()
        if owner is not None:
            os.chown(root, owner.pw_uid, owner.pw_gid)
            os.chown(sock, owner.pw_uid, owner.pw_gid)
        port = _free_port()

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)

        done = run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--no-sync")
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            return None, f"initdb failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}"
        options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        done = run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        if done.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            return None, f"pg_ctl start failed: {(done.stderr or done.stdout).strip()[-300:]}"

        def stop() -> None:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
            shutil.rmtree(root, ignore_errors=True)

        return cls(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", stop), ""

    def new_database(self) -> str:
        """A fresh empty database on the server; its URL."""
        name = f"ws_{uuid.uuid4().hex[:12]}"
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        engine = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()

    def stop(self) -> None:
        if self._stop:
            self._stop()
