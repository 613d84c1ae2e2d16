"""Adding and replacing files of a Parquet table, recoverable at every step.

A Parquet table has no log: a write that adds files to its dt folders, or replaces some of them,
is made safe here, with an intent record under the lake's state:
1. the new rows are written by Spark into a hidden staging folder (`<table>/_staging/<op>/`,
   which no reader lists); the write is complete when Spark's job commit returns;
2. the intent `_state/file_ops/<op>.json` names each staged file, where it goes, and the files
   it replaces;
3. each staged file is moved into its dt folder under a name that starts with the op id;
4. the replaced files are deleted;
5. the staging folder and the intent are removed.
A process that dies before step 2 leaves only a hidden staging folder (removed by the next
cleanup). One that dies after it leaves an intent, and the next writer of the lake rolls it
forward (complete_pending): steps 3-5 again, each idempotent. So an added file is in the table
exactly once, and a replaced one is gone, whatever the step a crash interrupted. Between steps
3 and 4 a reader may see both versions of a replaced row (Parquet has no snapshot); Delta and
Iceberg tables never go through here (one commit each).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from clickstream.state_store import store_for

FILE_OPS = "_state/file_ops"
STAGING = "_staging"


@dataclass(frozen=True)
class FilesWritten:
    """The files an operation put in place (paths), and the files it removed."""

    added: tuple[str, ...]
    removed: tuple[str, ...]


def new_op_id() -> str:
    """A sortable, unique operation id (a prefix of every file the operation adds)."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}"


def _hadoop(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    return hpath.getFileSystem(conf), hpath


def _data_files(spark: SparkSession, folder: str) -> list[str]:
    """Every data file (not hidden, not a marker) below folder, as full paths; none when absent."""
    fs, root = _hadoop(spark, folder)
    if not fs.exists(root):
        return []
    found: list[str] = []
    files = fs.listFiles(root, True)
    while files.hasNext():
        path = files.next().getPath()
        name = str(path.getName())
        if not name.startswith(("_", ".")):
            found.append(str(path.toString()))
    return sorted(found)


def replace_files(
    spark: SparkSession,
    lake: str,
    table_path: str,
    rows: DataFrame,
    partition_by: str,
    *,
    remove: Sequence[str] = (),
    op_id: str | None = None,
) -> FilesWritten:
    """Add rows to the table as new files in their partition folders and delete the files in
    remove, through the steps of the module docstring (rows hold partition_by)."""
    op = op_id or new_op_id()
    _clean_staging(spark, lake, table_path)
    staging = f"{table_path}/{STAGING}/{op}"
    rows.write.mode("overwrite").partitionBy(partition_by).parquet(staging)
    fs, staged = _hadoop(spark, staging)
    prefix = str(fs.makeQualified(staged).toString()).rstrip("/") + "/"
    moves = []
    for source in _data_files(spark, staging):
        relative = source[len(prefix) :]
        folder, _, name = relative.rpartition("/")
        target = "/".join(p for p in (table_path, folder, f"{op}-{name}") if p)
        moves.append([source, target])
    intent = {"table": table_path, "staging": staging, "moves": moves, "remove": list(remove)}
    store = store_for(lake)
    store.create(f"{FILE_OPS}/{op}.json", json.dumps(intent))
    _finish(spark, lake, op, intent)
    return FilesWritten(tuple(t for _, t in moves), tuple(remove))


def _finish(spark: SparkSession, lake: str, op: str, intent: dict[str, Any]) -> None:
    """Steps 3 to 5 of an operation; each idempotent, so a rerun completes a torn one."""
    for source, target in intent["moves"]:
        fs, src = _hadoop(spark, source)
        _, dst = _hadoop(spark, target)
        if fs.exists(src):
            if fs.exists(dst):  # moved, then the source reappeared? keep the target as moved
                fs.delete(src, False)
            else:
                fs.mkdirs(dst.getParent())
                if not fs.rename(src, dst):
                    raise OSError(f"could not move {source} to {target}")
    for path in intent["remove"]:
        fs, hpath = _hadoop(spark, path)
        if fs.exists(hpath):
            fs.delete(hpath, False)
    fs, staging = _hadoop(spark, intent["staging"])
    if fs.exists(staging):
        fs.delete(staging, True)
    store_for(lake).delete(f"{FILE_OPS}/{op}.json")


def _clean_staging(spark: SparkSession, lake: str, table_path: str) -> None:
    """Delete the staging folders of operations that died before their intent existed."""
    fs, root = _hadoop(spark, f"{table_path}/{STAGING}")
    if not fs.exists(root):
        return
    pending = {k.rsplit("/", 1)[-1].removesuffix(".json") for k in store_for(lake).list(FILE_OPS)}
    for status in fs.listStatus(root):
        if str(status.getPath().getName()) not in pending:
            fs.delete(status.getPath(), True)


def complete_pending(
    spark: SparkSession, lake: str, tables: Sequence[str] | None = None
) -> list[str]:
    """Roll forward the operations a dead process left (their intent exists) on the tables at
    these paths (all when None: the caller holds every writer's lease); their ids."""
    store = store_for(lake)
    done = []
    for key in store.list(FILE_OPS):
        found = store.read(key)
        if found is None:
            continue
        intent = json.loads(found.text)
        if tables is not None and intent["table"] not in tables:
            continue
        op = key.rsplit("/", 1)[-1].removesuffix(".json")
        _finish(spark, lake, op, intent)
        done.append(op)
    return done


def files_of(spark: SparkSession, table_path: str, folders: Sequence[str]) -> list[str]:
    """The data files in the given partition folders of a table (e.g. dt=2026-03-01)."""
    return sorted(f for folder in folders for f in _data_files(spark, f"{table_path}/{folder}"))
