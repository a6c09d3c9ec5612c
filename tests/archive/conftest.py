"""Archive backends as one parametrised fixture: the same suite runs on SQLite and PostgreSQL.

The PostgreSQL server is real (Debian's ``postgresql`` binaries), started once per session in a
temporary directory owned by the ``postgres`` user (``initdb`` refuses to run as root), on a free
local port with fsync off (tests check behaviour, not durability). Each test gets a fresh
schema. Without the binaries the PostgreSQL cases skip and say how to install them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from falak.archive import Archive, open_archive


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    port: int
    bindir: Path
    datadir: Path

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"


def _as_postgres(args: list[str]) -> list[str]:
    """Run as the ``postgres`` user when we are root (initdb and postgres refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
            "install Debian's postgresql package (apt-get install postgresql) or run `make test`"
        )
    bindir = Path(found[-1]).parent
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as user postgres")
    base = Path(tempfile.mkdtemp(prefix="falak-pg-"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    data = base / "data"
    port = _free_port()
    subprocess.run(
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"]
        ),
        check=True,
        capture_output=True,
    )
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
    ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-w"]
    subprocess.run(
        _as_postgres([*ctl, "-o", opts, "-l", str(base / "log"), "start"]),
        check=True,
        capture_output=True,
    )
    try:
        yield PgServer(port, bindir, data)
    finally:
        subprocess.run(
            _as_postgres([*ctl, "-m", "immediate", "stop"]), check=False, capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


_db_counter = itertools.count()


@dataclass
class Backend:
    """How to open (and reopen) one test's archive."""

    kind: str
    location: str

    def open(self, **kwargs: Any) -> Archive:
        return open_archive(self.location, **kwargs)


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, empty archive location for each test, on each backend."""
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "archive"))
        return
    import psycopg

    server: PgServer = request.getfixturevalue("pg_server")
    # a fresh schema per test (much faster than CREATE DATABASE); the archive lives in the
    # connection's search_path, so tests cannot see each other's tables
    name = f"falak_test_{next(_db_counter)}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    yield Backend("postgres", server.dsn() + f"?options=-csearch_path%3D{name}")
    with contextlib.suppress(psycopg.Error), psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        # spacecraft schemas (falak_sc_*) belong to the database, not to the test's schema
        for (sc,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'falak_sc_')"
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{sc}" CASCADE')


@pytest.fixture
def archive(backend: Backend) -> Iterator[Archive]:
    """An open, empty archive on each backend."""
    arc = backend.open()
    yield arc
    arc.close()
