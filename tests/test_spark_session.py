"""The test session carries the contract's settings; the frame fixtures are exact and strict."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial

import pytest
from chispa import DataFramesNotEqualError
from chispa.schema_comparer import SchemasNotEqualError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from clickstream.spark import SQL_CONF

MakeFrame = Callable[..., DataFrame]
Check = Callable[..., None]
SEOUL = timezone(timedelta(hours=9))
TYPES = (
    "s string, n long, i int, d double, b boolean, day date, t timestamp, "
    "seoul timestamp, gone timestamp"
)
ROWS = [
    ("오징어 게임", 2**62 + 1, -(2**31), 0.1, True, date(2026, 3, 1), None, None, None),
    ("", None, None, None, None, None, datetime(1970, 1, 1, tzinfo=UTC), None, None),
    (
        'He said "Hi", then left',
        -1,
        7,
        -2.5e-300,
        False,
        date(1582, 10, 4),
        datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 2, 8, 59, 59, 999999, tzinfo=SEOUL),
        None,
    ),
    (
        None,
        0,
        0,
        float("inf"),
        None,
        date(9999, 12, 31),
        datetime(1582, 10, 15, 0, 0, 0, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        None,
    ),
]


def test_session_uses_utc_dynamic_overwrite_and_micros_timestamps(spark: SparkSession) -> None:
    for key, value in SQL_CONF.items():
        assert spark.conf.get(key) == value, key
    assert spark.conf.get("spark.sql.catalogImplementation") == "hive"


# --- make_frame: exactly what spark.createDataFrame(rows, schema) gives -------------------------


@pytest.mark.parametrize("expected", [False, True], ids=["input", "expected"])
def test_make_frame_holds_the_same_values_as_create_data_frame(
    spark: SparkSession, make_frame: MakeFrame, expected: bool
) -> None:
    # GIVEN rows with Korean and quoted text, large longs, dates, nulls in every column and
    # timestamps with microseconds, in UTC and in +09:00, from 1582 to 9999
    # WHEN built by make_frame and by spark.createDataFrame from the list
    fast = make_frame(ROWS, TYPES, expected=expected)
    slow = spark.createDataFrame(ROWS, TYPES)

    # THEN the schema, the rows and the instants (epoch microseconds) are the same, in order
    assert fast.schema == slow.schema
    assert fast.collect() == slow.collect()
    micros = [F.unix_micros(c).alias(c) for c in ("t", "seoul", "gone")]
    instants = fast.select(*micros).collect()
    assert instants == slow.select(*micros).collect()
    assert instants[2] == (1772409599999999, 1772409599999999, None)


def _optimized_plan(df: DataFrame) -> str:
    return df._jdf.queryExecution().optimizedPlan().toString()  # type: ignore[no-any-return]


def test_make_frame_is_scanned_like_a_list_not_evaluated_by_the_optimizer(
    spark: SparkSession, make_frame: MakeFrame
) -> None:
    # GIVEN a frame filtered to nothing
    rows, ddl = [(1, "a")], "n long, s string"
    fast = make_frame(rows, ddl).where("n < 0")
    slow = spark.createDataFrame(rows, ddl).where("n < 0")

    # WHEN / THEN its optimized plan still scans an RDD, like a frame made from a list
    assert "LogicalRDD" in _optimized_plan(fast) and "LogicalRDD" in _optimized_plan(slow)
    assert "LocalRelation" not in _optimized_plan(fast)
    # (an expected frame is a LocalRelation: only ever collected, it needs no Spark job)
    assert "LocalRelation" in _optimized_plan(make_frame(rows, ddl, expected=True))


def test_make_frame_rejects_what_create_data_frame_rejects(make_frame: MakeFrame) -> None:
    # GIVEN / WHEN / THEN a value of the wrong type, a null in a non-null column and a timestamp
    # without time zone (its instant would depend on the machine) are refused
    with pytest.raises(TypeError, match="LongType"):
        make_frame([("1",)], "n long")
    with pytest.raises(ValueError, match="CANNOT_BE_NONE"):
        make_frame([(None,)], "n long not null")
    with pytest.raises(TypeError, match="time-zone-aware"):
        make_frame([(datetime(2026, 3, 1),)], "t timestamp")


def test_make_frame_of_no_rows_has_the_schema(make_frame: MakeFrame) -> None:
    empty = make_frame([], "n long, t timestamp")
    assert empty.schema.simpleString() == "struct<n:bigint,t:timestamp>"
    assert empty.collect() == []


# --- assert_frames_equal: chispa's checks, row order aside -----------------------------------


def test_frames_equal_in_any_row_order_pass(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    rows = [("a", 1, None), ("b", None, datetime(2026, 3, 1, tzinfo=UTC)), (None, 3, None)]
    ddl = "s string, n long, t timestamp"
    assert_frames_equal(make_frame(rows, ddl), make_frame(rows[::-1], ddl))
    assert_frames_equal(make_frame(rows, ddl), make_frame(rows, ddl), ordered=True)


def test_frames_with_other_rows_or_other_counts_of_a_row_fail(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    frame = partial(make_frame, expected=True)  # only compared: no Spark job needed
    ddl = "s string, n long"
    with pytest.raises(DataFramesNotEqualError):
        assert_frames_equal(frame([("a", 1), ("b", 2)], ddl), frame([("a", 1)], ddl))
    with pytest.raises(DataFramesNotEqualError):
        assert_frames_equal(
            frame([("a", 1), ("a", 1), ("b", 2)], ddl),
            frame([("a", 1), ("b", 2), ("b", 2)], ddl),
        )
    with pytest.raises(DataFramesNotEqualError):
        assert_frames_equal(frame([("a", None)], ddl), frame([("a", 0)], ddl))
    with pytest.raises(DataFramesNotEqualError):
        assert_frames_equal(
            frame([("a", 1), ("b", 2)], ddl),
            frame([("b", 2), ("a", 1)], ddl),
            ordered=True,
        )


def test_frames_with_other_schemas_fail_but_nullability_is_ignored(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    frame = partial(make_frame, expected=True)
    rows = [("a", 1)]
    with pytest.raises(SchemasNotEqualError):
        assert_frames_equal(frame(rows, "s string, n long"), frame(rows, "s string, n int"))
    with pytest.raises(SchemasNotEqualError):
        assert_frames_equal(frame(rows, "s string, n long"), frame([(1, "a")], "n long, s string"))
    assert_frames_equal(frame(rows, "s string not null, n long"), frame(rows, "s string, n long"))
