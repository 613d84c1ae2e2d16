"""title_history, point-in-time enrich_events and changed_windows: titles as of each event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pyspark.sql import DataFrame

from clickstream.transforms import (
    changed_windows,
    current_titles,
    enrich_events,
    title_history,
)

CHANGES = (
    "title_id string, title string, genre string, op string, changed_at timestamp, "
    "snapshot string, source string, seq long"
)
HISTORY = "title_id string, title string, genre string, valid_from timestamp, valid_to timestamp"
EVENTS = "event_id string, user_id string, event_type string, event_time timestamp, title_id string"
ENRICHED = f"{EVENTS}, title string, genre string"
WINDOWS = "title_id string, window_start timestamp, window_end timestamp"
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


def at(hhmm: str, day: str = "2026-03-01") -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=UTC)


def change(
    title_id: str | None,
    op: str,
    hhmm: str,
    title: str | None = None,
    genre: str | None = None,
    *,
    snapshot: str | None = None,
    source: str = "f1",
    seq: int = 0,
) -> tuple:
    return (title_id, title, genre, op, at(hhmm), snapshot, source, seq)


def history(make_frame: MakeFrame, rows: list[tuple], *, expected: bool = False) -> DataFrame:
    """Rows (title_id, title, genre, valid_from hh:mm | None, valid_to hh:mm | None)."""
    data = [
        (t, n, g, None if f is None else at(f), None if u is None else at(u))
        for t, n, g, f, u in rows
    ]
    return make_frame(data, HISTORY, expected=expected)


# --- title_history ------------------------------------------------------------------------------


def test_a_rename_closes_the_old_version_where_the_new_one_starts(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 inserted at 10:00 and renamed at 11:00
    changes = make_frame(
        [change("t1", "I", "10:00", "Old", "drama"), change("t1", "U", "11:00", "New", "drama")],
        CHANGES,
    )
    # WHEN the history is built
    actual = title_history(changes)
    # THEN two versions meet at 11:00 and the newer one is current
    expected = history(
        make_frame,
        [("t1", "Old", "drama", "10:00", "11:00"), ("t1", "New", "drama", "11:00", None)],
        expected=True,
    )
    assert_frames_equal(actual, expected)
    assert_frames_equal(
        current_titles(actual),
        make_frame(
            [("t1", "New", "drama")], "title_id string, title string, genre string", expected=True
        ),
    )


def test_a_delete_closes_the_version_and_the_title_leaves_the_current_titles(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 inserted at 10:00 and deleted at 12:00, t2 inserted at 10:00
    changes = make_frame(
        [
            change("t1", "I", "10:00", "A", "g"),
            change("t1", "D", "12:00"),
            change("t2", "I", "10:00", "B", "g"),
        ],
        CHANGES,
    )
    # WHEN the history is built
    actual = title_history(changes)
    # THEN t1's version ends at the delete and only t2 is current
    expected = history(
        make_frame,
        [("t1", "A", "g", "10:00", "12:00"), ("t2", "B", "g", "10:00", None)],
        expected=True,
    )
    assert_frames_equal(actual, expected)
    assert [r.title_id for r in current_titles(actual).collect()] == ["t2"]


def test_an_update_of_an_unknown_key_is_an_insert_and_a_leading_delete_does_nothing(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a delete of t1 before anything was known of it, then a U for it
    changes = make_frame(
        [change("t1", "D", "09:00"), change("t1", "U", "10:00", "A", "g")], CHANGES
    )
    # WHEN the history is built
    actual = title_history(changes)
    # THEN t1 has one version from the U on
    assert_frames_equal(
        actual, history(make_frame, [("t1", "A", "g", "10:00", None)], expected=True)
    )


def test_changes_apply_in_order_of_time_then_source_then_row(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN rows listed out of order: a later file at the same instant, and a later row of a file
    changes = make_frame(
        [
            change("t1", "U", "10:00", "C", "g", source="f2", seq=0),
            change("t1", "U", "10:00", "B", "g", source="f1", seq=1),
            change("t1", "I", "10:00", "A", "g", source="f1", seq=0),
            change("t1", "U", "09:00", "Z", "g", source="f9", seq=5),
        ],
        CHANGES,
    )
    # WHEN the history is built
    actual = title_history(changes)
    # THEN Z comes first; at 10:00 f2's row is applied last and wins (same-instant steps vanish)
    expected = history(
        make_frame,
        [("t1", "Z", "g", "09:00", "10:00"), ("t1", "C", "g", "10:00", None)],
        expected=True,
    )
    assert_frames_equal(actual, expected)


def test_the_same_change_seen_twice_is_one_version(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a re-read file (the same rows again) and an unchanged value repeated later
    rows = [change("t1", "I", "10:00", "A", "g"), change("t1", "U", "11:00", "B", "g", seq=1)]
    again = [*rows, *rows, change("t1", "U", "12:00", "B", "g", source="f2")]
    # WHEN the history is built
    actual = title_history(make_frame(again, CHANGES))
    # THEN the versions are those of the rows seen once: nothing doubled, no empty step
    expected = history(
        make_frame,
        [("t1", "A", "g", "10:00", "11:00"), ("t1", "B", "g", "11:00", None)],
        expected=True,
    )
    assert_frames_equal(actual, expected)


def test_a_snapshot_deletes_the_titles_absent_from_it_as_of_its_time(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a snapshot at 10:00 with t1 and t2, then one at 12:00 with t2 (renamed) and t3
    changes = make_frame(
        [
            change(None, "S", "10:00", snapshot="s1", source="a", seq=-1),
            change("t1", "I", "10:00", "A", "g", snapshot="s1", source="a"),
            change("t2", "I", "10:00", "B", "g", snapshot="s1", source="a", seq=1),
            change(None, "S", "12:00", snapshot="s2", source="b", seq=-1),
            change("t2", "I", "12:00", "B2", "g", snapshot="s2", source="b"),
            change("t3", "I", "12:00", "C", "g", snapshot="s2", source="b", seq=1),
        ],
        CHANGES,
    )
    # WHEN the history is built
    actual = title_history(changes)
    # THEN t1 ends at 12:00, t2 is renamed at 12:00, t3 starts at 12:00 (no delete before it)
    expected = history(
        make_frame,
        [
            ("t1", "A", "g", "10:00", "12:00"),
            ("t2", "B", "g", "10:00", "12:00"),
            ("t2", "B2", "g", "12:00", None),
            ("t3", "C", "g", "12:00", None),
        ],
        expected=True,
    )
    assert_frames_equal(actual, expected)


# --- enrich_events with a history ---------------------------------------------------------------


def events(make_frame: MakeFrame, rows: list[tuple[str, str | None, str]]) -> DataFrame:
    """Events (event_id, title_id, hh:mm) of user u1."""
    return make_frame([(e, "u1", "play", at(t), tid) for e, tid, t in rows], EVENTS)


def enriched(make_frame: MakeFrame, rows: list[tuple]) -> DataFrame:
    """Expected (event_id, title_id, hh:mm, title, genre) of user u1."""
    data = [(e, "u1", "play", at(t), tid, n, g) for e, tid, t, n, g in rows]
    return make_frame(data, ENRICHED, expected=True)


def test_a_rename_between_two_events_of_one_user_gives_each_the_name_of_its_time(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 renamed at 11:00, and events of one user at 10:30, 11:00 and 11:30
    ref = history(
        make_frame, [("t1", "Old", "g", "09:00", "11:00"), ("t1", "New", "g", "11:00", None)]
    )
    evs = events(make_frame, [("e1", "t1", "10:30"), ("e2", "t1", "11:00"), ("e3", "t1", "11:30")])
    # WHEN enriched
    actual = enrich_events(evs, ref)
    # THEN the event before the rename has the old name; at and after it, the new name
    expected = enriched(
        make_frame,
        [
            ("e1", "t1", "10:30", "Old", "g"),
            ("e2", "t1", "11:00", "New", "g"),
            ("e3", "t1", "11:30", "New", "g"),
        ],
    )
    assert_frames_equal(actual, expected)


def test_an_event_after_a_delete_with_no_later_version_gets_nulls(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 valid 09:00-11:00 (then deleted), t2 deleted at 10:00 and re-inserted at 12:00
    ref = history(
        make_frame,
        [
            ("t1", "A", "g", "09:00", "11:00"),
            ("t2", "B", "g", "09:00", "10:00"),
            ("t2", "B2", "g", "12:00", None),
        ],
    )
    evs = events(
        make_frame,
        [
            ("e1", "t1", "10:59"),
            ("e2", "t1", "11:00"),
            ("e3", "t2", "11:00"),
            ("e4", "t2", "12:00"),
        ],
    )
    # WHEN enriched
    actual = enrich_events(evs, ref)
    # THEN events after a delete get nulls until a later version starts
    expected = enriched(
        make_frame,
        [
            ("e1", "t1", "10:59", "A", "g"),
            ("e2", "t1", "11:00", None, None),
            ("e3", "t2", "11:00", None, None),
            ("e4", "t2", "12:00", "B2", "g"),
        ],
    )
    assert_frames_equal(actual, expected)


def test_an_event_before_a_titles_first_version_takes_that_version(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 inserted at 12:00, after events had referenced it, and renamed at 13:00
    ref = history(make_frame, [("t1", "A", "g", "12:00", "13:00"), ("t1", "B", "g", "13:00", None)])
    evs = events(make_frame, [("e1", "t1", "08:00"), ("e2", "t9", "08:00"), ("e3", None, "08:00")])
    # WHEN enriched
    actual = enrich_events(evs, ref)
    # THEN the early event takes the first version; unknown and missing ids get nulls
    expected = enriched(
        make_frame,
        [
            ("e1", "t1", "08:00", "A", "g"),
            ("e2", "t9", "08:00", None, None),
            ("e3", None, "08:00", None, None),
        ],
    )
    assert_frames_equal(actual, expected)


def test_duplicate_or_overlapping_versions_never_multiply_events(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 listed twice with the same start, and a version overlapping the next one
    ref = history(
        make_frame,
        [
            ("t1", "B", "g", "09:00", None),
            ("t1", "A", "g", "09:00", None),
            ("t1", "C", "g", "10:00", None),
        ],
    )
    evs = events(make_frame, [("e1", "t1", "09:30"), ("e2", "t1", "10:30")])
    # WHEN enriched
    actual = enrich_events(evs, ref)
    # THEN each event once: the smallest of the 09:00 twins until 10:00, then C
    expected = enriched(
        make_frame, [("e1", "t1", "09:30", "A", "g"), ("e2", "t1", "10:30", "C", "g")]
    )
    assert_frames_equal(actual, expected)


# --- changed_windows ----------------------------------------------------------------------------


def test_a_rename_changes_enrichment_only_from_its_time_on(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 current since 09:00, then renamed at 11:00; t2 unchanged
    before = history(make_frame, [("t1", "A", "g", "09:00", None), ("t2", "B", "g", "09:00", None)])
    after = history(
        make_frame,
        [
            ("t1", "A", "g", "09:00", "11:00"),
            ("t1", "A2", "g", "11:00", None),
            ("t2", "B", "g", "09:00", None),
        ],
    )
    # WHEN the changed windows are computed
    actual = changed_windows(before, after)
    # THEN only t1 from 11:00 on (unbounded) differs
    assert_frames_equal(actual, make_frame([("t1", at("11:00"), None)], WINDOWS, expected=True))


def test_a_new_title_changes_enrichment_at_all_times(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN no history of t1 before, and t1 inserted at 12:00 after
    before = history(make_frame, [("t2", "B", "g", "09:00", None)])
    after = history(make_frame, [("t1", "A", "g", "12:00", None), ("t2", "B", "g", "09:00", None)])
    # WHEN the changed windows are computed
    actual = changed_windows(before, after)
    # THEN t1 differs at every time: earlier events take its first version too
    assert_frames_equal(actual, make_frame([("t1", None, None)], WINDOWS, expected=True))
