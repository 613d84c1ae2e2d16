"""dedup_events: one row per event_id (earliest ingested), then optional repeat suppression."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from clickstream.transforms import dedup_events

RAW = (
    "event_id string, user_id string, event_type string, event_time timestamp, "
    "title_id string, ingested_at timestamp, source_file string"
)
CLICKS = (
    "event_id string, user_id string, event_type string, event_time timestamp, "
    "title_id string, ingested_at timestamp"
)
T0 = "2026-03-01T10:00:00"
MakeFrame = Callable[..., DataFrame]


def ts(text: str) -> datetime:
    """A UTC instant from ISO-8601 text ('Z' appended)."""
    return datetime.fromisoformat(f"{text}Z")


def raw(event_id: str, ingested: str, source: str = "f1", *, user: str = "u1") -> tuple:
    """A raw copy of an event seen at `ingested` in object `source`."""
    return (event_id, user, "play", ts(T0), "t1", ts(ingested), source)


def click(event_id: str, at: str, *, user: str = "u1", kind: str = "click", title="t1") -> tuple:
    """A single-copy event of `user` at `at`, ingested at the same instant."""
    return (event_id, user, kind, ts(at), title, ts(at))


def frame(make_frame: MakeFrame, rows: list[tuple], schema: str = RAW) -> DataFrame:
    """spark.createDataFrame(rows, schema), through the fast make_frame fixture."""
    return make_frame(rows, schema)


def expected_frame(make_frame: MakeFrame, rows: list[tuple], schema: str = RAW) -> DataFrame:
    """The expected output: the same rows, as a frame that is only compared against."""
    return make_frame(rows, schema, expected=True)


Check = Callable[..., None]


# --- one row per event_id ---------------------------------------------------------------------


def test_two_copies_keep_the_earliest_ingested(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN two copies of e1, the later-ingested one first, and an unrelated e2
    rows = [raw("e1", "2026-03-01T10:05:00", "f2"), raw("e1", "2026-03-01T10:01:00", "f9")]
    rows.append(raw("e2", "2026-03-01T10:03:00"))
    # WHEN deduplicated
    actual = dedup_events(frame(make_frame, rows))
    # THEN e1 keeps the copy ingested at 10:01 (even though its source_file sorts last)
    expected = expected_frame(make_frame, [rows[1], rows[2]])
    assert_frames_equal(actual, expected)


def test_three_copies_keep_the_earliest_ingested(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN three copies of e1, the earliest in the middle
    rows = [
        raw("e1", "2026-03-01T10:02:00.000", "a"),
        raw("e1", "2026-03-01T10:01:59.999", "b"),
        raw("e1", "2026-03-01T11:00:00.000", "c"),
    ]
    # WHEN deduplicated
    actual = dedup_events(frame(make_frame, rows))
    # THEN only the copy ingested one millisecond earlier remains
    assert_frames_equal(actual, expected_frame(make_frame, [rows[1]]))


def test_equal_ingested_at_keeps_the_smallest_source_file_in_any_order(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN copies of e1 ingested at the same instant from three objects
    rows = [raw("e1", "2026-03-01T10:01:00", f) for f in ("f3", "f1", "f2")]
    expected = expected_frame(make_frame, [raw("e1", "2026-03-01T10:01:00", "f1")])
    # WHEN deduplicated from this order and from the reversed order in other partitions
    as_given = dedup_events(frame(make_frame, rows))
    reshuffled = dedup_events(frame(make_frame, rows[::-1]).repartition(3))
    # THEN both keep the copy from f1
    assert_frames_equal(as_given, expected)
    assert_frames_equal(reshuffled, expected)


def test_full_tie_is_broken_by_the_other_columns_in_any_order(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN copies of e1 with equal ingested_at and source_file but different user_id and record
    schema = f"{RAW}, record string"
    base = ("e1", "play", ts(T0), "t1", ts(T0), "f1")
    rows = [
        (base[0], "u2", *base[1:], '{"v":1}'),
        (base[0], "u1", *base[1:], '{"v":3}'),
        (base[0], "u1", *base[1:], '{"v":2}'),
    ]
    expected = expected_frame(make_frame, [rows[2]], schema)
    # WHEN deduplicated from two orders and partitionings
    as_given = dedup_events(frame(make_frame, rows, schema).coalesce(1))
    reshuffled = dedup_events(frame(make_frame, rows[::-1], schema).repartition(3))
    # THEN both keep the smallest (user_id, ..., record): u1 with record v2
    assert_frames_equal(as_given, expected)
    assert_frames_equal(reshuffled, expected)


def test_extra_columns_pass_through_and_no_column_is_added(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events without source_file but with a raw record column
    schema = f"{CLICKS}, record string"
    rows = [("e1", "u1", "play", ts(T0), None, ts(T0), '{"x":"오징어 게임"}')]
    # WHEN deduplicated with the repeat window on
    actual = dedup_events(frame(make_frame, rows, schema), repeat_window_seconds=5)
    # THEN the row and exactly the input columns come back
    assert_frames_equal(actual, expected_frame(make_frame, rows, schema))


def test_copies_naming_other_users_keep_the_earliest_whatever_user_it_names(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN e1 copied under three users (the earliest under u3), e2 copied twice under u1, e3
    # with a copy lacking its user, and e4 alone; spread over partitions so that copies of one
    # event_id start in different ones
    rows = [
        raw("e1", "2026-03-01T10:05:00", user="u1"),
        raw("e1", "2026-03-01T10:01:00", user="u3"),
        raw("e1", "2026-03-01T10:03:00", user="u2"),
        raw("e2", "2026-03-01T10:02:00", user="u1"),
        raw("e2", "2026-03-01T10:01:00", "f0", user="u1"),
        raw("e3", "2026-03-01T10:04:00", user="u2"),
        raw("e3", "2026-03-01T10:02:00", user=None),  # type: ignore[arg-type]
        raw("e4", "2026-03-01T10:00:00", user="u4"),
    ]
    # WHEN deduplicated
    actual = dedup_events(frame(make_frame, rows).repartition(4))
    # THEN each event_id keeps its earliest copy, the cross-user ones too
    expected = expected_frame(make_frame, [rows[1], rows[4], rows[6], rows[7]])
    assert_frames_equal(actual, expected)


def test_deduplicated_rows_are_laid_out_by_user_so_sessions_shuffle_nothing_more(
    make_frame: MakeFrame,
):
    # GIVEN copies of events (some naming other users)
    rows = [raw(f"e{i % 5}", f"2026-03-01T10:0{i}:00", user=f"u{i % 3}") for i in range(8)]
    deduped = dedup_events(frame(make_frame, rows))
    # WHEN the rows are grouped per user in event time order (as sessionize does)
    per_user = deduped.withColumn(
        "n", F.row_number().over(Window.partitionBy("user_id").orderBy("event_time", "event_id"))
    )
    per_user.collect()
    # (AQE prints the final plan, then the initial one)
    plan = per_user._jdf.queryExecution().executedPlan().toString().split("Initial Plan")[0]
    # THEN the one shuffle by user_id is dedup's: the window reuses it
    by_user = [line for line in plan.splitlines() if "hashpartitioning(user_id" in line]
    assert len(by_user) == 1, plan


# --- repeat suppression (double clicks) -------------------------------------------------------


def test_repeat_under_the_window_is_dropped(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN the same user clicking the same title twice, 1.5 s apart
    rows = [click("e1", "2026-03-01T10:00:00.000"), click("e2", "2026-03-01T10:00:01.500")]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN only the first click remains
    assert_frames_equal(actual, expected_frame(make_frame, rows[:1], CLICKS))


def test_repeat_one_microsecond_under_the_window_is_dropped(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a repeat 1.999999 s after the first click
    rows = [click("e1", "2026-03-01T10:00:00.000000"), click("e2", "2026-03-01T10:00:01.999999")]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN the repeat is dropped
    assert_frames_equal(actual, expected_frame(make_frame, rows[:1], CLICKS))


def test_repeat_exactly_at_the_window_is_kept(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN a repeat exactly 2.000 s after the first click
    rows = [click("e1", "2026-03-01T10:00:00.000"), click("e2", "2026-03-01T10:00:02.000")]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN both clicks remain
    assert_frames_equal(actual, expected_frame(make_frame, rows, CLICKS))


def test_each_click_of_a_burst_is_measured_from_the_click_before(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN three clicks 1.5 s apart (3 s from first to last)
    rows = [click(f"e{i}", f"2026-03-01T10:00:0{i * 1.5:.1f}") for i in range(3)]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN only the first click remains
    assert_frames_equal(actual, expected_frame(make_frame, rows[:1], CLICKS))


def test_repeat_window_keeps_other_event_types(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN a click and a play of the same title by the same user, 1 s apart
    rows = [click("e1", "2026-03-01T10:00:00"), click("e2", "2026-03-01T10:00:01", kind="play")]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN both remain
    assert_frames_equal(actual, expected_frame(make_frame, rows, CLICKS))


def test_repeat_window_keeps_other_titles(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN clicks on t1, t2 and no title by the same user, 1 s apart
    rows = [
        click("e1", "2026-03-01T10:00:00", title="t1"),
        click("e2", "2026-03-01T10:00:01", title="t2"),
        click("e3", "2026-03-01T10:00:02", title=None),
    ]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN all remain
    assert_frames_equal(actual, expected_frame(make_frame, rows, CLICKS))


def test_repeat_window_keeps_other_users(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN two users clicking the same title at the same instant
    rows = [click("e1", T0, user="u1"), click("e2", T0, user="u2")]
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN both remain
    assert_frames_equal(actual, expected_frame(make_frame, rows, CLICKS))


def test_null_title_repeats_null_title(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN two clicks without title_id by the same user, 1 s apart
    rows = [click("e1", "2026-03-01T10:00:00", title=None)]
    rows.append(click("e2", "2026-03-01T10:00:01", title=None))
    # WHEN repeats within 2 s are suppressed
    actual = dedup_events(frame(make_frame, rows, CLICKS), repeat_window_seconds=2)
    # THEN null title equals null title: the second is a repeat and is dropped
    assert_frames_equal(actual, expected_frame(make_frame, rows[:1], CLICKS))


def test_repeats_are_looked_for_after_copies_are_removed(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN two copies of one click (same event_id, same event_time)
    rows = [raw("e1", "2026-03-01T10:00:00", "f1"), raw("e1", "2026-03-01T10:00:05", "f2")]
    # WHEN deduplicated with the repeat window on
    actual = dedup_events(frame(make_frame, rows), repeat_window_seconds=2)
    # THEN one copy survives: a copy is not a repeat of itself
    assert_frames_equal(actual, expected_frame(make_frame, rows[:1]))


def test_window_zero_drops_nothing_even_true_repeats(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN the same click twice at the same instant under different event_ids
    rows = [click("e1", T0), click("e2", T0)]
    # WHEN deduplicated with the default window (0 = off)
    actual = dedup_events(frame(make_frame, rows, CLICKS))
    # THEN both remain
    assert_frames_equal(actual, expected_frame(make_frame, rows, CLICKS))


def test_negative_window_is_rejected(make_frame: MakeFrame):
    # GIVEN events, WHEN a negative window is asked for, THEN a ValueError names the option
    with pytest.raises(ValueError, match="repeat_window_seconds"):
        dedup_events(frame(make_frame, [], RAW), repeat_window_seconds=-1)
