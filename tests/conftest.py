"""Shared fixtures: one fast local SparkSession for the whole run, frames, and the chispa wrapper."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from chispa.rows_comparer import assert_basic_rows_equality
from chispa.schema_comparer import assert_schema_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
    StructType,
    TimestampType,
    _make_type_verifier,
    _parse_datatype_string,
)

from clickstream import jars
from clickstream.spark import (
    DELTA_CONF,
    ICEBERG_CONF,
    LONG_SESSION_JAVA_OPTIONS,
    SHORT_RUN_SQL_CONF,
    jars_conf,
    local_session,
    metastore_conf,
    with_extensions,
)
from tests.aws_env import isolate_aws_env
from tests.moto_server import running_moto_server

MakeFrame = Callable[..., DataFrame]
_LOCAL_RELATION_THRESHOLD = "spark.sql.execution.arrow.localRelationThreshold"

# Column types the pandas/Arrow path carries exactly as object columns (timestamps get their own).
_ARROW_SAFE = (
    BooleanType,
    ByteType,
    DateType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    ShortType,
    StringType,
)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """One local[2] session with an embedded Derby metastore (one JVM per metastore dir).

    It loads the jars `make install` copied (S3A, Delta and the PostgreSQL driver, as local runs
    with an S3 lake, table_format delta or titles_source jdbc do), and Delta's SQL extension, so
    one session serves both formats.
    """
    catalog = str(tmp_path_factory.mktemp("catalog"))
    conf = {
        **metastore_conf(catalog),
        **SHORT_RUN_SQL_CONF,
        **jars_conf(*jars.S3A, *jars.DELTA, *jars.ICEBERG, *jars.POSTGRESQL),
    }
    conf = with_extensions(conf, DELTA_CONF, ICEBERG_CONF)
    conf["spark.driver.extraJavaOptions"] = (
        f"{LONG_SESSION_JAVA_OPTIONS} -Dderby.system.home={catalog}"
    )
    session = local_session("clickstream-tests", conf)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# --- AWS: one moto server over HTTP for the whole test session ---------------------------------


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `moto_server -H 127.0.0.1 -p <free port>` for the session; yield its URL."""
    try:
        with running_moto_server(tmp_path_factory.mktemp("moto") / "moto_server.log") as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The moto server, reset to an empty state, as this test's whole AWS environment.

    Like boto3, the project reads the standard variables: AWS_ENDPOINT_URL, fake environment
    credentials, AWS_DEFAULT_REGION; no profile or config file is read.
    """
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    isolate_aws_env(monkeypatch, tmp_path, moto_server)
    return moto_server


# --- building small frames --------------------------------------------------------------------


@cache
def _struct(ddl: str) -> StructType:
    parsed = _parse_datatype_string(ddl)
    assert isinstance(parsed, StructType), ddl
    return parsed


def _column(field_type: DataType, values: list[Any]) -> pd.Series:
    """One pandas column that Arrow converts to exactly these values (None is null)."""
    if isinstance(field_type, TimestampType):
        for value in values:
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise TypeError(f"timestamps must be time-zone-aware datetimes, got {value!r}")
        # Microsecond unit: every instant Spark can hold, exactly (nanoseconds stop at 1677).
        utc = [None if v is None else v.astimezone(UTC) for v in values]
        return pd.Series(pd.array(utc, dtype="datetime64[us, UTC]"))
    # object dtype: no inference (an int column holding None stays ints, never floats).
    return pd.Series(values, dtype=object)


def _make_frame(
    spark: SparkSession,
    rows: Sequence[Sequence[Any]],
    schema: str | StructType,
    *,
    expected: bool = False,
) -> DataFrame:
    """spark.createDataFrame(rows, schema), built through pandas and Arrow when that is exact.

    A list of tuples becomes a Python RDD that every action unpickles in a Python worker; the
    Arrow path gives the same plan (a LogicalRDD scan) read in the JVM, ~0.2 s faster per action.
    Rows are verified against the schema exactly as createDataFrame(verifySchema=True) does.

    expected=True is for the expected side of assert_frames_equal, which is only collected: the
    rows are kept in a LocalRelation on the driver and collected without a Spark job. It is not
    for inputs: Spark's optimizer evaluates filters and projections over a LocalRelation itself.
    """
    struct = _struct(schema) if isinstance(schema, str) else schema
    data = [tuple(row) for row in rows]
    verify = _make_type_verifier(struct)
    for row in data:
        verify(row)
    names = struct.names
    fast = (
        data
        and len(set(names)) == len(names)
        and all(isinstance(f.dataType, (*_ARROW_SAFE, TimestampType)) for f in struct.fields)
    )
    if not fast:
        return spark.createDataFrame(data, struct)
    pdf = pd.DataFrame(
        {
            field.name: _column(field.dataType, [row[i] for row in data])
            for i, field in enumerate(struct.fields)
        }
    )
    if expected:
        return spark.createDataFrame(pdf, struct)  # small: a LocalRelation
    # Below this size Spark 3.5 makes a LocalRelation; threshold 0 gives what a list of rows
    # gives: an RDD that each action scans.
    previous = spark.conf.get(_LOCAL_RELATION_THRESHOLD)
    spark.conf.set(_LOCAL_RELATION_THRESHOLD, "0")
    try:
        return spark.createDataFrame(pdf, struct)
    finally:
        spark.conf.set(_LOCAL_RELATION_THRESHOLD, previous)


@pytest.fixture(scope="session")
def make_frame(spark: SparkSession) -> MakeFrame:
    """make_frame(rows, schema[, expected=True]): spark.createDataFrame(rows, schema), faster.

    Timestamps must be time-zone-aware datetimes (the instant is kept; the session is UTC).
    Pass expected=True for frames that are only compared against (see _make_frame).
    """

    def make(
        rows: Sequence[Sequence[Any]], schema: str | StructType, *, expected: bool = False
    ) -> DataFrame:
        return _make_frame(spark, rows, schema, expected=expected)

    return make


# --- comparing frames -------------------------------------------------------------------------


def _sort_key(value: Any) -> tuple[Any, ...]:
    """A total order over collected values: equal values get equal keys, nulls first."""
    if value is None:
        return (0,)
    if isinstance(value, bool | int | float | Decimal):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, bytes | bytearray):
        return (3, bytes(value))
    if isinstance(value, datetime):  # before date: a datetime is a date
        return (4, value)
    if isinstance(value, date):
        return (5, value)
    if isinstance(value, timedelta):
        return (6, value)
    if isinstance(value, tuple):  # Row (struct)
        return (7, tuple(map(_sort_key, value)))
    if isinstance(value, list):
        return (8, tuple(map(_sort_key, value)))
    if isinstance(value, dict):
        return (9, tuple(sorted((_sort_key(k), _sort_key(v)) for k, v in value.items())))
    return (10, type(value).__name__, repr(value))


def _assert_frames_equal(actual: DataFrame, expected: DataFrame, *, ordered: bool = False) -> None:
    """chispa's assert_df_equality(ignore_row_order=not ordered, ignore_nullable=True).

    Same checks, same messages: chispa's schema comparison, then chispa's row comparison of the
    collected rows. Without `ordered`, both row lists are sorted in Python by one total order
    instead of by a Spark sort (which costs two extra jobs per frame).
    """
    assert_schema_equality(actual.schema, expected.schema, ignore_nullable=True)
    actual_rows, expected_rows = actual.collect(), expected.collect()
    if not ordered:
        actual_rows.sort(key=_sort_key)
        expected_rows.sort(key=_sort_key)
    assert_basic_rows_equality(actual_rows, expected_rows)


@pytest.fixture(scope="session")
def assert_frames_equal() -> Callable[..., None]:
    """chispa: same schema (nullability aside) and rows; row order ignored unless ordered=True."""
    return _assert_frames_equal
