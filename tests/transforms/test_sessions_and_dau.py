"""summarize_sessions and daily_active_users, with dt in UTC and in Asia/Seoul."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from pyspark.sql import DataFrame

from clickstream.transforms import (
    daily_active_users,
    dedup_events,
    local_date,
    sessionize,
    summarize_sessions,
)

EVENTS = "event_id string, user_id string, event_type string, event_time timestamp, title_id string"
RAW = f"{EVENTS}, ingested_at timestamp"
DAU = "dt string, active_users long, events long"
SESSIONS = (
    "session_id string, user_id string, session_start timestamp, session_end timestamp, "
    "event_count long, duration_seconds double, dt string"
)
SEOUL = "Asia/Seoul"
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


def ts(text: str) -> datetime:
    """A UTC instant from ISO-8601 text ('Z' appended)."""
    return datetime.fromisoformat(f"{text}Z")


def events(make_frame: MakeFrame, rows: list[tuple[str, str]]) -> DataFrame:
    """Events from (user_id, UTC time) pairs, event_id e0, e1, ..."""
    data = [(f"e{i}", u, "view", ts(t), None) for i, (u, t) in enumerate(rows)]
    return make_frame(data, EVENTS)


def counts(dau_frame: DataFrame) -> DataFrame:
    """The active_users and events columns (the user metrics have tests of their own)."""
    return dau_frame.select("dt", "active_users", "events")


def dau(make_frame: MakeFrame, rows: list[tuple[str, int, int]]) -> DataFrame:
    return make_frame(rows, DAU, expected=True)


# --- local_date -------------------------------------------------------------------------------


def test_local_date_is_the_calendar_date_in_the_time_zone(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN instants on both sides of midnight in Seoul (15:00Z) and in UTC
    given = make_frame(
        [(ts("2026-03-01T14:59:59.999"),), (ts("2026-03-01T15:00:00"),), (ts("2026-03-02T00:00"),)],
        "t timestamp",
    )
    # WHEN their dates are taken in UTC and in Seoul
    actual = given.select(local_date("t", "UTC").alias("utc"), local_date("t", SEOUL).alias("kst"))
    # THEN Seoul's date turns at 15:00Z, UTC's at 00:00Z
    expected = make_frame(
        [("2026-03-01", "2026-03-01"), ("2026-03-01", "2026-03-02"), ("2026-03-02", "2026-03-02")],
        "utc string, kst string",
        expected=True,
    )
    assert_frames_equal(actual, expected)


# --- daily_active_users -----------------------------------------------------------------------


def test_event_at_16h_utc_counts_on_the_same_day_in_utc(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN one event at 2026-03-01T16:00Z
    given = events(make_frame, [("u1", "2026-03-01T16:00")])
    # WHEN daily active users are counted in UTC
    actual = daily_active_users(given)
    # THEN it counts on 2026-03-01
    assert_frames_equal(counts(actual), dau(make_frame, [("2026-03-01", 1, 1)]))


def test_event_at_16h_utc_counts_on_the_next_day_in_seoul(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN one event at 2026-03-01T16:00Z (01:00 on 2026-03-02 in Seoul)
    given = events(make_frame, [("u1", "2026-03-01T16:00")])
    # WHEN daily active users are counted in Asia/Seoul
    actual = daily_active_users(given, timezone=SEOUL)
    # THEN it counts on 2026-03-02
    assert_frames_equal(counts(actual), dau(make_frame, [("2026-03-02", 1, 1)]))


def test_user_with_several_events_counts_once(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN u1 with three events and u2 with one, on one day
    given = events(make_frame, [("u1", "2026-03-01T08:00")] * 3 + [("u2", "2026-03-01T09:00")])
    # WHEN daily active users are counted
    actual = daily_active_users(given)
    # THEN two users and four events
    assert_frames_equal(counts(actual), dau(make_frame, [("2026-03-01", 2, 4)]))


def test_user_active_on_both_sides_of_midnight_counts_on_both_days_in_utc(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN u1 at 23:59Z and 00:01Z, u2 at 12:00Z on the first day
    rows = [("u1", "2026-03-01T23:59"), ("u1", "2026-03-02T00:01"), ("u2", "2026-03-01T12:00")]
    # WHEN daily active users are counted in UTC
    actual = daily_active_users(events(make_frame, rows))
    # THEN u1 counts on both days
    assert_frames_equal(
        counts(actual), dau(make_frame, [("2026-03-01", 2, 2), ("2026-03-02", 1, 1)])
    )


def test_user_active_on_both_sides_of_midnight_counts_on_both_days_in_seoul(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN u1 at 14:59Z and 15:01Z (23:59 and 00:01 in Seoul), u2 at 03:00Z
    rows = [("u1", "2026-03-01T14:59"), ("u1", "2026-03-01T15:01"), ("u2", "2026-03-01T03:00")]
    # WHEN daily active users are counted in Asia/Seoul
    actual = daily_active_users(events(make_frame, rows), timezone=SEOUL)
    # THEN u1 counts on both Seoul days
    assert_frames_equal(
        counts(actual), dau(make_frame, [("2026-03-01", 2, 2), ("2026-03-02", 1, 1)])
    )


def test_duplicates_removed_by_dedup_do_not_inflate_counts(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN three copies of u1's event e1 and one event of u2
    at = ts("2026-03-01T10:00")
    rows = [("e1", "u1", "view", at, None, ts(f"2026-03-01T10:0{i}")) for i in range(3)]
    rows.append(("e2", "u2", "view", at, None, at))
    # WHEN deduplicated, then counted
    actual = daily_active_users(dedup_events(make_frame(rows, RAW)))
    # THEN two users and two events
    assert_frames_equal(counts(actual), dau(make_frame, [("2026-03-01", 2, 2)]))


# --- summarize_sessions -----------------------------------------------------------------------


def test_session_crossing_midnight_is_one_row_with_duration_and_count(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN u1's events at 23:50:00.000Z, 23:59:59.500Z and 00:10:00.250Z
    times = ["2026-03-01T23:50:00.000", "2026-03-01T23:59:59.500", "2026-03-02T00:10:00.250"]
    sessionized = sessionize(events(make_frame, [("u1", t) for t in times]))
    # WHEN summarized in UTC
    actual = summarize_sessions(sessionized)
    # THEN one session of three events lasting 1200.25 s, dated by its start
    session_id = hashlib.sha256(b"u1\x1fe0").hexdigest()[:32]  # user u1, first event e0
    row = (session_id, "u1", ts(times[0]), ts(times[2]), 3, 1200.25, "2026-03-01")
    assert_frames_equal(actual, make_frame([row], SESSIONS, expected=True))


def test_session_dt_follows_session_start_in_utc(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN sessions starting at 14:50Z and 15:05Z on 2026-03-01
    given = make_frame(
        [
            ("e1", "u1", "view", ts("2026-03-01T14:50"), None, "s1"),
            ("e2", "u1", "view", ts("2026-03-01T15:10"), None, "s1"),
            ("e3", "u2", "view", ts("2026-03-01T15:05"), None, "s2"),
        ],
        f"{EVENTS}, session_id string",
    )
    # WHEN summarized in UTC
    actual = summarize_sessions(given)
    # THEN both are dated 2026-03-01
    expected = [
        ("s1", "u1", ts("2026-03-01T14:50"), ts("2026-03-01T15:10"), 2, 1200.0, "2026-03-01"),
        ("s2", "u2", ts("2026-03-01T15:05"), ts("2026-03-01T15:05"), 1, 0.0, "2026-03-01"),
    ]
    assert_frames_equal(actual, make_frame(expected, SESSIONS, expected=True))


def test_session_dt_follows_session_start_in_seoul(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a session from 14:50Z to 15:10Z (crossing Seoul midnight) and one starting 15:05Z
    given = make_frame(
        [
            ("e1", "u1", "view", ts("2026-03-01T14:50"), None, "s1"),
            ("e2", "u1", "view", ts("2026-03-01T15:10"), None, "s1"),
            ("e3", "u2", "view", ts("2026-03-01T15:05"), None, "s2"),
        ],
        f"{EVENTS}, session_id string",
    )
    # WHEN summarized in Asia/Seoul
    actual = summarize_sessions(given, timezone=SEOUL)
    # THEN the first is dated by its start (03-01 in Seoul), the second on 03-02
    expected = [
        ("s1", "u1", ts("2026-03-01T14:50"), ts("2026-03-01T15:10"), 2, 1200.0, "2026-03-01"),
        ("s2", "u2", ts("2026-03-01T15:05"), ts("2026-03-01T15:05"), 1, 0.0, "2026-03-02"),
    ]
    assert_frames_equal(actual, make_frame(expected, SESSIONS, expected=True))
