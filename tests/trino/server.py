"""One Trino server for the query-engine tier: started on a loopback port, stopped at the end.

The server is the one `make trino` unpacked into .trino/ (clickstream_tools.trino_server), run by
a JDK >= 24 straight from its lib/ (no launcher), with one catalog file per view of the lake
(`hive_catalog`, `delta_catalog`): Glue as metastore and native S3 with path-style access, both on
a moto server's endpoint with its static test credentials. Nothing is downloaded here.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clickstream_tools.trino_server import NO_JDK, find_jdk, server_home
from tests.moto_server import free_port

# Heap: the tier's queries read a few MB; 1.5 GB leaves Trino's default per-query share room.
JVM_OPTIONS = (
    "-Xmx1536m",
    "-XX:+UseSerialGC",
    # C1 only: started in 16 s against 21 s with the default JIT here; small queries need no C2.
    "-XX:TieredStopAtLevel=1",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dfile.encoding=UTF-8",
)
START_TIMEOUT_S = 180
# What make trino unpacks, and what the tier needs from the machine.
NOT_INSTALLED = "Trino is not installed in .trino/: run `make trino` (make test does)"


def missing_requirement() -> str | None:
    """Why the tier cannot start Trino here (no JDK >= 24, make trino not run), or None."""
    if find_jdk() is None:
        return NO_JDK
    if not (server_home() / "lib").is_dir():
        return NOT_INSTALLED
    return None


def s3_properties(endpoint: str) -> dict[str, str]:
    """Trino's native S3 file system on an S3-compatible endpoint (moto): path-style, static keys."""
    return {
        "fs.native-s3.enabled": "true",
        "s3.endpoint": endpoint,
        "s3.region": "us-east-1",
        "s3.path-style-access": "true",
        "s3.aws-access-key": "testing",
        "s3.aws-secret-key": "testing",
    }


def glue_properties(endpoint: str) -> dict[str, str]:
    """Glue Data Catalog as metastore, at endpoint (moto) with static keys."""
    return {
        "hive.metastore": "glue",
        "hive.metastore.glue.region": "us-east-1",
        "hive.metastore.glue.endpoint-url": endpoint,
        "hive.metastore.glue.aws-access-key": "testing",
        "hive.metastore.glue.aws-secret-key": "testing",
        # No caching: a test that changes the catalog (drops a partition) sees it at once.
        "hive.metastore-cache-ttl": "0s",
    }


def hive_catalog(endpoint: str, *, projection: bool, **extra: str) -> dict[str, str]:
    """The Hive connector over Glue: with Athena's partition projection (Athena), or with the
    registered partitions only (as Redshift Spectrum and EMR read the catalog)."""
    return {
        "connector.name": "hive",
        **glue_properties(endpoint),
        **s3_properties(endpoint),
        "hive.partition-projection-enabled": str(projection).lower(),
        **extra,
    }


def delta_catalog(endpoint: str) -> dict[str, str]:
    """The Delta Lake connector over Glue (Athena engine v3 reads Delta tables natively)."""
    return {
        "connector.name": "delta_lake",
        **glue_properties(endpoint),
        **s3_properties(endpoint),
    }


class TrinoServer:
    """A Trino coordinator (which also runs the work) on 127.0.0.1:<port>."""

    def __init__(self, work_dir: Path, catalogs: Mapping[str, Mapping[str, str]]) -> None:
        """Write the configuration under work_dir; start() launches the server."""
        jdk = find_jdk()
        if jdk is None:
            raise RuntimeError(NO_JDK)
        self.java = jdk / "bin" / "java"
        self.home = server_home()
        self.work_dir = work_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = work_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in_s: float | None = None
        # Trino's statistics of the last query (processedRows, totalSplits, ...).
        self.last_stats: dict[str, Any] = {}
        self._write_config(catalogs)

    def _write_config(self, catalogs: Mapping[str, Mapping[str, str]]) -> None:
        """config.properties (one node, loopback, static catalogs) and one file per catalog."""
        etc = self.work_dir / "etc"
        (etc / "catalog").mkdir(parents=True, exist_ok=True)
        config = {
            "coordinator": "true",
            "node-scheduler.include-coordinator": "true",
            "http-server.http.port": str(self.port),
            "discovery.uri": self.url,
            "node.environment": "test",
            "node.id": "clickstream-tier",
            "node.bind-ip": "127.0.0.1",
            "node.internal-address": "127.0.0.1",
            "plugin.dir": str(self.home / "plugin"),
            "catalog.config-dir": str(etc / "catalog"),
            "log.levels-file": str(etc / "log.properties"),
        }
        _write_properties(etc / "config.properties", config)
        # Bootstrap prints every configuration property of every catalog: hundreds of lines.
        _write_properties(etc / "log.properties", {"io.trino": "INFO", "Bootstrap": "WARN"})
        for name, properties in catalogs.items():
            _write_properties(etc / "catalog" / f"{name}.properties", properties)

    def start(self) -> None:
        """Launch the JVM (returns at once; wait_ready() waits for the server)."""
        command = [
            str(self.java),
            *JVM_OPTIONS,
            f"-Dconfig={self.work_dir / 'etc' / 'config.properties'}",
            "-cp",
            str(self.home / "lib" / "*"),
            "io.trino.server.TrinoServer",
        ]
        log = self.log_path.open("wb")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self._started_at = time.monotonic()
        self.process = subprocess.Popen(
            command, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        log.close()

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Block until the server accepts queries; returns the seconds since start()."""
        assert self.process is not None, "start() first"
        deadline = self._started_at + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"Trino exited with {self.process.returncode}: {self._tail()}")
            if self._info().get("starting") is False:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"Trino did not start in {timeout_s:.0f} s: {self._tail()}")
            time.sleep(0.2)
        if self.started_in_s is None:
            self.started_in_s = time.monotonic() - self._started_at
        return self.started_in_s

    def _info(self) -> dict[str, Any]:
        """GET /v1/info ({} while nothing answers)."""
        try:
            with urllib.request.urlopen(f"{self.url}/v1/info", timeout=2) as response:
                return dict(json.load(response))
        except (urllib.error.URLError, OSError, ValueError):
            return {}

    def _tail(self, lines: int = 40) -> str:
        """The end of the server log."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return f"{self.log_path}:\n" + "\n".join(text[-lines:])

    def query(
        self,
        sql: str,
        *,
        catalog: str,
        schema: str = "default",
        session: Mapping[str, str] | None = None,
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement; returns (column names, rows)."""
        import trino

        connection = trino.dbapi.connect(
            host="127.0.0.1",
            port=self.port,
            user="clickstream-tests",
            catalog=catalog,
            schema=schema,
            session_properties=dict(session or {}),
        )
        try:
            cursor = connection.cursor()
            cursor.execute(sql)
            rows = [tuple(row) for row in cursor.fetchall()]
            names = [d[0] for d in cursor.description or []]
            self.last_stats = dict(cursor.stats or {})
            return names, rows
        finally:
            connection.close()

    def rows(self, sql: str, **kwargs: Any) -> list[tuple[Any, ...]]:
        """The rows of one statement (see query)."""
        return self.query(sql, **kwargs)[1]

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _write_properties(path: Path, values: Mapping[str, str]) -> None:
    """A Java properties file, one key=value a line."""
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))


def quoted(names: Sequence[str]) -> str:
    """A SQL column list with every name double-quoted."""
    return ", ".join(f'"{n}"' for n in names)
