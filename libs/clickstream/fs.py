"""Small file operations through Hadoop's FileSystem, so local paths and s3:// work alike."""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession


def _fs_path(spark: SparkSession, path: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), hpath


def exists(spark: SparkSession, path: str) -> bool:
    """Whether a file or folder exists."""
    fs, hpath = _fs_path(spark, path)
    return bool(fs.exists(hpath))


def read_text(spark: SparkSession, path: str) -> str | None:
    """A UTF-8 file's text, or None when it does not exist (nor its previous version, which
    write_text keeps aside while it moves the new one in)."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath):
        fs, hpath = _fs_path(spark, f"{path}.previous")
        if not fs.exists(hpath):
            return None
    stream = fs.open(hpath)
    try:
        jvm = spark.sparkContext._jvm
        data = jvm.org.apache.commons.io.IOUtils.toByteArray(stream)
    finally:
        stream.close()
    return bytes(data).decode("utf-8")


def write_text(spark: SparkSession, path: str, text: str) -> None:
    """Write a UTF-8 file whole: to a temporary name first; the old file is moved aside (never
    deleted) before the new one is renamed in, and deleted only once it is in place.

    Versioned state objects (clickstream.state_store) need no such dance; this is for files
    that must keep one name.
    """
    fs, hpath = _fs_path(spark, path)
    jvm = spark.sparkContext._jvm
    tmp = jvm.org.apache.hadoop.fs.Path(f"{path}.tmp")
    previous = jvm.org.apache.hadoop.fs.Path(f"{path}.previous")
    out = fs.create(tmp, True)
    try:
        out.write(bytearray(text.encode("utf-8")))
    finally:
        out.close()
    if fs.exists(hpath):
        if fs.exists(previous):
            fs.delete(previous, False)
        if not fs.rename(hpath, previous):
            raise OSError(f"could not move {path} aside to {path}.previous")
    if not fs.rename(tmp, hpath):
        raise OSError(f"could not rename {path}.tmp to {path}")
    if fs.exists(previous):
        fs.delete(previous, False)


def delete(spark: SparkSession, path: str) -> bool:
    """Delete a file or folder recursively; False when there was nothing."""
    fs, hpath = _fs_path(spark, path)
    return bool(fs.delete(hpath, True)) if fs.exists(hpath) else False


def list_names(spark: SparkSession, path: str) -> list[str]:
    """Names of the entries directly under a folder (empty when it does not exist)."""
    fs, hpath = _fs_path(spark, path)
    if not fs.exists(hpath):
        return []
    return sorted(status.getPath().getName() for status in fs.listStatus(hpath))
