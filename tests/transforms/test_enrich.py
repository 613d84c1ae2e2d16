"""enrich_events: every event exactly once, with title and genre when its title_id is known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from pyspark.sql import DataFrame

from clickstream.transforms import enrich_events, unique_titles

EVENTS = "event_id string, user_id string, event_type string, event_time timestamp, title_id string"
ENRICHED = f"{EVENTS}, title string, genre string"
TITLES = "title_id string, title string, genre string"
AT = datetime.fromisoformat("2026-03-01T10:00:00Z")
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


def events(make_frame: MakeFrame, title_ids: list[str | None]) -> DataFrame:
    """One event per title_id, event_id e0, e1, ..."""
    rows = [(f"e{i}", "u1", "play", AT, t) for i, t in enumerate(title_ids)]
    return make_frame(rows, EVENTS)


def enriched(
    make_frame: MakeFrame,
    rows: list[tuple[str | None, str | None, str | None]],
    *,
    expected: bool = True,
) -> DataFrame:
    """Expected events from (title_id, title, genre), event_id e0, e1, ..."""
    data = [(f"e{i}", "u1", "play", AT, *row) for i, row in enumerate(rows)]
    return make_frame(data, ENRICHED, expected=expected)


def titles(
    make_frame: MakeFrame,
    rows: list[tuple[str | None, str | None, str | None]],
    *,
    expected: bool = False,
) -> DataFrame:
    return make_frame(rows, TITLES, expected=expected)


def test_known_title_id_gets_title_and_genre(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN two events of known titles
    ref = titles(make_frame, [("t1", "Dark", "Thriller"), ("t2", "Up", "Animation")])
    # WHEN enriched
    actual = enrich_events(events(make_frame, ["t1", "t2"]), ref)
    # THEN each gets its title and genre, appended after the event columns
    expected = enriched(make_frame, [("t1", "Dark", "Thriller"), ("t2", "Up", "Animation")])
    assert_frames_equal(actual, expected)


def test_unknown_title_id_gets_null_title_and_genre(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN an event whose title_id is not in the reference
    ref = titles(make_frame, [("t1", "Dark", "Thriller")])
    # WHEN enriched
    actual = enrich_events(events(make_frame, ["t9"]), ref)
    # THEN it is kept, with null title and genre
    assert_frames_equal(actual, enriched(make_frame, [("t9", None, None)]))


def test_missing_title_id_gets_null_title_and_genre(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN an event without title_id, and a reference row without title_id
    ref = titles(make_frame, [("t1", "Dark", "Thriller"), (None, "Orphan", "Drama")])
    # WHEN enriched
    actual = enrich_events(events(make_frame, [None]), ref)
    # THEN it is kept once, with null title and genre (null never matches null)
    assert_frames_equal(actual, enriched(make_frame, [(None, None, None)]))


def test_duplicate_reference_keys_never_multiply_events(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a reference listing t1 three times, and two events of t1
    ref = titles(
        make_frame, [("t1", "Dark", "Thriller"), ("t1", "Dark", "Drama"), ("t1", "B", "X")]
    )
    # WHEN enriched
    actual = enrich_events(events(make_frame, ["t1", "t1"]), ref)
    # THEN each event appears once, with the smallest (title, genre) of t1
    assert_frames_equal(actual, enriched(make_frame, [("t1", "B", "X"), ("t1", "B", "X")]))


def test_duplicate_reference_keys_prefer_a_row_with_title_and_genre(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN t1 listed without title, with a title only, and with title and genre
    ref = titles(make_frame, [("t1", None, None), ("t1", "Dark", None), ("t1", "Dark", "Thriller")])
    # WHEN enriched, from this order and the reversed order
    forward = enrich_events(events(make_frame, ["t1"]), ref)
    backward = enrich_events(events(make_frame, ["t1"]), ref.orderBy("title", ascending=False))
    # THEN nulls sort last: the complete row wins either way
    expected = enriched(make_frame, [("t1", "Dark", "Thriller")])
    assert_frames_equal(forward, expected)
    assert_frames_equal(backward, expected)


def test_korean_and_quoted_titles_survive_unchanged(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN titles with Korean text, quotes and commas
    rows = [("t1", "오징어 게임", "스릴러"), ("t2", 'He said "Hi", then left', "Drama, Comedy")]
    # WHEN enriched
    actual = enrich_events(events(make_frame, ["t1", "t2"]), titles(make_frame, rows))
    # THEN the text arrives byte for byte
    assert_frames_equal(actual, enriched(make_frame, rows))


def test_existing_title_and_genre_columns_are_replaced(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN events already carrying a stale title and genre
    rows = [("t1", "Old name", "Old genre"), ("t9", "Gone", "Gone")]
    stale = enriched(make_frame, rows, expected=False)
    ref = titles(make_frame, [("t1", "Dark", "Thriller")])
    # WHEN enriched
    actual = enrich_events(stale, ref)
    # THEN the columns hold the reference values (null when unknown), in the same places
    assert_frames_equal(
        actual, enriched(make_frame, [("t1", "Dark", "Thriller"), ("t9", None, None)])
    )


def test_other_columns_pass_through_untouched(make_frame: MakeFrame, assert_frames_equal: Check):
    # GIVEN events with session_id and source_file columns
    schema = f"{EVENTS}, session_id string, source_file string"
    row = ("e1", "u1", "play", AT, "t1", "s1", "f1")
    # WHEN enriched
    actual = enrich_events(make_frame([row], schema), titles(make_frame, [("t1", "A", "G")]))
    # THEN they come back unchanged, title and genre appended
    expected = make_frame(
        [(*row, "A", "G")], f"{schema}, title string, genre string", expected=True
    )
    assert_frames_equal(actual, expected)


def test_titles_side_carries_a_broadcast_hint(make_frame: MakeFrame, capsys: pytest.CaptureFixture):
    # GIVEN events and titles
    ref = titles(make_frame, [("t1", "Dark", "Thriller")])
    # WHEN the enrichment plan is explained
    enrich_events(events(make_frame, ["t1"]), ref).explain(extended=True)
    # THEN the analyzed plan asks for a broadcast of the titles side
    assert "strategy=broadcast" in capsys.readouterr().out


def test_unique_titles_keeps_one_row_per_title_id(
    make_frame: MakeFrame, assert_frames_equal: Check
):
    # GIVEN a reference with a duplicated t1, a t2 without genre and a row without title_id
    ref = titles(
        make_frame,
        [("t1", "Dark", None), ("t1", "Dark", "Thriller"), ("t2", "Up", None), (None, "X", "Y")],
    )
    # WHEN reduced to unique titles
    actual = unique_titles(ref)
    # THEN one row per non-null title_id, complete rows preferred
    assert_frames_equal(
        actual, titles(make_frame, [("t1", "Dark", "Thriller"), ("t2", "Up", None)], expected=True)
    )
