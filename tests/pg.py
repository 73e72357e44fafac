"""A throwaway PostgreSQL cluster for tests, started with initdb and pg_ctl.

The cluster lives in a temporary folder, listens on a free port of 127.0.0.1
only, trusts local connections and runs with fsync off, so it starts in about
a second and must never hold data worth keeping. PostgreSQL refuses to run as
root, so under root the commands run as the ``postgres`` user via
``runuser``.

Import the fixtures into a conftest.py (``from pg import postgres_cluster``)
and list them in its ``__all__``. Tests that use them are skipped when no
PostgreSQL server binaries are installed (Debian and Ubuntu: the
``postgresql`` package).
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

# Debian and Ubuntu install the server binaries per major version here and
# put only client wrappers on PATH.
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


@dataclass(frozen=True)
class PostgresCluster:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def find_server_bin() -> Path | None:
    """Return the folder holding initdb and pg_ctl, newest major version first."""
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("pg_ctl") is not None:
        return Path(on_path).parent
    if DEBIAN_PG_ROOT.is_dir():
        versions = sorted(
            (p for p in DEBIAN_PG_ROOT.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
            reverse=True,
        )
        if versions:
            return versions[0] / "bin"
    return None


def _command_prefix() -> tuple[list[str], int | None]:
    """Return the prefix that runs a command as a non-root user, and its uid."""
    if os.geteuid() != 0:
        return [], None
    runuser = shutil.which("runuser")
    try:
        postgres_uid = pwd.getpwnam("postgres").pw_uid
    except KeyError:
        postgres_uid = None
    if runuser is None or postgres_uid is None:
        pytest.skip(
            "PostgreSQL refuses to run as root, and there is no postgres user"
            " with runuser to start it as; run the tests as a normal user."
        )
    return [runuser, "-u", "postgres", "--"], postgres_uid


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(command: list[str], log: Path) -> None:
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        log_tail = log.read_text()[-2000:] if log.exists() else ""
        pytest.fail(
            f"{Path(command[-1] if command else '').name or 'command'} failed"
            f" ({result.returncode}): {' '.join(command)}\n{result.stdout}"
            f"\n{result.stderr}\n{log_tail}"
        )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster for the test session and stop it afterwards."""
    bin_dir = find_server_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or"
            f" under {DEBIAN_PG_ROOT}; install the postgresql package."
        )
    prefix, owner_uid = _command_prefix()

    root = Path(tempfile.mkdtemp(prefix="walkout-pg-"))
    if owner_uid is not None:
        os.chown(root, owner_uid, -1)
    data_dir = root / "data"
    log = root / "server.log"
    port = _free_port()

    _run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "--pgdata",
            str(data_dir),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        log,
    )
    server_options = (
        f"-c listen_addresses=127.0.0.1 -c port={port}"
        f" -c unix_socket_directories={root}"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    start = ["-D", str(data_dir), "-l", str(log), "-w", "-t", "30"]
    _run([*prefix, pg_ctl, *start, "-o", server_options, "start"], log)
    try:
        yield PostgresCluster(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def create_database(cluster: PostgresCluster, name: str) -> str:
    """Create an empty database in the cluster and return its SQLAlchemy URL."""
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return cluster.url(name)


def drop_database(cluster: PostgresCluster, name: str) -> None:
    admin = sa.create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_database_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """Create an empty database for one test and return its SQLAlchemy URL.

    Creating a database takes about half a second, so tests that only need
    empty tables are faster with one database per session and a TRUNCATE
    per test.
    """
    name = f"test_{secrets.token_hex(6)}"
    yield create_database(postgres_cluster, name)
    drop_database(postgres_cluster, name)
