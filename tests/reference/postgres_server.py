"""A throwaway PostgreSQL server for the JDBC tests: initdb into a temporary folder, a free
loopback port, password authentication; stopped and removed afterwards.

The server binaries come from the Debian package (make install and .ci/run install it where they
can). Without them the tests skip locally and fail in CI (CI=true): they never skip silently there.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD, DATABASE = "app", "s3cret-pw", "appdb"


def server_bin() -> Path | None:
    """The folder of initdb/pg_ctl/psql: on the PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parts[-3])
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    """A running server: its JDBC URL and a psql runner."""

    bin: Path
    port: int
    prefix: Sequence[str]

    @property
    def url(self) -> str:
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{DATABASE}"

    def sql(self, statements: str) -> str:
        """Run SQL through psql as the app user; stops at the first error."""
        command = [
            str(self.bin / "psql"),
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", DATABASE,
            "-c", statements,
        ]  # fmt: skip
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


def _run_as() -> tuple[list[str], int | None, int | None]:
    """initdb refuses to run as root: as root, run the server as the postgres (or nobody) user."""
    if os.geteuid() != 0:
        return [], None, None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and neither a postgres nor a nobody user exists")


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A PostgreSQL server with database appdb and a password-authenticated user app."""
    bin_dir = server_bin()
    if bin_dir is None:
        message = "PostgreSQL server binaries not found (apt-get install postgresql; make install)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    prefix, uid, gid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="clickstream-pg-"))
    root.chmod(0o755)
    (root / "pw").write_text(PASSWORD)
    if uid is not None:
        os.chown(root, uid, gid or 0)
        os.chown(root / "pw", uid, gid or 0)
    port = free_port()
    data, log = root / "data", root / "server.log"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)

    run(
        str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=scram-sha-256",
        f"--pwfile={root / 'pw'}", "-E", "UTF8", "--locale=C",
    )  # fmt: skip
    options = f"-p {port} -h 127.0.0.1 -k {root} -c fsync=off"
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
    server = Server(bin_dir, port, prefix)
    try:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
            check=True,
            capture_output=True,
            env=env,
        )
        yield server
    finally:
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
