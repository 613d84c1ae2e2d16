"""User metrics: new and returning users, 7- and 28-day actives, from per-user-day activity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame

from clickstream.transforms import daily_active_users, first_seen, user_activity, user_metrics

EVENTS = "event_id string, user_id string, event_type string, event_time timestamp, title_id string"
METRICS = (
    "dt string, active_users long, events long, new_users long, returning_users long, "
    "active_users_7d long, active_users_28d long"
)
DAY0 = date(2026, 3, 1)
Check = Callable[..., None]
MakeFrame = Callable[..., DataFrame]


def day(n: int) -> str:
    return (DAY0 + timedelta(days=n)).isoformat()


def events(make_frame: MakeFrame, rows: list[tuple[str, int]]) -> DataFrame:
    """Events from (user_id, day number) pairs, at noon UTC, event_id e0, e1, ..."""
    data = [
        (f"e{i}", u, "view", datetime.fromisoformat(f"{day(d)}T12:00:00+00:00"), None)
        for i, (u, d) in enumerate(rows)
    ]
    return make_frame(data, EVENTS)


def metrics(make_frame: MakeFrame, rows: list[tuple]) -> DataFrame:
    return make_frame(rows, METRICS, expected=True)


def test_a_user_is_new_on_the_first_day_and_returning_after(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    # GIVEN u1 active on days 0 and 2, u2 first active on day 2
    given = events(make_frame, [("u1", 0), ("u1", 2), ("u2", 2), ("u2", 2)])
    # WHEN the daily user metrics are computed
    actual = daily_active_users(given)
    # THEN day 0: u1 new; day 2: u2 new, u1 returning; no row for day 1 (no events)
    expected = [(day(0), 1, 1, 1, 0, 1, 1), (day(2), 2, 3, 1, 1, 2, 2)]
    assert_frames_equal(actual, metrics(make_frame, expected))


def test_the_7_and_28_day_windows_end_on_dt_inclusive(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    # GIVEN u7 active 6 days before day 30 (inside 7 days), u8 7 days before (outside), u27
    # 27 days before (inside 28 days), u28 28 days before (outside), and u0 on day 30
    rows = [("u7", 24), ("u8", 23), ("u27", 3), ("u28", 2), ("u0", 30)]
    # WHEN the metrics are computed
    actual = daily_active_users(events(make_frame, rows)).where(f"dt = '{day(30)}'")
    # THEN day 30 counts u0, u7 in 7 days and u0, u7, u8, u27 in 28 days
    assert_frames_equal(actual, metrics(make_frame, [(day(30), 1, 1, 1, 0, 2, 4)]))


def test_first_seen_is_the_earliest_event_and_its_date_in_the_time_zone(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    # GIVEN u1 at 2026-03-01T16:00Z (2026-03-02 in Seoul) and later
    at = datetime.fromisoformat("2026-03-01T16:00:00+00:00")
    given = make_frame(
        [("e1", "u1", "view", at + timedelta(days=1), None), ("e2", "u1", "view", at, None)],
        EVENTS,
    )
    # WHEN first seen is taken from the activity in Seoul
    actual = first_seen(user_activity(given, timezone="Asia/Seoul"))
    # THEN the first event and the Seoul date it falls on
    expected = make_frame(
        [("u1", at, "2026-03-02")],
        "user_id string, first_seen_at timestamp, dt string",
        expected=True,
    )
    assert_frames_equal(actual, expected)


def test_metrics_of_some_dates_from_their_windows_equal_the_full_computation(
    make_frame: MakeFrame, assert_frames_equal: Check
) -> None:
    # GIVEN activity over 60 days (users coming and going)
    rows = [(f"u{(d * 7 + k) % 11}", d) for d in range(0, 60, 2) for k in range(3)]
    activity = user_activity(events(make_frame, rows))
    users = first_seen(activity)
    # WHEN only days 40 and 41 (no events) and 58 are computed, from the activity of the 27
    # days before each and the users first seen on them
    wanted = {day(40), day(41), day(58)}
    window = {day(n - k) for n in (40, 41, 58) for k in range(28)}
    actual = user_metrics(
        activity.where(activity.dt.isin(window)),
        users.where(users.dt.isin(wanted)),
        make_frame([(d,) for d in wanted], "dt string"),
    )
    # THEN they equal those dates of the full computation; day 41 has no row
    full = daily_active_users(events(make_frame, rows)).where(f"dt in ('{day(40)}', '{day(58)}')")
    assert_frames_equal(actual, full)
    assert actual.count() == 2
