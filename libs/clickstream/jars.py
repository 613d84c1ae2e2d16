"""The JVM jars local Spark sessions load: resolved by `make install`, never at run time.

The pins live in jvm/pom.xml; `make jars` copies exactly those artifacts from Maven Central into
.jars/ (git-ignored) with Maven. Local sessions name the files they need in spark.jars (local
paths: nothing is fetched when a session starts). Glue and EMR use their own S3 connector and
Delta jars; the PostgreSQL driver is the one jar shipped to EMR (clickstream.aws.packaging).
"""

from __future__ import annotations

import os
from pathlib import Path

from clickstream.config import ConfigError

JARS_ENV = "CLICKSTREAM_JARS"
INSTALL_HINT = "run `make install` (it copies the jars pinned in jvm/pom.xml into .jars/)"

# What each feature needs, by artifact id (file name without the version).
S3A = ("hadoop-aws", "aws-java-sdk-bundle")
DELTA = ("delta-spark_2.12", "delta-storage")
ICEBERG = ("iceberg-spark-runtime-3.5_2.12",)
POSTGRESQL = ("postgresql",)  # the JDBC driver of titles_source: jdbc


class MissingJarsError(ConfigError):
    """A feature needs jars that `make install` has not put in the jar folder."""


def jars_dir() -> Path:
    """$CLICKSTREAM_JARS, else .jars/ in the checkout (beside jvm/pom.xml)."""
    override = os.environ.get(JARS_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[2] / ".jars"


def artifact_id(jar: Path) -> str:
    """hadoop-aws-3.3.4.jar -> hadoop-aws (the version is the last dash-separated part)."""
    return jar.stem.rsplit("-", 1)[0]


def installed() -> dict[str, Path]:
    """The jars in the folder, by artifact id."""
    folder = jars_dir()
    if not folder.is_dir():
        return {}
    return {artifact_id(jar): jar for jar in sorted(folder.glob("*.jar"))}


def jars_for(*artifacts: str) -> list[Path]:
    """The installed jars of these artifacts; fail with the fix when one is missing."""
    found = installed()
    missing = [a for a in artifacts if a not in found]
    if missing:
        raise MissingJarsError(f"{', '.join(missing)} not in {jars_dir()}: {INSTALL_HINT}")
    return [found[a] for a in artifacts]
