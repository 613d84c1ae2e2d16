"""The bench's scale scenarios: hourly history lakes, split lakes and the targets table."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from clickstream.raw_objects import hour_of, name_timestamp_ms
from clickstream_tools.bench import history
from clickstream_tools.bench.scenarios import render_targets, targets


def objects_of(lake: Path) -> list[Path]:
    return sorted(p for p in (lake / "raw" / "clickstream").rglob("*") if p.is_file())


def test_a_history_lake_delivers_its_objects_hour_by_hour_with_events_before_arrival(
    tmp_path: Path,
) -> None:
    # GIVEN / WHEN a history lake of 48 objects at 24 an hour, then the next hour
    shape = history.HourlyShape(per_hour=24, per_object=5, users=10)
    assert history.hourly_lake(tmp_path, 48, shape) == 240
    assert history.next_hour(tmp_path, shape) == 120
    objects = objects_of(tmp_path)
    # THEN there are three hour folders of 24 objects, the last one the hour after the history
    hours = [hour_of(str(p.relative_to(tmp_path / "raw" / "clickstream"))) for p in objects]
    assert sorted(set(hours)) == ["2026/05/31/22", "2026/05/31/23", "2026/06/01/00"]
    assert all(hours.count(h) == 24 for h in set(hours))
    # AND every event happened in its object's hour, before the object's arrival time
    for path in objects:
        arrived_ms = name_timestamp_ms(str(path))
        assert arrived_ms is not None
        for line in path.read_text(encoding="utf-8").splitlines():
            at = datetime.fromisoformat(json.loads(line)["event_time"])
            assert at.timestamp() * 1000 <= arrived_ms
            assert f"{at:%Y/%m/%d/%H}" == hour_of(
                str(path.relative_to(tmp_path / "raw/clickstream"))
            )


def test_a_split_lake_holds_the_same_events_in_the_given_number_of_objects(tmp_path: Path) -> None:
    # GIVEN / WHEN 1,000 events split into 200 objects and into 8
    ids = []
    for count in (200, 8):
        lake = tmp_path / str(count)
        assert history.split_lake(lake, 1000, count) == 1000
        objects = objects_of(lake)
        assert len(objects) == count
        lines = [json.loads(x) for p in objects for x in p.read_text().splitlines()]
        ids.append(sorted(e["event_id"] for e in lines))
    # THEN both hold the same 1,000 event_ids
    assert ids[0] == ids[1] and len(set(ids[0])) == 1000


def test_targets_compare_the_runs_the_issue_names() -> None:
    # GIVEN measured runs of two history sizes, a split lake and the main measurements
    def run(seconds: float) -> dict[str, object]:
        return {"seconds": seconds, "process_seconds": seconds + 10}

    hist = {
        "sizes": {
            "1008": {"full": run(50), "idle": run(6), "hourly": run(12)},
            "20016": {"full": run(200), "idle": run(7), "hourly": run(24)},
        }
    }
    small = {"events": 100000, "objects": {"800": run(20), "20000": run(50)}}
    measured = {"pipeline": 45.0, "scan": 25.0, "duckdb": 18.0}
    # WHEN the targets are computed and rendered
    rows = targets(measured, hist, small, 90.0)
    table = render_targets(rows)
    # THEN each target has its ratio and whether it is met
    values = {label: value for label, value, _ in rows}
    assert values["idle run, 20,016 / 1,008 objects"] == 1.17
    assert values["hourly run, 20,016 / 1,008 objects"] == 2.0
    assert values["hourly / idle run, 20,016 objects"] == 3.43
    assert [v for label, v, _ in rows if label.startswith("  the same")] == [1.38, 2.0]
    assert values["100,000 events in 20,000 / 800 objects"] == 2.5
    assert values["pipeline / scan"] == 1.8 and values["pipeline / DuckDB"] == 2.5
    assert values["pipeline at 2x events / pipeline"] == 2.0
    lines = {line[:48].strip(): line.split()[-1] for line in table.splitlines()[2:]}
    assert lines["idle run, 20,016 / 1,008 objects"] == "yes"
    assert lines["hourly run, 20,016 / 1,008 objects"] == "no"
    assert lines["pipeline / scan"] == "yes"
