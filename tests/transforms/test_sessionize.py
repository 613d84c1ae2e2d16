"""sessionize: per user, a gap strictly longer than the timeout starts a new session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from pyspark.sql import DataFrame

from clickstream.transforms import sessionize

EVENTS = "event_id string, user_id string, event_type string, event_time timestamp, title_id string"
SESSIONIZED = f"{EVENTS}, session_id string"
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


def ts(text: str) -> datetime:
    """A UTC instant from ISO-8601 text ('Z' appended)."""
    return datetime.fromisoformat(f"{text}Z")


def sid(user_id: str, first_event_id: str) -> str:
    """The documented derivation: sha256 of user_id, U+001F, first event_id; 32 hex digits."""
    return hashlib.sha256(f"{user_id}\x1f{first_event_id}".encode()).hexdigest()[:32]


def events(make_frame: MakeFrame, rows: list[tuple[str, str, str]]) -> DataFrame:
    """Events from (event_id, user_id, UTC time) triples."""
    return make_frame([(e, u, "view", ts(t), "t1") for e, u, t in rows], EVENTS)


def sessions(make_frame: MakeFrame, rows: list[tuple[str, str, str, str]]) -> DataFrame:
    """Expected output from (event_id, user_id, UTC time, first event_id of its session)."""
    data = [(e, u, "view", ts(t), "t1", sid(u, first)) for e, u, t, first in rows]
    return make_frame(data, SESSIONIZED, expected=True)


def test_gap_of_exactly_the_timeout_stays_in_the_same_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN two events of one user exactly 30:00.000 apart
    given = [("e1", "u1", "2026-03-01T10:00:00.000"), ("e2", "u1", "2026-03-01T10:30:00.000")]
    # WHEN sessionized with the default 30-minute timeout
    actual = sessionize(events(make_frame, given))
    # THEN both belong to the session started by e1
    assert_frames_equal(actual, sessions(make_frame, [(*row, "e1") for row in given]))


def test_gap_one_millisecond_over_the_timeout_starts_a_new_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN two events of one user 30:00.001 apart
    given = [("e1", "u1", "2026-03-01T10:00:00.000"), ("e2", "u1", "2026-03-01T10:30:00.001")]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN e2 starts its own session
    assert_frames_equal(actual, sessions(make_frame, [(*given[0], "e1"), (*given[1], "e2")]))


def test_gap_one_microsecond_over_the_timeout_starts_a_new_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN two events 30:00.000001 apart (gaps are compared in microseconds, not seconds)
    given = [("e1", "u1", "2026-03-01T10:00:00"), ("e2", "u1", "2026-03-01T10:30:00.000001")]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN e2 starts its own session
    assert_frames_equal(actual, sessions(make_frame, [(*given[0], "e1"), (*given[1], "e2")]))


def test_gap_is_measured_from_the_previous_event_not_the_session_start(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN three events 20 minutes apart (40 minutes first to last)
    given = [("e1", "u1", "2026-03-01T10:00"), ("e2", "u1", "2026-03-01T10:20")]
    given.append(("e3", "u1", "2026-03-01T10:40"))
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN they form one session
    assert_frames_equal(actual, sessions(make_frame, [(*row, "e1") for row in given]))


def test_events_in_the_same_millisecond_share_a_session_ordered_by_event_id(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN three events of one user in the same millisecond, listed out of event_id order
    at = "2026-03-01T10:00:00.123"
    given = [("e3", "u1", at), ("e1", "u1", at), ("e2", "u1", at)]
    expected = sessions(make_frame, [(*row, "e1") for row in given])
    # WHEN sessionized in two orders and partitionings
    as_given = sessionize(events(make_frame, given))
    reshuffled = sessionize(events(make_frame, given[::-1]).repartition(3))
    # THEN one session, started by the smallest event_id, either way
    assert_frames_equal(as_given, expected)
    assert_frames_equal(reshuffled, expected)


def test_session_crossing_midnight_utc_is_one_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events at 23:50Z and 00:10Z the next day
    given = [("e1", "u1", "2026-03-01T23:50"), ("e2", "u1", "2026-03-02T00:10")]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN they form one session
    assert_frames_equal(actual, sessions(make_frame, [(*row, "e1") for row in given]))


def test_session_crossing_midnight_in_seoul_is_one_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events at 14:50Z and 15:10Z (23:50 and 00:10 in Asia/Seoul)
    given = [("e1", "u1", "2026-03-01T14:50"), ("e2", "u1", "2026-03-01T15:10")]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN they form one session
    assert_frames_equal(actual, sessions(make_frame, [(*row, "e1") for row in given]))


def test_interleaved_users_get_separate_sessions(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN two users whose events alternate every 10 minutes
    given = [
        ("a1", "u1", "2026-03-01T10:00"),
        ("b1", "u2", "2026-03-01T10:10"),
        ("a2", "u1", "2026-03-01T10:20"),
        ("b2", "u2", "2026-03-01T10:30"),
    ]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN each user has one session of their own
    firsts = {"u1": "a1", "u2": "b1"}
    assert_frames_equal(actual, sessions(make_frame, [(e, u, t, firsts[u]) for e, u, t in given]))


def test_single_event_is_a_session_of_its_own(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN one event
    given = [("e1", "u1", "2026-03-01T10:00")]
    # WHEN sessionized
    actual = sessionize(events(make_frame, given))
    # THEN it starts its own session
    assert_frames_equal(actual, sessions(make_frame, [(*given[0], "e1")]))


def test_other_order_and_partitioning_give_the_same_session_ids(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN two users with two sessions each
    given = [
        ("e1", "u1", "2026-03-01T10:00"),
        ("e2", "u1", "2026-03-01T10:20"),
        ("e3", "u1", "2026-03-01T12:00"),
        ("f1", "u2", "2026-03-01T09:00"),
        ("f2", "u2", "2026-03-01T10:00"),
        ("f3", "u2", "2026-03-01T10:05"),
    ]
    firsts = ["e1", "e1", "e3", "f1", "f2", "f2"]
    expected = sessions(
        make_frame, [(*row, first) for row, first in zip(given, firsts, strict=True)]
    )
    # WHEN sessionized as given, and reversed across several partitions
    as_given = sessionize(events(make_frame, given).coalesce(1))
    reshuffled = sessionize(events(make_frame, given[::-1]).repartition(4))
    # THEN the session ids are the same
    assert_frames_equal(as_given, expected)
    assert_frames_equal(reshuffled, expected)


def test_custom_timeout_of_five_minutes(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN gaps of exactly 5:00.000, then 5:00.001
    given = [
        ("e1", "u1", "2026-03-01T10:00:00.000"),
        ("e2", "u1", "2026-03-01T10:05:00.000"),
        ("e3", "u1", "2026-03-01T10:10:00.001"),
    ]
    # WHEN sessionized with a 5-minute timeout
    actual = sessionize(events(make_frame, given), timeout_minutes=5)
    # THEN the first gap stays in the session, the second starts a new one
    firsts = ["e1", "e1", "e3"]
    expected = sessions(
        make_frame, [(*row, first) for row, first in zip(given, firsts, strict=True)]
    )
    assert_frames_equal(actual, expected)


def test_session_id_is_sha256_of_user_and_first_event_id(make_frame: MakeFrame):
    # GIVEN a session of user u1 whose first event is e1
    given = [("e1", "u1", "2026-03-01T10:00"), ("e2", "u1", "2026-03-01T10:01")]
    # WHEN sessionized
    ids = {row.session_id for row in sessionize(events(make_frame, given)).collect()}
    # THEN its id is the first 32 hex digits of sha256("u1" U+001F "e1")
    digest = hashlib.sha256(b"u1\x1fe1").hexdigest()
    assert ids == {digest[:32]}


def test_other_columns_pass_through_untouched(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN events with ingested_at, source_file and record columns
    schema = f"{EVENTS}, ingested_at timestamp, source_file string, record string"
    row = ("e1", "u1", "view", ts("2026-03-01T10:00"), None, ts("2026-03-01T10:05"), "f", "{}")
    # WHEN sessionized
    actual = sessionize(make_frame([row], schema))
    # THEN they come back unchanged, session_id appended last
    expected = make_frame([(*row, sid("u1", "e1"))], f"{schema}, session_id string", expected=True)
    assert_frames_equal(actual, expected)


def test_non_positive_timeout_is_rejected(make_frame: MakeFrame):
    # GIVEN events, WHEN a zero timeout is asked for, THEN a ValueError names the option
    with pytest.raises(ValueError, match="timeout_minutes"):
        sessionize(events(make_frame, []), timeout_minutes=0)


def test_event_at_exactly_the_cap_after_the_first_starts_a_new_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN one user active every 20 minutes from 00:00 to 02:00 (no gap over the timeout)
    given = [(f"e{i}", "u1", f"2026-03-01T{i // 3:02d}:{i % 3 * 20:02d}:00.000") for i in range(7)]
    # WHEN sessionized with a 1-hour cap
    actual = sessionize(events(make_frame, given), max_session_hours=1)
    # THEN the event at 01:00:00.000 (first + cap exactly) starts a session, and so does 02:00
    firsts = ["e0"] * 3 + ["e3"] * 3 + ["e6"]
    expected = [(*row, first) for row, first in zip(given, firsts, strict=True)]
    assert_frames_equal(actual, sessions(make_frame, expected))


def test_event_one_millisecond_before_the_cap_stays_in_the_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events 20 minutes apart, the last one 0.001 s before the first + 1 hour
    given = [
        ("e1", "u1", "2026-03-01T10:00:00.000"),
        ("e2", "u1", "2026-03-01T10:20:00.000"),
        ("e3", "u1", "2026-03-01T10:40:00.000"),
        ("e4", "u1", "2026-03-01T10:59:59.999"),
    ]
    # WHEN sessionized with a 1-hour cap THEN all four are one session
    actual = sessionize(events(make_frame, given), max_session_hours=1)
    assert_frames_equal(actual, sessions(make_frame, [(*row, "e1") for row in given]))


def test_each_capped_session_counts_the_cap_from_its_own_first_event(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN an always-on client: 10:00, 10:25, 10:50, 11:15, 11:40, 12:05 (gaps of 25 minutes)
    # and a gap over the timeout before 13:00, which restarts sessions and the cap alike
    times = ["10:00", "10:25", "10:50", "11:15", "11:40", "12:05", "13:00", "13:25"]
    given = [(f"e{i}", "u1", f"2026-03-01T{t}:00.000") for i, t in enumerate(times)]
    # WHEN sessionized with a 1-hour cap
    actual = sessionize(events(make_frame, given), max_session_hours=1)
    # THEN 11:15 is the first event at or after 10:00 + 1 h, 12:05 is not yet 11:15 + 1 h
    firsts = ["e0", "e0", "e0", "e3", "e3", "e3", "e6", "e6"]
    expected = [(*row, first) for row, first in zip(given, firsts, strict=True)]
    assert_frames_equal(actual, sessions(make_frame, expected))


def test_without_a_cap_an_always_on_client_has_one_session(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events every 25 minutes for 50 hours
    given = [
        (f"e{i:03d}", "u1", (ts("2026-03-01T00:00:00") + timedelta(minutes=25 * i)).isoformat())
        for i in range(120)
    ]
    rows = [(e, u, t.removesuffix("+00:00")) for e, u, t in given]
    # WHEN sessionized without a cap THEN one session; with the default 24 h cap, three
    uncapped = sessionize(events(make_frame, rows), max_session_hours=None)
    assert_frames_equal(uncapped, sessions(make_frame, [(*row, "e000") for row in rows]))
    capped = sessionize(events(make_frame, rows))
    assert capped.select("session_id").distinct().count() == 3


def test_capped_activities_of_several_users_each_split_from_their_own_starts(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN u1 with two activities past a 1-hour cap, split by a gap over the timeout, the second
    # with two events at its cap start's instant; and u2 with one capped activity
    u1 = [
        ("e00", "10:00"), ("e01", "10:25"), ("e02", "10:50"), ("e03", "11:15"), ("e04", "11:40"),
        ("e05", "13:00"), ("e06", "13:25"), ("e07", "13:50"), ("e08", "14:15"), ("e09", "14:15"),
        ("e10", "14:40"),
    ]  # fmt: skip
    u2 = [("f0", "10:10"), ("f1", "10:35"), ("f2", "11:00"), ("f3", "11:25"), ("f4", "12:20")]
    given = [(e, "u1", f"2026-03-01T{t}:00.000") for e, t in u1]
    given += [(e, "u2", f"2026-03-01T{t}:00.000") for e, t in u2]
    # WHEN sessionized with a 1-hour cap
    actual = sessionize(events(make_frame, given), max_session_hours=1)
    # THEN each activity restarts the cap; the event sharing its start's instant (e09, after e08
    # by event_id) joins e08's session; f4 follows a gap over the timeout
    firsts = ["e00"] * 3 + ["e03"] * 2 + ["e05"] * 3 + ["e08"] * 3 + ["f0"] * 3 + ["f3", "f4"]
    expected = [(*row, first) for row, first in zip(given, firsts, strict=True)]
    assert_frames_equal(actual, sessions(make_frame, expected))
